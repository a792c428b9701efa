"""Small recurrent and wake-word models built with TensorFlow, for the arena planner's checks.

    python tests/tf_models.py OUT_DIR [NAME ...]     write NAME.tflite files (default: all)

Keras LSTM, GRU (a WHILE loop over two more subgraphs in float; unrolled for int8, because TF
2.19's calibrator crashes on the WHILE form) and conv1d + dense wake-word shapes, each float and
full-integer int8 (TFLiteConverter with a representative dataset). The layers come from tf_keras:
Keras 3's LSTM crashes TF 2.19's int8 calibrator. ``build`` runs this file in a child process,
so a converter crash cannot take the test run with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STEPS, FEATURES = 10, 8
KINDS = {
    "lstm_int8": ("lstm", True), "lstm_float": ("lstm", False), "lstm_stack_int8": ("lstm_stack", True),
    "gru_float": ("gru", False), "gru_unrolled_int8": ("gru_unrolled", True),
    "wakeword_int8": ("wakeword", True), "wakeword_float": ("wakeword", False),
}


def build(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write the models into ``folder`` (in a child process); return name -> path."""
    names = names or list(KINDS)
    result = subprocess.run([sys.executable, __file__, str(folder), *names], capture_output=True, text=True,
                            timeout=600)
    if result.returncode:
        raise RuntimeError(f"building TensorFlow models failed:\n{result.stderr[-3000:]}")
    return {name: folder / f"{name}.tflite" for name in names}


def _keras_model(kind: str):
    import tf_keras as keras

    inputs = keras.Input((STEPS, FEATURES), batch_size=1)
    if kind == "lstm":
        x = keras.layers.LSTM(16)(inputs)
    elif kind == "lstm_stack":
        x = keras.layers.LSTM(12)(keras.layers.LSTM(12, return_sequences=True)(inputs))
    elif kind == "gru":
        x = keras.layers.GRU(12)(inputs)
    elif kind == "gru_unrolled":
        x = keras.layers.GRU(8, unroll=True)(inputs)
    else:  # a wake-word shape: conv1d over feature frames, then dense layers
        x = keras.layers.Conv1D(16, 3, strides=2, activation="relu")(inputs)
        x = keras.layers.Conv1D(16, 3, activation="relu")(x)
        x = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def _convert(kind: str, int8: bool) -> bytes:
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(_keras_model(kind))
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.standard_normal((1, STEPS, FEATURES)).astype(np.float32)]
                                                    for _ in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def main(argv: list[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    for name in argv[1:] or list(KINDS):
        kind, int8 = KINDS[name]
        (folder / f"{name}.tflite").write_bytes(_convert(kind, int8))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
