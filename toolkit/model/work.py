"""Per-operator work (MACs, elements, weight bytes) of a parsed model, for cost models and reports."""

from __future__ import annotations

from toolkit.boards import OpWork
from toolkit.model.reader import OpInfo, TFLiteModel


def op_work(model: TFLiteModel, op: OpInfo) -> OpWork:
    tensors = model.tensors
    ins = [tensors[i] for i in op.inputs if i >= 0]
    outs = [tensors[i] for i in op.outputs if i >= 0]
    out_elems = sum(t.elements for t in outs)
    in_elems = sum(t.elements for t in ins if not t.is_constant)
    weight_bytes = sum(t.buffer_bytes for t in ins if t.is_constant)
    macs, in_channels, kernel = 0, 0, 1
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(ins) >= 2 and outs:
        filt = ins[1].shape  # CONV: [Cout, kh, kw, Cin]; DEPTHWISE: [1, kh, kw, Cout]
        kernel = filt[1] * filt[2]
        in_channels = ins[0].shape[-1] if ins[0].shape else 0
        per_output = kernel * (filt[3] if op.kind == "CONV_2D" else 1)
        macs = out_elems * per_output
    elif op.kind == "FULLY_CONNECTED" and len(ins) >= 2:
        units, depth = ins[1].shape[0], ins[1].shape[-1]
        batches = max(1, ins[0].elements // max(1, depth))
        macs = batches * units * depth
        in_channels = depth
    elif op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM" and len(op.inputs) == 24 and len(ins[0].shape) == 3:
        return _lstm_work(model, op, out_elems, in_elems, weight_bytes)
    elif op.kind == "SVDF" and len(ins) >= 3:
        macs = ins[0].shape[0] * (ins[1].elements + ins[2].elements)  # feature, then time weights, per batch
    elif op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        kernel = int(op.options.get("filterHeight", 1)) * int(op.options.get("filterWidth", 1))
    return OpWork(op.kind, macs, out_elems, in_elems, weight_bytes, in_channels, kernel, computes_in_float(model, op))


def _lstm_work(model: TFLiteModel, op: OpInfo, out_elems: int, in_elems: int, weight_bytes: int) -> OpWork:
    """TFLM's kernel (lstm_eval.h, EvalLstm) loops over batch x time steps (time-major: time steps, each
    over the batch); every step multiplies the four gates' input and recurrent weights (inputs 1-8)."""
    tensors = model.tensors
    batch, time, features = tensors[op.inputs[0]].shape
    if op.options.get("timeMajor"):
        batch, time = time, batch
    weights = [tensors[op.inputs[i]] for i in (*range(1, 9), 16) if op.inputs[i] >= 0]
    units = tensors[op.inputs[1] if op.inputs[1] >= 0 else op.inputs[2]].shape[0]
    return OpWork(op.kind, batch * time * sum(w.elements for w in weights), out_elems, in_elems, weight_bytes,
                  features, 1, computes_in_float(model, op),
                  steps=time if op.options.get("timeMajor") else batch * time, units=units)


FLOAT_BOUNDARY_OPS = ("QUANTIZE", "DEQUANTIZE")  # convert at the graph's edges; not float arithmetic


def computes_in_float(model: TFLiteModel, op: OpInfo) -> bool:
    """Whether TFLM runs the op's float32 kernel (ESP-NN has int8 kernels only)."""
    if op.kind in FLOAT_BOUNDARY_OPS:
        return False
    tensors = [model.tensors[i] for i in op.inputs + op.outputs if i >= 0]
    return any(t.dtype == "float32" and not t.is_constant for t in tensors)


def model_work(model: TFLiteModel) -> list[OpWork]:
    return [op_work(model, op) for op in model.ops]


def total_macs(model: TFLiteModel) -> int:
    return sum(w.macs for w in model_work(model))
