"""How well `espml bench --locate` names the operator a board gets wrong.

For every operator N of each model (the real models in $ESPML_REAL_MODELS, else the bundled
reference model), a virtual board whose kernel for op N computes a wrong output
(`vdev://esp32s3?corrupt_op=N`) runs the model; `locate` bisects with probe models uploaded over
the protocol and names an op. Goals (issue 24): the op named is N for every N, and
probe_uploads <= ceil(log2(ops)) + 2. The board's wrong kernel is simulated (the virtual board
corrupts op N's output and runs the rest of the model on it); the uploads and the bisection are real.

    ESPML_REAL_MODELS=../shared/real-models python bench/locate.py [--json FILE] [--only NAME]

JSON: `models` (per model: `ops`, `located_correctly` (how many of the ops), `all_located`,
`max_probe_uploads`, `upload_goal`, `within_upload_goal`, `wall_s` (all ops), `per_op`), `all_located`,
`all_within_upload_goal`, `simulated` (true).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from toolkit.harness.bench import ensure_model  # noqa: E402
from test_locate import revealing_inputs  # noqa: E402
from toolkit.harness.locate import LocateError, locate  # noqa: E402
from toolkit.harness.session import Session  # noqa: E402
from toolkit.hil.suite import real_models  # noqa: E402
from toolkit.model import load_model  # noqa: E402

REFERENCE = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"


def locate_op(model, n: int) -> dict:
    started = time.perf_counter()
    with Session.open(f"vdev://esp32s3?realtime=0&corrupt_op={n}", timeout=10) as session:
        ensure_model(session, model)
        for x in revealing_inputs(model):  # the first input on which the wrong op reaches the outputs
            try:
                report = locate(session, model, [x])
                break
            except LocateError as exc:
                if "agree on this input" not in exc.message:
                    raise
        else:
            return {"op": n, "kind": model.ops[n].kind, "located": None, "probe_uploads": 0, "masked": True,
                    "wall_s": round(time.perf_counter() - started, 3)}
    return {"op": n, "kind": model.ops[n].kind, "located": report.op.index, "probe_uploads": report.probe_uploads,
            "wall_s": round(time.perf_counter() - started, 3)}


def bench_model(path: Path) -> dict:
    model = load_model(path)
    goal = math.ceil(math.log2(max(2, len(model.ops)))) + 2
    started = time.perf_counter()
    per_op = [locate_op(model, n) for n in range(len(model.ops))]
    correct = sum(row["located"] == row["op"] for row in per_op)
    uploads = max(row["probe_uploads"] for row in per_op)
    return {"model": path.name, "ops": len(model.ops), "located_correctly": correct, "all_located": correct == len(per_op),
            "max_probe_uploads": uploads, "upload_goal": goal, "within_upload_goal": uploads <= goal,
            "wall_s": round(time.perf_counter() - started, 2), "per_op": per_op}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--only", metavar="NAME", help="only models whose file name contains NAME")
    args = parser.parse_args(argv)
    paths = real_models() or [REFERENCE]
    paths = [p for p in paths if not args.only or args.only in p.name]
    rows = []
    for path in paths:
        row = bench_model(path)
        rows.append(row)
        print(f"{row['model']}: {row['located_correctly']}/{row['ops']} ops located, at most "
              f"{row['max_probe_uploads']} probe uploads (goal {row['upload_goal']}), {row['wall_s']} s (simulated fault)")
    result = {"models": rows, "all_located": all(r["all_located"] for r in rows),
              "all_within_upload_goal": all(r["within_upload_goal"] for r in rows), "simulated": True}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
