"""Model images, partition tables and application images."""

from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit.errors import ModelError
from toolkit.image import app_image
from toolkit.image.model_image import HEADER_SIZE, SECTOR, build_image, check_fits, parse_header, verify_slot
from toolkit.image.partitions import PartitionError, find, from_binary, load_csv, parse_csv, to_binary
from toolkit.model import load_model

from conftest import REFERENCE_MODEL


def test_model_image_round_trip() -> None:
    model = load_model(REFERENCE_MODEL)
    image = build_image(model, sequence=7)
    assert len(image) % SECTOR == 0 and image[-1] == 0xFF
    header, payload = verify_slot(image)
    assert payload == model.data and header.sequence == 7 and header.payload_sha256.hex() == model.sha256
    assert header.input.shape == (1, 8, 8, 1) and header.output.shape == (1, 10)


@pytest.mark.parametrize("where", [10, 60, HEADER_SIZE + 5, HEADER_SIZE + 150_000])
def test_any_damage_makes_the_slot_invalid(where: int) -> None:
    image = bytearray(build_image(load_model(REFERENCE_MODEL), 1))
    image[where] ^= 0x01
    assert verify_slot(bytes(image)) is None


def test_blank_and_truncated_slots_are_invalid() -> None:
    image = build_image(load_model(REFERENCE_MODEL), 1)
    assert parse_header(b"\xff" * SECTOR) is None
    assert verify_slot(image[:HEADER_SIZE + 1000]) is None


def test_image_larger_than_slot_is_refused() -> None:
    with pytest.raises(ModelError, match="slot holds 65,536"):
        check_fits(load_model(REFERENCE_MODEL), 64 * 1024)


def test_firmware_partition_table() -> None:
    partitions = load_csv()
    a, b = find(partitions, "model_a"), find(partitions, "model_b")
    assert a.size == b.size == 0x100000 and a.offset % 0x10000 == 0
    assert from_binary(to_binary(partitions)) == partitions


def test_partition_table_errors() -> None:
    binary = bytearray(to_binary(load_csv()))
    binary[40] ^= 0xFF
    with pytest.raises(PartitionError, match="MD5"):
        from_binary(bytes(binary))
    with pytest.raises(PartitionError, match="no partition table"):
        from_binary(b"\xff" * 0xC00)
    with pytest.raises(PartitionError, match="line 1"):
        parse_csv("nvs, data\n")
    assert parse_csv("x, data, 0x40, 0x10000, 64K\n")[0].size == 65536


def test_app_image_is_what_esptool_reads(tmp_path) -> None:
    image = app_image.build_app("espml-fw", "9.9.9")
    assert app_image.app_info(image).version == "9.9.9"
    path = tmp_path / "app.bin"
    path.write_bytes(image)
    out = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32s3", "image-info", str(path)],
                         capture_output=True, text=True, timeout=60).stdout
    assert "Checksum: 0x" in out and "(valid)" in out and "Project name: espml-fw" in out
    damaged = bytearray(image)
    damaged[100] ^= 1
    assert app_image.app_info(bytes(damaged)) is None and not app_image.check_image(b"\xff" * 64)
