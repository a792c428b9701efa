"""Tensors whose bytes are a contiguous part of another tensor's: they may share its memory.

Two operators copy bytes without changing them: a STRIDED_SLICE that cuts whole rows out of a
batch-1 NHWC tensor (begin [0, r, 0, 0], end [1, r', W, C], strides 1, no masks) writes a
contiguous byte range of its input, and a CONCATENATION along H of batch-1 tensors (no fused
activation) lays its inputs one after the other in its output. Placed at exactly that byte
offset, the copy writes every byte over itself: the output is a view of the input, and an
offline plan may put the two (alive together) in the same bytes. The band rewrite
(``patch.py``) relies on it: each band's slice lies inside the image, each band's output where
it lands in the joined map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from toolkit.model.graph import read_subgraphs


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _constant(model, graph, index: int) -> np.ndarray | None:
    tensor = graph.Tensors(index)
    buffer = model.Buffers(tensor.Buffer()) if 0 < tensor.Buffer() < model.BuffersLength() else None
    if buffer is None or buffer.DataLength() == 0 or tensor.Type() != _schema().TensorType.INT32:
        return None
    return np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype="<i4")


def _slice_view(model, graph, op, sub) -> tuple[int, int] | None:
    """(source, byte offset) when the STRIDED_SLICE op writes whole rows of its input."""
    if len(op.inputs) != 4 or -1 in op.inputs:
        return None
    source = sub.tensors[op.inputs[0]]
    begin, end, strides = (_constant(model, graph, i) for i in op.inputs[1:])
    table = graph.Operators(op.index).BuiltinOptions()
    if table is not None:
        options = _schema().StridedSliceOptions()
        options.Init(table.Bytes, table.Pos)
        if options.BeginMask() or options.EndMask() or options.EllipsisMask() or options.NewAxisMask() \
                or options.ShrinkAxisMask():
            return None
    if len(source.shape) != 4 or source.shape[0] != 1 or any(v is None or len(v) != 4 for v in (begin, end, strides)):
        return None
    _, height, width, channels = source.shape
    if list(strides) != [1, 1, 1, 1] or begin[0] or begin[2] or begin[3] or \
            list(end[[0, 2, 3]]) != [1, width, channels]:
        return None
    if not 0 <= begin[1] < end[1] <= height:
        return None
    return op.inputs[0], int(begin[1]) * width * channels * (source.nbytes // max(1, height * width * channels))


def _concat_views(graph, op, sub) -> dict[int, tuple[int, int]]:
    """Each input's (output, byte offset) when the CONCATENATION lays its inputs end to end."""
    table = graph.Operators(op.index).BuiltinOptions()
    if table is None:
        return {}
    options = _schema().ConcatenationOptions()
    options.Init(table.Bytes, table.Pos)
    out = sub.tensors[op.outputs[0]]
    if options.FusedActivationFunction() or len(out.shape) != 4 or out.shape[0] != 1 or options.Axis() not in (1, -3):
        return {}
    views, offset = {}, 0
    for index in op.inputs:
        if index < 0 or index in views or sub.tensors[index].constant:
            return {}
        views[index] = (op.outputs[0], offset)
        offset += sub.tensors[index].nbytes
    return views if offset == out.nbytes else {}


@lru_cache(maxsize=4)
def tensor_views(data: bytes) -> dict[int, tuple[int, int]]:
    """Main-subgraph tensors that are views: tensor -> (the tensor it lies in, byte offset there)."""
    model = _schema().Model.GetRootAs(data, 0)
    graph, sub = model.Subgraphs(0), read_subgraphs(data)[0]
    found: list[tuple[int, tuple[int, int]]] = []
    for op in sub.ops:
        if op.kind == "STRIDED_SLICE":
            view = _slice_view(model, graph, op, sub)
            found += [(op.outputs[0], view)] if view is not None else []
        elif op.kind == "CONCATENATION":
            found += list(_concat_views(graph, op, sub).items())
    seen = [tensor for tensor, _ in found]
    return {tensor: view for tensor, view in found if seen.count(tensor) == 1}  # a view of two tensors is neither


def view_root(views: dict[int, tuple[int, int]], tensor: int) -> tuple[int, int]:
    """The tensor a view lies in at the end of its chain, and the byte offset there."""
    offset = 0
    for _ in range(len(views) + 1):
        if tensor not in views:
            break
        tensor, step = views[tensor]
        offset += step
    return tensor, offset
