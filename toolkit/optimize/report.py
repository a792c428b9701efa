"""The per-stage report as JSON and Markdown (the terminal table is the CLI's)."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.optimize.pipeline import FOLD_FIRST_ORDER, Result

COLUMNS = (("stage", "stage"), ("status", "status"), ("strength", "strength"), ("parameters", "params"), ("macs", "MACs"),
           ("float_bytes", "float B"), ("tflite_bytes", "int8 B"), ("arena_head_bytes", "arena B"),
           ("accuracy", "accuracy"), ("agreement", "agreement"))


# The terminal's table: short headers and compact numbers, so it fits 80 columns (report.md has them whole).
TERMINAL_TITLES = {"strength": "str.", "float_bytes": "float B", "tflite_bytes": "int8 B", "arena_head_bytes": "arena",
                   "accuracy": "acc %", "agreement": "agree %"}


def compact(key: str, value) -> str:
    """``cell`` for the terminal: 1.92M, 188.4k, percentages without the sign."""
    if value is None:
        return ""
    if key in ("accuracy", "agreement"):
        return f"{100 * value:.2f}"
    if isinstance(value, int) and value >= 10_000:
        return f"{value / 1e6:.2f}M" if value >= 1_000_000 else f"{value / 1e3:.1f}k"
    return cell(key, value)


def cell(key: str, value) -> str:
    if value is None:
        return ""
    if key in ("accuracy", "agreement"):
        return f"{value:.2%}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def summary(result: Result) -> dict:
    final = result.rows[-1]
    data = {"rows": result.rows, "accuracy_drop_points": result.accuracy_drop_points,
            "final_tflite_bytes": final.get("tflite_bytes"), "onnx": result.onnx_path,
            "preprocess": result.preprocess.to_json() if result.preprocess else None}
    if result.baseline_float_tflite_bytes and final.get("tflite_bytes"):
        data["baseline_float_tflite_bytes"] = result.baseline_float_tflite_bytes
        data["compression_ratio"] = result.baseline_float_tflite_bytes / final["tflite_bytes"]
    return data


def closing_lines(result: Result) -> list[str]:
    """The size ratio (when the baseline was converted) and the accuracy change, in words."""
    data, lines = summary(result), []
    if "compression_ratio" in data:
        lines.append(f"int8 model {data['final_tflite_bytes']:,} bytes: {data['compression_ratio']:.1f}x smaller "
                     f"than the unoptimised model's float32 TFLite ({data['baseline_float_tflite_bytes']:,} bytes).")
    if data["accuracy_drop_points"] is not None:
        change = round(-data["accuracy_drop_points"], 6) + 0.0  # no "-0.00"
        lines.append(f"Accuracy change: {change:+.2f} points on held-out data.")
    placement = fold_placement(result.order)
    if placement:
        lines.append(placement)
    return lines


def fold_placement(order: tuple[str, ...]) -> str:
    """Where BatchNorm was folded and why it matters: the one order choice that changes results."""
    if "fold" not in order or "prune" not in order:
        return ""
    if order.index("fold") > order.index("prune"):
        return ("BatchNorm folded after pruning (the default): the stages before it fine-tune with BatchNorm in "
                "place, which pruned networks with residual or depthwise blocks need to recover. A plain CNN may "
                f"fit more pruning with BatchNorm folded first: --stages {','.join(FOLD_FIRST_ORDER)} (espml demo's order).")
    return ("BatchNorm folded before pruning: the stages after it fine-tune a network without BatchNorm, which "
            "suits plain CNNs (espml demo's order); networks with residual or depthwise blocks usually fit more "
            "pruning with the default order, which folds after pruning.")


def markdown(result: Result) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in result.rows:
        lines.append("| " + " | ".join(cell(key, row.get(key if key != "stage" else "title")) for key, _ in COLUMNS) + " |")
    lines += ["", "What each stage did:", ""]
    lines += [f"- {row['stage']}: {'; '.join(row['notes'])}" for row in result.rows if row.get("notes")]
    lines.append("\nStrength: the pruned fraction of channels (prune), the retained singular-value energy "
                 "(lowrank), the least input channels a replaced convolution has (separable). Arena: the "
                 "activations' share of TFLite-Micro's tensor arena (greedy after quantize, planned after plan). "
                 "A stage over the "
                 "accuracy budget is retried weaker ('reduced to') or 'rolled back'. Agreement: top-1 agreement "
                 "with the original model on the held-out data.")
    lines += ["", *closing_lines(result)]
    return "\n".join(lines) + "\n"


def write(result: Result, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md"}
    paths["json"].write_text(json.dumps(summary(result), indent=2) + "\n")
    paths["markdown"].write_text(markdown(result))
    if result.tflite:
        paths["tflite"] = out_dir / "model_int8.tflite"
        paths["tflite"].write_bytes(result.tflite)
        if result.preprocess:
            paths["preprocess"] = result.preprocess.save_beside(paths["tflite"])
    return paths
