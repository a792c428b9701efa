"""The tensor arena TFLite-Micro needs, planned on the host by TFLM's own rules.

Head (non-persistent): activations placed by TFLM's greedy memory planner. Lifetimes follow
TFLM's AllocationInfoBuilder: graph inputs and outputs are created at scope 0, operator i runs
at scope i + 1, an operator's outputs are created (and its inputs last used) at its scope,
graph outputs live to the end. Constant, variable and empty tensors are not planned. Sizes are
rounded up to 16 bytes. Buffers are placed largest first (equal sizes in reverse order of
tensor index, as TFLM's sort leaves them), each at the lowest offset whose gap, among buffers
alive at the same time, fits it.

Tail (persistent): TFLM's own structures, whose sizes depend on the pointer size (see
``toolkit/model/tail.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model.reader import TFLiteModel

ARENA_ALIGNMENT = 16


def align_up(value: int, alignment: int = ARENA_ALIGNMENT) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class PlannedBuffer:
    tensor: int
    size: int  # aligned
    first: int
    last: int
    offset: int


@dataclass(frozen=True)
class HeadPlan:
    buffers: tuple[PlannedBuffer, ...]
    size: int
    peak_scope: int  # the scope at which the most bytes are live
    live_at_peak: tuple[int, ...]  # tensor indices live then


def tensor_lifetimes(model: TFLiteModel) -> dict[int, tuple[int, int]]:
    """First-created and last-used scope of every tensor that TFLM plans."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def create(index: int, scope: int) -> None:
        first[index] = scope
        last[index] = scope

    for tensor in model.inputs + model.outputs:
        create(tensor.index, 0)
    for position, op in enumerate(model.ops):
        scope = position + 1
        for index in op.outputs:
            if index >= 0:
                create(index, scope)
        for index in op.inputs + op.outputs:
            if index >= 0 and index in last:
                last[index] = scope
            elif index >= 0:
                first.setdefault(index, -1)
                last[index] = scope
    end = len(model.ops)
    for tensor in model.outputs:
        last[tensor.index] = end
    planned = {}
    for index, start in first.items():
        tensor = model.tensors[index]
        if tensor.is_constant or tensor.variable or tensor.nbytes == 0 or start < 0:
            continue
        planned[index] = (start, last[index])
    return planned


def greedy_plan(requests: list[tuple[int, int, int, int]]) -> dict[int, int]:
    """Place (key, size, first, last) requests as TFLM's GreedyMemoryPlanner does; return offsets."""
    # TFLM fills its sort array from the tail, so equal sizes keep reverse request order (stable sort).
    order = sorted(reversed(range(len(requests))), key=lambda i: -requests[i][1])
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last), kept sorted by offset
    offsets: dict[int, int] = {}
    for i in order:
        key, size, first, last = requests[i]
        candidate = 0
        for offset, other_size, other_first, other_last in placed:
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


def plan_head(model: TFLiteModel) -> HeadPlan:
    lifetimes = tensor_lifetimes(model)
    requests = [(index, align_up(model.tensors[index].nbytes), first, last)
                for index, (first, last) in sorted(lifetimes.items())]
    offsets = greedy_plan(requests)
    buffers = tuple(PlannedBuffer(key, size, first, last, offsets[key]) for key, size, first, last in requests)
    size = max((b.offset + b.size for b in buffers), default=0)
    scopes = range(len(model.ops) + 1)
    live = {s: sum(b.size for b in buffers if b.first <= s <= b.last) for s in scopes}
    peak = max(scopes, key=lambda s: live[s]) if buffers else 0
    at_peak = tuple(b.tensor for b in buffers if b.first <= peak <= b.last)
    return HeadPlan(buffers, size, peak, at_peak)
