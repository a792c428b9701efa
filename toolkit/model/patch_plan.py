"""``espml plan --patch``: below the layer-wise lower bound by running the first stage in bands.

Every split point of the bandable stage (``bands.find_stage``) and every band count within the
MAC budget (halo rows are computed by both neighbouring bands) is rewritten (``patch.band_rewrite``)
and scored by the whole arena it would need on the board: its most bytes alive at once (slices
and band outputs sharing their tensors' bytes) plus TFLM's persistent structures for 32-bit
pointers, which grow with every band's operators (their nodes, tensors and per-channel
quantisation data). The best few are planned offline (``band_layout``), the smallest kept. The
result is kept only when the host TFLite-Micro records a smaller whole arena (head and tail) for
it than for the unpatched model's own offline plan, and gives identical outputs on the inputs
given and on random and extreme inputs; otherwise ModelError says why and the model is left alone.

    from toolkit.model.patch_plan import patch_model
    patched = patch_model(model_bytes)     # patched.data: the model to deploy; patched.to_json(): figures
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.errors import ModelError, ToolkitError
from toolkit.model.arena import plan_head
from toolkit.model.band_layout import band_view_offsets, view_lower_bound
from toolkit.model.bands import Layer, band_macs, find_stage, split_rows
from toolkit.model.offline_plan import plan_model
from toolkit.model.patch import MAX_BANDS, band_rewrite
from toolkit.model.plan_metadata import read_offline_offsets
from toolkit.model.reader import load_model, parse_model, read_model_bytes
from toolkit.model.rewrite import rewrite_model, unpack_model
from toolkit.model.tail import plan_tail
from toolkit.model.work import op_work, total_macs

DEFAULT_MAX_EXTRA_MACS_PCT = 15.0
PLANNED_CANDIDATES = 3  # the candidates with the least bytes alive that are planned offline
RECORDING_ARENA = 4 * 1024 * 1024
BOARD_POINTER_SIZE = 4  # the ESP32-S3: every band's operators add TFLM structures to the arena's tail
RANDOM_INPUTS = 4
HINT = "plan it without --patch (espml plan)"
OBJECTIVES = ("arena", "head")


@dataclass(frozen=True)
class Candidate:
    depth: int  # stage operators banded
    bands: int
    data: bytes
    arena_bound: int  # most bytes alive at once (views sharing bytes) + TFLM's persistent tail on the board
    extra_macs: int


@dataclass(frozen=True)
class PatchPlan:
    data: bytes  # the patched model with its offline plan
    lower_bound_bytes: int  # the original's layer-wise lower bound (most bytes alive, whole tensors)
    plain_head_bytes: int  # the head of the original's own offline plan (espml plan), host TFLM
    patched_head_bytes: int  # the head of ``data``, host TFLM
    plain_total_bytes: int  # head + tail, host TFLM (64-bit pointers)
    patched_total_bytes: int
    plain_board_bytes: int  # head + tail on the ESP32-S3 (32-bit tail estimate)
    patched_board_bytes: int
    stage_ops: tuple[int, ...]  # original operator indices run in bands
    bands: int
    macs: int
    extra_macs: int
    outputs_identical: bool
    checked_inputs: int

    @property
    def ratio(self) -> float:
        return self.patched_head_bytes / self.lower_bound_bytes

    @property
    def extra_macs_pct(self) -> float:
        return 100.0 * self.extra_macs / self.macs if self.macs else 0.0

    def to_json(self) -> dict:
        return {"lower_bound_bytes": self.lower_bound_bytes, "plain_head_bytes": self.plain_head_bytes,
                "patched_arena_bytes": self.patched_head_bytes, "ratio": round(self.ratio, 4),
                "plain_total_bytes": self.plain_total_bytes, "patched_total_bytes": self.patched_total_bytes,
                "plain_board_arena_bytes": self.plain_board_bytes,
                "patched_board_arena_bytes": self.patched_board_bytes,
                "stage_ops": list(self.stage_ops), "bands": self.bands, "macs": self.macs,
                "extra_macs": self.extra_macs, "extra_macs_pct": round(self.extra_macs_pct, 2),
                "outputs_identical": self.outputs_identical, "checked_inputs": self.checked_inputs}

    def summary_lines(self) -> list[str]:
        return [f"patched: operators {self.stage_ops[0]}-{self.stage_ops[-1]} run in {self.bands} bands; arena head "
                f"{self.patched_head_bytes:,} B against the layer-wise lower bound {self.lower_bound_bytes:,} B "
                f"({self.ratio:.2f}x; espml plan alone {self.plain_head_bytes:,} B), {self.extra_macs_pct:.1f}% more "
                f"MACs (halo rows computed twice), outputs identical on {self.checked_inputs} inputs",
                f"whole arena with TFLM's persistent structures (more operators, more of them): "
                f"{self.plain_board_bytes:,} -> {self.patched_board_bytes:,} B on the ESP32-S3 (32-bit estimate), "
                f"{self.plain_total_bytes:,} -> {self.patched_total_bytes:,} B recorded on this 64-bit host"]


def _candidates(data: bytes, layers: tuple[Layer, ...], max_extra: int, objective: str) -> list[Candidate]:
    model = parse_model(data)
    layer_macs = tuple(op_work(model, model.ops[layer.op]).macs for layer in layers)
    unpacked = unpack_model(data)
    found = []
    for depth in range(1, len(layers) + 1):
        stage, macs = layers[:depth], layer_macs[:depth]
        for bands in range(2, min(MAX_BANDS, stage[-1].out_shape[0]) + 1):
            extra = band_macs(stage, macs, split_rows(stage[-1].out_shape[0], bands)) - sum(macs)
            if extra > max_extra:
                break  # more bands, more halo rows
            patched = band_rewrite(data, stage, bands, unpacked, slices_first=True)
            arena = view_lower_bound(patched) + _tail(parse_model(patched), objective)
            found.append(Candidate(depth, bands, patched, arena, extra))
    return sorted(found, key=lambda c: (c.arena_bound, c.extra_macs))


def _tail(model, objective: str) -> int:
    """The tail the objective counts: TFLM's persistent structures on the board, or none ("head")."""
    return plan_tail(model, BOARD_POINTER_SIZE) if objective == "arena" else 0


def _planned(data: bytes, candidate: Candidate, layers: tuple[Layer, ...]) -> bytes:
    """The candidate with its offline plan: slices and band outputs as views (``band_layout``),
    or, when its views are not aligned, every band's slice cut just before it, planned as usual."""
    offsets = band_view_offsets(candidate.data)
    if offsets is not None:
        return rewrite_model(candidate.data, offsets=offsets)
    return plan_model(band_rewrite(data, layers[:candidate.depth], candidate.bands), reorder=False).data


def search(data: bytes, max_extra_macs_pct: float = DEFAULT_MAX_EXTRA_MACS_PCT,
           objective: str = "arena") -> tuple[Candidate, bytes, int]:
    """The best candidate for the objective ("arena": the whole arena on the board, head by this
    host's replica of TFLM's planner and tail for 32-bit pointers; "head": the head alone), its
    planned bytes and that figure; ModelError when nothing can be banded."""
    if objective not in OBJECTIVES:
        raise ModelError(f"unknown patch objective {objective!r}", f"use one of {', '.join(OBJECTIVES)}")
    model = parse_model(data)
    if read_offline_offsets(data) is not None:
        raise ModelError("the model already carries an offline memory plan, which banding would invalidate",
                         "patch the model it was planned from")
    stage = find_stage(model)
    if not stage.layers:
        raise ModelError(f"cannot patch this model: {stage.stop}", HINT)
    found = _candidates(data, stage.layers, int(total_macs(model) * max_extra_macs_pct / 100), objective)
    if not found:
        raise ModelError(f"cannot patch this model within {max_extra_macs_pct:g}% more MACs "
                         f"(its bandable stage ends where {stage.stop})", "allow more with --max-extra-macs")
    best = None
    for candidate in found[:PLANNED_CANDIDATES]:
        planned = parse_model(_planned(data, candidate, stage.layers))
        arena = plan_head(planned).size + _tail(planned, objective)
        if best is None or arena < best[2]:
            best = (candidate, planned.data, arena)
    return best


@dataclass(frozen=True)
class PatchEstimate:
    """What ``espml plan --patch`` would make of a model, from this host's replica of TFLM's planner
    alone (``inspect --plan``; ``patch_model`` checks it in TFLM)."""

    lower_bound_bytes: int  # layer-wise, whole tensors, best operator order
    head_bytes: int = 0  # the banded model's planned head
    board_arena_bytes: int = 0  # its head + tail on the ESP32-S3
    plain_board_arena_bytes: int = 0  # espml plan's head + tail on the ESP32-S3
    stage_ops: tuple[int, ...] = ()
    bands: int = 0
    extra_macs_pct: float = 0.0
    refused: str = ""  # why it cannot patch the model

    def to_json(self) -> dict:
        if self.refused:
            return {"lower_bound_bytes": self.lower_bound_bytes, "refused": self.refused}
        return {"lower_bound_bytes": self.lower_bound_bytes, "patched_arena_bytes": self.head_bytes,
                "ratio": round(self.head_bytes / self.lower_bound_bytes, 4),
                "patched_board_arena_bytes": self.board_arena_bytes,
                "plain_board_arena_bytes": self.plain_board_arena_bytes, "stage_ops": list(self.stage_ops),
                "bands": self.bands, "extra_macs_pct": round(self.extra_macs_pct, 2)}

    def summary_lines(self) -> list[str]:
        if self.refused:
            return [f"espml plan --patch: {self.refused}"]
        return [f"espml plan --patch: operators {self.stage_ops[0]}-{self.stage_ops[-1]} in {self.bands} bands, "
                f"arena head {self.head_bytes:,} B against the layer-wise lower bound {self.lower_bound_bytes:,} B "
                f"({self.head_bytes / self.lower_bound_bytes:.2f}x), whole arena on the board "
                f"{self.plain_board_arena_bytes:,} -> {self.board_arena_bytes:,} B, "
                f"{self.extra_macs_pct:.1f}% more MACs "
                "(estimate: --patch checks it in TFLite-Micro)"]


def estimate_patch(data: bytes, plain) -> PatchEstimate:
    """``search`` for inspect: the planned figures of the best banding, or why there is none
    (``plain``: the model's ``plan_model``)."""
    model = parse_model(data)
    plain_board = plain.planned_head_bytes + plan_tail(parse_model(plain.data), BOARD_POINTER_SIZE)
    try:
        candidate, patched, board = search(data)
    except ModelError as exc:
        return PatchEstimate(plain.lower_bound_bytes, refused=exc.message)
    if board >= plain_board:
        return PatchEstimate(plain.lower_bound_bytes, refused=f"banding needs no less arena ({board:,} B) than "
                                                              f"espml plan alone ({plain_board:,} B)")
    stage = find_stage(model).layers[:candidate.depth]
    return PatchEstimate(plain.lower_bound_bytes, plan_head(parse_model(patched)).size, board, plain_board,
                         tuple(layer.op for layer in stage), candidate.bands,
                         100.0 * candidate.extra_macs / max(1, total_macs(model)))


def check_inputs(data: bytes, given: list[list[np.ndarray]] | None = None, seed: int = 0) -> list[list[np.ndarray]]:
    """The inputs given, then random int8 inputs and the two extremes (all -128, all 127)."""
    shape = load_model(data).inputs[0].shape
    rng = np.random.default_rng(seed)
    sets = list(given or [])
    sets += [[rng.integers(-128, 128, shape, dtype=np.int8)] for _ in range(RANDOM_INPUTS)]
    return sets + [[np.full(shape, -128, np.int8)], [np.full(shape, 127, np.int8)]]


def _outputs(data: bytes, input_sets: list[list[np.ndarray]]) -> list[np.ndarray]:
    from toolkit.model.tflm import HostInterpreter

    count = len(load_model(data).outputs)
    interpreter = HostInterpreter(data, RECORDING_ARENA)
    return [out for inputs in input_sets for out in interpreter.run(inputs, count)]


def patch_model(data: bytes, inputs: list[list[np.ndarray]] | None = None,
                max_extra_macs_pct: float = DEFAULT_MAX_EXTRA_MACS_PCT, objective: str = "arena") -> PatchPlan:
    """The model with its first stage in bands and an offline plan, checked in the host TFLM;
    ModelError (the model left alone) when the recorded figure the objective minimises (the
    whole arena, or the head) is not smaller, or the outputs are not identical."""
    from toolkit.model.tflm import recorded_arena

    data = parse_model(bytes(data)).data
    candidate, patched, _ = search(data, max_extra_macs_pct, objective)
    plain = plan_model(data, replan=True)
    plain_record = recorded_arena(plain.data, RECORDING_ARENA)
    patched_record = recorded_arena(patched, RECORDING_ARENA)
    sets = check_inputs(data, inputs)
    identical = all(np.array_equal(a, b) for a, b in zip(_outputs(data, sets), _outputs(patched, sets)))
    if not identical:
        raise ModelError("the banded model's outputs differ from the original's in TFLite-Micro: no patch written",
                         HINT)
    field = "total" if objective == "arena" else "head"
    if getattr(patched_record, field) >= getattr(plain_record, field):
        raise ModelError(f"banding needs no less arena {field} ({getattr(patched_record, field):,} B) than "
                         f"espml plan alone ({getattr(plain_record, field):,} B): no patch written", HINT)
    plain_board = plain.planned_head_bytes + plan_tail(parse_model(plain.data), BOARD_POINTER_SIZE)
    board = plan_head(parse_model(patched)).size + plan_tail(parse_model(patched), BOARD_POINTER_SIZE)
    stage = find_stage(parse_model(data)).layers[:candidate.depth]
    return PatchPlan(patched, plain.lower_bound_bytes, plain_record.head, patched_record.head, plain_record.total,
                     patched_record.total, plain_board, board, tuple(layer.op for layer in stage), candidate.bands,
                     total_macs(parse_model(data)), candidate.extra_macs, identical, len(sets))


def patch_file(source: str | Path, destination: str | Path, max_extra_macs_pct: float = DEFAULT_MAX_EXTRA_MACS_PCT,
               objective: str = "arena", inputs: list[list[np.ndarray]] | None = None) -> PatchPlan:
    """``patch_model`` from one .tflite file to another; nothing is written when it refuses."""
    patched = patch_model(read_model_bytes(source), inputs, max_extra_macs_pct, objective)
    try:
        Path(destination).write_bytes(patched.data)
    except OSError as exc:
        raise ToolkitError(f"cannot write {destination}: {exc.strerror}", "give a writable path with -o") from None
    return patched
