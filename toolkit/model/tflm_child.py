"""The child end of toolkit.model.tflm_worker: builds TFLite-Micro interpreters that might crash.

Run as a script with ``python -P`` (no toolkit import; -P keeps this folder, which holds an
``inspect.py``, off sys.path). Requests on stdin, answers on stdout, one at a time:
request ``<cQI``: kind (``A`` allocate, ``R`` allocate with recording and print the allocations),
arena bytes, model length, then the model; answer ``<?I``: whether it allocated, the length of
what TFLM printed (fd 1 and fd 2 are a capture file, so TFLM's prints never reach the answers),
then that text. A too-small arena that crashes TFLM ends this process; the parent starts another.
"""

import ctypes
import os
import struct
import sys
import tempfile

REQUEST = struct.Struct("<cQI")
ANSWER = struct.Struct("<?I")


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main() -> None:
    requests, answers = os.dup(0), os.dup(1)
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 1)
    os.dup2(capture.fileno(), 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    from tflite_micro import runtime

    flush_c_streams = ctypes.CDLL(None).fflush
    while True:
        head = _read_exactly(requests, REQUEST.size)
        if head is None:
            return
        kind, arena, length = REQUEST.unpack(head)
        model = _read_exactly(requests, length)
        if model is None:
            return
        os.lseek(capture.fileno(), 0, os.SEEK_SET)
        os.ftruncate(capture.fileno(), 0)
        try:
            if kind == b"R":
                interpreter = runtime.Interpreter.from_bytes(
                    model, arena_size=arena, intrepreter_config=runtime.InterpreterConfig.kAllocationRecording)
                interpreter.print_allocations()
            else:
                interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena)
            del interpreter
            allocated = True
        except Exception:  # the interpreter raises RuntimeError, and others on odd models
            allocated = False
        sys.stdout.flush()
        sys.stderr.flush()
        flush_c_streams(None)
        size = os.lseek(capture.fileno(), 0, os.SEEK_END)
        os.lseek(capture.fileno(), 0, os.SEEK_SET)
        text = _read_exactly(capture.fileno(), size) or b""
        _write_all(answers, ANSWER.pack(allocated, len(text)) + text)


if __name__ == "__main__":
    main()
