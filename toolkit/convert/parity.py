"""Float torch model vs int8 TFLite model: top-1 agreement and dequantised output error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.convert.pipeline import inference_mode
from toolkit.model import load_model
from toolkit.model.tflm import HostInterpreter
from toolkit.tensors import channels_last, dequantize, quantize

PARITY_ARENA_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Parity:
    samples: int
    top1_agreement: float
    max_abs_error: float
    mean_abs_error: float
    float_accuracy: float | None
    int8_accuracy: float | None

    def as_dict(self) -> dict:
        return dict(vars(self))


def torch_outputs(model, data: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return inference_mode(model)(torch.from_numpy(data.astype(np.float32))).numpy()


def tflite_outputs(tflite: bytes, data: np.ndarray) -> np.ndarray:
    """Run int8 TFLite on float data in the torch layout; return dequantised outputs."""
    model = load_model(tflite)
    interp = HostInterpreter(tflite, PARITY_ARENA_BYTES)
    outs = [interp.run([quantize(s, model.inputs[0])])[0] for s in channels_last(data)]
    return np.stack([dequantize(o, model.outputs[0]).reshape(-1) for o in outs])


def check_parity(model, tflite: bytes, data: np.ndarray, labels: np.ndarray | None = None) -> Parity:
    reference = torch_outputs(model, data).reshape(len(data), -1)
    quantised = tflite_outputs(tflite, data)
    errors = np.abs(reference - quantised)
    ref_top, q_top = reference.argmax(1), quantised.argmax(1)
    return Parity(
        samples=len(data),
        top1_agreement=float(np.mean(ref_top == q_top)),
        max_abs_error=float(errors.max()),
        mean_abs_error=float(errors.mean()),
        float_accuracy=float(np.mean(ref_top == labels)) if labels is not None else None,
        int8_accuracy=float(np.mean(q_top == labels)) if labels is not None else None,
    )
