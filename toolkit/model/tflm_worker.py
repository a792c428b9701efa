"""One long-lived child process that builds TFLite-Micro interpreters this process must not risk.

TFLM can crash (not just fail) for some too-small arenas, and its recording allocator prints to
fd 2, which this process cannot redirect without swallowing what its other threads write. A child
per question cost about 0.3 CPU-s, nearly all of it ``import tflite_micro``; this child imports it
once and answers question after question (toolkit/model/tflm_child.py). A child that crashes,
hangs past the timeout or cannot start counts as "did not allocate", as a failed child process
did, and the next question starts a new one.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.tflm_child import ANSWER, REQUEST

CHILD = Path(__file__).with_name("tflm_child.py")
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Answer:
    allocated: bool
    printed: str  # what TFLM printed while building the interpreter


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._owner = 0  # the pid that started the child: a forked copy of this process starts its own

    def ask(self, kind: bytes, model: bytes, arena_size: int) -> Answer:
        """The child's answer; a child that had already answered before and dies on this question
        (killed by a signal meant for this process group, say) is replaced and asked once more."""
        with self._lock:
            for fresh in (self._child is None, True):
                try:
                    child = self._running()
                    _write_all(child.stdin.fileno(), REQUEST.pack(kind, arena_size, len(model)) + model)
                    allocated, length = ANSWER.unpack(_read_exactly(child.stdout.fileno(), ANSWER.size))
                    return Answer(allocated, _read_exactly(child.stdout.fileno(), length).decode(errors="replace"))
                except (OSError, EOFError, TimeoutError):
                    self._stop()
                    if fresh:
                        break
            return Answer(False, "")

    def _running(self) -> subprocess.Popen:
        if self._child is not None and self._owner == os.getpid():
            return self._child
        self._stop()
        # -P: the script's folder (toolkit/model, which holds an inspect.py) stays off sys.path
        self._child = subprocess.Popen([sys.executable, "-P", str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
        self._owner = os.getpid()
        return self._child

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None or self._owner != os.getpid():
            return
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._stop()


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


_WORKER = _Worker()
atexit.register(_WORKER.close)


def allocates(model: bytes, arena_size: int) -> bool:
    """Whether TFLM allocates the model's tensors in ``arena_size`` bytes (asked in the child)."""
    return _WORKER.ask(b"A", model, arena_size).allocated


def allocation_printout(model: bytes, arena_size: int) -> str | None:
    """What TFLM's recording allocator prints for the model, or None when it did not allocate."""
    answer = _WORKER.ask(b"R", model, arena_size)
    return answer.printed if answer.allocated else None
