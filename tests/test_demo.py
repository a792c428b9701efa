"""`espml demo`, as the README's first command runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    # The second run in the same folder takes the first one's model: same code, same libraries.
    assert main(["demo", "--n", "20", "--work", "rel/demo", "--json", "again.json"]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["model_source"].startswith("trained, optimised and converted by an earlier run")
    assert again["stages"] == stages and "train" not in again["timings_s"]
    assert (tmp_path / "rel/demo/digits_cnn_int8.tflite").read_bytes() == (tmp_path / "rel/demo/build/model.tflite").read_bytes()


def _build() -> "Build":
    from toolkit.demo_cache import Build
    from toolkit.reference import digits_preprocess

    return Build(b"TFL3" + bytes(range(200)), digits_preprocess().with_layout("NHWC"),
                 [{"stage": "original", "accuracy": np.float32(0.5)}])


def test_a_kept_build_is_reused_only_under_the_same_key_and_intact(tmp_path: Path) -> None:
    from toolkit.demo_cache import load_build, save_build

    save_build(tmp_path, "k1", _build())
    kept = load_build(tmp_path, "k1")
    assert kept and kept.tflite == _build().tflite and kept.stages == [{"stage": "original", "accuracy": 0.5}]
    assert kept.preprocess == _build().preprocess
    assert load_build(tmp_path, "k2") is None  # made by other code or libraries
    (tmp_path / "model.tflite").write_bytes(b"TFL3 altered")
    assert load_build(tmp_path, "k1") is None
    save_build(tmp_path, "k1", _build())
    (tmp_path / "build.json").write_text("{ torn")
    assert load_build(tmp_path, "k1") is None


def test_the_build_key_follows_every_toolkit_source_and_the_stage_order(tmp_path: Path, monkeypatch) -> None:
    from toolkit import demo_cache

    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(demo_cache, "TOOLKIT", tmp_path)
    first = demo_cache.build_key(["fold", "prune"], 0.5)
    assert demo_cache.build_key(["prune", "fold"], 0.5) != first
    assert demo_cache.build_key(["fold", "prune"], 1.0) != first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert demo_cache.build_key(["fold", "prune"], 0.5) != first
