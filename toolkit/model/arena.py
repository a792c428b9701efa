"""The tensor arena TFLite-Micro needs, planned on the host by TFLM's own rules.

Head (non-persistent): every buffer TFLM's GreedyMemoryPlanner places, with the lifetimes of
its AllocationInfoBuilder (micro_allocation_info.cc):
- the tensors of every subgraph that have no data in the flatbuffer, are not variables and have
  a size; a subgraph's inputs are created when it starts, an operator's outputs at its scope,
  its inputs last used there, the subgraph's outputs live to its end. Each operator opens a new
  scope; a control-flow op (IF, WHILE, CALL_ONCE) marks the subgraphs it calls, each in a scope
  of its own, before its inputs' last use. Subgraphs no one calls keep the lifetime (-1, -1);
- the scratch buffers kernels request in Prepare (``scratch_requests``), alive from the start of
  their operator's scope to its end, after all tensors in request order.
Sizes are rounded up to 16 bytes. Buffers are placed largest first (equal sizes in reverse
order of request, as TFLM's sort leaves them), each at the lowest offset whose gap, among
buffers alive at the same time, fits it. A model carrying an offline plan (the
``OfflineMemoryAllocation`` metadata, ``toolkit/model/plan_metadata.py``) has its planned
tensors at the given offsets, placed first in request order; the planner fits the rest around
them, as TFLM's GreedyMemoryPlanner does. Planned tensors alive together may share bytes only
when one is a view of the other (``views.py``: a row slice inside its source, a concatenation's
input where it lands in the output); any other overlap is an error.

Tail (persistent): TFLM's own structures, kernel data and variable tensors (see
``toolkit/model/tail.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from toolkit.errors import ModelError
from toolkit.model.graph import GraphOp, Subgraph, read_subgraphs
from toolkit.model.plan_metadata import ONLINE, read_offline_offsets
from toolkit.model.reader import TFLiteModel
from toolkit.model.signal_tail import signal_scratch
from toolkit.model.views import tensor_views, view_root

ARENA_ALIGNMENT = 16
MAX_CALL_DEPTH = 32  # TFLM recurses without a limit; a model that calls itself would never load


def align_up(value: int, alignment: int = ARENA_ALIGNMENT) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class PlannedBuffer:
    tensor: int  # tensor index in its subgraph, or -1 for a scratch buffer
    size: int  # aligned
    first: int
    last: int
    offset: int
    subgraph: int = 0
    op: int = -1  # the operator a scratch buffer belongs to

    @property
    def label(self) -> str:
        if self.tensor < 0:
            return f"scratch of op {self.op}" + (f" (subgraph {self.subgraph})" if self.subgraph else "")
        return f"subgraph {self.subgraph} tensor {self.tensor}" if self.subgraph else f"tensor {self.tensor}"


@dataclass(frozen=True)
class HeadPlan:
    buffers: tuple[PlannedBuffer, ...]
    size: int
    peak_scope: int  # the scope at which the most bytes are live
    peak_op: int  # the subgraph-0 operator running then (-1: before the first)
    live_at_peak: tuple[int, ...]  # subgraph-0 tensor indices live then
    scratch_at_peak: int  # bytes of scratch buffers live then
    lower_bound: int  # bytes live at the peak scope: no placement needs less
    offline: bool  # the model's own offline plan placed (some of) the buffers


def _int_elements(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def scratch_requests(graph: Subgraph, op: GraphOp) -> list[int]:
    """Bytes of each scratch buffer the op's kernel requests in Prepare (RequestScratchBufferInArena),
    in request order, for TFLM's reference kernels."""
    tensor = graph.tensor
    first = tensor(op.inputs[0]) if op.inputs else None
    if first is None:
        return []
    if op.kind.startswith("CUSTOM:"):
        return signal_scratch(op)  # SignalRfft: rfft.cc
    if op.kind == "SVDF" and len(op.inputs) > 1 and tensor(op.inputs[1]) is not None:
        # svdf_common.cc: int32 scratch of batch x filters; int8 adds batch x units for the output
        batch, filters = first.shape[0], tensor(op.inputs[1]).shape[0]
        units = filters // max(1, int(op.options.get("Rank", 1)))
        return [4 * batch * filters] + ([4 * batch * units] if first.dtype == "INT8" else [])
    if op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM" and len(op.inputs) == 24:
        # unidirectional_sequence_lstm.cc: four buffers of batch x state in the cell state's type
        hidden, cell = tensor(op.inputs[18]), tensor(op.inputs[19])
        if hidden is None or cell is None or len(first.shape) < 3:
            return []
        batch = first.shape[1] if op.options.get("TimeMajor") else first.shape[0]
        return [batch * hidden.shape[1] * (cell.nbytes // max(1, _int_elements(cell.shape)))] * 4
    if op.kind in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN") and len(op.inputs) > 1 and op.outputs:
        # reduce_common.cc: (an int32 accumulator per output for quantised MEAN/SUM), an iterator
        # per input dimension, the resolved axes
        axis = tensor(op.inputs[1])
        axes = _int_elements(axis.shape) if axis is not None else 0
        iterators = [4 * len(first.shape), 4 * axes]
        if op.kind in ("MEAN", "SUM") and first.dtype in ("INT8", "INT16"):
            return [4 * _int_elements(graph.tensors[op.outputs[0]].shape)] + iterators
        return iterators
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
        weights = tensor(op.inputs[1])  # int4 weights are unpacked into a scratch buffer
        return [_int_elements(weights.shape)] if weights is not None and weights.dtype == "INT4" else []
    if op.kind == "TRANSPOSE_CONV" and first.dtype == "INT8" and op.outputs:
        return [4 * _int_elements(graph.tensors[op.outputs[0]].shape)]  # transpose_conv.cc: int32 accumulators
    return []


class _Lifetimes:
    """AllocationInfoBuilder::MarkAllocationLifetimes over all subgraphs."""

    def __init__(self, graphs: tuple[Subgraph, ...]) -> None:
        self.graphs = graphs
        self.scope = 0
        self.first: dict[tuple[int, int], int] = {}
        self.last: dict[tuple[int, int], int] = {}
        self.scratch: dict[tuple[int, int], tuple[int, int]] = {}  # (subgraph, op) -> (first, last)

    def _create(self, key: tuple[int, int]) -> None:
        self.first.setdefault(key, self.scope)

    def _use(self, key: tuple[int, int]) -> None:
        self.last[key] = self.scope

    def mark(self, index: int, depth: int = 0) -> None:
        if depth > MAX_CALL_DEPTH:
            raise ModelError("the model's control-flow ops call subgraphs deeper than TFLite-Micro can run",
                             "check the model's IF/WHILE subgraph indices; the file may be corrupt")
        graph = self.graphs[index]
        for tensor in graph.inputs:
            self._create((index, tensor))
            self._use((index, tensor))
        for op in graph.ops:
            self.scope += 1
            for tensor in op.outputs:
                self._create((index, tensor))
            start = self.scope
            for called in op.calls:
                self.scope += 1
                self.mark(called, depth + 1)
            for tensor in op.inputs:
                if tensor >= 0:
                    self._use((index, tensor))
            for tensor in op.outputs:
                self._use((index, tensor))
            self.scratch[(index, op.index)] = (start, self.scope)
        for tensor in graph.outputs:
            self._create((index, tensor))
            self._use((index, tensor))


def greedy_plan(requests: list[tuple], fixed: dict | None = None) -> dict:
    """Place (key, size, first, last) requests as TFLM's GreedyMemoryPlanner does; return offsets.

    ``fixed`` maps keys to offline-planned offsets: those go first, in request order, where given."""
    fixed = fixed or {}
    # TFLM fills its sort array with offline buffers from the head, the others from the tail, so
    # equal sizes keep reverse request order (stable sort).
    online = sorted((i for i in reversed(range(len(requests))) if requests[i][0] not in fixed),
                    key=lambda i: -requests[i][1])
    order = [i for i in range(len(requests)) if requests[i][0] in fixed] + online
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last), kept sorted by offset
    offsets: dict = {}
    for i in order:
        key, size, first, last = requests[i]
        candidate = fixed.get(key, 0)
        for offset, other_size, other_first, other_last in placed if key not in fixed else ():
            if other_first > last or first > other_last:
                continue  # not alive at the same time
            if offset - candidate >= size:
                break
            candidate = max(candidate, offset + other_size)
        offsets[key] = candidate
        # insert after every entry with offset <= candidate, as TFLM's list insertion does
        position = 0
        while position < len(placed) and placed[position][0] <= candidate:
            position += 1
        placed.insert(position, (candidate, size, first, last))
    return offsets


def tensor_base(graphs: tuple[Subgraph, ...]) -> list[int]:
    """Each subgraph's first index in TFLM's all-subgraph tensor numbering (offline plans use it)."""
    bases, count = [], 0
    for graph in graphs:
        bases.append(count)
        count += len(graph.tensors)
    return bases


def head_buffers(data: bytes, offline: tuple[int, ...] | None = None) -> tuple[tuple[PlannedBuffer, ...], dict]:
    """The head's buffers in TFLM's request order, unplaced, and each operator's scope range.

    With ``offline`` offsets, a variable tensor given one is planned in the head, as TFLM does."""
    graphs = read_subgraphs(data)
    lifetimes = _Lifetimes(graphs)
    lifetimes.mark(0)
    bases = tensor_base(graphs)
    buffers = []
    for graph in graphs:
        for tensor in graph.tensors:
            planned_variable = offline is not None and offline[bases[graph.index] + tensor.index] != ONLINE
            if not (tensor.constant or (tensor.variable and not planned_variable) or tensor.nbytes == 0):
                key = (graph.index, tensor.index)
                buffers.append(PlannedBuffer(tensor.index, align_up(tensor.nbytes), lifetimes.first.get(key, -1),
                                             lifetimes.last.get(key, -1), 0, graph.index))
    for graph in graphs:
        for op in graph.ops:
            first, last = lifetimes.scratch.get((graph.index, op.index), (-1, -1))
            buffers += [PlannedBuffer(-1, align_up(size), first, last, 0, graph.index, op.index)
                        for size in scratch_requests(graph, op)]
    return tuple(buffers), lifetimes.scratch


def _same_bytes(views: dict, a: PlannedBuffer, b: PlannedBuffer) -> bool:
    """Whether a and b are views of one tensor placed where their bytes coincide (``views.py``)."""
    if a.subgraph or b.subgraph:
        return False
    (root_a, at_a), (root_b, at_b) = view_root(views, a.tensor), view_root(views, b.tensor)
    return root_a == root_b and a.offset - at_a == b.offset - at_b


def _check_offline_overlaps(data: bytes, placed: tuple[PlannedBuffer, ...], fixed: dict) -> None:
    pinned = [placed[i] for i in fixed]
    views = tensor_views(data) if pinned else {}
    for n, a in enumerate(pinned):
        for b in pinned[n + 1:]:
            in_time = a.first <= b.last and b.first <= a.last
            if in_time and a.offset < b.offset + b.size and b.offset < a.offset + a.size and \
                    not _same_bytes(views, a, b):
                raise ModelError(f"the model's offline memory plan overlaps {a.label} and {b.label}, which are alive "
                                 "at the same time: TFLite-Micro would run it and compute wrong outputs",
                                 "re-plan the original model with 'espml plan'")


def place_head(data: bytes, offline: tuple[int, ...] | None) -> HeadPlan:
    """The head TFLM plans for the model with these offline offsets (one per tensor, all subgraphs;
    None: TFLM's greedy planner places everything)."""
    buffers, scratch = head_buffers(data, offline)
    fixed = {}
    if offline is not None:
        bases = tensor_base(read_subgraphs(data))
        fixed = {i: offline[bases[b.subgraph] + b.tensor] for i, b in enumerate(buffers)
                 if b.tensor >= 0 and offline[bases[b.subgraph] + b.tensor] != ONLINE}
    offsets = greedy_plan([(i, b.size, b.first, b.last) for i, b in enumerate(buffers)], fixed)
    placed = tuple(dataclasses.replace(b, offset=offsets[i]) for i, b in enumerate(buffers))
    _check_offline_overlaps(data, placed, fixed)
    size = max((b.offset + b.size for b in placed), default=0)
    scopes = sorted({b.first for b in placed} | {b.last for b in placed}) or [0]
    live = {s: sum(b.size for b in placed if b.first <= s <= b.last) for s in scopes}
    peak = max(scopes, key=lambda s: live[s])
    at_peak = [b for b in placed if b.first <= peak <= b.last]
    peak_op = next((op for (graph, op), (first, last) in scratch.items()
                    if graph == 0 and first <= peak <= last), -1)
    return HeadPlan(placed, size, peak, peak_op,
                    tuple(b.tensor for b in at_peak if b.subgraph == 0 and b.tensor >= 0),
                    sum(b.size for b in at_peak if b.tensor < 0), live[peak], bool(fixed))


def plan_head(model: TFLiteModel) -> HeadPlan:
    """The head as TFLM plans it for this model, honouring an offline plan the model carries."""
    return place_head(model.data, read_offline_offsets(model.data))
