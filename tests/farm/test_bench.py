"""bench/farm.py runs and reports its figures (timings are measured there, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_farm_bench_script(tmp_path: Path) -> None:
    out = tmp_path / "farm.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "farm.py"), "--models", "3", "--n", "3", "--unpaced",
                             "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert {"places", "wall_s", "speedup_vs_one_place", "recovered_hangs", "sick_boards_named"} <= set(figures)
    assert figures["places"] == 3 and figures["simulated"]
    assert figures["recovered_hangs"] == 1 and figures["sick_boards_named"] == 1
