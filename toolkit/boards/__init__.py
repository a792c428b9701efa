"""Board variants: one small class each, and a registry by name."""

from __future__ import annotations

from toolkit.boards.base import Board, KernelCost, OpEstimate, OpWork
from toolkit.boards.esp32s3 import Esp32S3Board, Esp32S3R8Board
from toolkit.errors import ToolkitError

BOARDS: dict[str, type[Board]] = {
    "esp32s3": Esp32S3Board,
    "esp32s3-r8": Esp32S3R8Board,
}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]()
    except KeyError:
        raise ToolkitError(f"unknown board '{name}'", f"choose one of: {', '.join(sorted(BOARDS))}") from None


__all__ = ["BOARDS", "Board", "KernelCost", "OpEstimate", "OpWork", "get_board"]
