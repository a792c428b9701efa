"""A labgrid place is a port: `labgrid://PLACE` is acquired through labgrid's own coordinator, its
NetworkSerialPort (RFC 2217) used by espml and by esptool, and the place released afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"


def espml(lab, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], cwd=lab.folder, env=env or lab.env,
                          capture_output=True, text=True, timeout=300)


def test_the_farm_venv_runs_labgrids_fork_of_pyserial() -> None:
    """labgrid's pyserial-labgrid owns the `serial` module here: esptool and espml run on it."""
    assert serial.__version__ == "3.5.0.2"


def test_esptool_flashes_and_espml_benches_a_place_then_it_is_released(lab, tmp_path: Path) -> None:
    flashed = espml(lab, "flash", "--port", "labgrid://farm-0", str(MODEL))
    assert flashed.returncode == 0, flashed.stdout + flashed.stderr
    assert lab.who("farm-0") == ""
    out = tmp_path / "bench.json"
    benched = espml(lab, "bench", "--port", "labgrid://farm-0", "--model", str(MODEL), "--inputs", str(MODEL.parent / "heldout_nhwc"), "--n", "5",
                    "--db", str(tmp_path / "r.sqlite"), "--json", str(out))
    assert benched.returncode == 0, benched.stdout + benched.stderr
    summary = json.loads(out.read_text())
    assert summary["n"] == 5 and summary["simulated"] and summary["outputs_match_reference"]
    assert lab.who("farm-0") == ""


def test_a_place_this_user_holds_is_used_and_left_held(lab, tmp_path: Path) -> None:
    lab.client("-p", "farm-0", "acquire")
    try:
        info = espml(lab, "info", "--port", "labgrid://farm-0")
        assert info.returncode == 0, info.stdout + info.stderr
        assert lab.who("farm-0") != ""
    finally:
        lab.client("-p", "farm-0", "release")
