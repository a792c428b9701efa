"""Deterministic generated int8 models covering every op kind the firmware supports."""

from __future__ import annotations

import random

from toolkit.model.synth import ModelBuilder


def random_model(seed: int) -> bytes:
    rng = random.Random(seed)
    b = ModelBuilder(seed)
    hw, channels = rng.choice([8, 12, 16]), rng.choice([1, 3, 4, 8])
    x = b.input((1, hw, hw, channels))
    y = x
    for _ in range(rng.randint(1, 7)):
        kind = rng.choice("cdmpar")
        if kind == "c":
            y = b.conv2d(y, rng.choice([4, 8, 16, 32]), rng.choice([1, 3]), stride=rng.choice([1, 1, 2]))
        elif kind == "d":
            y = b.depthwise_conv2d(y, 3, stride=rng.choice([1, 2]))
        elif kind == "m" and b.shapes[y][1] >= 2:
            y = b.max_pool(y, 2)
        elif kind == "p" and b.shapes[y][1] >= 2:
            y = b.avg_pool(y, 2)
        elif kind == "a":
            y = b.add(y, b.depthwise_conv2d(y, 3))
        elif kind == "r":
            y = b.reshape(y, (1,) + b.shapes[y][1:])
    y = b.reshape(y, (1, -1))
    for _ in range(rng.randint(1, 3)):
        y = b.fully_connected(y, rng.choice([8, 16, 32]), relu=True, per_channel=rng.random() < 0.5)
    if rng.random() < 0.5:
        y = b.softmax(y)
    return b.build([x], [y])


GENERATED_SEEDS = list(range(40))
