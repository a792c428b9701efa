"""ESP application images (the format esptool's elf2image writes): build a small one, check one.

The virtual board is provisioned with a bootloader and an application image made here, since
the real firmware cannot be built on these machines; at boot it checks the app partition the
way the second-stage bootloader and esp_app_desc do, so a board flashed with garbage does not
pretend to boot.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np

IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432
CHIP_ID_ESP32S3 = 9
_HEADER = struct.Struct("<BBBBI")  # magic, segments, flash mode, flash size/freq, entry
_EXTENDED = struct.Struct("<B3sHBHH4sB")  # wp pin, drive, chip id, min rev, min rev full, max rev full, -, hash
_SEGMENT = struct.Struct("<II")
_APP_DESC = struct.Struct("<III I32s32s16s16s32s32sHHB3s72s")
DROM_ADDRESS = 0x3C000020
IRAM_ENTRY = 0x40375000


@dataclass(frozen=True)
class AppInfo:
    project_name: str
    version: str
    idf_version: str


def esp_checksum(data: bytes) -> int:
    """The ESP checksum: 0xEF XOR every byte (image segments, and the ROM's data commands)."""
    return 0xEF ^ int(np.bitwise_xor.reduce(np.frombuffer(data, dtype=np.uint8))) if data else 0xEF


def build_image(segments: list[tuple[int, bytes]], entry: int = IRAM_ENTRY) -> bytes:
    header = _HEADER.pack(IMAGE_MAGIC, len(segments), 2, 0x3F, entry)
    header += _EXTENDED.pack(0xEE, b"\x00\x00\x00", CHIP_ID_ESP32S3, 0, 0, 0xFFFF, b"\x00" * 4, 1)
    body, check = bytearray(header), 0xEF
    for address, data in segments:
        data = data + b"\x00" * (-len(data) % 4)
        body += _SEGMENT.pack(address, len(data)) + data
        check ^= esp_checksum(data) ^ 0xEF
    body += b"\x00" * (15 - len(body) % 16) + bytes([check])
    return bytes(body) + hashlib.sha256(body).digest()


def app_description(project: str, version: str, idf_version: str = "v5.3") -> bytes:
    return _APP_DESC.pack(APP_DESC_MAGIC, 0, 0, 0, version.encode(), project.encode(), b"00:00:00", b"Jan  1 2026",
                          idf_version.encode(), b"\x00" * 32, 0, 0, 16, b"\x00" * 3, b"\x00" * 72)


def build_app(project: str, version: str) -> bytes:
    """An application image whose app description names ``project`` and ``version``."""
    return build_image([(DROM_ADDRESS, app_description(project, version)), (IRAM_ENTRY, b"\x00" * 64)])


def build_bootloader() -> bytes:
    return build_image([(0x403C8700, b"\x00" * 64)], entry=0x403C8700)


def check_image(data: bytes) -> bool:
    """True when ``data`` starts with a whole ESP32-S3 image whose checksum and SHA-256 hold."""
    if len(data) < 24 or data[0] != IMAGE_MAGIC:
        return False
    _, count, _, _, _ = _HEADER.unpack_from(data)
    *_, hash_appended = _EXTENDED.unpack_from(data, 8)
    if _EXTENDED.unpack_from(data, 8)[2] != CHIP_ID_ESP32S3 or count == 0 or count > 16:
        return False
    position, check = 24, 0xEF
    for _ in range(count):
        if position + 8 > len(data):
            return False
        _, length = _SEGMENT.unpack_from(data, position)
        segment = data[position + 8:position + 8 + length]
        if len(segment) != length:
            return False
        check ^= esp_checksum(segment) ^ 0xEF
        position += 8 + length
    position += 15 - position % 16
    if position >= len(data) or data[position] != check:
        return False
    end = position + 1
    return not hash_appended or hashlib.sha256(data[:end]).digest() == data[end:end + 32]


def app_info(data: bytes) -> AppInfo | None:
    """The app description of a valid application image, or None."""
    if not check_image(data):
        return None
    fields = _APP_DESC.unpack_from(data, 24 + 8)
    if fields[0] != APP_DESC_MAGIC:
        return None
    text = [f.rstrip(b"\x00").decode(errors="replace") for f in (fields[5], fields[4], fields[8])]
    return AppInfo(*text)
