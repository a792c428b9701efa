"""A long run on a bad line, and power cuts during model updates: nothing lost, nothing counted
twice, nothing wrong, and every next boot runs a verified model.

Soak: `--n` inferences of the reference model on a virtual board whose link flips bits (1e-4 per
bit), drops 1% of the bytes in each direction, and which resets during every 500th inference
after a boot; the harness retries, resynchronises and greets the board again. Counted from the
results store: completed, lost (planned but not stored), duplicated (stored twice), wrong outputs.
Power cuts: `--cuts` random points of a model update by the protocol and by esptool; after each,
power returns and the board must run the old model or the new one, verified.

Goals (issue 10): completed = n, lost 0, duplicated 0, wrong 0; every cut boots a verified model.
All figures come from a virtual board (simulated: true).

    python bench/faults.py [--n 5000] [--cuts 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.boards import get_board  # noqa: E402
from toolkit.errors import ToolkitError  # noqa: E402
from toolkit.flash import flash  # noqa: E402
from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench  # noqa: E402
from toolkit.image.model_image import HEADER_SIZE  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.synth import ModelBuilder  # noqa: E402
from toolkit.virtual.protocol_vdev import board_for_url  # noqa: E402

MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"
LINE = "flip=1e-4&drop=0.01&reset_every=500&seed=7"


def soak(n: int, folder: Path) -> dict:
    model = load_model(MODEL)
    x = np.load(ROOT / "fixtures" / "reference" / "heldout_x.npy")
    samples = [image.transpose(1, 2, 0)[None] for image in x]
    url = f"vdev://esp32s3?realtime=0&{LINE}&model={MODEL}"
    store = ResultsStore(folder / "soak.sqlite")
    started = time.perf_counter()
    # An in-process board answers within milliseconds: short time-outs, many retries.
    with Session.open(url, timeout=0.02, retries=20, hello_attempts=60) as session:
        try:
            summary = run_bench(session, model, samples, BenchPlan(n, 1, invoke_timeout_s=0.05), store, url)
            run_id, recoveries = summary["run_id"], summary["recoveries"]
        except ToolkitError as exc:
            print(f"soak stopped: {exc}", file=sys.stderr)
            run_id, recoveries = 1, None
    wall = time.perf_counter() - started
    rows = store.db.execute("SELECT COUNT(*), COUNT(DISTINCT idx), SUM(output_matches = 0) FROM inferences "
                            "WHERE run_id = ?", (run_id,)).fetchone()
    stored, distinct, wrong = rows[0], rows[1], rows[2] or 0
    return {"link": LINE, "planned": n, "completed": distinct, "lost": n - distinct, "duplicated": stored - distinct,
            "wrong_outputs": wrong, "recoveries": recoveries, "wall_s": round(wall, 1),
            "bytes_to_board": session.bytes_sent, "bytes_from_board": session.bytes_received}


def new_model() -> bytes:
    b = ModelBuilder(5)
    x = b.input((1, 8, 8, 16))
    return b.build([x], [b.fully_connected(b.reshape(x, (1, -1)), 64)])


def cut_trial(name: str, cut: int, old, new, by_esptool: bool) -> str:
    url = f"vdev://esp32s3?realtime=0&id={name}"
    board = board_for_url(url)
    board.install_model(old.data)
    board.boot(download=False)
    board.flash.cut_after = cut
    try:
        if by_esptool:
            flash(url, get_board("esp32s3"), new, force=True)
        else:
            with Session.open(url, timeout=0.3, retries=0) as session:
                session.hello()
                session.upload_model(new.data, commit_timeout=0.3)
    except ToolkitError:
        pass  # the board lost power mid-write
    board.power_cycle()
    with Session.open(url) as session:
        info = session.hello()
    running = info.model_sha256.hex() if info.model_ready else None
    return "old" if running == old.sha256 else "new" if running == new.sha256 else "none"


def power_cuts(count: int, seed: int = 1) -> dict:
    """Cuts at random points of the bytes either path programs; the outcome of each next boot."""
    old, new = load_model(MODEL), load_model(new_model())
    rng = random.Random(seed)
    span = HEADER_SIZE + len(new.data) + 4096  # every byte either path programs, and a little past it
    result = {}
    for path, by_esptool in (("protocol", False), ("esptool", True)):
        outcomes = {"old": 0, "new": 0, "none": 0}
        for i in range(count):
            outcomes[cut_trial(f"cut-{path}-{i}", rng.randrange(span), old, new, by_esptool)] += 1
        result[path] = {"cuts": count, "boots_running_old": outcomes["old"], "boots_running_new": outcomes["new"],
                        "boots_without_a_verified_model": outcomes["none"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--cuts", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = {"simulated": True, **soak(args.n, Path(folder)), "power_cuts": power_cuts(args.cuts)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
