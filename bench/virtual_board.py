"""How fast the virtual board serves inferences now that it runs the firmware's own C (device/core
on the host port), against the Python twin of the firmware it replaced, and how long building
the host port takes.

Both sides run the same loop over the protocol, in-process (`vdev://esp32s3?realtime=0`: no
waiting out the simulated Invoke() time, no paced link): SET_INPUT, INVOKE, GET_OUTPUT on the
reference model, after a warm-up. The baseline is measured by running this same loop on the
commit before the twin was removed (a git worktree of it, with this checkout's virtualenv).

Goal (issue 8): inferences_per_s no lower than the twin's.

    python bench/virtual_board.py [--n 400] [--rounds 5] [--baseline-rev REV] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"

# Run with the toolkit of whichever checkout is the working directory, not the installed one.
MEASURE = r"""
import sys, time, json
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                    and "__editable__" not in type(f).__module__]
sys.path.insert(0, ".")
import numpy as np
from toolkit.harness import Session
n, warmup = int(sys.argv[1]), 20
model = open(sys.argv[2], "rb").read()
import inspect
with Session.open("vdev://esp32s3?realtime=0") as session:
    sized = "size" in inspect.signature(session.get_output).parameters  # the twin's commit takes the index only
    session.hello()
    session.upload_model(model)
    inputs = [np.random.default_rng(i).integers(-128, 128, 64, dtype=np.int8).tobytes() for i in range(8)]
    for i in range(warmup + n):
        if i == warmup:
            started = time.perf_counter()
        session.set_input(0, inputs[i % len(inputs)])
        session.invoke()
        session.get_output(0, 10) if sized else session.get_output(0)
    elapsed = time.perf_counter() - started
# The firmware's own work per request, without the link's thread hand-offs: frames straight into
# the application side (the C firmware now, the Python twin before), INVOKE left out.
from toolkit.protocol import Frame, MsgType, OutputRequest, TensorChunk, encode_frame
from toolkit.virtual.protocol_vdev import board_for_url
board = board_for_url("vdev://esp32s3?realtime=0&id=bench-direct")
board.install_model(model)
frames = [encode_frame(Frame(MsgType.SET_INPUT, 1, TensorChunk(0, 0, 64, bytes(64)).pack())),
          encode_frame(Frame(MsgType.INVOKE, 2)), encode_frame(Frame(MsgType.GET_OUTPUT, 3, OutputRequest(0, 0, 4000).pack())),
          encode_frame(Frame(MsgType.METRICS, 4))]
with board._lock:
    for frame in frames:
        board.app.receive(frame)
    started = time.perf_counter()
    for i in range(2000):
        for frame in (frames[0], frames[2], frames[3]):
            board.app.receive(frame)
        board.to_host.clear()
    per_request_us = (time.perf_counter() - started) / 6000 * 1e6
print(json.dumps({"inferences_per_s": n / elapsed, "firmware_us_per_request": per_request_us}))
"""


def measure(checkout: Path, n: int) -> dict:
    result = subprocess.run([sys.executable, "-c", MEASURE, str(n), str(MODEL)], cwd=checkout, capture_output=True,
                            text=True, check=True, timeout=600)
    return json.loads(result.stdout.strip().splitlines()[-1])


def twin_revision() -> str:
    """The last commit whose virtual board was the Python twin (toolkit/virtual/app.py)."""
    removed = subprocess.run(["git", "log", "--diff-filter=D", "-1", "--format=%H", "--", "toolkit/virtual/app.py"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    if not removed:
        raise SystemExit("no commit removed toolkit/virtual/app.py; pass --baseline-rev")
    return f"{removed}^"


def compare(revision: str, n: int, rounds: int) -> tuple[dict, dict]:
    """Median figures of this checkout and of ``revision``, measured in alternation (the machine's
    load drifts; alternating rounds spread it over both sides)."""
    with tempfile.TemporaryDirectory() as folder:
        worktree = Path(folder) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), revision], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            pairs = [(measure(ROOT, n), measure(worktree, n)) for _ in range(rounds)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
    after, before = zip(*pairs)

    def medians(runs: tuple[dict, ...]) -> dict:
        return {key: statistics.median(run[key] for run in runs) for key in runs[0]}

    return medians(after), medians(before)


def host_port_build_s() -> float:
    """A build from scratch (an empty cache), as the set-up does on a fresh machine."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, ESPML_CACHE_DIR=cache, ESPML_HOST_PORT_SANITIZE="")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "toolkit.virtual.host_port"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurements of each side; medians count")
    parser.add_argument("--baseline-rev", help="git revision of the Python twin (default: found from history)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.pop("ESPML_HOST_PORT_SANITIZE", None)  # measure the optimised build
    revision = args.baseline_rev or twin_revision()
    figures, twin = compare(revision, args.n, args.rounds)
    after, before = figures["inferences_per_s"], twin["inferences_per_s"]
    result = {
        "model": MODEL.name,
        "n": args.n,
        "rounds": args.rounds,
        "baseline": f"Python twin of the firmware at {revision}",
        "inferences_per_s": round(after, 1),
        "baseline_inferences_per_s": round(before, 1),
        "ratio_vs_baseline": round(after / before, 3),
        "goal_met": after >= before,
        "firmware_us_per_request": round(figures["firmware_us_per_request"], 1),
        "baseline_firmware_us_per_request": round(twin["firmware_us_per_request"], 1),
        "host_port_build_s": round(host_port_build_s(), 2),
    }
    print(f"virtual board, reference model, realtime off: {after:.0f} inferences/s "
          f"(Python twin: {before:.0f}/s, {after / before:.2f}x); the firmware's own work "
          f"{result['firmware_us_per_request']} us a request (twin: {result['baseline_firmware_us_per_request']} us); "
          f"host port build {result['host_port_build_s']} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
