"""What the espml firmware can run: the op list it registers (shared with the firmware build)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def firmware_ops() -> frozenset[str]:
    """The TFLite builtin op names the firmware's op resolver registers."""
    text = resources.files("toolkit.boards").joinpath("firmware_ops.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
