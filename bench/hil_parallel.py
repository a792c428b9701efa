"""The HIL suite on one board against the same suite spread over several, each a virtual board
served by `espml sim` in a process of its own (as a lab's boards are separate devices).

The suite is the reference model under M names (so M tests of equal weight), each benchmarked
--n times with realtime pacing on, so the boards' simulated Invoke() time dominates as a real
board's would; the boards run firmware without ESP-NN (plain C kernels: slower simulated time for
the same host work). Both runs use pytest-xdist with one worker per board, so both pay the same
start-up. Goal (issue 9): speedup >= 3.2 with 4 boards.

    python bench/hil_parallel.py [--boards 4] [--models 24] [--n 30] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"


def start_sims(count: int, folder: Path) -> tuple[list[subprocess.Popen], list[str]]:
    sims, ports = [], []
    for i in range(count):
        port_file = folder / f"port{i}"
        sims.append(subprocess.Popen([sys.executable, "-m", "toolkit.cli", "sim", "--pty", "--no-esp-nn",
                                      "--port-file", str(port_file)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL))
        ports.append(port_file)
    deadline = time.monotonic() + 60
    while not all(p.is_file() and p.read_text().strip() for p in ports):
        if time.monotonic() > deadline:
            raise SystemExit("the virtual boards did not start")
        time.sleep(0.1)
    return sims, [p.read_text().strip() for p in ports]


def suite_file(folder: Path, models: int) -> Path:
    entries = []
    for i in range(models):
        path = folder / f"reference_{i:02d}.tflite"
        shutil.copyfile(MODEL, path)
        entries.append({"model": path.name})
    suite = folder / "suite.json"
    suite.write_text(json.dumps(entries))
    return suite


def run_suite(ports: list[str], suite: Path, n: int, folder: Path) -> float:
    command = [sys.executable, "-m", "pytest", str(ROOT / "hil" / "test_models.py"), "-k", "test_model_figures",
               "-q", "-p", "no:cacheprovider", "-n", str(len(ports)), f"--espml-suite={suite}", f"--espml-n={n}",
               f"--espml-baseline={folder / 'baselines'}", f"--espml-db={folder / 'results.sqlite'}",
               *(f"--espml-port={port}" for port in ports)]
    env = {k: v for k, v in os.environ.items() if k != "ESPML_REAL_MODELS"}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the suite failed on {len(ports)} board(s):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=4)
    parser.add_argument("--models", type=int, default=24)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sims, ports = start_sims(args.boards, folder)
        try:
            suite = suite_file(folder, args.models)
            one = run_suite(ports[:1], suite, args.n, folder)
            all_boards = run_suite(ports, suite, args.n, folder)
        finally:
            for sim in sims:
                sim.terminate()
            for sim in sims:
                sim.wait(timeout=10)
    result = {"boards": args.boards, "models": args.models, "n_per_model": args.n, "simulated": True,
              "wall_s_one_board": round(one, 2), "wall_s_all_boards": round(all_boards, 2),
              "speedup": round(one / all_boards, 2), "goal_speedup": 3.2}
    print(f"{args.models} models x {args.n} inferences: one board {one:.1f} s, {args.boards} boards "
          f"{all_boards:.1f} s, speedup {one / all_boards:.2f}x (goal 3.2x; virtual boards, SIMULATED timing)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
