"""Less arena than TFLite-Micro's own plan, with the model still running unmodified in TFLM.

``plan_model`` takes a .tflite model and returns it with an offline memory plan (the
``OfflineMemoryAllocation`` metadata TFLM's allocator reads, ``plan_metadata.py``): every
activation tensor at an offset found by an exact search (``packing.py``), after putting the
main subgraph's operators in the order with the fewest bytes alive at once (``reorder.py``)
when that helps. What TFLM will then use is worked out by the replica of its planner
(``arena.py``), which places scratch buffers around the planned tensors as TFLM does; the plan is
written only if TFLM would need no more than its own plan (or when re-planning a planned model).

    from toolkit.model.offline_plan import plan_model
    planned = plan_model(model_bytes)      # planned.data: the model to deploy; planned.to_json(): figures
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ModelError, ToolkitError
from toolkit.model.arena import head_buffers, place_head, tensor_base
from toolkit.model.graph import read_subgraphs
from toolkit.model.packing import DEFAULT_NODE_LIMIT, pack
from toolkit.model.plan_metadata import ONLINE, read_offline_offsets
from toolkit.model.reader import parse_model, read_model_bytes
from toolkit.model.reorder import DEFAULT_STATE_LIMIT, best_order
from toolkit.model.rewrite import rewrite_model


@dataclass(frozen=True)
class ArenaPlan:
    data: bytes  # the model to deploy
    greedy_head_bytes: int  # the head TFLM plans for the model by itself (no offline plan)
    planned_head_bytes: int  # the head TFLM plans for ``data``
    lower_bound_bytes: int  # most bytes alive at once, in the operator order of ``data``
    original_lower_bound_bytes: int  # the same in the model's own order
    order: tuple[int, ...]  # the original operator indices in the order of ``data``
    packing_optimal: bool  # no placement of that order needs less (search finished or at the bound)
    order_exact: bool  # no operator order has a lower peak
    plan_written: bool

    @property
    def reordered(self) -> bool:
        return self.order != tuple(sorted(self.order))

    @property
    def saving_bytes(self) -> int:
        return self.greedy_head_bytes - self.planned_head_bytes

    @property
    def saving_pct(self) -> float:
        return 100.0 * self.saving_bytes / self.greedy_head_bytes if self.greedy_head_bytes else 0.0

    def to_json(self) -> dict:
        return {"greedy_head_bytes": self.greedy_head_bytes, "planned_head_bytes": self.planned_head_bytes,
                "lower_bound_bytes": self.lower_bound_bytes,
                "original_lower_bound_bytes": self.original_lower_bound_bytes,
                "saving_bytes": self.saving_bytes, "saving_pct": round(self.saving_pct, 2),
                "reordered": self.reordered, "order": list(self.order), "packing_optimal": self.packing_optimal,
                "order_exact": self.order_exact, "plan_written": self.plan_written}

    def summary_lines(self) -> list[str]:
        """What the plan does, in words, for the command line."""
        order = " in the new operator order" if self.reordered else ""
        proof = "optimal for this order" if self.packing_optimal else "best found, optimality not proven"
        lines = [f"arena head: TFLite-Micro's own plan {self.greedy_head_bytes:,} B, offline plan "
                 f"{self.planned_head_bytes:,} B ({self.saving_pct:.1f}% less); "
                 f"lower bound {self.lower_bound_bytes:,} B "
                 f"(most bytes alive at once{order}); placement {proof}"]
        if self.reordered:
            lines.append(f"operators reordered: most bytes alive at once {self.original_lower_bound_bytes:,} -> "
                         f"{self.lower_bound_bytes:,} B" + ("" if self.order_exact else " (order search cut short)"))
        if not self.plan_written:
            lines.append("no plan written: TFLite-Micro's own plan is already as small")
        return lines


def offline_offsets(data: bytes, node_limit: int = DEFAULT_NODE_LIMIT) -> tuple[tuple[int, ...], bool, int]:
    """Offsets for every tensor of the model (ONLINE where TFLM places it) from the search, whether
    the search proved its placement optimal, and the size of that placement."""
    graphs = read_subgraphs(data)
    buffers, _ = head_buffers(data)
    greedy = place_head(data, None).buffers
    packing = pack([b.size for b in buffers], [b.first for b in buffers], [b.last for b in buffers],
                   initial=[b.offset for b in greedy], node_limit=node_limit)
    bases = tensor_base(graphs)
    offsets = [ONLINE] * (bases[-1] + len(graphs[-1].tensors))
    for buffer, offset in zip(buffers, packing.offsets):
        if buffer.tensor >= 0:
            offsets[bases[buffer.subgraph] + buffer.tensor] = offset
    # TFLM's AllocateVariables reads each subgraph's variables at their index within the subgraph
    # (micro_allocator.cc): an offset there would leave such a variable without memory.
    for graph in graphs:
        for tensor in graph.tensors:
            if tensor.variable:
                offsets[tensor.index] = ONLINE
    return tuple(offsets), packing.proven_optimal, packing.size


def plan_model(data: bytes, reorder: bool = True, replan: bool = False, node_limit: int = DEFAULT_NODE_LIMIT,
               state_limit: int = DEFAULT_STATE_LIMIT) -> ArenaPlan:
    """The model with an offline memory plan (and its operators reordered when that lowers the peak)."""
    data = parse_model(bytes(data)).data  # refuses what is not a readable .tflite model
    if not replan and read_offline_offsets(data) is not None:  # --replan also mends a plan it cannot read
        raise ModelError("the model already carries an offline memory plan (OfflineMemoryAllocation metadata)",
                         "plan the model it was made from, or re-plan it with --replan")
    greedy = place_head(data, None)
    graphs = read_subgraphs(data)
    identity = tuple(range(len(graphs[0].ops)))
    chosen = best_order(graphs[0], state_limit) if reorder and len(graphs) == 1 else None
    orders = [identity] + ([chosen.order] if chosen is not None and chosen.changed else [])
    best = None
    for order in orders:
        source = data if order == identity else rewrite_model(data, order)
        offsets, proven, packed = offline_offsets(source, node_limit)
        head = place_head(source, offsets)
        optimal = proven and head.size == packed  # TFLM places scratch and variable buffers around the plan
        if best is None or head.size < best[1].size:
            best = (order, head, source, offsets, optimal)
    order, head, source, offsets, optimal = best
    order_exact = chosen is not None and chosen.exact
    written = head.size < greedy.size
    if not written:
        return ArenaPlan(data, greedy.size, greedy.size, greedy.lower_bound, greedy.lower_bound, identity,
                         False, order_exact, False)
    return ArenaPlan(rewrite_model(source, offsets=offsets), greedy.size, head.size, head.lower_bound,
                     greedy.lower_bound, order, optimal, order_exact, True)


def plan_file(source: str | Path, destination: str | Path, reorder: bool = True, replan: bool = False) -> ArenaPlan:
    """``plan_model`` from one .tflite file to another (the same path rewrites it in place)."""
    planned = plan_model(read_model_bytes(source), reorder, replan)
    try:
        Path(destination).write_bytes(planned.data)
    except OSError as exc:
        raise ToolkitError(f"cannot write {destination}: {exc.strerror}", "give a writable path with -o") from None
    return planned
