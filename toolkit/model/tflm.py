"""The TFLite-Micro interpreter on the host: reference outputs and recorded arena figures."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

from toolkit.errors import ModelError

_STDERR_LOCK = threading.Lock()
_ALLOCATION = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


@dataclass(frozen=True)
class ArenaRecord:
    total: int
    head: int
    tail: int


class ArenaTooSmall(ModelError):
    """TFLM could not allocate the model's tensors in the given arena."""


class HostInterpreter:
    """One model in the host TFLM interpreter, with allocation recording on."""

    def __init__(self, model_bytes: bytes, arena_size: int) -> None:
        from tflite_micro import runtime

        self.arena_size = arena_size
        try:
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
        with _STDERR_LOCK, tempfile.TemporaryFile() as capture:
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

    def input_details(self, index: int = 0) -> dict:
        return self._interp.get_input_details(index)

    def run(self, inputs: list[np.ndarray], output_count: int = 1) -> list[np.ndarray]:
        for i, array in enumerate(inputs):
            self._interp.set_input(array, i)
        self._interp.invoke()
        return [np.array(self._interp.get_output(i), copy=True) for i in range(output_count)]
