"""The optimisation sequence on the reference CNN, against its own unoptimised float32 TFLite.

Trains the fixed reference CNN (fixtures: three Conv/BN/ReLU blocks and a two-layer head, about
190k parameters) on the bundled digits with its fixed seed, then runs the default sequence
(fold, separable, prune, lowrank, quantize) with a 0.5-point accuracy budget on the held-out
digits. Baseline: the unoptimised model converted to float32 TFLite by the same path.
Goal (issue 4): the int8 model at least 15x smaller, at most 0.5 points less accurate. Then the
same sequence on a second architecture (residual additions, depthwise convolutions).

    python bench/compression.py [--json FILE] [--skip-second]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.optimize.pipeline import DEFAULT_ORDER, Data, Sequence  # noqa: E402
from toolkit.optimize.report import markdown, summary  # noqa: E402
from toolkit.reference import build_reference_cnn, build_residual_cnn, trained_reference  # noqa: E402


def run(factory, budget: float) -> dict:
    start = time.perf_counter()
    model, split = trained_reference(factory)
    data = Data(split.train_x, split.train_y, split.test_x, split.test_y, split.train_x[:200])
    with tempfile.TemporaryDirectory() as work:
        result = Sequence(model, data, budget).run(list(DEFAULT_ORDER), Path(work), baseline_float_tflite=True)
    facts = summary(result)
    facts["seconds"] = time.perf_counter() - start
    facts["markdown"] = markdown(result)
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--budget", type=float, default=0.5)
    parser.add_argument("--skip-second", action="store_true", help="only the reference CNN")
    args = parser.parse_args()
    reference = run(build_reference_cnn, args.budget)
    print("reference CNN (digits):")
    print(reference["markdown"])
    print(f"compression {reference['compression_ratio']:.1f}x against the float32 TFLite (goal >= 15), accuracy "
          f"drop {reference['accuracy_drop_points']:+.2f} points (goal <= {args.budget}); {reference['seconds']:.0f} s")
    results = {"compression_ratio": reference["compression_ratio"],
               "accuracy_drop_points": reference["accuracy_drop_points"], "rows": reference["rows"],
               "baseline_float_tflite_bytes": reference["baseline_float_tflite_bytes"],
               "final_tflite_bytes": reference["final_tflite_bytes"]}
    if not args.skip_second:
        second = run(build_residual_cnn, args.budget)
        print("\nsecond architecture: residual additions around depthwise-separable blocks:")
        print(second["markdown"])
        print(f"compression {second['compression_ratio']:.1f}x, accuracy drop {second['accuracy_drop_points']:+.2f} "
              f"points (budget {args.budget}); {second['seconds']:.0f} s")
        results["second_architecture"] = {k: second[k] for k in ("compression_ratio", "accuracy_drop_points", "rows")}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
