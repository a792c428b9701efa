"""ESP application images (the format esptool's elf2image writes): build a small one, check one.

The virtual board is provisioned with a bootloader and an application image made here, since
the real firmware cannot be built on these machines; at boot it checks the app partition the
way the second-stage bootloader and esp_app_desc do, so a board flashed with garbage does not
pretend to boot. Writing and reading the image format, and its checksum, is esptool's
(``esptool.bin_image``); only ESP-IDF's app description, which esptool does not build, is here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from esptool.bin_image import ELFSection, ESP32S3FirmwareImage, LoadFirmwareImage
from esptool.cmds import FLASH_MODES
from esptool.targets import ESP32S3ROM

APP_DESC_MAGIC = 0xABCD5432  # esp_app_desc_t.magic_word
_APP_DESC = struct.Struct("<III I32s32s16s16s32s32sHHB3s72s")  # ESP-IDF's esp_app_desc_t
DROM_ADDRESS = ESP32S3ROM.DROM_MAP_START + 0x20  # lands right after the image and segment headers
IRAM_ENTRY = 0x40375000  # where an ESP-IDF app's call_start_cpu0 sits in IRAM
BOOTLOADER_ENTRY = 0x403C8700  # the second-stage bootloader's IRAM


@dataclass(frozen=True)
class AppInfo:
    project_name: str
    version: str
    idf_version: str


def build_image(segments: list[tuple[int, bytes]], entry: int = IRAM_ENTRY) -> bytes:
    """An ESP32-S3 image (DIO, 80 MHz, 8 MB, SHA-256 appended) holding ``segments``."""
    image = ESP32S3FirmwareImage()
    image.segments = [ELFSection(b"segment at 0x%x" % address, address, data, flags=0) for address, data in segments]
    image.entrypoint = entry
    image.flash_mode = FLASH_MODES["dio"]
    image.flash_size_freq = ESP32S3ROM.FLASH_SIZES["8MB"] | ESP32S3ROM.FLASH_FREQUENCY["80m"]
    image.max_rev_full = 0xFFFF  # any chip revision, as elf2image writes by default
    return image.save(None)


def app_description(project: str, version: str, idf_version: str = "v5.3") -> bytes:
    return _APP_DESC.pack(APP_DESC_MAGIC, 0, 0, 0, version.encode(), project.encode(), b"00:00:00", b"Jan  1 2026",
                          idf_version.encode(), b"\x00" * 32, 0, 0, 16, b"\x00" * 3, b"\x00" * 72)


def build_app(project: str, version: str) -> bytes:
    """An application image whose app description names ``project`` and ``version``."""
    return build_image([(DROM_ADDRESS, app_description(project, version)), (IRAM_ENTRY, b"\x00" * 64)])


def build_bootloader() -> bytes:
    return build_image([(BOOTLOADER_ENTRY, b"\x00" * 64)], entry=BOOTLOADER_ENTRY)


def load_image(data: bytes) -> ESP32S3FirmwareImage | None:
    """The ESP32-S3 image ``data`` starts with, if its chip ID, checksum and SHA-256 hold."""
    try:
        image = LoadFirmwareImage("esp32s3", data)
    except (RuntimeError, struct.error, TypeError):  # esptool's FatalError is a RuntimeError
        return None
    if image.chip_id != ESP32S3ROM.IMAGE_CHIP_ID or not image.segments:
        return None
    if image.checksum != image.calculate_checksum():
        return None
    return image if not image.append_digest or image.stored_digest == image.calc_digest else None


def check_image(data: bytes) -> bool:
    """True when ``data`` starts with a whole ESP32-S3 image whose checksum and SHA-256 hold."""
    return load_image(data) is not None


def app_info(data: bytes) -> AppInfo | None:
    """The app description (at the start of the first segment) of a valid application image, or None."""
    image = load_image(data)
    if image is None or len(image.segments[0].data) < _APP_DESC.size:
        return None
    fields = _APP_DESC.unpack_from(image.segments[0].data)
    if fields[0] != APP_DESC_MAGIC:
        return None
    text = [f.rstrip(b"\x00").decode(errors="replace") for f in (fields[5], fields[4], fields[8])]
    return AppInfo(*text)
