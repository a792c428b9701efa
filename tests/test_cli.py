"""The command line: JSON contract, one-line errors with hints, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main

BENCH_FIELDS = {"n", "latency_us", "arena_used_bytes", "heap_free_min_bytes", "current_ma", "energy_uj_per_inference",
                "outputs_match_reference", "simulated", "board", "firmware", "model_sha256"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, timeout=120)


def test_bench_json_has_the_contract_fields(reference_model_path: Path, heldout_nhwc, tmp_path: Path, capsys) -> None:
    x, _ = heldout_nhwc
    np.save(tmp_path / "batch.npy", x[:8].astype(np.float32))
    out = tmp_path / "out.json"
    code = main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(reference_model_path), "--inputs",
                 str(tmp_path / "batch.npy"), "--n", "12", "--json", str(out), "--db", str(tmp_path / "r.sqlite")])
    assert code == 0
    summary = json.loads(out.read_text())
    assert BENCH_FIELDS <= set(summary)
    assert set(summary["latency_us"]) == {"median", "p90", "min", "max"}
    assert set(summary["current_ma"]) == {"mean", "peak"}
    assert summary["simulated"] is True and summary["outputs_match_reference"] is True and summary["n"] == 12
    assert "SIMULATED" in capsys.readouterr().out


def test_bench_from_a_folder_of_files(reference_model_path: Path, tmp_path: Path) -> None:
    folder = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "heldout_nhwc"
    out = tmp_path / "out.json"
    assert main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(reference_model_path), "--inputs",
                 str(folder), "--n", "8", "--json", str(out), "--db", str(tmp_path / "r.sqlite")]) == 0
    assert json.loads(out.read_text())["outputs_match_reference"]


def test_info_json(tmp_path: Path) -> None:
    out = tmp_path / "info.json"
    assert main(["info", "--port", "vdev://esp32s3", "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["simulated"] and info["board"] == "esp32s3" and "CONV_2D" in info["ops"]


@pytest.mark.parametrize("args, needle, code", [
    (["bench", "--port", "vdev://esp32s3", "--model", "MISSING.tflite", "--inputs", "x"], "model file not found", 2),
    (["bench", "--port", "vdev://esp32s3", "--model", __file__, "--inputs", "x"], "not a TFLite flatbuffer", 2),
    (["info", "--port", "/dev/ttyNOPE0"], "no such port", 3),
    (["info", "--port", "vdev://esp32s3?nonsense=1"], "unknown vdev option", 3),
])
def test_bad_input_is_one_line_no_traceback(args: list[str], needle: str, code: int) -> None:
    result = run_cli(*args)
    assert result.returncode == code
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("espml: error:")
    assert "Traceback" not in result.stderr


def test_wrong_input_shape_and_hang_exit_codes(reference_model_path: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "bad.npy", np.zeros((3, 7, 7), np.float32))
    result = run_cli("bench", "--port", "vdev://esp32s3", "--model", str(reference_model_path), "--inputs",
                     str(tmp_path / "bad.npy"), "--db", str(tmp_path / "r.sqlite"))
    assert result.returncode == 2 and "shape" in result.stderr and "Traceback" not in result.stderr

    folder = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "heldout_nhwc"
    result = run_cli("bench", "--port", "vdev://esp32s3?realtime=0&hang_after=3", "--timeout", "0.3", "--model",
                     str(reference_model_path), "--inputs", str(folder), "--n", "6", "--warmup", "0",
                     "--db", str(tmp_path / "r.sqlite"))
    assert result.returncode == 4
    assert "after 3 of 6 inferences" in result.stderr and "kept in" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "info", "--port", "/dev/ttyNOPE0")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_brackets_in_messages_survive(monkeypatch, capsys) -> None:
    """Rich would read "[convert]" as markup and drop it from the hint."""
    from toolkit.errors import MissingExtraError

    def missing() -> None:
        raise MissingExtraError("conversion needs the 'convert' extra", "pip install 'espml[convert]'")

    monkeypatch.setattr("toolkit.convert.require_convert_extra", missing)
    assert main(["optimize", "--model", "toolkit.reference:build_reference_cnn"]) == 6
    assert "pip install 'espml[convert]'" in capsys.readouterr().err


def test_bench_resume_continues_an_interrupted_run(tmp_path: Path) -> None:
    from toolkit.harness import ResultsStore

    root = Path(__file__).resolve().parent.parent
    model = str(root / "fixtures" / "reference" / "digits_cnn_int8.tflite")
    inputs = str(root / "fixtures" / "reference" / "heldout_nhwc")
    db = str(tmp_path / "r.sqlite")
    args = ["bench", "--model", model, "--inputs", inputs, "--db", db, "--timeout", "0.3"]
    assert main([*args, "--port", "vdev://esp32s3?realtime=0&hang_after=3", "--n", "8"]) == 4
    assert main([*args, "--port", "vdev://esp32s3?realtime=0", "--resume", "1"]) == 0
    store = ResultsStore(db)
    assert store.run(1)["status"] == "done" and [r["idx"] for r in store.inferences(1)] == list(range(8))
    assert main([*args, "--port", "vdev://esp32s3?realtime=0", "--resume", "7"]) == 1  # no such run: one line


def test_debug_shows_what_a_one_line_error_came_from(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"TFL3" * 10)
    with pytest.raises(Exception) as caught:
        main(["--debug", "inspect", str(bad)])
    assert caught.value.__suppress_context__ is False


def test_a_board_unplugged_mid_run_stops_it_with_one_line_and_keeps_the_run(tmp_path: Path, monkeypatch) -> None:
    import serial

    from toolkit.harness import ResultsStore
    from toolkit.virtual.protocol_vdev import Serial

    real_read, calls = Serial.read, {"n": 0}

    def vanishing_read(self, size=1):
        calls["n"] += 1
        if calls["n"] > 400:  # after the upload, in the middle of the run
            raise serial.SerialException("device reports readiness to read but returned no data")
        return real_read(self, size)

    monkeypatch.setattr(Serial, "read", vanishing_read)
    root = Path(__file__).resolve().parent.parent
    db = tmp_path / "r.sqlite"
    code = main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model",
                 str(root / "fixtures" / "reference" / "digits_cnn_int8.tflite"), "--inputs",
                 str(root / "fixtures" / "reference" / "heldout_nhwc"), "--n", "50", "--db", str(db)])
    assert code == 3
    run = ResultsStore(db).run(1)
    assert run and run["status"] == "interrupted"
