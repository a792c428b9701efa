"""A fake board on a pty that speaks docs/protocol.md (with toolkit.protocol's codec) but lies.

It stands for a crafted or broken board, not for our firmware: each ``lie`` is one way a board
can answer what the protocol allows in form but not in sense (announced sizes, counts, floats,
names), or flood and trickle the line. Honest otherwise: it runs the model in the host's
TFLite-Micro, so an honest run's outputs match the reference. Used by tests/test_bad_inputs.py
and bench/hostile.py. ``LyingRepl`` does the same for a MicroPython board's raw REPL: every piece
of code gets one crafted answer.

    with LyingBoard("endless_output", model_bytes) as board:
        main(["bench", "--port", board.path, ...])
"""

from __future__ import annotations

import hashlib
import os
import select
import threading

import numpy as np

from toolkit.model import load_model
from toolkit.model.tflm import HostInterpreter
from toolkit.protocol import (
    FLAG_RESPONSE,
    PROTOCOL_VERSION,
    Frame,
    FrameDecoder,
    Info,
    InfoFlag,
    InvokeResult,
    LogRecord,
    Metrics,
    MsgType,
    OutputRequest,
    TensorChunk,
    encode_frame,
)
from toolkit.virtual.servers import open_pty

MAX_PAYLOAD = 4096
FLOOD_BLOCK = 4096

# lie -> what the board does (the host's expected reaction is in tests/test_bad_inputs.py's LIES)
LIES = {
    "honest": "answers every request as the protocol says",
    "endless_output": "announces an output of 4 GiB and streams it",
    "short_output": "announces an output one byte shorter than the model's",
    "long_output": "announces an output 7 bytes longer than the model's",
    "overlong_chunk": "answers GET_OUTPUT with more bytes than the output it announces",
    "text_flood": "answers INVOKE with endless text without a frame delimiter",
    "log_flood": "answers INVOKE with endless LOG frames, never the answer",
    "trickle": "answers HELLO with one byte every 10 ms, forever",
    "max_payload_0": "announces a max_payload of 0",
    "max_payload_5": "announces a max_payload of 5",
    "max_payload_9": "announces a max_payload of 9 (a chunk header, no room for data)",
    "huge_cycles": "answers INVOKE with 2^64 - 1 cycles",
    "empty_log": "sends an empty LOG frame before every answer",
    "infinite_current": "reports infinite current and voltage figures",
    "nan_current": "reports NaN current figures",
    "markup_name": "names itself [/oops] with ESC sequences in its firmware name",
}


class PtyPeer:
    """A thread serving the controller side of a pty (the subclass's ``_serve``); ``path`` is the
    terminal to open as the port."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._controller, self.path = open_pty()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._controller)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                view = view[os.write(self._controller, view):]
            except BlockingIOError:
                select.select([], [self._controller], [], 0.05)
            except OSError:
                return  # nobody holds the terminal side


class LyingBoard(PtyPeer):
    """Serve one lie on a pty until closed; ``path`` is the terminal to open as the port."""

    def __init__(self, lie: str, model: bytes) -> None:
        if lie not in LIES:
            raise ValueError(f"unknown lie {lie!r}")
        self.lie = lie
        self.model = load_model(model)
        self._interpreter = HostInterpreter(model, 16 * 1024 * 1024)
        self._input = bytearray(self.model.inputs[0].nbytes)
        self._outputs = [bytes(t.nbytes) for t in self.model.outputs]
        self._flooding = False
        super().__init__(f"lying-board-{lie}")

    # --- the line -------------------------------------------------------------------------------
    def _serve(self) -> None:
        decoder = FrameDecoder()
        while not self._stop.is_set():
            if self._flooding:
                self._flood()
                continue
            ready, _, _ = select.select([self._controller], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._controller, 65536)
            except (BlockingIOError, OSError):
                self._stop.wait(0.01)
                continue
            for event in decoder.feed(data):
                if isinstance(event, Frame) and not event.is_response:
                    self._answer(event)

    def _flood(self) -> None:
        if self.lie == "text_flood":
            self._write(b"Guru Meditation " * (FLOOD_BLOCK // 16))
        elif self.lie == "log_flood":
            self._write(b"".join(encode_frame(Frame(MsgType.LOG, 0, LogRecord(2, "x" * 200).pack()))
                                 for _ in range(16)))
        else:  # trickle
            self._write(b".")
            self._stop.wait(0.01)

    def _reply(self, request: Frame, payload: bytes = b"") -> None:
        if self.lie == "empty_log":
            self._write(encode_frame(Frame(MsgType.LOG, 0, b"")))
        self._write(encode_frame(Frame(request.type, request.seq, payload, FLAG_RESPONSE)))

    # --- the protocol ---------------------------------------------------------------------------
    def _answer(self, request: Frame) -> None:
        kind = request.type
        if kind in (MsgType.HELLO, MsgType.INFO):
            if self.lie == "trickle":
                self._flooding = True
                return
            self._reply(request, self._info().pack())
        elif kind == MsgType.SET_INPUT:
            chunk = TensorChunk.unpack(request.payload)
            self._input[chunk.offset:chunk.offset + len(chunk.data)] = chunk.data
            self._reply(request)
        elif kind == MsgType.INVOKE:
            if self.lie in ("text_flood", "log_flood"):
                self._flooding = True
                return
            self._invoke()
            cycles = 2**64 - 1 if self.lie == "huge_cycles" else 240_000
            self._reply(request, InvokeResult(1000, cycles).pack())
        elif kind == MsgType.GET_OUTPUT:
            self._reply(request, self._output(OutputRequest.unpack(request.payload)).pack())
        elif kind == MsgType.METRICS:
            current = {"infinite_current": float("inf"), "nan_current": float("nan")}.get(self.lie, 40.0)
            volts = float("inf") if self.lie == "infinite_current" else 3.3
            self._reply(request, Metrics(20_000, 200_000, 190_000, 0, 3000, current, current, volts).pack())
        else:
            self._reply(request)

    def _info(self) -> Info:
        payload = int(self.lie.rsplit("_", 1)[1]) if self.lie.startswith("max_payload_") else MAX_PAYLOAD
        board, firmware = ("[/oops]", "\x1b[2J\x1b]8;;http://evil.example/\x07espml\x1b]8;;\x07") \
            if self.lie == "markup_name" else ("esp32s3", "espml")
        flags = InfoFlag.SIMULATED | InfoFlag.MODEL_READY | InfoFlag.ACCEPTS_UPLOAD
        return Info(PROTOCOL_VERSION, flags, 240, payload, 0, self.model.size,
                    hashlib.sha256(self.model.data).digest(), 160 * 1024, 300_000, 0, firmware, "1.0", board, (3,))

    def _invoke(self) -> None:
        tensor = self.model.inputs[0]
        array = np.frombuffer(bytes(self._input), dtype=tensor.numpy_dtype).reshape(tensor.shape)
        outputs = self._interpreter.run([array], len(self.model.outputs))
        self._outputs = [np.ascontiguousarray(o).tobytes() for o in outputs]

    def _output(self, asked: OutputRequest) -> TensorChunk:
        data = self._outputs[asked.index] if asked.index < len(self._outputs) else b""
        if self.lie == "endless_output":
            return TensorChunk(asked.index, asked.offset, 0xFFFFFFFF, bytes(asked.length))
        total = len(data) + {"short_output": -1, "long_output": 7}.get(self.lie, 0)
        data = (data + bytes(8))[:total]
        if self.lie == "overlong_chunk":
            return TensorChunk(asked.index, asked.offset, total, data[asked.offset:] + bytes(100))
        return TensorChunk(asked.index, asked.offset, total, data[asked.offset:asked.offset + asked.length])


REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"

HONEST_PROBE = "('micropython', '1.27.0', True, 1048576, None, None, 150000, 'ESP32S3 module')"

# MicroPython probe answers a crafted board may give (tests/test_hostile_probe.py, bench/hostile.py):
# (case, the answer, words of the host's one line; None: the answer is accepted and shown as text)
PROBE_ANSWERS = [
    ("a tuple nested 150 deep", "(" * 150 + ")" * 150, "not what MicroPython prints"),
    ("a list nested 400 deep", "[" * 400 + "]" * 400, "not what MicroPython prints"),
    ("a list, not a tuple", HONEST_PROBE.replace("(", "[", 1).replace(")", "]"), "not what MicroPython prints"),
    ("seven fields", HONEST_PROBE.replace(", 'ESP32S3 module'", ""), "not what MicroPython prints"),
    ("a string where the free bytes go", HONEST_PROBE.replace("1048576", "'1 MiB'"), "not what MicroPython prints"),
    ("a bool where the heap goes", HONEST_PROBE.replace("150000", "True"), "not what MicroPython prints"),
    ("a call, not a literal", "__import__('os').system('true')", "not what MicroPython prints"),
    ("a NUL byte", HONEST_PROBE.replace("None", "\0", 1), "not what MicroPython prints"),
    ("a dict", "{'implementation': 'micropython'}", "not what MicroPython prints"),
    ("complex numbers", HONEST_PROBE.replace("1048576", "1+2j"), "not what MicroPython prints"),
    ("an answer longer than any probe's", "(" + "'x', " * 400 + ")", "not one short line"),
    ("two lines", HONEST_PROBE + "\r\n" + HONEST_PROBE, "not one short line"),
    ("not Python at all", "Guru Meditation Error: Core 0 panic'ed", "not what MicroPython prints"),
    ("CircuitPython with ESC sequences", HONEST_PROBE.replace("micropython", "circuit\x1b[2Jpython"), "not MicroPython"),
    ("markup and ESC in the machine name", HONEST_PROBE.replace("ESP32S3 module", "[/oops]\x1b]8;;http://x\x07link"), None),
]


# Probe answers that never end (tests/test_hostile_probe.py, bench/hostile.py): (case, stream, words)
ENDLESS_ANSWERS = [
    ("an answer that floods for ever", "flood", "sent more than"),
    ("an answer trickled for ever", "trickle", "did not end its answer within"),
]


class LyingRepl(PtyPeer):
    """A pty that speaks MicroPython's raw REPL (Ctrl-A, raw-paste refused, code ended by Ctrl-D)
    and answers every piece of code with ``answer`` as its output. It stands for a crafted board.
    ``stream``: after the first piece of code's "OK", text for ever instead ("flood": as fast as the
    line takes it; "trickle": a byte every 20 ms, well inside any wait between characters)."""

    def __init__(self, answer: bytes, stream: str | None = None) -> None:
        self.answer, self.stream = answer, stream
        self._streaming = False
        super().__init__("lying-repl")

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            if self._streaming:
                self._write(b"x" * FLOOD_BLOCK if self.stream == "flood" else b"x")
                self._stop.wait(0.001 if self.stream == "flood" else 0.02)
                continue
            if not select.select([self._controller], [], [], 0.05)[0]:
                continue
            try:
                pending += os.read(self._controller, 65536)
            except OSError:
                self._stop.wait(0.01)
                continue
            while True:
                if b"\x05A\x01" in pending:  # raw-paste mode asked: not supported
                    pending = pending.replace(b"\x05A\x01", b"", 1)
                    self._write(b"R\x00")
                elif b"\x01" in pending:
                    pending = pending.split(b"\x01", 1)[1]
                    self._write(REPL_BANNER)
                elif b"\x04" in pending and self.stream:
                    self._write(b"OK")
                    self._streaming = True
                    break
                elif b"\x04" in pending:
                    pending = pending.split(b"\x04", 1)[1]
                    self._write(b"OK" + self.answer + b"\x04\x04>")
                else:
                    break
