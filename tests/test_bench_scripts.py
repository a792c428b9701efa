"""Benchmark scripts run and report their figures (timings are measured there, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_protocol_efficiency_script(tmp_path: Path) -> None:
    out = tmp_path / "pe.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "protocol_efficiency.py"), "--repeat", "1",
                             "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert {"payload_efficiency", "input_time_vs_bound", "speedup_vs_hex"} <= set(figures)
    assert figures["payload_efficiency"] >= 0.97  # byte counts are deterministic
    assert figures["hex_text"]["wire_bytes_to_device"] > 2 * figures["espml"]["wire_bytes_to_device"]


def test_inspect_accuracy_script(tmp_path: Path, tensorflow_models_dir: Path | None) -> None:
    out = tmp_path / "ia.json"
    tf_models = ["--tf-models", str(tensorflow_models_dir)] if tensorflow_models_dir else ["--no-tensorflow"]
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "inspect_accuracy.py"), "--generated", "5",
                             *tf_models, "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["heads_exact"] == figures["models_checked"]
    assert figures["worst_total_error"] <= 0.01
    assert any(row["kind"] == "tensorflow" for row in figures["models"]) == bool(tensorflow_models_dir)


def test_flash_update_script(tmp_path: Path) -> None:
    out = tmp_path / "fu.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "flash_update.py"), "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert {"wire_vs_deflated", "speedup_vs_full_flash"} <= set(figures)
    assert figures["wire_vs_deflated"] <= 1.05  # byte counts are deterministic; seconds are not asserted
    assert figures["full_flash"]["wire_bytes_to_device"] > 3 * figures["model_only"]["wire_bytes_to_device"]


def test_patch_plan_script(tmp_path: Path) -> None:
    """The person-detection-style model: below 0.6x the layer-wise lower bound, identical outputs."""
    out = tmp_path / "pp.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "patch_plan.py"), "--only", "0.25 96x96 grey",
                             "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert {r["objective"] for r in figures["models"]} == {"head", "arena"}
    assert figures["goals"]["person_detection_ratio"] <= 0.6 and figures["goals"]["all_outputs_identical"]
    assert all(r["extra_macs_pct"] <= 15 and r["ratio"] < 1 for r in figures["models"])
