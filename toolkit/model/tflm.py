"""The TFLite-Micro interpreter on the host: reference outputs and recorded arena figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

from toolkit.errors import ModelError

# The tflite-micro package's interpreter is not safe to build or run from two threads at once
# (seen here as a segfault): every call into it holds this lock. It also guards the fd 2 capture.
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
_PROBE = (
    "import sys\n"
    "from tflite_micro import runtime\n"
    "runtime.Interpreter.from_bytes(sys.stdin.buffer.read(), arena_size=int(sys.argv[1]))\n"
)


def host_arena_estimate(model_bytes: bytes) -> int:
    """Arena bytes TFLM needs on this 64-bit host, from the planner (head exact, tail within 1%)."""
    from toolkit.model.arena import plan_head
    from toolkit.model.reader import parse_model
    from toolkit.model.tail import plan_tail

    model = parse_model(bytes(model_bytes))
    return plan_head(model).size + plan_tail(model, pointer_size=8)


def _allocates_in_child(model_bytes: bytes, arena_size: int) -> bool:
    result = subprocess.run([sys.executable, "-c", _PROBE, str(arena_size)], input=bytes(model_bytes),
                            capture_output=True, timeout=120)
    return result.returncode == 0


def check_arena(model_bytes: bytes, arena_size: int) -> None:
    """Raise ArenaTooSmall, without risking this process, when TFLM cannot fit the model."""
    need = host_arena_estimate(model_bytes)
    if arena_size >= need * (1 + ESTIMATE_MARGIN):
        return
    if arena_size < need * (1 - ESTIMATE_MARGIN) or not _allocates_in_child(model_bytes, arena_size):
        raise ArenaTooSmall(f"tensor arena of {arena_size} bytes is too small for this model (needs about {need})",
                            "use a board with a larger arena or a smaller model")


class HostInterpreter:
    """One model in the host TFLM interpreter, with allocation recording on."""

    def __init__(self, model_bytes: bytes, arena_size: int) -> None:
        from tflite_micro import runtime

        self.arena_size = arena_size
        check_arena(model_bytes, arena_size)
        try:
            with _TFLM_LOCK:
                self._interp = runtime.Interpreter.from_bytes(
                    bytes(model_bytes),
                    arena_size=arena_size,
                    intrepreter_config=runtime.InterpreterConfig.kAllocationRecording,
                )
        except RuntimeError as exc:
            if "allocate" in str(exc):
                raise ArenaTooSmall(f"tensor arena of {arena_size} bytes is too small for this model",
                                    "use a board with a larger arena or a smaller model") from None
            raise ModelError(f"TFLite-Micro cannot load the model: {exc}",
                             "check that every op is one TFLite-Micro supports") from None
        self.arena = self._record_arena()

    def _record_arena(self) -> ArenaRecord:
        with _TFLM_LOCK, tempfile.TemporaryFile() as capture:
            saved = os.dup(2)
            os.dup2(capture.fileno(), 2)
            try:
                self._interp.print_allocations()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
        found = {kind: int(value) for kind, value in _ALLOCATION.findall(text)}
        return ArenaRecord(found.get("total", 0), found.get("head", 0), found.get("tail", 0))

    def run(self, inputs: list[np.ndarray], output_count: int = 1) -> list[np.ndarray]:
        with _TFLM_LOCK:
            for i, array in enumerate(inputs):
                self._interp.set_input(array, i)
            self._interp.invoke()
            return [np.array(self._interp.get_output(i), copy=True) for i in range(output_count)]
