"""Generated int8 vision models for the band rewrite (``espml plan --patch``): MobileNetV1-style
stacks (a strided 3x3 convolution, then depthwise / pointwise pairs, downsampling by strided
depthwise convolutions), random weights, as ``toolkit.model.synth`` builds them."""

from __future__ import annotations

import numpy as np

from toolkit.model.synth import ModelBuilder

# MobileNetV1's (pointwise filters, depthwise stride) after the first convolution (32 filters)
MOBILENET_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def mobilenet_v1(size: int = 96, channels: int = 1, alpha: float = 0.25, classes: int = 2, seed: int = 0) -> bytes:
    """MobileNetV1 at width ``alpha`` on a ``size`` x ``size`` image (person detection: 96, grey, 0.25)."""
    b = ModelBuilder(seed)
    x = b.input((1, size, size, channels))
    width = lambda filters: max(8, int(filters * alpha))  # noqa: E731
    y = b.conv2d(x, width(32), 3, stride=2)
    for filters, stride in MOBILENET_V1:
        y = b.conv2d(b.depthwise_conv2d(y, 3, stride=stride), width(filters), 1)
    y = b.reshape(b.avg_pool(y, b.shapes[y][1]), (1, -1))
    return b.build([x], [b.softmax(b.fully_connected(y, classes))])


def stage_model(size: int = 17, channels: int = 3, dilation: int = 1, seed: int = 0) -> bytes:
    """A first stage whose output is the model's output (so outputs compare every pixel): strided
    and plain 3x3 convolutions, a 5x5 depthwise, a pointwise, RELU6 and a VALID max pool, on an
    odd-sized image (asymmetric SAME padding) with a non-zero input zero point."""
    b = ModelBuilder(seed)
    x = b.input((1, size, size, channels), 0.05, -10)
    y = b.conv2d(x, 8, 3, stride=2)
    y = b.depthwise_conv2d(y, 3)
    y = b.conv2d(y, 8, 3, relu=False)
    b.operators[-1].builtinOptions.dilationHFactor = dilation
    y = b.unary("RELU6", y)
    y = b.depthwise_conv2d(y, 5, stride=2)
    y = b.conv2d(y, 12, 1)
    y = b.max_pool(y, 2, 1)
    return b.build([x], [y])


def image_inputs(data: bytes, count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``count`` random int8 inputs, then all -128 and all 127 (the padding's neighbours at extremes)."""
    from toolkit.model import load_model

    shape = load_model(data).inputs[0].shape
    rng = np.random.default_rng(seed)
    sets = [[rng.integers(-128, 128, shape, dtype=np.int8)] for _ in range(count)]
    return sets + [[np.full(shape, -128, np.int8)], [np.full(shape, 127, np.int8)]]
