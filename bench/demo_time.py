"""Where the demo's time goes: `espml demo` run twice in one fresh work folder (the first run
cold, the second warm), wall time per phase (train, each optimisation stage, quantize, flash,
bench) as the demo's own clock reports it, and the whole command's wall time. Goal (issue 23):
the warm demo <= 45 s on 2 cores.

    python bench/demo_time.py [--runs 2] [--json FILE]

JSON: `runs` (one row per run: `wall_s`, `phases_s`), `cold_wall_s`, `warm_wall_s`, `cores`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(work: Path) -> dict:
    out = work / "demo.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "toolkit.cli", "demo", "--work", str(work / "demo"),
                    "--db", str(work / "results.sqlite"), "--json", str(out)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 1), "phases_s": json.loads(out.read_text())["timings_s"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="demo runs in one work folder (default 2)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="espml-demo-time-") as folder:
        runs = [run_once(Path(folder)) for _ in range(args.runs)]
    for index, run in enumerate(runs):
        phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in run["phases_s"].items())
        print(f"run {index + 1} ({'cold' if index == 0 else 'warm'}): {run['wall_s']:.1f} s  [{phases}]")
    result = {"runs": runs, "cold_wall_s": runs[0]["wall_s"], "warm_wall_s": runs[-1]["wall_s"] if len(runs) > 1 else None,
              "cores": os.cpu_count()}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
