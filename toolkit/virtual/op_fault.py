"""A faulty kernel on the virtual board (``corrupt_op=N``): operator N's output comes out wrong and
the rest of the model runs on the wrong values, as it would on a board whose kernel for that op
is broken.

The host's TFLite-Micro runs the whole model in one ``invoke()``, so the model is run in two
halves split after op N (``toolkit.model.probe.split_at``): the first half up to op N, then op N's
output tensors corrupted, then the second half from every tensor alive at the cut. Tensors before
op N are the interpreter's own; every value of op N's output differs.
"""

from __future__ import annotations

import numpy as np

from toolkit.model.probe import split_at
from toolkit.model.reader import TFLiteModel
from toolkit.model.tflm import HostInterpreter, host_arena_estimate


def corrupt(array: np.ndarray) -> np.ndarray:
    """Every value changed: integers bitwise inverted (int8 x -> -1 - x), floats -1 - x, booleans negated."""
    if array.dtype == np.bool_:
        return ~array
    if np.issubdtype(array.dtype, np.integer):
        return np.invert(array)
    return (-1 - array).astype(array.dtype)


def _interpreter(data: bytes) -> HostInterpreter:
    return HostInterpreter(data, int(host_arena_estimate(data) * 1.25) + 16384)


class CorruptOp:
    """Runs ``model`` with operator ``n``'s outputs corrupted."""

    def __init__(self, model: TFLiteModel, n: int) -> None:
        self.model = model
        self.split = split_at(model, n)
        self.corrupted = set(model.ops[n].outputs)
        self.prefix = _interpreter(self.split.prefix)
        self.suffix = _interpreter(self.split.suffix) if self.split.suffix else None

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        split = self.split
        values = {t.index: array for t, array in zip(self.model.inputs, inputs)}
        for t, array in zip(split.prefix_outputs, self.prefix.run(inputs, len(split.prefix_outputs))):
            values[t] = corrupt(array) if t in self.corrupted else array
        if self.suffix is not None:
            results = self.suffix.run([values[t] for t in split.suffix_inputs], len(split.suffix_outputs))
            values.update(zip(split.suffix_outputs, results))
        return [values[t.index] for t in self.model.outputs]
