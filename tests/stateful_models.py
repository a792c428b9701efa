"""Stateful, scratch-using and multi-subgraph int8 models for the arena planner, from the project's
model builder: SVDF and LSTM layers (variable state), the reduce ops (scratch buffers), the vision ops the
firmware registers beyond convolutions, IF over two subgraphs, and a subgraph nothing calls."""

from __future__ import annotations

from toolkit.model.synth import ModelBuilder


def svdf_model() -> bytes:
    """A keyword-spotting shape from SVDF layers (variable state, scratch buffers)."""
    b = ModelBuilder(1)
    x = b.input((1, 40))
    y = b.svdf(b.svdf(x, 16, rank=2, memory=10), 8, memory=4)
    return b.build([x], [b.softmax(b.fully_connected(y, 4))])


def lstm_model() -> bytes:
    """An int8 LSTM over 12 steps of 10 features (hidden and cell state variable), then a classifier."""
    b = ModelBuilder(5)
    x = b.input((1, 12, 10))
    y = b.reshape(b.strided_slice(b.lstm(x, 16), [0, 11, 0], [1, 12, 16]), (1, 16))
    return b.build([x], [b.softmax(b.fully_connected(y, 4))])


def vision_ops_model() -> bytes:
    """The vision ops the firmware registers beyond convolutions."""
    b = ModelBuilder(2)
    y = b.conv2d(x := b.input((1, 8, 8, 4)), 8, 3)
    a, c = b.split(b.unary("HARD_SWISH", y), 2)
    y = b.binary("SUB", b.binary("MAXIMUM", a, c), b.binary("MINIMUM", a, c))
    y = b.resize("RESIZE_BILINEAR", b.resize("RESIZE_NEAREST_NEIGHBOR", b.leaky_relu(y), 16, 16), 8, 8)
    y = b.squeeze(b.avg_pool(b.strided_slice(y, [0, 0, 0, 0], [1, 8, 8, 2], [1, 2, 2, 1]), 4), [1, 2])
    return b.build([x], [b.fully_connected(y, 3)])


def reduce_model() -> bytes:
    """MEAN, SUM and REDUCE_MAX: scratch buffers for accumulators, iterators and axes."""
    b = ModelBuilder(4)
    y = b.conv2d(x := b.input((1, 6, 6, 8)), 16, 3)
    total = b.reshape(b.reduce("SUM", y, [1, 2], keep_dims=True), (1, 16))
    return b.build([x], [b.binary("SUB", b.reduce("MEAN", y, [1, 2]), b.reduce("REDUCE_MAX", y, [1, 2])), total])


def if_model() -> bytes:
    """IF choosing between two subgraphs of different sizes."""
    b = ModelBuilder(3)
    b.start_subgraph()
    then_graph = b.end_subgraph([t := b.input((1, 16))], [b.fully_connected(t, 16)])
    b.start_subgraph()
    e = b.input((1, 16))
    else_graph = b.end_subgraph([e], [b.fully_connected(b.fully_connected(e, 32, relu=True), 16)])
    condition, x = b.condition(), b.input((1, 16))
    y = b.if_(condition, b.fully_connected(x, 16), then_graph, else_graph)
    return b.build([condition, x], [b.fully_connected(y, 4)])


def uncalled_subgraph_model() -> bytes:
    """A second subgraph nothing calls: TFLM still plans its tensors, with the lifetime (-1, -1)."""
    b = ModelBuilder(3)
    b.start_subgraph()
    t = b.input((1, 64))
    b.end_subgraph([t], [b.fully_connected(b.fully_connected(t, 48), 32)])
    x = b.input((1, 16))
    return b.build([x], [b.fully_connected(b.fully_connected(x, 16), 4)])


STATEFUL_MODELS = {"svdf": svdf_model, "lstm": lstm_model, "vision_ops": vision_ops_model, "reduce": reduce_model,
                   "if": if_model, "uncalled_subgraph": uncalled_subgraph_model}
