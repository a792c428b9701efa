"""Which operator makes a board's outputs differ from the host's TFLite-Micro.

A *cut* after operator i is the set of activation tensors alive once op i has run
(``toolkit.model.probe.live_after``): everything after op i is computed from them and the
weights. The board and the host agree at the cut before op 0 (the same input) and differ at the
cut after the last op (the outputs): so there is an op whose inputs agree and whose output
differs. A bisection over the execution order finds one: each step uploads a probe model (the
model with the tensors of some cuts as graph outputs) into the board's inactive slot, runs
the failing input on the board and on the host, and keeps the part between the last cut that
agrees and the first that differs. A probe runs the model's ops up to its last cut (the tensors
alive at its cuts are its outputs), with no offline memory plan. A probe exposes as many cuts as fit the board's slot and
arena (all of them for small models: one upload), halving until one fits; a probe that cannot
fit even one cut is reported, never uploaded. The model in charge goes back on the board at
the end, also when locating fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from toolkit.boards import get_board
from toolkit.errors import DeviceError, ToolkitError
from toolkit.harness.session import Session
from toolkit.image.model_image import image_size
from toolkit.model.arena import plan_head
from toolkit.model.probe import live_after, probe_at
from toolkit.model.reader import TFLiteModel, parse_model
from toolkit.model.tail import plan_tail
from toolkit.model.tflm import HostInterpreter

log = logging.getLogger(__name__)

REFERENCE_ARENA_BYTES = 16 * 1024 * 1024
Progress = Callable[[str, int, int], None]


class LocateError(ToolkitError):
    """Locating stopped; the message says whether the board has its model back."""


class ProbeDoesNotFit(LocateError):
    """Even a probe exposing a single cut is too large for the board's slot or arena."""


class ModelLoader(Protocol):
    """How a model gets onto a board, and the limits a model must meet to get there."""

    def install(self, session: Session, model: TFLiteModel, progress: Progress | None = None) -> None: ...

    def why_unfit(self, session: Session, model: TFLiteModel) -> str | None: ...


class ProtocolLoader:
    """espml firmware: the model goes into the inactive slot over the protocol (MODEL_BEGIN/DATA/END)."""

    def install(self, session: Session, model: TFLiteModel, progress: Progress | None = None) -> None:
        from toolkit.harness.bench import ensure_model

        try:
            ensure_model(session, model, progress)
        except DeviceError as exc:
            if exc.name in ("MODEL_TOO_LARGE", "ARENA_TOO_SMALL"):
                raise ProbeDoesNotFit(f"the board refused the probe model: {exc.message}", exc.hint) from exc
            raise

    def why_unfit(self, session: Session, model: TFLiteModel) -> str | None:
        info = session.info_cache or session.hello()
        need = plan_head(model).size + plan_tail(model, 4)
        if info.arena_size and need > info.arena_size:
            return f"needs about {need:,} B of tensor arena, the firmware has {info.arena_size:,} B"
        try:
            slot = get_board(info.board).model_slot_bytes
        except ToolkitError:
            return None  # a board this toolkit does not know: the firmware says so at MODEL_BEGIN
        if image_size(model.size) > slot:
            return f"its image is {image_size(model.size):,} B, a model slot holds {slot:,} B"
        return None


@dataclass(frozen=True)
class TensorDiff:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    elements: int
    differing: int  # values that differ between board and host
    max_abs_diff: float  # largest difference, in the tensor's stored units (int8 steps for int8)
    first_differing: int | None  # flat index of the first differing value


@dataclass(frozen=True)
class OpFinding:
    index: int
    kind: str
    inputs: list[dict]  # per input tensor: index, name, and "agrees" / "constant" / "omitted"
    outputs: list[TensorDiff]


@dataclass
class LocateReport:
    op: OpFinding  # the first operator whose inputs agree and whose output differs
    neighbours: list[dict]  # the ops before and after it: index, kind, outputs_differ (None: not compared)
    ops: int  # operators in the main subgraph
    probe_uploads: int
    restore_uploads: int
    probes: list[dict] = field(default_factory=list)  # per probe: cuts (op indices), extra outputs, bytes

    def to_json(self) -> dict:
        return asdict(self)


def compare(board: np.ndarray, host: np.ndarray, tensor) -> TensorDiff:
    """How ``board`` differs from ``host`` for one tensor."""
    b = np.asarray(board).reshape(-1).astype(np.float64)
    h = np.asarray(host).reshape(-1).astype(np.float64)
    differs = ~((b == h) | (np.isnan(b) & np.isnan(h)))
    gaps = np.abs(b - h)[differs]
    where = np.flatnonzero(differs)
    return TensorDiff(tensor.index, tensor.name, tuple(tensor.shape), tensor.dtype, int(b.size), int(differs.sum()),
                      float(np.nanmax(gaps)) if gaps.size and not np.isnan(gaps).all() else 0.0,
                      int(where[0]) if where.size else None)


def _spread(candidates: list[int], k: int) -> list[int]:
    """``k`` of ``candidates``, evenly spaced (k=1: the middle one)."""
    m = len(candidates)
    return sorted({candidates[(j + 1) * (m + 1) // (k + 1) - 1] for j in range(k)})


def _run_board(session: Session, model: TFLiteModel, inputs: list[np.ndarray], timeout: float | None) -> list[np.ndarray]:
    from toolkit.harness.bench import invoke_timeout

    for i, array in enumerate(inputs):
        session.set_input(i, array.tobytes())
    session.invoke(timeout=timeout or invoke_timeout(session, model))
    return [np.frombuffer(session.get_output(i, t.nbytes), dtype=t.numpy_dtype).reshape(t.shape)
            for i, t in enumerate(model.outputs)]


def _run_both(session: Session, model: TFLiteModel, inputs: list[np.ndarray], timeout: float | None,
              tensors) -> dict[int, TensorDiff]:
    """Board and host on ``model``; its outputs are ``tensors`` of the model being searched."""
    board = _run_board(session, model, inputs, timeout)
    host = HostInterpreter(model.data, REFERENCE_ARENA_BYTES).run(inputs, len(model.outputs))
    return {t.index: compare(b, h, t) for t, b, h in zip(tensors, board, host)}


class _Search:
    """One bisection: the probes it built, what they showed, the uploads it made."""

    def __init__(self, session: Session, model: TFLiteModel, inputs: list[np.ndarray], loader: ModelLoader,
                 timeout: float | None, progress: Progress | None) -> None:
        self.session, self.model, self.inputs, self.loader = session, model, inputs, loader
        self.timeout, self.progress = timeout, progress
        self.cuts = live_after(model)
        self.graph_inputs = {t.index for t in model.inputs}
        self.seen: dict[int, TensorDiff] = {}
        self.uploads = 0
        self.probes: list[dict] = []

    def agrees(self, cut: int) -> bool:
        return all(t in self.graph_inputs or self.seen[t].differing == 0 for t in self.cuts[cut])

    def _probe(self, candidates: list[int]) -> tuple[list[int], TFLiteModel, tuple[int, ...]]:
        """The probe exposing the most evenly spread cuts that fits the board."""
        k, why = len(candidates), None
        while k >= 1:
            chosen = _spread(candidates, k)
            data, exposed = probe_at(self.model, chosen)
            probe = parse_model(data, "probe model")
            why = self.loader.why_unfit(self.session, probe)
            if why is None:
                return chosen, probe, exposed
            log.info("a probe of %d cuts does not fit (%s); trying %d", k, why, k // 2)
            k //= 2
        raise ProbeDoesNotFit(f"a probe model exposing the tensors after op {chosen[0]} does not fit the board: {why}",
                              "locate on a board with a larger arena or model slot (vdev: arena_bytes=N, slot_bytes=N)")

    def step(self, lo: int, hi: int) -> tuple[int, int]:
        """Narrow (lo agrees, hi differs) with one probe."""
        chosen, probe, exposed = self._probe(list(range(lo + 1, hi)))
        self.loader.install(self.session, probe,
                            (lambda s, d, t: self.progress("probe upload", d, t)) if self.progress else None)
        self.uploads += 1
        self.seen.update(_run_both(self.session, probe, self.inputs, self.timeout,
                                   [self.model.tensors[t] for t in exposed]))
        self.probes.append({"cuts": chosen, "ops": len(probe.ops), "outputs": len(probe.outputs), "bytes": probe.size})
        for cut in chosen:
            if not self.agrees(cut):
                return lo, cut
            lo = cut
        return lo, hi

    def finding(self, n: int) -> tuple[OpFinding, list[dict]]:
        op = self.model.ops[n]
        inputs = []
        for t in op.inputs:
            if t < 0:
                inputs.append({"index": t, "name": "", "state": "omitted"})
                continue
            tensor = self.model.tensors[t]
            state = "constant" if tensor.is_constant else "agrees"
            inputs.append({"index": t, "name": tensor.name, "state": state})
        outputs = [self.seen[t] for t in op.outputs if t in self.seen]
        neighbours = []
        for i in (n - 1, n + 1):
            if 0 <= i < len(self.model.ops):
                compared = [self.seen[t] for t in self.model.ops[i].outputs if t in self.seen]
                neighbours.append({"index": i, "kind": self.model.ops[i].kind,
                                   "outputs_differ": any(d.differing for d in compared) if compared else None})
        return OpFinding(n, op.kind, inputs, outputs), neighbours


def locate(session: Session, model: TFLiteModel, inputs: list[np.ndarray], loader: ModelLoader | None = None,
           timeout: float | None = None, progress: Progress | None = None) -> LocateReport:
    """The first operator of ``model`` whose output differs between the board and the host on
    ``inputs`` (one array per model input, in the model's types). The board must be running
    ``model`` (``ensure_model``); it runs it again afterwards."""
    loader = loader or ProtocolLoader()
    search = _Search(session, model, inputs, loader, timeout, progress)
    search.seen.update(_run_both(session, model, inputs, timeout, model.outputs))
    if not model.ops or search.agrees(len(model.ops) - 1):
        raise LocateError("the board and the host agree on this input: there is no difference to locate",
                          "give an input on which 'espml bench' reports differing outputs")
    restored, failure = 0, None
    try:
        lo, hi = -1, len(model.ops) - 1
        while hi - lo > 1:
            lo, hi = search.step(lo, hi)
            log.info("the first difference lies after op %d, at op %d or before", lo, hi)
        finding, neighbours = search.finding(hi)
    except ToolkitError as exc:
        failure = exc
        raise
    finally:
        if search.uploads:
            try:
                loader.install(session, model)
                restored = 1
            except ToolkitError as exc:
                lost = LocateError(f"{failure.message + '; then ' if failure else ''}the board could not be given its "
                                   f"model back: {exc.message}", "put it back with: espml flash --port URL MODEL")
                raise lost from exc
    return LocateReport(finding, neighbours, len(model.ops), search.uploads, restored, search.probes)
