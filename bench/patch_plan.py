"""How far below the layer-wise lower bound `espml plan --patch` (the first stage in bands) gets.

For each vision model (the real ones in $ESPML_REAL_MODELS with an image-like input, and
generated MobileNetV1-style graphs: 96x96 grey at width 0.25 as person detection, RGB, 0.5, 128x128,
160x160)
and each objective (`head`: the activations alone, `arena`: the whole arena on the board, TFLM's
persistent structures included): the layer-wise lower bound (the most bytes alive at once with
whole tensors, in the best operator order: no `espml plan` needs less), the patched model's
arena head and whole arena as the host TFLM records them (and the 32-bit board estimate), the
ratio of patched head to lower bound, the MACs the halo rows add, whether the outputs are
bit-identical on random and extreme inputs in the host TFLM, and whether the whole arena fits the
firmware's internal-RAM arena before and after. A model it cannot patch is a row
with the one-line reason. Goals (issue 25, objective head): person-detection-style ratio <= 0.6,
MLPerf VWW <= 0.85, extra MACs <= 15%, outputs identical on all.

    ESPML_REAL_MODELS=../shared/real-models python bench/patch_plan.py [--only TEXT] [--json FILE]

JSON: `models` (one row per model and objective: `lower_bound_bytes`, `patched_arena_bytes`,
`ratio`, `extra_macs_pct`, `outputs_identical`, `plain_total_bytes`, `patched_total_bytes`,
`plain_board_arena_bytes`, `patched_board_arena_bytes`, `fits_internal_ram`, `bands`,
`stage_ops`, `seconds`, or `refused`), `goals`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from vision_models import mobilenet_v1  # noqa: E402
from toolkit.boards import get_board  # noqa: E402
from toolkit.errors import ModelError  # noqa: E402
from toolkit.hil.suite import real_models  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.patch_plan import OBJECTIVES, patch_model  # noqa: E402

PERSON_DETECTION = "mobilenet_v1 0.25 96x96 grey"
VWW = "mlc_vww_96_int8"
GENERATED = {PERSON_DETECTION: lambda: mobilenet_v1(96, 1, 0.25),
             "mobilenet_v1 0.25 96x96 rgb": lambda: mobilenet_v1(96, 3, 0.25),
             "mobilenet_v1 0.5 96x96 grey": lambda: mobilenet_v1(96, 1, 0.5),
             "mobilenet_v1 0.25 128x128 grey": lambda: mobilenet_v1(128, 1, 0.25),
             "mobilenet_v1 0.25 160x160 grey": lambda: mobilenet_v1(160, 1, 0.25)}
INTERNAL_ARENA = get_board("esp32s3").arena_bytes  # the firmware's arena in internal RAM


def image_like(data: bytes) -> bool:
    """One 4-D input at least 8 pixels high and wide: a model that could have a first stage to band."""
    inputs = load_model(data).inputs
    return len(inputs) == 1 and len(inputs[0].shape) == 4 and min(inputs[0].shape[1:3]) >= 8


def measure(name: str, data: bytes, kind: str, objective: str) -> dict:
    start = time.perf_counter()
    row = {"model": name, "kind": kind, "objective": objective}
    try:
        row.update(patch_model(data, objective=objective).to_json())
        row["fits_internal_ram"] = {"plain": row["plain_board_arena_bytes"] <= INTERNAL_ARENA,
                                    "patched": row["patched_board_arena_bytes"] <= INTERNAL_ARENA}
    except ModelError as exc:
        row["refused"] = str(exc)
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--only", metavar="TEXT", help="only the models whose name contains TEXT")
    args = parser.parse_args()
    models = [(p.stem, p.read_bytes(), "real") for p in real_models() if image_like(p.read_bytes())]
    if not models:
        print("ESPML_REAL_MODELS is not set: real models skipped")
    models += [(name, build(), "generated") for name, build in GENERATED.items()]
    models = [m for m in models if args.only is None or args.only in m[0]]
    rows = [measure(name, data, kind, objective) for name, data, kind in models for objective in OBJECTIVES]

    print(f"{'model':<34}{'obj.':>6}{'bound':>8}{'patched':>9}{'ratio':>7}{'+MACs':>7}{'same':>6}"
          f"{'whole arena (host)':>21}{'board (32-bit)':>17}{'bands':>6}")
    for r in rows:
        if "refused" in r:
            print(f"{r['model'][:33]:<34}{r['objective']:>6}  refused: {r['refused']}")
            continue
        print(f"{r['model'][:33]:<34}{r['objective']:>6}{r['lower_bound_bytes']:>8,}{r['patched_arena_bytes']:>9,}"
              f"{r['ratio']:>7.2f}{r['extra_macs_pct']:>6.1f}%{'yes' if r['outputs_identical'] else 'NO':>6}"
              f"{r['plain_total_bytes']:>10,}->{r['patched_total_bytes']:<9,}"
              f"{r['plain_board_arena_bytes']:>8,}->{r['patched_board_arena_bytes']:<7,}{r['bands']:>6}")
    patched = [r for r in rows if "refused" not in r]

    def ratio(name: str) -> float | None:
        return next((r["ratio"] for r in patched if r["model"] == name and r["objective"] == "head"), None)

    rescued = sorted({r["model"] for r in patched if r["fits_internal_ram"]["patched"]
                      and not r["fits_internal_ram"]["plain"]})
    goals = {"person_detection_ratio": ratio(PERSON_DETECTION), "vww_ratio": ratio(VWW), "psram_to_internal": rescued,
             "max_extra_macs_pct": max((r["extra_macs_pct"] for r in patched), default=None),
             "all_outputs_identical": all(r["outputs_identical"] for r in patched)}
    print(f"person-detection-style head ratio {goals['person_detection_ratio']} (goal <= 0.6); VWW "
          f"{goals['vww_ratio']} (goal <= 0.85); extra MACs at most {goals['max_extra_macs_pct']}% (goal <= 15); "
          f"outputs identical on {sum(r['outputs_identical'] for r in patched)} of {len(patched)} patched rows; "
          f"needed PSRAM, fit the {INTERNAL_ARENA // 1024} KB internal arena patched: {', '.join(rescued) or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"models": rows, "goals": goals}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
