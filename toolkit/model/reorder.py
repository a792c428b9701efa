"""The order of a model's operators with the fewest bytes alive at once in TFLite-Micro's arena.

Any topological order of the main subgraph computes the same outputs; what it changes is which
tensors are alive together. With TFLM's lifetimes (``toolkit/model/arena.py``: a tensor lives
from its producer's scope to its last consumer's, graph inputs from the start and graph outputs
to the end, scratch buffers during their operator) the bytes alive while operator k runs depend
only on the set of operators run before it. So the least peak over all orders is a shortest-path
problem over those sets (the downsets of the graph), solved level by level as in Liberis & Lane,
"Neural networks on microcontrollers: saving memory at inference via operator reordering"
(2019): exact while every level has at most ``state_limit`` sets, a beam of the best sets beyond.

Only single-subgraph models are reordered (a control-flow op's subgraphs share its scopes), and
operators with effects beyond their outputs (on variable or resource tensors, custom ops) keep
their relative order.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model.arena import align_up, scratch_requests
from toolkit.model.graph import Subgraph

DEFAULT_STATE_LIMIT = 4096
# Ops whose effect is not (only) their outputs: they keep their order relative to each other.
EFFECT_OPS = frozenset({"ASSIGN_VARIABLE", "READ_VARIABLE", "VAR_HANDLE", "CALL_ONCE", "IF", "WHILE", "CALL"})


@dataclass(frozen=True)
class OpOrder:
    order: tuple[int, ...]  # original operator indices in execution order
    peak: int  # bytes alive at the worst scope in that order
    original_peak: int
    exact: bool  # no order has a lower peak (False: the beam was cut somewhere)

    @property
    def changed(self) -> bool:
        return self.order != tuple(sorted(self.order))


class _Graph:
    """Bit masks of the main subgraph: producers, users and sizes of each planned tensor."""

    def __init__(self, graph: Subgraph) -> None:
        ops = graph.ops
        self.count = len(ops)
        planned = [t.index for t in graph.tensors if not (t.constant or t.variable or t.nbytes == 0)]
        producer = {t: op.index for op in ops for t in op.outputs}
        self.tensors = []  # (size, producer bit or 0 when alive from the start, users mask, graph output)
        self.base = 0  # bytes alive at scope 0 whatever the order: graph inputs and unproduced tensors
        for t in planned:
            users = sum(1 << op.index for op in ops if t in op.inputs or t in op.outputs)
            born = 1 << producer[t] if t in producer else 0
            size = align_up(graph.tensors[t].nbytes)
            self.tensors.append((size, born, users, t in graph.outputs))
            if not born and (t in graph.inputs or users):
                self.base += size
        self.scratch = [sum(align_up(s) for s in scratch_requests(graph, op)) for op in ops]
        self.needs = []  # mask of the ops that must run before each op
        stateful = {t.index for t in graph.tensors if t.variable or t.dtype == "RESOURCE"}
        effects = [op.index for op in ops if op.kind in EFFECT_OPS or op.kind.startswith("CUSTOM:")
                   or stateful.intersection(op.inputs + op.outputs)]
        for op in ops:
            mask = sum(1 << producer[t] for t in op.inputs if t in producer)
            if op.index in effects and effects.index(op.index) > 0:
                mask |= 1 << effects[effects.index(op.index) - 1]
            self.needs.append(mask)

    def live(self, done: int, op: int) -> int:
        """Bytes alive while ``op`` runs after the ops in ``done``."""
        bit = 1 << op
        ran = done | bit
        total = self.scratch[op]
        for size, born, users, output in self.tensors:
            if (not born or born & ran) and (output or users & bit or users & ~ran):
                total += size
        return total

    def peak(self, order: tuple[int, ...]) -> int:
        done, peak = 0, self.base
        for op in order:
            peak = max(peak, self.live(done, op))
            done |= 1 << op
        return peak


def best_order(graph: Subgraph, state_limit: int = DEFAULT_STATE_LIMIT) -> OpOrder:
    """The operator order of ``graph`` with the least peak; the original order when none is lower."""
    g = _Graph(graph)
    original = tuple(range(g.count))
    original_peak = g.peak(original)
    states: dict[int, tuple[int, tuple[int, ...]]] = {0: (g.base, ())}  # ran ops -> (peak so far, order)
    exact = True
    for _ in range(g.count):
        following: dict[int, tuple[int, tuple[int, ...]]] = {}
        for done, (peak, order) in states.items():
            for op in range(g.count):
                bit = 1 << op
                if done & bit or g.needs[op] & ~done:
                    continue
                candidate = (max(peak, g.live(done, op)), order + (op,))
                if done | bit not in following or candidate < following[done | bit]:
                    following[done | bit] = candidate
        if len(following) > state_limit:
            exact = False
            following = dict(sorted(following.items(), key=lambda item: item[1])[:state_limit])
        states = following
    peak, order = min(states.values()) if states else (g.base, ())
    if peak >= original_peak:
        return OpOrder(original, original_peak, original_peak, exact)
    return OpOrder(order, peak, original_peak, exact)
