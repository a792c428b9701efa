"""Models that show what happens inside a model: intermediate tensors as extra graph outputs
(probes, to compare a board's intermediate values with the host's), and a model split at an
operator into the part before it and the part after (to run the two halves with something
in between).

Operators keep their order and indices: op N of a probe is op N of the model. A probe drops the
model's offline memory plan: that plan lets later tensors reuse the memory of a tensor whose
last reader has run, so a tensor made a graph output would be overwritten; without the plan
TFLite-Micro's own planner keeps every graph output alive to the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model.plan_metadata import OFFLINE_PLAN_NAME
from toolkit.model.reader import TFLiteModel
from toolkit.model.rewrite import pack_model, unpack_model


def live_after(model: TFLiteModel) -> list[tuple[int, ...]]:
    """For each operator i of the main subgraph, the activation tensors alive once it has run:
    made by an operator up to i (or a graph input) and read by a later operator or a graph output.
    What comes after op i depends on these tensors (and constants) only."""
    made = {t.index: -1 for t in model.inputs}
    last = {}
    end = len(model.ops)
    for op in model.ops:
        for t in op.inputs:
            if t >= 0:
                last[t] = op.index
        for t in op.outputs:
            made.setdefault(t, op.index)
    for t in model.outputs:
        last[t.index] = end
    state = [t for t in made if not model.tensors[t].is_constant and not model.tensors[t].variable]
    return [tuple(sorted(t for t in state if made[t] <= i < last.get(t, -1))) for i in range(end)]


def _drop_offline_plan(model) -> None:
    kept = []
    for entry in model.metadata or []:
        name = entry.name.decode(errors="replace") if isinstance(entry.name, bytes) else str(entry.name)
        if name == OFFLINE_PLAN_NAME:
            model.buffers[entry.buffer].data = None
        else:
            kept.append(entry)
    model.metadata = kept or None


def with_outputs(data: bytes, extra: list[int] | tuple[int, ...]) -> bytes:
    """The model with the tensors ``extra`` (main-subgraph indices) added after its own outputs
    and no offline memory plan."""
    model = unpack_model(data)
    graph = model.subgraphs[0]
    outputs = [int(t) for t in graph.outputs]
    graph.outputs = outputs + [t for t in dict.fromkeys(extra) if t not in outputs]
    _drop_offline_plan(model)
    return pack_model(model, len(data))


@dataclass(frozen=True)
class Split:
    """``prefix`` runs ops 0..N from the model's inputs and outputs ``prefix_outputs``;
    ``suffix`` (None when N is the last op) runs the rest from ``suffix_inputs`` to the model
    outputs that the rest makes, ``suffix_outputs``."""

    prefix: bytes
    prefix_outputs: tuple[int, ...]
    suffix: bytes | None
    suffix_inputs: tuple[int, ...]
    suffix_outputs: tuple[int, ...]


def split_at(model: TFLiteModel, n: int) -> Split:
    """The model cut after its main subgraph's operator ``n``."""
    cut = live_after(model)[n]
    inputs = {t.index for t in model.inputs}
    made_before = inputs | {t for op in model.ops[:n + 1] for t in op.outputs}
    prefix_outputs = tuple(t for t in cut if t not in inputs)
    suffix_outputs = tuple(t.index for t in model.outputs if t.index not in made_before)
    prefix = _subgraph(model.data, 0, n + 1, [t.index for t in model.inputs], prefix_outputs)
    suffix = _subgraph(model.data, n + 1, len(model.ops), cut, suffix_outputs) if suffix_outputs else None
    return Split(prefix, prefix_outputs, suffix, cut if suffix else (), suffix_outputs)


def _subgraph(data: bytes, first: int, stop: int, inputs, outputs) -> bytes:
    model = unpack_model(data)
    graph = model.subgraphs[0]
    graph.operators = graph.operators[first:stop]
    graph.inputs, graph.outputs = list(inputs), list(outputs)
    model.signatureDefs = None  # a signature names the whole model's inputs and outputs
    _drop_offline_plan(model)
    return pack_model(model, len(data))
