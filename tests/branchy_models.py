"""Branchy int8 models (residual adds, concatenations) from the project's builder, with their
operators in the order a naive exporter might write them (every branch's first layer, then every
branch's second): the graphs where the order of operators decides the arena."""

from __future__ import annotations

import random

import numpy as np

from toolkit.model.synth import ModelBuilder


class BranchyBuilder(ModelBuilder):
    def concat(self, xs: list[int], axis: int = -1) -> int:
        """CONCATENATION of int8 tensors that share the first one's quantisation."""
        s = self.s
        axis %= len(self.shapes[xs[0]])
        shape = list(self.shapes[xs[0]])
        shape[axis] = sum(self.shapes[x][axis] for x in xs)
        for x in xs[1:]:  # TFLM's int8 concatenation copies bytes: one scale and zero point for all
            self.tensors[x].quantization = self.tensors[xs[0]].quantization
            self.scales[x] = self.scales[xs[0]]
        opt = s.ConcatenationOptionsT()
        opt.axis = axis
        return self._op("CONCATENATION", list(xs), [self._like(xs[0], tuple(shape))],
                        s.BuiltinOptions.ConcatenationOptions, opt)


def inception(seed: int = 0, branches: int = 4) -> bytes:
    """Branches that widen then narrow the input, concatenated; written breadth first."""
    rng = random.Random(seed)
    b = BranchyBuilder(seed)
    x = b.input((1, 16, 16, 8))
    wide = [b.conv2d(x, rng.choice([24, 32, 48]), 1) for _ in range(branches)]
    narrow = [b.conv2d(w, 8, 3) for w in wide]
    y = b.concat(narrow)
    y = b.fully_connected(b.reshape(b.avg_pool(y, 16), (1, -1)), 10)
    return b.build([x], [b.softmax(y)])


def residual(seed: int = 0, blocks: int = 3) -> bytes:
    """Residual blocks whose projection shortcut is written before their main path."""
    rng = random.Random(seed)
    b = BranchyBuilder(seed)
    x = b.input((1, 16, 16, 4))
    y = b.conv2d(x, 8, 3)
    for _ in range(blocks):
        channels = rng.choice([8, 16])
        shortcut = b.conv2d(y, channels, 1, relu=False)
        main = b.conv2d(b.conv2d(y, rng.choice([32, 48]), 3), channels, 3, relu=False)
        y = b.add(main, shortcut)
    y = b.fully_connected(b.reshape(b.avg_pool(y, 16), (1, -1)), 10)
    return b.build([x], [b.softmax(y)])


def random_branchy(seed: int) -> bytes:
    """A random DAG of convolutions joined by adds and concatenations, written breadth first."""
    rng = random.Random(seed)
    b = BranchyBuilder(seed)
    x = b.input((1, 12, 12, 4))
    frontier = [b.conv2d(x, 8, 3)]
    for _ in range(rng.randint(2, 4)):
        paths = [b.conv2d(frontier[-1], rng.choice([8, 16, 32, 64]), rng.choice([1, 3]))
                 for _ in range(rng.randint(2, 3))]
        paths = [b.conv2d(p, 8, 1) for p in paths]
        if rng.random() < 0.5:
            joined = paths[0]
            for p in paths[1:]:
                joined = b.add(joined, p)
        else:
            joined = b.conv2d(b.concat(paths), 8, 1)
        frontier.append(joined)
    y = b.fully_connected(b.reshape(b.avg_pool(frontier[-1], 12), (1, -1)), 10)
    return b.build([x], [b.softmax(y)])


BRANCHY_MODELS = {"inception": inception, "residual": residual,
                  **{f"random {seed}": (lambda seed=seed: random_branchy(seed)) for seed in range(6)}}


def sample_inputs(model, count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``count`` sets of random inputs in each input's dtype and shape."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        sets.append([rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == "int8"
                     else rng.standard_normal(t.shape).astype(t.numpy_dtype) for t in model.inputs])
    return sets
