"""The HIL suite on labgrid places: one place against three, and a farm with a sick shelf.

Runs in the farm venv (labgrid installed; scripts/env.sh's ensure_farm_env makes .venv-farm):
labgrid's own coordinator and exporter on loopback, three `espml sim --rfc2217` boards (realtime
pacing on, firmware without ESP-NN, as bench/hil_parallel.py has them) exported as places with
power relays. First the suite (the reference model under M names) on one place, then on three
(pytest-xdist, a worker per place): speedup_vs_one_place (goal >= 2.5). Then a farm whose second
board hangs (hang_after=) and third is slow (slow=1.3): recovered_hangs (the hung board was
power-cycled and finished; goal 1 of 1) and sick_boards_named (goal 1 of 1). Virtual boards:
SIMULATED timing.

    .venv-farm/bin/python bench/farm.py [--models 24] [--n 30] [--unpaced] [--json FILE]

--unpaced: boards without realtime pacing (a quick check that the script works; its speedup means
nothing then).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "farm"), str(ROOT / "bench")]

from hil_parallel import suite_file  # noqa: E402
from lab import Lab  # noqa: E402

SIM = ("--no-esp-nn",)


def run_suite(lab: Lab, places: list[str], folder: Path, *extra: str) -> tuple[float, subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "pytest", str(ROOT / "hil"), "-q", "-p", "no:cacheprovider",
               "-n", str(len(places)), *(f"--espml-place={p}" for p in places),
               f"--espml-baseline={folder / 'baselines'}", f"--espml-db={folder / 'results.sqlite'}",
               f"--espml-report={folder / 'report'}", *extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=lab.env, capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - started, result


def speedup(folder: Path, models: int, n: int, pacing: str) -> tuple[float, float]:
    lab = Lab(folder, [pacing] * 3, SIM).start()
    try:
        suite = suite_file(folder, models)
        args = ("-k", "test_model_figures", f"--espml-suite={suite}", f"--espml-n={n}")
        one, result = run_suite(lab, lab.places[:1], folder, *args)
        if result.returncode != 0:
            raise SystemExit(f"the suite failed on one place:\n{result.stdout[-3000:]}")
        three, result = run_suite(lab, lab.places, folder, *args)
        if result.returncode != 0:
            raise SystemExit(f"the suite failed on three places:\n{result.stdout[-3000:]}")
        return one, three
    finally:
        lab.stop()


def sick_farm(folder: Path, n: int, pacing: str) -> tuple[int, int, str]:
    """(hung boards power-cycled that finished, sick boards named, the terminal's espml section)."""
    lab = Lab(folder, [pacing, f"{pacing}&hang_after=5".lstrip("&"), f"{pacing}&slow=1.3".lstrip("&")], SIM).start()
    try:
        _, result = run_suite(lab, lab.places, folder, f"--espml-n={n}")
    finally:
        lab.stop()
    found = json.loads((folder / "report" / "hil-results.json").read_text())
    boards = {b["port"]: b for b in found["boards"]}
    hung = boards.get("labgrid://farm-1", {})
    recovered = int(bool(hung.get("power_cycles")) and "taken out" not in hung.get("status", "")
                    and hung.get("verdict") == "healthy")
    named = int("sick board: labgrid://farm-2" in result.stdout)
    section = result.stdout.split("espml HIL", 1)[-1]
    return recovered, named, section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=24)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--unpaced", action="store_true", help="boards without realtime pacing (a quick check)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    pacing = "realtime=0" if args.unpaced else ""
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "a").mkdir()
        (Path(scratch) / "b").mkdir()
        one, three = speedup(Path(scratch) / "a", args.models, args.n, pacing)
        recovered, named, section = sick_farm(Path(scratch) / "b", 8, pacing)
    result = {"places": 3, "models": args.models, "n_per_model": args.n, "simulated": True, "paced": not args.unpaced,
              "wall_s": round(three, 2), "wall_s_one_place": round(one, 2),
              "speedup_vs_one_place": round(one / three, 2), "goal_speedup": 2.5,
              "recovered_hangs": recovered, "hangs": 1, "sick_boards_named": named, "sick_boards": 1}
    print(f"{args.models} models x {args.n} inferences: one place {one:.1f} s, 3 places {three:.1f} s, "
          f"speedup {one / three:.2f}x (goal 2.5x); sick farm: {recovered} of 1 hung board power-cycled and "
          f"finished, {named} of 1 slow board named (virtual boards, SIMULATED timing)")
    print(section.strip())
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
