"""The bench runner: make sure the board runs the model, stream inputs, collect and check outputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from toolkit.boards import get_board
from toolkit.errors import DeviceTimeout, ToolkitError
from toolkit.tensors import quantize as to_tensor
from toolkit.harness.modelled import simulated_figures
from toolkit.harness.power import PowerCapture, PowerPlan
from toolkit.power.errors import PowerError
from toolkit.harness.locate import locate
from toolkit.harness.profile import profile_ops
from toolkit.harness.session import DeviceReset, Session
from toolkit.harness.store import ResultsStore, RunBusy, StoreWriteError
from toolkit.model import model_work
from toolkit.model.reader import TFLiteModel
from toolkit.model.tflm import HostInterpreter

log = logging.getLogger(__name__)

REFERENCE_ARENA_BYTES = 16 * 1024 * 1024
MAX_RECOVERIES = 3  # faults in a row (without an inference completing between them) one run survives
Progress = Callable[[str, int, int], None]


class BenchInterrupted(ToolkitError):
    """A run stopped part-way; what was measured is in the store, as run ``run_id``."""

    def __init__(self, cause: ToolkitError, done: int, total: int, store: ResultsStore, run_id: int) -> None:
        kept = f"the {done} results so far are kept in {store.path} (run {run_id})"
        super().__init__(f"{cause.message} after {done} of {total} inferences",
                         f"{cause.hint}; {kept}" if cause.hint else kept)
        self.exit_code = cause.exit_code
        self.run_id = run_id


class BenchStopped(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run; it is marked interrupted in the store, what was measured kept.
    Still a KeyboardInterrupt, so a caller (pytest, a script) stops as it would."""

    exit_code = 130

    def __init__(self, done: int, total: int, store: ResultsStore, run_id: int) -> None:
        super().__init__(f"interrupted after {done} of {total} inferences")
        self.message = str(self)
        self.hint = f"the {done} results so far are kept in {store.path} (run {run_id})"
        self.run_id = run_id


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """A second Ctrl-C is ignored while an interrupted run is being marked in the store."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # only the main thread may set handlers; None: a handler Python cannot put back
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class BenchPlan:
    n: int
    warmup: int = 0
    labels: list[int] | None = None  # per sample, to report accuracy
    invoke_timeout_s: float | None = None  # default: the session's time-out plus 3x the plain-C estimate
    model_name: str | None = None  # recorded with the run
    label: str | None = None  # what the run is for (a HIL test's id), recorded with it
    profile: bool = False  # after the run, one more inference with every op timed (PROFILE)
    locate: bool = False  # outputs differed: find the first op that differs (toolkit.harness.locate)


def ensure_model(session: Session, model: TFLiteModel, progress: Progress | None = None) -> bool:
    """Upload ``model`` unless the board already runs it; return whether it was uploaded."""
    info = session.hello()
    if info.model_ready and info.model_sha256.hex() == model.sha256:
        return False
    if not info.accepts_upload:
        raise ToolkitError(f"the board runs model {info.model_sha256.hex()[:12]}, not {model.sha256[:12]}, "
                           "and its firmware takes no uploads", "flash the model first: espml flash --port URL MODEL")
    session.upload_model(model.data, (lambda done, total: progress("upload", done, total)) if progress else None)
    info = session.hello()
    if info.model_sha256.hex() != model.sha256:
        raise ToolkitError("the upload finished but the board does not run the new model",
                           "check the board's log output; its firmware may reject the model")
    return True


def run_bench(session: Session, model: TFLiteModel, samples: list[np.ndarray], plan: BenchPlan,
              store: ResultsStore, port_label: str, progress: Progress | None = None,
              resume: int | None = None, power: PowerPlan | None = None, loader=None) -> dict:
    """Run ``plan.n`` inferences (cycling through ``samples``) after ``plan.warmup`` and summarise them.

    ``resume``: a run id of the store to continue where it stopped (same model). A board that
    resets or loses an answer mid-run is greeted again, given its model again if it lost it, and
    the inference it was on is retried: its row is stored once, when it succeeds. ``power``: a meter
    on the board's supply runs through the measured inferences (after the warm-up, with an idle
    baseline first); its figures go into the summary's ``power`` and the store. ``loader``: how
    ``plan.locate`` puts probe models on the board (default: uploads over the protocol)."""
    if plan.n < 1 or not samples:
        raise ToolkitError("nothing to run: need --n of at least 1 and one input or more", "check --n and --inputs")
    uploaded = ensure_model(session, model, progress)
    info = session.info_cache
    tensors = [to_tensor(s, model.inputs[0]) for s in samples]
    reference = HostInterpreter(model.data, REFERENCE_ARENA_BYTES)
    out_tensor = model.outputs[0]
    inputs = inputs_sha256(tensors, plan.labels)
    if resume is None:
        run_id = store.start_run(port_label, info.board, f"{info.firmware_name} {info.firmware_version}",
                                 model.sha256, info.simulated, plan.model_name, plan.label, plan.n,
                                 inputs, plan_record(plan))
        rows: list[dict] = []
    else:
        run_id, rows = resume, _resumable(store, resume, model, info, inputs, plan)
        log.info("run %d resumes after %d of %d inferences", run_id, len(rows), plan.n)
    recoveries = failures = 0  # all recoveries; failures since the last inference that completed
    cycles_before = session.power_cycles
    first: DeviceTimeout | None = None  # the first fault of the current streak
    capture = PowerCapture(power, bool(info.simulated)) if power else None
    try:
        for i in range(plan.warmup):
            try:
                _infer(session, model, tensors[i % len(tensors)], plan.invoke_timeout_s)
            except DeviceTimeout as fault:  # silent from the start: a power switch may bring it back, once
                if isinstance(fault, DeviceReset) or not session.power_cycle():
                    raise
                log.warning("warm-up: %s; the board's power was cycled", fault.message)
                ensure_model(session, model)
                _infer(session, model, tensors[i % len(tensors)], plan.invoke_timeout_s)
            if progress:
                progress("warm-up", i + 1, plan.warmup)
        if capture:
            capture.begin()
        i = len(rows)
        while i < plan.n:
            sample = i % len(tensors)
            try:
                result, outputs, metrics = _infer(session, model, tensors[sample], plan.invoke_timeout_s,
                                                  capture.answered if capture else None)
            except DeviceTimeout as fault:  # a reset, or answers lost on the line
                failures += 1
                first = fault if failures == 1 else first
                if failures > MAX_RECOVERIES:
                    raise type(first)(f"{first.message}; {failures} times in a row", first.hint) from fault
                log.warning("inference %d: %s; trying again (%d of %d)", i, fault.message, failures, MAX_RECOVERIES)
                if not isinstance(fault, DeviceReset) and session.power_cycle():
                    log.warning("inference %d: the board was silent, so its power was cycled", i)
                    fault = DeviceReset(fault.message, fault.hint)  # it booted again: greet it, give it its model
                if isinstance(fault, DeviceReset):
                    try:
                        ensure_model(session, model)  # lost its model? it gets it again
                    except DeviceTimeout:
                        pass  # not back yet: the next attempt counts against the streak
                recoveries += 1
                continue
            failures = 0
            expected = reference.run([tensors[sample]], len(model.outputs))
            matches = all(np.array_equal(o, e) for o, e in zip(outputs, expected))
            row = {
                "idx": i, "sample": sample, "latency_us": result.latency_us, "cycles": result.cycles,
                "arena_used_bytes": metrics.arena_used_bytes, "heap_free_bytes": metrics.heap_free_bytes,
                "heap_free_min_bytes": metrics.heap_free_min_bytes,
                "current_mean_ma": _finite(metrics.current_mean_ma), "current_peak_ma": _finite(metrics.current_peak_ma),
                "output_matches": int(matches), "predicted": int(np.argmax(outputs[0])) if out_tensor.elements > 1 else None,
                "label": plan.labels[sample] if plan.labels else None,
                "host_predicted": int(np.argmax(expected[0])) if out_tensor.elements > 1 else None,
                "bus_voltage_v": _finite(metrics.bus_voltage_v),
                "stack_high_water_bytes": metrics.stack_high_water_bytes,
                "input_copy_us": result.input_copy_us,
            }
            store.add_inference(run_id, row)
            rows.append(row)
            i += 1
            if progress:
                progress("bench", i, plan.n)
    except RunBusy:
        raise  # the run is another process's: it is left as that process has it
    except (ToolkitError, KeyboardInterrupt) as exc:
        with _sigint_held():
            if capture:
                power.meter.stop()
            try:
                store.finish_run(run_id, "interrupted",
                                 summarize(rows, info, model, uploaded, run_id, store) if rows else None)
            except StoreWriteError as unwritable:  # the run stays 'running': --resume still finds it
                log.warning("%s", unwritable.message)
        if isinstance(exc, KeyboardInterrupt):
            raise BenchStopped(len(rows), plan.n, store, run_id) from exc
        raise BenchInterrupted(exc, len(rows), plan.n, store, run_id) from exc
    summary = summarize(rows, info, model, uploaded, run_id, store)
    summary["recoveries"] = recoveries
    summary["power_cycles"] = session.power_cycles - cycles_before  # a silent board's power cut and restored
    if capture:
        try:
            summary["power"] = capture.finish(rows)
        except PowerError as exc:
            store.finish_run(run_id, "done", summary)  # the inferences stand; only the energy is missing
            failure = type(exc)(exc.message, f"{exc.hint}; the {len(rows)} inferences are kept in {store.path} "
                                             f"(run {run_id})")
            raise failure from exc
        summary["simulated_figures"] = simulated_figures(summary)
        store.set_power(run_id, summary["power"], capture.details())
    if plan.profile:
        try:
            summary["profile"] = profile_ops(session, model, tensors[0],
                                             timeout=plan.invoke_timeout_s or invoke_timeout(session, model))
        except ToolkitError as exc:
            store.finish_run(run_id, "done", summary)  # the inferences stand; only the profile is missing
            failure = ToolkitError(f"profiling failed: {exc.message}",
                                   f"{exc.hint}; the {len(rows)} inferences are kept in {store.path} (run {run_id})")
            failure.exit_code = exc.exit_code
            raise failure from exc
        store.set_profile(run_id, summary["profile"]["ops"])
    if plan.locate and summary["mismatches"]:
        sample = next(r["sample"] for r in rows if not r["output_matches"])
        try:
            summary["locate"] = {"sample": sample, **locate(session, model, [tensors[sample]], loader,
                                                            plan.invoke_timeout_s, progress).to_json()}
        except ToolkitError as exc:
            store.finish_run(run_id, "done", summary)
            failure = ToolkitError(f"locating the differing op failed: {exc.message}",
                                   f"{exc.hint}; the {len(rows)} inferences are kept in {store.path} (run {run_id})")
            failure.exit_code = exc.exit_code
            raise failure from exc
    store.finish_run(run_id, "done", summary)
    return summary


def inputs_sha256(tensors: list[np.ndarray], labels: list[int] | None = None) -> str:
    """A hash of the inputs as the board gets them (dtype, shape, bytes) and of their labels."""
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(f"{tensor.dtype.str}{tensor.shape}".encode())
        digest.update(np.ascontiguousarray(tensor).tobytes())
    digest.update(repr(labels).encode())
    return digest.hexdigest()


def plan_record(plan: BenchPlan) -> dict:
    """What of a plan a resumed run must share with the run it goes on with."""
    return {"n": plan.n, "warmup": plan.warmup}


def _resumable(store: ResultsStore, run_id: int, model: TFLiteModel, info, inputs: str, plan: BenchPlan) -> list[dict]:
    """The stored rows of a run that can go on here: same board kind, firmware, model, inputs and
    plan, not finished, and no other process on it."""
    run = store.run(run_id)
    if not run:
        raise ToolkitError(f"no run {run_id} in {store.path}", "check the run id and --db")
    store.claim(run_id)
    run = store.run(run_id)  # as it is now that no one else writes it
    if run["status"] == "done":
        raise ToolkitError(f"run {run_id} is already complete", "start a new run without --resume")
    if bool(run["simulated"]) != bool(info.simulated):
        raise ToolkitError(f"run {run_id} was measured on a {'virtual' if run['simulated'] else 'real'} board",
                           "simulated and measured figures are never mixed: resume on the same kind of board")
    try:
        stored_plan = json.loads(run.get("plan") or "null")
    except (TypeError, ValueError):
        stored_plan = None
    stored_plan = stored_plan if isinstance(stored_plan, dict) else {}
    firmware = f"{info.firmware_name} {info.firmware_version}"
    here = plan_record(plan)
    differ = [f"{what} (the run's {_short(then)}, here {_short(now)})" for what, then, now in (
        ("board kind", run.get("board"), info.board), ("firmware", run.get("firmware"), firmware),
        ("model", run.get("model_sha256"), model.sha256), ("inputs", run.get("inputs_sha256"), inputs),
        *((f"--{key}", stored_plan.get(key), value) for key, value in here.items())) if then != now]
    if differ:
        raise ToolkitError(f"run {run_id} cannot go on here: it differs in {'; '.join(differ)}",
                           "resume with the board, firmware, model, inputs, --n and --warmup it was made with, "
                           "or start a new run")
    store.reopen_run(run_id)
    return store.inferences(run_id)


def _short(value: object) -> str:
    """A stored value for a message: hashes shortened, a missing one named."""
    if value is None:
        return "(not recorded)"
    text = str(value)
    return text[:12] if len(text) == 64 else text


def invoke_timeout(session: Session, model: TFLiteModel) -> float:
    """The session's time-out plus three times the estimated inference time on the board."""
    try:
        board = get_board(session.info_cache.board)
    except ToolkitError:
        return session.timeout + 10.0
    cycles = sum(board.op_cycles(work, esp_nn=False) for work in model_work(model))
    return session.timeout + 3 * cycles / (board.cpu_mhz * 1e6)


def _infer(session: Session, model: TFLiteModel, tensor: np.ndarray, timeout: float | None = None,
           on_answer: Callable[[int], None] | None = None):
    session.set_input(0, tensor.tobytes())
    result = session.invoke(timeout=timeout or invoke_timeout(session, model))
    if on_answer:
        on_answer(result.latency_us)  # the moment the answer came, for a meter without a marker
    outputs = [np.frombuffer(session.get_output(i, t.nbytes), dtype=t.numpy_dtype).reshape(t.shape)
               for i, t in enumerate(model.outputs)]
    return result, outputs, session.metrics()


def _finite(value: float) -> float | None:
    """A figure, or None for NaN (no sensor) and for infinities (a board's nonsense)."""
    return None if value is None or not math.isfinite(value) else float(value)


def summarize(rows: list[dict], info, model: TFLiteModel, uploaded: bool, run_id: int, store: ResultsStore) -> dict:
    latencies = np.array([r["latency_us"] for r in rows], dtype=np.float64)
    means = [r["current_mean_ma"] for r in rows if r["current_mean_ma"] is not None]
    peaks = [r["current_peak_ma"] for r in rows if r["current_peak_ma"] is not None]
    volts = next((r["bus_voltage_v"] for r in rows if r["bus_voltage_v"]), None)
    current = {"mean": float(np.mean(means)), "peak": float(np.max(peaks))} if means else None
    energy = None
    if means and volts:
        # mA x V = mW; mW x us = nJ; / 1000 = uJ. Per inference, from each inference's own figures.
        energy = float(np.mean([r["current_mean_ma"] * volts * r["latency_us"] / 1000 for r in rows
                                if r["current_mean_ma"] is not None]))
    labelled = [r for r in rows if r["label"] is not None and r["predicted"] is not None]
    summary = {
        "n": len(rows),
        "latency_us": {
            "median": float(np.median(latencies)), "p90": float(np.percentile(latencies, 90)),
            "min": float(latencies.min()), "max": float(latencies.max()),
        },
        "cycles_median": float(np.median([r["cycles"] for r in rows])),
        "arena_used_bytes": int(max(r["arena_used_bytes"] for r in rows)),
        "heap_free_min_bytes": int(min(r["heap_free_min_bytes"] for r in rows)),
        "stack_high_water_bytes": int(min(r["stack_high_water_bytes"] for r in rows)),
        "current_ma": current,
        "energy_uj_per_inference": energy,
        "outputs_match_reference": all(r["output_matches"] for r in rows),
        "mismatches": sum(1 for r in rows if not r["output_matches"]),
        "simulated": bool(info.simulated),
        "board": info.board,
        "firmware": f"{info.firmware_name} {info.firmware_version}",
        "model_sha256": model.sha256,
        "model_uploaded": uploaded,
        "run_id": run_id,
        "results_store": str(store.path),
    }
    copies = [r["input_copy_us"] for r in rows if r.get("input_copy_us") is not None]
    if copies:  # a MicroPython board: its loop copying the inputs into microlite, beside Invoke()
        summary["input_copy_us"] = {"median": float(np.median(copies)), "p90": float(np.percentile(copies, 90)),
                                    "simulated": bool(info.simulated)}
    if labelled:
        summary["accuracy"] = sum(r["predicted"] == r["label"] for r in labelled) / len(labelled)
        summary["host_accuracy"] = sum(r["host_predicted"] == r["label"] for r in labelled) / len(labelled)
    summary["simulated_figures"] = simulated_figures(summary)  # exactly the modelled ones (toolkit.harness.modelled)
    return summary
