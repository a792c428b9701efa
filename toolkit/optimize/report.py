"""The per-stage report as JSON and Markdown (the terminal table is the CLI's)."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.optimize.pipeline import Result

COLUMNS = (("stage", "stage"), ("status", "status"), ("strength", "strength"), ("parameters", "params"), ("macs", "MACs"),
           ("float_bytes", "float B"), ("tflite_bytes", "int8 B"), ("arena_head_bytes", "arena B"),
           ("accuracy", "accuracy"), ("agreement", "agreement"))


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
    return lines


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
