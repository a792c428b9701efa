"""How close `espml inspect`'s arena plan is to what TFLite-Micro records, and how fast it answers.

For each model (the real models in $ESPML_REAL_MODELS, the bundled reference model, stateful and
multi-subgraph models from the project's builder (SVDF, reduce scratch, vision ops, IF), models
of every op kind of TFLite-Micro's signal library and a keyword-spotting front end chaining ten
(tests/signal_models.py; inspect must call their arena exact and match to the byte), models
TensorFlow builds (Keras LSTM, GRU, conv1d wake-word; int8 and float; skipped without TensorFlow
or with --no-tensorflow) and generated models of every supported op kind): the host plan at
8-byte pointers against the tflite-micro interpreter's recorded head and total on this 64-bit
host (the baseline), and the time `inspect_model` takes. Goal (issues 3 and 12): head exact,
total within 1%, on every model.

    ESPML_REAL_MODELS=../shared/real-models python bench/inspect_accuracy.py [--generated 40] [--json FILE]
        [--no-tensorflow | --tf-models DIR]

JSON: `models` (one row per model, with `kind`, `head_exact`, `total_exact`, `total_within_1pct`,
`arena_exact`: what inspect claims), `generated`, `head_exact`, `total_exact` and
`total_within_1pct` (counts over all models), `models_checked`, `worst_total_error`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import tf_models  # noqa: E402
from generated_models import random_model  # noqa: E402
from signal_models import SIGNAL_MODELS  # noqa: E402
from stateful_models import STATEFUL_MODELS  # noqa: E402
from toolkit.boards import get_board  # noqa: E402
from toolkit.hil.suite import real_models  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.inspect import inspect_model  # noqa: E402
from toolkit.model.tflm import HostInterpreter  # noqa: E402

RECORDING_ARENA = 8 * 1024 * 1024


def measure(name: str, data: bytes, board, kind: str = "generated") -> dict:
    model = load_model(data)
    start = time.perf_counter()
    report = inspect_model(model, board, pointer_size=8)
    seconds = time.perf_counter() - start
    recorded = HostInterpreter(data, RECORDING_ARENA).arena
    target = inspect_model(model, board, pointer_size=4)
    error = (report.arena_bytes - recorded.total) / recorded.total
    return {
        "model": name, "kind": kind, "head_planned": report.arena_head_bytes, "head_recorded": recorded.head,
        "total_planned": report.arena_bytes, "total_recorded": recorded.total, "total_error": error,
        "head_exact": report.arena_head_bytes == recorded.head, "total_within_1pct": abs(error) <= 0.01,
        "total_exact": report.arena_bytes == recorded.total, "arena_exact": not report.arena_uncounted_ops,
        "esp32s3_arena_estimate": target.arena_bytes, "inspect_seconds": seconds,
    }


def tensorflow_models(folder: Path, built: bool) -> list[tuple[str, bytes]]:
    """Keras LSTM / GRU / wake-word models converted by TensorFlow (built into ``folder`` unless
    ``built``, when they are read from it), or none without TensorFlow."""
    if built:
        return [(f"tf {name}", (folder / f"{name}.tflite").read_bytes()) for name in tf_models.KINDS]
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf_keras") is None:
        print("TensorFlow (with tf_keras) is not installed: TensorFlow-built models skipped")
        return []
    return [(f"tf {name}", path.read_bytes()) for name, path in tf_models.build(folder).items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=40, help="generated models to check (default 40)")
    parser.add_argument("--no-tensorflow", action="store_true", help="skip the models TensorFlow builds")
    parser.add_argument("--tf-models", metavar="DIR", type=Path,
                        help="read the TensorFlow-built models from DIR (python tests/tf_models.py DIR writes them)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    board = get_board("esp32s3-r8")
    models = [(p.stem, p.read_bytes(), "real") for p in real_models()]
    if not models:
        print("ESPML_REAL_MODELS is not set: real models skipped")
    models.append(("reference digits CNN", (ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite").read_bytes(),
                   "reference"))
    models += [(f"builder {name}", build(), "stateful/subgraphs") for name, build in STATEFUL_MODELS.items()]
    models += [(f"signal {name}", build(), "signal") for name, build in SIGNAL_MODELS.items()]
    if args.tf_models:
        models += [(name, data, "tensorflow") for name, data in tensorflow_models(args.tf_models, built=True)]
    elif not args.no_tensorflow:
        with tempfile.TemporaryDirectory() as scratch:
            models += [(name, data, "tensorflow") for name, data in tensorflow_models(Path(scratch), built=False)]
    rows = [measure(name, data, board, kind) for name, data, kind in models]
    generated = [measure(f"generated {seed}", random_model(seed), board) for seed in range(args.generated)]

    print(f"{'model':<40}{'head plan':>10}{'recorded':>10}{'total plan':>11}{'recorded':>10}{'error':>8}"
          f"{'S3 arena':>10}{'inspect':>9}")
    for r in rows:
        print(f"{r['model'][:39]:<40}{r['head_planned']:>10,}{r['head_recorded']:>10,}{r['total_planned']:>11,}"
              f"{r['total_recorded']:>10,}{r['total_error']:>8.2%}{r['esp32s3_arena_estimate']:>10,}"
              f"{r['inspect_seconds'] * 1000:>7.1f}ms")
    all_rows = rows + generated
    heads_exact = sum(r["head_exact"] for r in all_rows)
    within = sum(r["total_within_1pct"] for r in all_rows)
    exact = sum(r["total_exact"] for r in all_rows)
    signal = [r for r in rows if r["kind"] == "signal"]
    worst = max(abs(r["total_error"]) for r in all_rows)
    print(f"{len(generated)} generated models: worst total error "
          f"{max((abs(r['total_error']) for r in generated), default=0):.2%}")
    print(f"signal-library models: total exact on {sum(r['total_exact'] for r in signal)} of {len(signal)}, "
          f"inspect calls {sum(r['arena_exact'] for r in signal)} exact (goal: all, both)")
    print(f"head exact on {heads_exact} of {len(all_rows)} models (goal: all); total exact on {exact}, "
          f"within 1% on {within}; "
          f"worst total error {worst:.2%} (goal <= 1%); slowest inspect "
          f"{max(r['inspect_seconds'] for r in all_rows) * 1000:.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "models": rows, "generated": generated, "head_exact": heads_exact, "total_exact": exact,
            "total_within_1pct": within,
            "heads_exact": heads_exact, "models_checked": len(all_rows), "worst_total_error": worst}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
