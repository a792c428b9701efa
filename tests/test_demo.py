"""`espml demo`, as the README's first command runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.cli import main


def test_demo_with_bundled_model(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-retrain", "--n", "30", "--json", "demo.json"]) == 0
    result = json.loads((tmp_path / "demo.json").read_text())
    bench = result["bench"]
    assert bench["simulated"] and bench["outputs_match_reference"] and bench["n"] == 30
    assert result["flashed"]["slot"] == "model_a" and not bench["model_uploaded"]  # flashed, then found running
    assert bench["accuracy"] == bench["host_accuracy"] >= 0.95
    assert (tmp_path / ".espml" / "results.sqlite").exists()
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "bundled fixture" in out


def test_demo_timings_name_each_phase_and_add_up(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-retrain", "--n", "5", "--json", "demo.json", "--timings"]) == 0
    timings = json.loads((tmp_path / "demo.json").read_text())["timings_s"]
    assert list(timings) == ["flash", "bench"] and all(seconds > 0 for seconds in timings.values())
    out = capsys.readouterr().out
    assert "wall time per phase" in out and f"total {sum(timings.values()):.1f} s" in out


@pytest.mark.slow
def test_demo_trains_and_converts_in_a_relative_work_folder(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx2tf")
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--n", "20", "--work", "rel/demo", "--json", "demo.json"]) == 0
    result = json.loads((tmp_path / "demo.json").read_text())
    assert result["model_source"] == "trained, optimised and converted now"
    stages = result["stages"]
    assert [s["stage"] for s in stages] == ["original", "fold", "separable", "prune", "lowrank", "quantize", "plan"]
    assert {"train", "optimize fold", "optimize prune", "optimize quantize", "flash", "bench"} <= set(result["timings_s"])
    assert stages[0]["accuracy"] >= 0.97
    assert stages[0]["accuracy"] - stages[-1]["accuracy"] <= 0.005  # the 0.5-point budget
    assert stages[-1]["tflite_bytes"] < 60_000
    assert stages[-1]["arena_head_bytes"] <= stages[-2]["arena_head_bytes"]
    assert result["bench"]["outputs_match_reference"]
    assert result["bench"]["accuracy"] == result["bench"]["host_accuracy"]
