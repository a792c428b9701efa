"""bench/compression.py and bench/pruning_graphs.py: their figures and goals (slow: train and convert)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_compression_bench_reports_every_figure_and_meets_the_goals(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx2tf")
    out = tmp_path / "c.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "compression.py"), "--families",
                             "plain_cnn,mobilenet_v2", "--json", str(out)], capture_output=True, text=True, timeout=1500,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    families = json.loads(out.read_text())["families"]
    for name, facts in families.items():
        assert {"params_before", "params_after", "macs_before", "macs_after", "int8_bytes", "ratio_vs_float_tflite",
                "accuracy_before", "accuracy_after", "estimated_latency_ms", "wall_s"} <= set(facts), name
        assert facts["goals_missed"] == [], (name, facts["goals_missed"])
        assert facts["estimated_latency_ms"] > 0 and facts["fits"]
        folded_first = ["fold", "separable", "prune", "lowrank"] if name == "plain_cnn" else \
            ["separable", "prune", "lowrank", "fold"]
        assert [s["stage"] for s in facts["stages"]] == ["original", *folded_first, "quantize", "plan"]
        assert facts["arena_head_bytes"]["planned"] <= facts["arena_head_bytes"]["greedy"]
    assert families["plain_cnn"]["ratio_vs_float_tflite"] >= 25


def test_pruning_comparison_with_torch_pruning(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("torch_pruning")
    out = tmp_path / "p.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "pruning_graphs.py"), "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["graph"]: row for row in json.loads(out.read_text())}
    for family in ("mobilenet_v1", "mobilenet_v2", "squeezenet"):
        assert rows[family]["ours"]["ok"] and rows[family]["ours"]["macs"] < rows[family]["macs_before"] / 2
    assert not rows["data-dependent control flow"]["ours"]["ok"]  # torch.fx cannot trace it; torch-pruning can
