"""How close `espml inspect`'s latency estimate is to published ESP32-S3 timings, with and without ESP-NN.

Published figures, time of one invoke() on an ESP32-S3 at 240 MHz:
- Person detection (esp-tflite-micro's examples/person_detection model: MobileNet v1 alpha 0.25,
  96x96x1, int8): 2300 ms with plain C kernels, 54 ms with ESP-NN. esp-tflite-micro v1.3.4
  README, "Performance Comparison" (internal memory); the ESP-NN README's model-level table
  repeats both figures with the arena in SPIRAM and gives 47 ms with ESP-NN in internal RAM.
- MobileNetV3 Small (224x224x3, 1000 classes, int8): 26000 ms plain C, 1434 ms with ESP-NN.
  ESP-NN README, model-level table (arena in SPIRAM).
"Plain C" is a build without -DESP_NN: TFLite-Micro's reference kernels.

The models are rebuilt here at the published models' shapes (latency depends on shapes, not on
weights): person detection with the project's model builder, layer for layer as the example's
.tflite; MobileNetV3 Small from tf_keras.applications with random weights, converted to int8 by
TensorFlow (skipped without TensorFlow, or with --no-tensorflow; about a minute).

    python bench/latency_model.py [--json FILE] [--no-tensorflow]
    python bench/latency_model.py --calibrate     # re-derive the plain-C constants (see below)

--calibrate times TFLite-Micro's reference kernels on this host (the tflite-micro package runs
the same reference code as a plain-C ESP32-S3 build) on a set of shapes, fits cycles per MAC,
per output and per output x kernel tap (convolutions) or per element, and scales host
nanoseconds to ESP32-S3 cycles with the published person-detection figure (2300 ms at 240 MHz
over the host's time for the same model). It prints the constants toolkit/boards/esp32s3.py
holds. Host timings are the thread's CPU time (a loaded machine stretches wall time, not CPU
time), best of several runs. The LSTM (TFLite-Micro's reference LSTM runs in both builds) is fitted
per MAC, per unit and step, and per step on LSTM_SHAPES, with relative error; held-out LSTMs
(LSTM_HELD_OUT, none of them fitted) are then timed the same way and compared with what the
fitted constants predict for them:

    python bench/latency_model.py --calibrate --kind UNIDIRECTIONAL_SEQUENCE_LSTM --rounds 7
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.boards import get_board  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.inspect import inspect_model  # noqa: E402
from toolkit.model.synth import ModelBuilder  # noqa: E402
from toolkit.model.work import model_work  # noqa: E402

CPU_HZ = 240e6
PUBLISHED = {
    "person_detection": {"plain_c_ms": 2300.0, "esp_nn_ms": 54.0,
                         "source": "esp-tflite-micro v1.3.4 README (Performance Comparison); ESP-NN README "
                                   "(model-level table: 47 ms with ESP-NN and the arena in internal RAM)"},
    "mobilenet_v3_small": {"plain_c_ms": 26000.0, "esp_nn_ms": 1434.0,
                           "source": "ESP-NN README, model-level table (arena in SPIRAM)"},
}
MOBILENET_V3 = r'''
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf, tf_keras as keras
model = keras.applications.MobileNetV3Small(input_shape=(224, 224, 3), weights=None, classes=1000)
converter = tf.lite.TFLiteConverter.from_keras_model(model)
rng = np.random.default_rng(0)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([rng.uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)]
                                            for _ in range(2))
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = converter.inference_output_type = tf.int8
open(sys.argv[1], "wb").write(converter.convert())
'''


def person_detection() -> bytes:
    """The person_detection example's model, layer for layer: MobileNet v1 0.25 on 96x96x1."""
    b = ModelBuilder(5)
    x = b.input((1, 96, 96, 1))
    y = b.depthwise_conv2d(x, 3, stride=2, multiplier=8)  # the first 3x3 conv, 1 -> 8 channels
    for channels, stride in [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2),
                                                                                                        (256, 1)]:
        y = b.conv2d(b.depthwise_conv2d(y, 3, stride=stride), channels, 1)
    y = b.conv2d(b.avg_pool(y, 3), 2, 1, relu=False)
    return b.build([x], [b.softmax(b.reshape(y, (1, 2)))])


def mobilenet_v3_small(folder: Path) -> bytes | None:
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf_keras") is None:
        print("TensorFlow (with tf_keras) is not installed: MobileNetV3 Small skipped")
        return None
    path = folder / "mobilenet_v3_small.tflite"
    subprocess.run([sys.executable, "-c", MOBILENET_V3, str(path)], check=True, capture_output=True, timeout=900)
    return path.read_bytes()


def compare(name: str, data: bytes) -> dict:
    model = load_model(data)
    board = get_board("esp32s3")
    published = PUBLISHED[name]
    row = {"model": name, "macs": inspect_model(model, board).macs, "source": published["source"]}
    for path, esp_nn in (("esp_nn", True), ("plain_c", False)):
        estimate = inspect_model(model, board, esp_nn=esp_nn).estimated_latency_ms
        row[path] = {"estimate_ms": estimate, "published_ms": published[f"{path}_ms"],
                     "ratio": estimate / published[f"{path}_ms"]}
    return row


# --- calibration of the plain-C constants ---------------------------------------------------------
def _host_seconds(data: bytes, repeats: int = 5) -> float:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data, arena_size=8 << 20)
    details = interpreter.get_input_details(0)
    interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
    interpreter.invoke()
    start = time.thread_time()
    interpreter.invoke()
    once = time.thread_time() - start
    n = max(1, int(0.05 / max(once, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for _ in range(n):
            interpreter.invoke()
        best = min(best, (time.thread_time() - start) / n)
    return best


def _single_ops() -> dict[str, list[bytes]]:
    """Single-operator models per kind, over shapes that separate the cost terms."""
    def one(build) -> bytes:
        b = ModelBuilder(0)
        out, x = build(b)
        return b.build([x], [out])

    shapes = {
        "CONV_2D": [(64, 1, 12, 64), (16, 1, 24, 32), (8, 1, 24, 16), (128, 1, 6, 128), (32, 1, 24, 32),
                    (16, 3, 12, 32), (3, 3, 24, 16), (32, 3, 12, 32), (8, 3, 24, 16), (1, 3, 48, 8)],
        "DEPTHWISE_CONV_2D": [(8, 3, 48), (32, 3, 24), (128, 3, 6), (16, 5, 18)],
        "FULLY_CONNECTED": [(256, 256), (64, 16), (1024, 64)],
    }
    models = {
        "CONV_2D": [one(lambda b, c=c, k=k, hw=hw, o=o: (b.conv2d(x := b.input((1, hw, hw, c)), o, k, relu=False), x))
                    for c, k, hw, o in shapes["CONV_2D"]],
        "DEPTHWISE_CONV_2D": [one(lambda b, c=c, k=k, hw=hw: (b.depthwise_conv2d(x := b.input((1, hw, hw, c)), k,
                                                                                    relu=False), x))
                              for c, k, hw in shapes["DEPTHWISE_CONV_2D"]],
        "FULLY_CONNECTED": [one(lambda b, d=d, u=u: (b.fully_connected(x := b.input((1, d)), u), x))
                            for d, u in shapes["FULLY_CONNECTED"]],
        "AVERAGE_POOL_2D": [one(lambda b: (b.avg_pool(x := b.input((1, 18, 18, 16)), 3, 1), x))],
        "MAX_POOL_2D": [one(lambda b: (b.max_pool(x := b.input((1, 18, 18, 16)), 3, 1), x))],
        "ADD": [one(lambda b: (b.add(x := b.input((1, 16, 16, 16)), x), x))],
        "MUL": [one(lambda b: (b.binary("MUL", x := b.input((1, 16, 16, 16)), x), x))],
        "SUB": [one(lambda b: (b.binary("SUB", x := b.input((1, 16, 16, 16)), x), x))],
        "HARD_SWISH": [one(lambda b: (b.unary("HARD_SWISH", x := b.input((1, 16, 16, 16))), x))],
        "LEAKY_RELU": [one(lambda b: (b.leaky_relu(x := b.input((1, 16, 16, 16))), x))],
        "MEAN": [one(lambda b: (b.reduce("MEAN", x := b.input((1, 16, 16, 64)), [1, 2]), x))],
        "UNIDIRECTIONAL_SEQUENCE_LSTM": [lstm(*shape) for shape in LSTM_SHAPES],
    }
    return models


# (time steps, features, units) the LSTM's three terms are fitted on: toolkit/boards/esp32s3.py's
# calibration range is their span (tests/test_latency_model.py holds the two together)
LSTM_SHAPES = [(1, 8, 16), (8, 8, 16), (32, 8, 16), (10, 8, 16), (8, 40, 16), (8, 128, 16), (8, 8, 4), (8, 8, 64),
               (8, 40, 64), (16, 40, 32), (8, 128, 128), (8, 257, 128), (4, 320, 256), (2, 8, 256)]


LSTM_HELD_OUT = [(6, 96, 48), (3, 200, 200), (20, 16, 8), (12, 257, 32)]


def lstm(steps: int, features: int, units: int) -> bytes:
    """One int8 UNIDIRECTIONAL_SEQUENCE_LSTM over [1, steps, features] (the project's model builder)."""
    b = ModelBuilder(0)
    x = b.input((1, steps, features))
    return b.build([x], [b.lstm(x, units)])


def _fit(kind: str, rows: list[tuple[float, object]]) -> tuple[dict[str, float], float]:
    """Least-squares host nanoseconds per cost term for one kind, and the fit's worst relative error."""
    def terms(work) -> list[float]:
        if kind == "CONV_2D":
            return [work.macs, work.output_elements, work.output_elements * work.kernel_elements]
        if kind in ("DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            return [work.macs, work.output_elements]
        if kind == "MEAN":
            return [work.input_elements]
        if kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":  # the gates' matmuls, their elementwise work, each step's calls
            return [work.macs, work.output_elements, work.steps]
        return [work.output_elements * max(1, work.kernel_elements)]

    x = np.array([terms(work) for _, work in rows], float)
    y = np.array([seconds * 1e9 for seconds, _ in rows])
    # the LSTM's shapes span three decades of time: fit relative, not absolute, error
    weight = 1 / np.maximum(y, 1e-3) if kind == "UNIDIRECTIONAL_SEQUENCE_LSTM" else np.ones_like(y)
    a, b = x * weight[:, None], y * weight
    keep = list(range(a.shape[1]))
    while True:  # least squares without negative costs: drop a term that comes out negative, refit
        coef = np.zeros(a.shape[1])
        coef[keep] = np.linalg.lstsq(a[:, keep], b, rcond=None)[0]
        if (coef >= 0).all():
            break
        keep.remove(int(np.argmin(coef)))
    names = {"CONV_2D": ("per_mac", "per_output", "per_tap"), "DEPTHWISE_CONV_2D": ("per_mac", "per_output"),
             "FULLY_CONNECTED": ("per_mac", "per_output"), "MEAN": ("per_input",),
             "UNIDIRECTIONAL_SEQUENCE_LSTM": ("per_mac", "per_unit_step", "per_step")}.get(kind, ("per_element",))
    worst = float(np.max(np.abs(x @ coef - y) / np.maximum(y, 1e-3)))
    return dict(zip(names, coef)), worst


def _calibration_round(kinds: list[str] | None) -> tuple[float, dict[str, dict[str, float]], dict[str, float]]:
    """One pass: host seconds of person detection, the host nanoseconds of each cost term, each fit's
    worst relative error."""
    empty = ModelBuilder(0)
    x = empty.input((1, 4))
    overhead = _host_seconds(empty.build([x], [empty.reshape(x, (1, 4))]))
    fits, errors = {}, {}
    for kind, models in _single_ops().items():
        if kinds and kind not in kinds:
            continue
        rows = [(max(0.0, _host_seconds(data) - overhead), model_work(load_model(data))[0]) for data in models]
        fits[kind], errors[kind] = _fit(kind, rows)
    return _host_seconds(person_detection()), fits, errors


def calibrate(rounds: int, kinds: list[str] | None = None) -> dict:
    """ESP32-S3 cycles per cost term: each round's host figures scaled by that round's person-detection
    time to the published 2300 ms; the median over rounds (the host's load moves single rounds)."""
    published_cycles = PUBLISHED["person_detection"]["plain_c_ms"] * 1e-3 * CPU_HZ
    passes = [_calibration_round(kinds) for _ in range(rounds)]
    scaled = {kind: {term: float(np.median([fits[kind][term] * published_cycles / (host_pd * 1e9)
                                            for host_pd, fits, _ in passes]))
                     for term in terms} for kind, terms in passes[0][1].items()}
    errors = {kind: float(np.median([errors[kind] for _, _, errors in passes])) for kind in passes[0][2]}
    held_out = _lstm_held_out(passes, published_cycles) if "UNIDIRECTIONAL_SEQUENCE_LSTM" in scaled else []
    span = {"steps": [min(s[0] for s in LSTM_SHAPES), max(s[0] for s in LSTM_SHAPES)],
            "features": [min(s[1] for s in LSTM_SHAPES), max(s[1] for s in LSTM_SHAPES)],
            "units": [min(s[2] for s in LSTM_SHAPES), max(s[2] for s in LSTM_SHAPES)]}
    return {"host_person_detection_ms": [host_pd * 1e3 for host_pd, _, _ in passes], "esp32s3_cycles": scaled,
            "worst_fit_error": errors, "lstm_shapes": span, "lstm_held_out": held_out}


def _lstm_held_out(passes: list, published_cycles: float) -> list[dict]:
    """Held-out LSTMs: each round's fitted constants predict their host time; the median error."""
    empty = ModelBuilder(0)
    x = empty.input((1, 4))
    overhead = _host_seconds(empty.build([x], [empty.reshape(x, (1, 4))]))
    rows = []
    for shape in LSTM_HELD_OUT:
        data = lstm(*shape)
        work = model_work(load_model(data))[0]
        errors = []
        for _, fits, _ in passes:
            fit = fits["UNIDIRECTIONAL_SEQUENCE_LSTM"]
            predicted = fit["per_mac"] * work.macs + fit["per_unit_step"] * work.output_elements + \
                fit["per_step"] * work.steps
            errors.append(predicted / ((_host_seconds(data) - overhead) * 1e9) - 1)
        rows.append({"steps": shape[0], "features": shape[1], "units": shape[2],
                     "prediction_error": float(np.median(errors))})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--no-tensorflow", action="store_true", help="skip MobileNetV3 Small (built by TensorFlow)")
    parser.add_argument("--calibrate", action="store_true", help="time the reference kernels here; print constants")
    parser.add_argument("--rounds", type=int, default=5, help="calibration rounds, median taken (default 5)")
    parser.add_argument("--kind", action="append", metavar="KIND", help="calibrate only this op kind (repeatable)")
    args = parser.parse_args()
    if args.calibrate:
        result = calibrate(args.rounds, args.kind)
        print("host person detection " + ", ".join(f"{ms:.2f}" for ms in result["host_person_detection_ms"]) + " ms")
        for kind, terms in result["esp32s3_cycles"].items():
            print(f"{kind:<29}" + "  ".join(f"{term} {value:9.2f}" for term, value in terms.items())
                  + f"  (worst fit error {result['worst_fit_error'][kind]:.0%})")
        if "UNIDIRECTIONAL_SEQUENCE_LSTM" in result["esp32s3_cycles"]:
            print("LSTM shapes fitted: " + ", ".join(f"{name} {low}-{high}"
                                                     for name, (low, high) in result["lstm_shapes"].items()))
            for row in result["lstm_held_out"]:
                print(f"held-out LSTM {row['steps']} steps x {row['features']} features x {row['units']} units: "
                      f"predicted {row['prediction_error']:+.0%} off its host time")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        return 0
    rows = [compare("person_detection", person_detection())]
    if not args.no_tensorflow:
        with tempfile.TemporaryDirectory() as scratch:
            data = mobilenet_v3_small(Path(scratch))
            if data is not None:
                rows.append(compare("mobilenet_v3_small", data))
    print(f"{'model':<22}{'path':<9}{'estimate ms':>13}{'published ms':>14}{'ratio':>8}")
    for row in rows:
        for path in ("esp_nn", "plain_c"):
            r = row[path]
            print(f"{row['model']:<22}{path:<9}{r['estimate_ms']:>13.1f}{r['published_ms']:>14.1f}{r['ratio']:>8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"board": "esp32s3", "cpu_mhz": CPU_HZ / 1e6, "models": rows}, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
