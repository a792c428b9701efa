"""SPI NOR flash as a byte array: erase sets 0xFF a sector at a time, programming ANDs bits.

Backed by a file when one is given, so a virtual board keeps its contents between runs. A
power-cut fault can be armed: after N more programmed bytes the write stops part-way and
the flash raises PowerCut, as a board losing power mid-write would.
"""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import numpy as np

SECTOR = 4096


class PowerCut(Exception):
    """The modelled supply failed during a flash write."""


class FlashMemory:
    def __init__(self, size: int, path: str | Path | None = None) -> None:
        self.size = size
        self.path = Path(path) if path else None
        self.cut_after: int | None = None  # programmed bytes left before the power fails
        if self.path is None:
            self._data: bytearray | mmap.mmap = bytearray(b"\xff" * size)
            return
        with open(self.path, "ab") as handle:
            if handle.tell() < size:
                handle.write(b"\xff" * (size - handle.tell()))
        self._file = open(self.path, "r+b")
        self._data = mmap.mmap(self._file.fileno(), size)

    @property
    def blank(self) -> bool:
        return self._data[:SECTOR] == b"\xff" * SECTOR

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return bytes(self._data[offset:offset + length])

    def erase(self, offset: int, length: int) -> None:
        """Erase whole sectors covering [offset, offset + length)."""
        start = offset - offset % SECTOR
        end = min(self.size, -(-(offset + length) // SECTOR) * SECTOR)
        self._check(start, end - start)
        self._data[start:end] = b"\xff" * (end - start)

    def program(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        if self.cut_after is not None and len(data) > self.cut_after:
            written = self.cut_after
            self._and(offset, data[:written])
            self.cut_after = 0
            raise PowerCut(f"power cut after {written} more bytes at 0x{offset + written:x}")
        self._and(offset, data)
        if self.cut_after is not None:
            self.cut_after -= len(data)

    def write(self, offset: int, data: bytes) -> None:
        """Erase the sectors under ``data`` and program it (what a flasher does)."""
        self.erase(offset, len(data))
        self.program(offset, data)

    def md5(self, offset: int, length: int) -> bytes:
        return hashlib.md5(self.read(offset, length)).digest()

    def _and(self, offset: int, data: bytes) -> None:
        current = np.frombuffer(self._data[offset:offset + len(data)], dtype=np.uint8)
        self._data[offset:offset + len(data)] = np.bitwise_and(current, np.frombuffer(data, dtype=np.uint8)).tobytes()

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"flash access 0x{offset:x}+{length} outside {self.size} bytes")

    def flush(self) -> None:
        if isinstance(self._data, mmap.mmap):
            self._data.flush()

    def close(self) -> None:
        if isinstance(self._data, mmap.mmap):
            self._data.flush()
            self._data.close()
            self._file.close()
