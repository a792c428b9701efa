"""TFLite-Micro's persistent allocations (the arena "tail"), for a 64-bit host or a 32-bit target.

The tail holds TFLM's own structures: one TfLiteEvalTensor per tensor, one node and registration
per operator, each operator's builtin options and kernel state (OpData, and for convolutions and
per-channel fully connected layers two int32 arrays of one entry per output channel: the
requantisation multipliers and shifts), TfLiteTensors for the graph's inputs and outputs, and the
allocator's own objects.

64-bit figures were measured with the tflite-micro interpreter's allocation recording on
generated models, one operator kind at a time (tests check them against real models: total
within 1%). 32-bit figures follow from the same structures with 4-byte pointers; they cannot be
measured on this host and are estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model.arena import align_up
from toolkit.model.reader import OpInfo, TFLiteModel


@dataclass(frozen=True)
class TailConstants:
    base: int  # allocator, planner and interpreter objects, subgraph arrays, one input and one output
    per_tensor: int  # TfLiteEvalTensor
    per_operator: int  # NodeAndRegistration
    per_extra_io_tensor: int  # TfLiteTensor + quantisation for each input/output beyond one of each
    per_kind: dict[str, int]  # builtin options + kernel OpData
    default_kind: int


TAIL_64 = TailConstants(
    base=712, per_tensor=24, per_operator=64, per_extra_io_tensor=96,
    per_kind={"CONV_2D": 104, "DEPTHWISE_CONV_2D": 104, "FULLY_CONNECTED": 111, "AVERAGE_POOL_2D": 72,
              "MAX_POOL_2D": 72, "ADD": 72, "MUL": 72, "RESHAPE": 40, "SOFTMAX": 88},
    default_kind=72,
)

# 4-byte pointers: TfLiteEvalTensor 12 (data, dims, type); node and registration 36; the
# convolution OpData loses its two array pointers (8 bytes); FC and softmax OpData keep their
# int32 fields; the fixed objects (about 60% pointers) shrink to about 440 bytes.
TAIL_32 = TailConstants(
    base=440, per_tensor=12, per_operator=36, per_extra_io_tensor=60,
    per_kind={"CONV_2D": 96, "DEPTHWISE_CONV_2D": 96, "FULLY_CONNECTED": 103, "AVERAGE_POOL_2D": 68,
              "MAX_POOL_2D": 68, "ADD": 68, "MUL": 68, "RESHAPE": 40, "SOFTMAX": 84},
    default_kind=68,
)


def constants_for(pointer_size: int) -> TailConstants:
    if pointer_size not in (4, 8):
        raise ValueError("pointer size must be 4 (ESP32-S3) or 8 (a 64-bit host)")
    return TAIL_32 if pointer_size == 4 else TAIL_64


def per_channel_entries(model: TFLiteModel, op: OpInfo) -> int:
    """Output channels whose requantisation TFLM keeps per channel for this operator."""
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return model.tensors[op.outputs[0]].shape[-1]
    if op.kind == "FULLY_CONNECTED" and len(op.inputs) > 1 and model.tensors[op.inputs[1]].per_channel:
        return model.tensors[op.outputs[0]].shape[-1]
    return 0


def operator_tail(model: TFLiteModel, op: OpInfo, pointer_size: int = 4) -> int:
    c = constants_for(pointer_size)
    # Kernels allocate their persistent buffers 16-byte aligned: each int32 array rounds up.
    arrays = 2 * align_up(4 * per_channel_entries(model, op))
    return c.per_operator + c.per_kind.get(op.kind, c.default_kind) + arrays


def plan_tail(model: TFLiteModel, pointer_size: int = 4) -> int:
    c = constants_for(pointer_size)
    extra_io = max(0, len(model.inputs) - 1) + max(0, len(model.outputs) - 1)
    return (c.base + c.per_tensor * len(model.tensors) + c.per_extra_io_tensor * extra_io
            + sum(operator_tail(model, op, pointer_size) for op in model.ops))
