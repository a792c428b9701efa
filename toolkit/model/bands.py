"""The geometry of running a model's first stage in horizontal bands (patch-based inference).

A stage is the chain of operators from the model's image input that each read one feature map
and write one (convolutions, pools without padding, elementwise activations), every map read by
the next operator only. Cut the stage's output rows into bands; each band needs a range of rows
of every map before it (its receptive field, the halo overlapping its neighbours), plus the rows
of padding the original SAME padding puts beyond the image's top and bottom. ``band_steps``
works those ranges out backwards from the output rows, so that every band computes each of its
pixels from exactly the values the whole-tensor operator reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model.reader import TFLiteModel

SAME, VALID = 0, 1  # the schema's Padding enum
WINDOW_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D")
POOL_OPS = ("AVERAGE_POOL_2D", "MAX_POOL_2D")
# One int8 map in, one of the same shape out, each pixel from its own input pixel only.
ELEMENTWISE_OPS = ("RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "LOGISTIC", "TANH")


@dataclass(frozen=True)
class Layer:
    """One operator of the stage, as geometry: its window, stride and original padding."""

    op: int  # operator index in the model
    kind: str
    source: int  # input feature map (tensor index)
    target: int  # output feature map
    in_shape: tuple[int, int, int]  # H, W, C
    out_shape: tuple[int, int, int]
    kernel: tuple[int, int] = (1, 1)  # kh, kw
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, bottom, left, right

    @property
    def padded(self) -> bool:
        return any(self.pad)


@dataclass(frozen=True)
class Stage:
    layers: tuple[Layer, ...]  # the longest chain the rewrite can band, from the image input
    stop: str  # why the chain ends there, in words


@dataclass(frozen=True)
class Step:
    """One layer of one band: the input rows it reads and the padding rows beyond the image."""

    rows: tuple[int, int]  # [first, end) of the layer's input map
    pad_top: int
    pad_bottom: int
    out_rows: tuple[int, int]  # [first, end) of the layer's output map


def _same_padding(size: int, out: int, kernel: int, stride: int) -> tuple[int, int]:
    """TFLM's ComputePaddingHeightWidth: (before, after) for SAME padding."""
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _nhwc(model: TFLiteModel, index: int) -> tuple[int, int, int] | None:
    tensor = model.tensors[index]
    if len(tensor.shape) != 4 or tensor.shape[0] != 1 or tensor.dtype != "int8" or tensor.is_constant:
        return None
    return tensor.shape[1], tensor.shape[2], tensor.shape[3]


def _layer(model: TFLiteModel, op, source: int) -> Layer | str:
    """The op as a Layer, or why it cannot be banded exactly."""
    name = f"op {op.index} ({op.kind})"
    activations = [i for i in op.inputs if i >= 0 and not model.tensors[i].is_constant]
    if activations != [source] or op.inputs[0] != source or len(op.outputs) != 1:
        return f"{name} reads more than the one feature map before it"
    in_shape, out_shape = _nhwc(model, source), _nhwc(model, op.outputs[0])
    if in_shape is None or out_shape is None:
        return f"{name} does not map an int8 NHWC feature map to another"
    if op.kind in ELEMENTWISE_OPS:
        return Layer(op.index, op.kind, source, op.outputs[0], in_shape, out_shape) if in_shape == out_shape else \
            f"{name} changes the map's shape"
    if op.kind not in WINDOW_OPS:
        return f"{name} is not an operator the band rewrite understands"
    o = op.options
    if op.kind in POOL_OPS:
        kernel = (int(o.get("filterHeight", 1)), int(o.get("filterWidth", 1)))
    else:
        if int(o.get("dilationHFactor", 1)) != 1 or int(o.get("dilationWFactor", 1)) != 1:
            return f"{name} is dilated, which the band rewrite does not do"
        weights = model.tensors[op.inputs[1]].shape
        kernel = (weights[1], weights[2])
    stride = (int(o.get("strideH", 1)), int(o.get("strideW", 1)))
    if o.get("padding", VALID) == SAME:
        pad = _same_padding(in_shape[0], out_shape[0], kernel[0], stride[0]) + \
            _same_padding(in_shape[1], out_shape[1], kernel[1], stride[1])
    else:
        pad = (0, 0, 0, 0)
    if op.kind in POOL_OPS and any(pad):
        return f"{name} pads the image (a padded pool is not a pool of a padded map)"
    return Layer(op.index, op.kind, source, op.outputs[0], in_shape, out_shape, kernel, stride, pad)


def find_stage(model: TFLiteModel) -> Stage:
    """The chain of bandable operators from the model's single image input."""
    if model.subgraph_count != 1 or len(model.inputs) != 1:
        return Stage((), "the model has more than one input or subgraph")
    source = model.inputs[0].index
    if _nhwc(model, source) is None:
        return Stage((), "the model's input is not an int8 NHWC image")
    outputs = {t.index for t in model.outputs}
    layers: list[Layer] = []
    while True:
        readers = [op for op in model.ops if source in op.inputs]
        if source in outputs:
            return Stage(tuple(layers), f"tensor {source} is a model output")
        if len(readers) != 1:
            return Stage(tuple(layers), f"tensor {source} is read by {len(readers)} operators")
        layer = _layer(model, readers[0], source)
        if isinstance(layer, str):
            return Stage(tuple(layers), layer)
        layers.append(layer)
        source = layer.target


def split_rows(height: int, bands: int) -> tuple[tuple[int, int], ...]:
    """``height`` rows in ``bands`` contiguous bands, the last ones a row taller when it does not divide
    (by then the image rows the first bands read are free)."""
    base, extra = divmod(height, bands)
    edges = [0]
    for band in range(bands):
        edges.append(edges[-1] + base + (band >= bands - extra))
    return tuple(zip(edges[:-1], edges[1:]))


def band_steps(layers: tuple[Layer, ...], out_rows: tuple[int, int]) -> tuple[Step, ...]:
    """The step of every layer for the band that writes ``out_rows`` of the last layer's output."""
    steps = []
    first, end = out_rows
    for layer in reversed(layers):
        kh, sh, top = layer.kernel[0], layer.stride[0], layer.pad[0]
        low, high = first * sh - top, (end - 1) * sh - top + kh  # rows the window covers, padding included
        rows = (max(low, 0), min(high, layer.in_shape[0]))
        steps.append(Step(rows, rows[0] - low, high - rows[1], (first, end)))
        first, end = rows
    return tuple(reversed(steps))


def band_macs(layers: tuple[Layer, ...], layer_macs: tuple[int, ...], bands: tuple[tuple[int, int], ...]) -> int:
    """MACs the layers cost run in these bands (``layer_macs``: each layer's on the whole map): a
    layer's MACs are the same for each of its output rows, and halo rows are computed per band."""
    rows = [0] * len(layers)
    for out_rows in bands:
        for n, step in enumerate(band_steps(layers, out_rows)):
            rows[n] += step.out_rows[1] - step.out_rows[0]
    return sum(macs * count // layer.out_shape[0] for layer, macs, count in zip(layers, layer_macs, rows))
