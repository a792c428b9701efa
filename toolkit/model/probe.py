"""Models that show what happens inside a model: intermediate tensors as graph outputs (probes,
to compare a board's intermediate values with the host's: the whole model with extra outputs, or
the model up to a cut with the tensors alive there as its outputs), and a model split at an
operator into the part before it and the part after (to run the two halves with something in
between).

Operators keep their order and indices: op N of a probe is op N of the model; tensors are
numbered afresh in a model cut short (its outputs are listed in a known order). A probe drops the
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


def probe_at(model: TFLiteModel, cuts: list[int] | tuple[int, ...]) -> tuple[bytes, tuple[int, ...]]:
    """A probe of the model's cuts after ``cuts`` (op indices): ops 0 up to the last of them, the
    tensors alive at each cut as its outputs; and those tensors' indices in the model, in the
    probe's output order (the probe numbers its tensors afresh). Ops past the last cut are left
    out: they would only keep the exposed tensors alive longer and the arena larger."""
    inputs = {t.index for t in model.inputs}
    alive = live_after(model)
    exposed = sorted({t for c in cuts for t in alive[c]} - inputs)
    return _subgraph(model.data, 0, max(cuts) + 1, [t.index for t in model.inputs], exposed), tuple(exposed)


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
    """Ops ``first``..``stop - 1`` of the main subgraph with these graph inputs and outputs (in
    this order). Tensors nothing refers to any more are dropped and the weights only they held
    emptied: TFLite-Micro plans arena memory for every tensor of a subgraph, used or not."""
    model = unpack_model(data)
    graph = model.subgraphs[0]
    graph.operators = graph.operators[first:stop]
    graph.inputs, graph.outputs = [int(t) for t in inputs], [int(t) for t in outputs]
    model.signatureDefs = None  # a signature names the whole model's inputs and outputs
    _drop_offline_plan(model)
    _drop_unused_tensors(model)
    return pack_model(model, len(data))


def _refs(op) -> list:
    return [list(op.inputs if op.inputs is not None else []), list(op.outputs if op.outputs is not None else []),
            list(op.intermediates if op.intermediates is not None else [])]


def _drop_unused_tensors(model) -> None:
    graph = model.subgraphs[0]
    used = {int(t) for op in graph.operators for refs in _refs(op) for t in refs if t >= 0}
    used |= {int(t) for t in graph.inputs} | {int(t) for t in graph.outputs}
    kept = sorted(used)
    new = {old: i for i, old in enumerate(kept)}
    graph.tensors = [graph.tensors[t] for t in kept]
    for op in graph.operators:
        inputs, outputs, intermediates = _refs(op)
        op.inputs = [new[int(t)] if t >= 0 else -1 for t in inputs]
        op.outputs = [new[int(t)] for t in outputs]
        op.intermediates = [new[int(t)] for t in intermediates] or None
    graph.inputs = [new[int(t)] for t in graph.inputs]
    graph.outputs = [new[int(t)] for t in graph.outputs]
    referenced = {t.buffer for g in model.subgraphs for t in g.tensors or []}
    referenced |= {entry.buffer for entry in model.metadata or []}
    for i, buffer in enumerate(model.buffers):
        if i not in referenced:
            buffer.data = None
