"""Rewrite a model so its first stage runs band by band (``bands.py`` has the geometry).

For each band: STRIDED_SLICE cuts the rows it needs (halo included) out of the stage's input;
each layer runs on the band alone, a convolution with VALID padding after a PAD that adds only
the rows and columns the original SAME padding put beyond the image's own borders (int8 PAD fills
with the zero point, which is what TFLM's int8 convolutions take outside the image: a real 0);
pools and activations as they are. CONCATENATION joins the bands' outputs along H into the
stage's original output tensor, which the rest of the model reads unchanged. Every op emitted is
one the firmware registers (device/ops.txt), and the operators are written band after band.
"""

from __future__ import annotations

import copy

import numpy as np

from toolkit.model.bands import POOL_OPS, VALID, Layer, band_steps, split_rows
from toolkit.model.rewrite import pack_model, unpack_model, _schema

MAX_BANDS = 10  # TFLM's CONCATENATION takes at most 10 inputs (kMaxInputNum)
EMITTED_OPS = ("STRIDED_SLICE", "PAD", "CONCATENATION")


class _Graph:
    """The main subgraph's object API lists, with helpers to add tensors and operators."""

    def __init__(self, model) -> None:
        self.s = _schema()
        self.model = model
        self.main = model.subgraphs[0]

    def tensor_like(self, like: int, shape: tuple[int, ...], name: str) -> int:
        tensor = copy.deepcopy(self.main.tensors[like])
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.shapeSignature = None
        tensor.buffer = 0
        tensor.name = name.encode()
        self.main.tensors.append(tensor)
        return len(self.main.tensors) - 1

    def constant(self, values: np.ndarray, name: str) -> int:
        buffer = self.s.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(values, dtype=np.int32).tobytes(), dtype=np.uint8)
        self.model.buffers.append(buffer)
        tensor = self.s.TensorT()
        tensor.shape = np.array(values.shape, dtype=np.int32)
        tensor.type = self.s.TensorType.INT32
        tensor.buffer = len(self.model.buffers) - 1
        tensor.name = name.encode()
        self.main.tensors.append(tensor)
        return len(self.main.tensors) - 1

    def opcode(self, kind: str) -> int:
        code = getattr(self.s.BuiltinOperator, kind)
        for i, existing in enumerate(self.model.operatorCodes):
            if max(existing.builtinCode, existing.deprecatedBuiltinCode) == code:
                return i
        entry = self.s.OperatorCodeT()
        entry.builtinCode, entry.deprecatedBuiltinCode, entry.version = code, min(code, 127), 2
        self.model.operatorCodes.append(entry)
        return len(self.model.operatorCodes) - 1

    def operator(self, kind: str, inputs: list[int], outputs: list[int], options_type: int = 0, options=None):
        op = self.s.OperatorT()
        op.opcodeIndex = self.opcode(kind)
        op.inputs = np.array(inputs, dtype=np.int32)
        op.outputs = np.array(outputs, dtype=np.int32)
        op.builtinOptionsType, op.builtinOptions = options_type, options
        return op


def _slice(g: _Graph, source: int, rows: tuple[int, int], name: str):
    _, _, width, channels = g.main.tensors[source].shape
    out = g.tensor_like(source, (1, rows[1] - rows[0], width, channels), name)
    begin = g.constant(np.array([0, rows[0], 0, 0]), name + "/begin")
    end = g.constant(np.array([1, rows[1], width, channels]), name + "/end")
    strides = g.constant(np.array([1, 1, 1, 1]), name + "/strides")
    op = g.operator("STRIDED_SLICE", [source, begin, end, strides], [out], g.s.BuiltinOptions.StridedSliceOptions,
                    g.s.StridedSliceOptionsT())
    return op, out


def _pad(g: _Graph, source: int, pads: tuple[int, int, int, int], name: str):
    _, height, width, channels = g.main.tensors[source].shape
    top, bottom, left, right = pads
    out = g.tensor_like(source, (1, height + top + bottom, width + left + right, channels), name)
    paddings = g.constant(np.array([[0, 0], [top, bottom], [left, right], [0, 0]]), name + "/paddings")
    op = g.operator("PAD", [source, paddings], [out], g.s.BuiltinOptions.PadOptions, g.s.PadOptionsT())
    return op, out


def _layer_op(g: _Graph, original, layer: Layer, source: int, rows: int, name: str):
    """The layer's operator on one band: same weights and options, VALID padding."""
    _, width, channels = layer.out_shape
    out = g.tensor_like(layer.target, (1, rows, width, channels), name)
    op = copy.deepcopy(original)
    op.inputs = np.array([source] + list(original.inputs[1:]), dtype=np.int32)
    op.outputs = np.array([out], dtype=np.int32)
    if layer.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") or layer.kind in POOL_OPS:
        op.builtinOptions.padding = VALID
    return op, out


def _drop_unused_tensors(model) -> None:
    """Remove the tensors nothing refers to any more (TFLM would still plan them), renumbering the rest."""
    main = model.subgraphs[0]
    used = set(int(i) for i in main.inputs) | set(int(i) for i in main.outputs)
    for op in main.operators:
        used.update(int(i) for i in list(op.inputs) + list(op.outputs) + list(op.intermediates or []) if i >= 0)
    keep = sorted(used)
    new = {old: i for i, old in enumerate(keep)}

    def remap(values):
        return np.array([new[int(i)] if i >= 0 else -1 for i in values], dtype=np.int32)

    main.tensors = [main.tensors[i] for i in keep]
    main.inputs, main.outputs = remap(main.inputs), remap(main.outputs)
    for op in main.operators:
        op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = remap(op.intermediates)
    for signature in model.signatureDefs or []:
        for entry in list(signature.inputs or []) + list(signature.outputs or []):
            entry.tensorIndex = new[entry.tensorIndex]


def band_rewrite(data: bytes, layers: tuple[Layer, ...], bands: int, unpacked=None,
                 slices_first: bool = False) -> bytes:
    """The model with ``layers`` (a stage from ``find_stage``, its first ones) run in ``bands`` bands
    (``unpacked``: the model's ``unpack_model``, copied rather than unpacked again). ``slices_first``
    cuts every band's rows before the first band runs (for ``band_layout``, which places them
    inside the image), else each band's just before it."""
    if not 2 <= bands <= min(MAX_BANDS, layers[-1].out_shape[0]):
        raise ValueError(f"bands must be 2..{MAX_BANDS} and no more than the stage's output rows")
    stage_ops = {layer.op for layer in layers}
    model = copy.deepcopy(unpacked) if unpacked is not None else unpack_model(data)
    g = _Graph(model)
    originals = {layer.op: g.main.operators[layer.op] for layer in layers}
    emitted, joined, slices = [], [], []
    for band, out_rows in enumerate(split_rows(layers[-1].out_shape[0], bands)):
        steps = band_steps(layers, out_rows)
        op, current = _slice(g, layers[0].source, steps[0].rows, f"band{band}/slice")
        (slices if slices_first else emitted).append(op)
        for n, (layer, step) in enumerate(zip(layers, steps)):
            pads = (step.pad_top, step.pad_bottom, layer.pad[2], layer.pad[3])
            if any(pads):
                op, current = _pad(g, current, pads, f"band{band}/{n}/pad")
                emitted.append(op)
            op, current = _layer_op(g, originals[layer.op], layer, current, step.out_rows[1] - step.out_rows[0],
                                    f"band{band}/{n}/{layer.kind.lower()}")
            emitted.append(op)
        joined.append(current)
    options = g.s.ConcatenationOptionsT()
    options.axis = 1
    emitted.append(g.operator("CONCATENATION", joined, [layers[-1].target], g.s.BuiltinOptions.ConcatenationOptions,
                              options))
    emitted = slices + emitted
    rest = [op for i, op in enumerate(g.main.operators) if i not in stage_ops]
    at = layers[0].op  # ops before the stage's first are not stage ops (each map has one reader)
    g.main.operators = rest[:at] + emitted + rest[at:]
    _drop_unused_tensors(model)
    return pack_model(model, len(data) + 8192)
