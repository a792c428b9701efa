"""The TFLite-Micro interpreter on the host: reference outputs and recorded arena figures."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from toolkit.errors import ModelError
from toolkit.model import tflm_worker

# The tflite-micro package's interpreter is not safe to build or run from two threads at once
# (seen here as a segfault): every call into it holds this lock.
_TFLM_LOCK = threading.RLock()
_ALLOCATION = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


@dataclass(frozen=True)
class ArenaRecord:
    total: int
    head: int
    tail: int


class ArenaTooSmall(ModelError):
    """TFLM could not allocate the model's tensors in the given arena."""


# TFLM can crash the process (not just fail) for some too-small arenas, so nothing below the
# planner's estimate is handed to it in this process; near the estimate a child process probes.
ESTIMATE_MARGIN = 0.02


def host_arena_estimate(model_bytes: bytes) -> int:
    """Arena bytes TFLM needs on this 64-bit host, from the planner (head exact, tail within 1%)."""
    from toolkit.model.arena import plan_head
    from toolkit.model.reader import parse_model
    from toolkit.model.tail import plan_tail

    model = parse_model(bytes(model_bytes))
    return plan_head(model).size + plan_tail(model, pointer_size=8)


def check_arena(model_bytes: bytes, arena_size: int) -> None:
    """Raise ArenaTooSmall, without risking this process, when TFLM cannot fit the model."""
    need = host_arena_estimate(model_bytes)
    if arena_size >= need * (1 + ESTIMATE_MARGIN):
        return
    if arena_size < need * (1 - ESTIMATE_MARGIN) or not tflm_worker.allocates(bytes(model_bytes), arena_size):
        raise ArenaTooSmall(f"tensor arena of {arena_size} bytes is too small for this model (needs about {need})",
                            "use a board with a larger arena or a smaller model")


@lru_cache(maxsize=64)
def recorded_arena(model_bytes: bytes, arena_size: int) -> ArenaRecord:
    """What TFLM's recording allocator reports, read in the child process (``tflm_worker``)."""
    text = tflm_worker.allocation_printout(bytes(model_bytes), arena_size)
    found = {kind: int(value) for kind, value in _ALLOCATION.findall(text or "")}
    if text is None or "total" not in found:
        raise ModelError("TFLite-Micro could not record the model's arena", "check the model with 'espml inspect'")
    return ArenaRecord(found["total"], found.get("head", 0), found.get("tail", 0))


class HostInterpreter:
    """One model in the host TFLM interpreter, with allocation recording on."""

    def __init__(self, model_bytes: bytes, arena_size: int) -> None:
        from tflite_micro import runtime

        self.arena_size = arena_size
        check_arena(model_bytes, arena_size)
        self._model_bytes = bytes(model_bytes)
        try:
            with _TFLM_LOCK:
                self._interp = runtime.Interpreter.from_bytes(self._model_bytes, arena_size=arena_size)
        except RuntimeError as exc:
            if "allocate" in str(exc):
                raise ArenaTooSmall(f"tensor arena of {arena_size} bytes is too small for this model",
                                    "use a board with a larger arena or a smaller model") from None
            raise ModelError(f"TFLite-Micro cannot load the model: {exc}",
                             "check that every op is one TFLite-Micro supports") from None

    @property
    def arena(self) -> ArenaRecord:
        """The arena TFLM's recording allocator reports for this model and arena size."""
        return recorded_arena(self._model_bytes, self.arena_size)

    def run(self, inputs: list[np.ndarray], output_count: int = 1) -> list[np.ndarray]:
        with _TFLM_LOCK:
            for i, array in enumerate(inputs):
                self._interp.set_input(array, i)
            self._interp.invoke()
            return [np.array(self._interp.get_output(i), copy=True) for i in range(output_count)]
