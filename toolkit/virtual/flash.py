"""The virtual board's SPI NOR flash: the host port's file-backed flash (device/port/host), shared
by the ROM emulation (esptool's writes) and the firmware (model uploads).

Erase sets 0xFF a sector at a time, programming ANDs bits. A power cut can be armed: after N more
programmed bytes the write stops part-way, and every later write fails until power returns.
"""

from __future__ import annotations

import ctypes
import hashlib
from pathlib import Path

from toolkit.virtual import host_port

SECTOR = 4096
_POWER_CUT = -2


class PowerCut(Exception):
    """The modelled supply failed during a flash write."""


class FlashMemory:
    def __init__(self, size: int, path: str | Path | None = None) -> None:
        self._lib = host_port.library()
        self.size = size
        self.path = Path(path) if path else None
        self.handle = self._lib.espml_host_flash_open(str(self.path).encode() if self.path else None, size)
        if not self.handle:
            raise OSError(f"cannot open flash file {self.path}")
        address = self._lib.espml_host_flash_data(self.handle)
        self._view = (ctypes.c_ubyte * size).from_address(address)
        self._cut_after: int | None = None

    @property
    def blank(self) -> bool:
        return self.read(0, SECTOR) == b"\xff" * SECTOR

    @property
    def cut_after(self) -> int | None:
        """Programmed bytes left before the power fails (None: it never does)."""
        return self._cut_after

    @cut_after.setter
    def cut_after(self, value: int | None) -> None:
        self._cut_after = value
        if value is None:
            self._lib.espml_host_flash_power_on(self.handle)
        else:
            self._lib.espml_host_flash_cut_after(self.handle, value)

    @property
    def powered(self) -> bool:
        return bool(self.handle) and bool(self._lib.espml_host_flash_powered(self.handle))

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return ctypes.string_at(ctypes.addressof(self._view) + offset, length)

    def erase(self, offset: int, length: int) -> None:
        """Erase whole sectors covering [offset, offset + length)."""
        self._check(offset, length)
        if self._lib.espml_host_flash_erase(self.handle, offset, length) == _POWER_CUT:
            raise PowerCut(f"no power to erase at 0x{offset:x}")

    def program(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        if self._lib.espml_host_flash_program(self.handle, offset, bytes(data), len(data)) == _POWER_CUT:
            raise PowerCut(f"power cut while programming {len(data)} bytes at 0x{offset:x}")

    def write(self, offset: int, data: bytes) -> None:
        """Erase the sectors under ``data`` and program it (what a flasher does)."""
        self.erase(offset, len(data))
        self.program(offset, data)

    def md5(self, offset: int, length: int) -> bytes:
        return hashlib.md5(self.read(offset, length)).digest()

    def _check(self, offset: int, length: int) -> None:
        if not self.handle:
            raise ValueError("the flash was closed with its board")
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"flash access 0x{offset:x}+{length} outside {self.size} bytes")

    def flush(self) -> None:
        if self.handle:
            self._lib.espml_host_flash_sync(self.handle)

    def close(self) -> None:
        if self.handle:
            self._lib.espml_host_flash_close(self.handle)
            self.handle = None
