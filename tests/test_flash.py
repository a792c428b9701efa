"""`espml flash` through esptool's API against the virtual board; refusals; power cuts mid-write."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.boards import get_board
from toolkit.cli import main
from toolkit.errors import DeviceTimeout, ModelError, PortError
from toolkit.flash import FlashError, flash
from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.image.model_image import HEADER_SIZE, SECTOR, image_size
from toolkit.model import load_model
from toolkit.model.synth import ModelBuilder
from toolkit.virtual.protocol_vdev import board_for_url

from conftest import REFERENCE_MODEL
from test_synth import every_op_model


def test_flash_then_bench_runs_the_new_model(tmp_path: Path) -> None:
    url = "vdev://esp32s3?realtime=0&id=flash-bench"
    model = load_model(REFERENCE_MODEL)
    out = tmp_path / "flash.json"
    assert main(["flash", "--port", url, str(REFERENCE_MODEL), "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["model_slot"] == "model_a" and written["model_sequence"] == 1
    assert sum(w["bytes"] for w in written["writes"]) == image_size(model.size)
    assert written["writes"][-1]["name"].endswith("header")  # the header goes last
    with Session.open(url) as session:
        summary = run_bench(session, model, [np.zeros((1, 8, 8, 1), np.int8)], BenchPlan(2),
                            ResultsStore(tmp_path / "r.sqlite"), url)
    assert not summary["model_uploaded"] and summary["outputs_match_reference"]
    second = flash(url, get_board("esp32s3"), load_model(every_op_model()))
    assert second.model_slot == "model_b" and second.model_sequence == 2


def test_refusals_happen_before_the_board_is_touched(tmp_path: Path) -> None:
    url = "vdev://esp32s3?realtime=0&id=flash-refuse"
    board = board_for_url(url)
    before = board.flash.read(0, board.flash.size)
    b = ModelBuilder(2)
    x = b.input((1, 8, 8, 4))
    custom = load_model(b.build([x], [b.custom("MyOp", x)]))
    with pytest.raises(ModelError, match="will not run"):
        flash(url, get_board("esp32s3"), custom)
    tiny_ram = dataclasses.replace(get_board("esp32s3"), arena_bytes=1024)
    with pytest.raises(ModelError, match="arena"):
        flash(url, tiny_ram, load_model(REFERENCE_MODEL))
    assert board.flash.read(0, board.flash.size) == before
    result = flash(url, get_board("esp32s3"), custom, force=True)  # --force writes it anyway
    assert result.model_slot == "model_a"


def test_a_forced_model_that_will_not_run_is_not_announced_as_running(tmp_path: Path, capsys) -> None:
    url = "vdev://esp32s3?realtime=0&id=flash-force-message"
    assert main(["flash", "--port", url, str(REFERENCE_MODEL)]) == 0
    b = ModelBuilder(2)
    x = b.input((1, 8, 8, 4))
    custom = tmp_path / "custom.tflite"
    custom.write_bytes(b.build([x], [b.custom("MyOp", x)]))
    capsys.readouterr()
    assert main(["flash", "--port", url, str(custom), "--force"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "runs once its SHA-256 checks" not in said
    assert "will not run it" in said and "keeps the model it has" in said
    with Session.open(url) as session:  # and that is what the board does
        assert session.hello().model_sha256.hex() == load_model(REFERENCE_MODEL).sha256


def test_bad_ports_and_files() -> None:
    with pytest.raises(PortError, match="no such port"):
        flash("/dev/ttyNOPE9", get_board("esp32s3"), load_model(REFERENCE_MODEL))
    assert main(["flash", "--port", "vdev://esp32s3"]) == 1
    assert main(["flash", "--port", "vdev://esp32s3", "--firmware", "/nonexistent/app.bin"]) == 9


def multi_sector_model() -> bytes:
    b = ModelBuilder(5)
    x = b.input((1, 8, 8, 16))
    return b.build([x], [b.fully_connected(b.reshape(x, (1, -1)), 64)])


def test_power_cut_sweep_never_leaves_a_corrupt_model_running(tmp_path: Path) -> None:
    """Cut the power after N bytes of a model update, for N across the whole image: the next
    boot runs a verified model, the old one or the new one, and `info` says which."""
    old, new = load_model(REFERENCE_MODEL), load_model(multi_sector_model())
    # The firmware writes the model's bytes past its first sector as they arrive, then the first
    # sector: the 256-byte header (zeros at its end) and the model's head, all of it in one write.
    image_bytes = HEADER_SIZE + len(new.data)
    data_bytes = image_bytes - SECTOR
    header_sector = bytes(HEADER_SIZE) + new.data[:SECTOR - HEADER_SIZE]
    # The new model counts once the header sector is in; its trailing 0xFF equal erased flash.
    threshold = data_bytes + len(header_sector.rstrip(b"\xff"))
    seen = set()
    for cut in sorted({0, 1, 1000, data_bytes // 2, data_bytes - 1, data_bytes, data_bytes + 255,
                       threshold - 1, threshold, image_bytes}):
        url = f"vdev://esp32s3?realtime=0&id=cut-{cut}"
        board = board_for_url(url)
        board.install_model(old.data)
        board.boot(download=False)
        with Session.open(url, timeout=0.5, retries=0) as session:
            session.hello()
            board.flash.cut_after = cut
            try:
                session.upload_model(new.data, commit_timeout=0.5)
            except DeviceTimeout:
                pass  # the board lost power mid-write
        board.power_cycle()
        with Session.open(url) as session:
            info = session.hello()
        running = info.model_sha256.hex()
        assert info.model_ready and running in (old.sha256, new.sha256)
        assert running == (new.sha256 if cut >= threshold else old.sha256), f"cut after {cut} bytes"
        seen.add(running)
    assert seen == {old.sha256, new.sha256}


def test_power_cut_during_an_esptool_write(tmp_path: Path) -> None:
    url = "vdev://esp32s3?realtime=0&id=cut-esptool"
    board = board_for_url(url)
    old = load_model(REFERENCE_MODEL)
    board.install_model(old.data)
    board.boot(download=False)
    board.flash.cut_after = 20_000
    with pytest.raises(FlashError, match="old model stays in charge"):
        flash(url, get_board("esp32s3"), load_model(multi_sector_model()))
    board.power_cycle()
    with Session.open(url) as session:
        assert session.hello().model_sha256.hex() == old.sha256


def test_firmware_from_a_build_folder_is_written_and_boots(tmp_path: Path) -> None:
    import json as json_module

    from toolkit.image import app_image
    from toolkit.image.partitions import load_csv, to_binary

    build = tmp_path / "build"
    (build / "bootloader").mkdir(parents=True)
    (build / "partition_table").mkdir()
    (build / "bootloader" / "bootloader.bin").write_bytes(app_image.build_bootloader())
    (build / "partition_table" / "partition-table.bin").write_bytes(to_binary(load_csv()))
    (build / "espml-fw.bin").write_bytes(app_image.build_app("espml-fw", "7.7.7"))
    (build / "flasher_args.json").write_text(json_module.dumps({"flash_files": {
        "0x0": "bootloader/bootloader.bin", "0x8000": "partition_table/partition-table.bin",
        "0x10000": "espml-fw.bin"}}))
    url = "vdev://esp32s3?realtime=0&id=flash-firmware"
    assert main(["flash", "--port", url, "--firmware", str(build), str(REFERENCE_MODEL)]) == 0
    with Session.open(url) as session:
        info = session.hello()
    assert info.firmware_version == "7.7.7" and info.model_ready


def test_garbage_firmware_is_refused_before_writing() -> None:
    import os

    from toolkit.flash import Write

    url = "vdev://esp32s3?realtime=0&id=flash-garbage"
    board = board_for_url(url)
    before = board.flash.read(0, 0x20000)
    with pytest.raises(FlashError, match="not a valid ESP32-S3 image"):
        flash(url, get_board("esp32s3"), firmware=[Write("app.bin", 0x10000, os.urandom(4096))])
    assert board.flash.read(0, 0x20000) == before
