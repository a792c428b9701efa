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
    assert bench["accuracy"] == bench["host_accuracy"] >= 0.95
    assert (tmp_path / ".espml" / "results.sqlite").exists()
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "bundled fixture" in out


@pytest.mark.slow
def test_demo_trains_and_converts_in_a_relative_work_folder(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx2tf")
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--n", "20", "--work", "rel/demo", "--json", "demo.json"]) == 0
    result = json.loads((tmp_path / "demo.json").read_text())
    assert result["model_source"] == "trained and converted now"
    assert [s["stage"] for s in result["stages"]] == ["train", "convert int8"]
    assert result["stages"][0]["heldout_accuracy"] >= 0.97
    assert result["stages"][1]["top1_agreement"] >= 0.99
    assert result["bench"]["outputs_match_reference"]
