"""The application side of the virtual ESP32-S3: our firmware's behaviour, running the model in TFLM.

Latency and current come from the board's cost and current models (the same ones `inspect`
uses); RAM from the TFLM interpreter's recorded arena; all of it is simulated and says so.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from toolkit import __version__
from toolkit.boards import Board
from toolkit.boards.firmware import firmware_ops
from toolkit.errors import ModelError
from toolkit.model import load_model, model_work
from toolkit.model.reader import TFLiteModel
from toolkit.model.arena import plan_head
from toolkit.model.tail import plan_tail
from toolkit.model.tflm import ArenaTooSmall, HostInterpreter
from toolkit.protocol import (
    FLAG_RESPONSE,
    NO_SLOT,
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorPayload,
    Frame,
    FrameDecoder,
    Garbage,
    Info,
    InfoFlag,
    InvokeResult,
    LogRecord,
    Metrics,
    ModelBegin,
    ModelData,
    MsgType,
    OutputRequest,
    SlotAnswer,
    TensorChunk,
    encode_frame,
)
from toolkit.image.model_image import image_size
from toolkit.virtual.flash import PowerCut
from toolkit.virtual.slots import ModelSlots

log = logging.getLogger(__name__)

FIRMWARE_NAME = "espml-fw"
MAX_PAYLOAD = 4096
TASK_STACK_BYTES = 8192
TASK_STACK_BASE_USE = 2600  # protocol task frames before TFLM's Invoke() call chain
INVOKE_STACK_USE = 900  # TFLM's Invoke() and one kernel's frames


class DeviceFault(Exception):
    """Raised inside the app to stop answering (a modelled fault)."""


@dataclass
class LoadedModel:
    model: TFLiteModel
    interpreter: HostInterpreter
    arena_bytes: int  # what the 32-bit board would use: the host's recording less the pointer overhead
    cycles: int
    latency_us: int
    current_mean_ma: float
    current_peak_ma: float
    inputs: list[bytearray] = field(default_factory=list)
    outputs: list[np.ndarray] | None = None


@dataclass
class FaultPlan:
    """Faults to model: stop answering, or reset, after this many INVOKEs (None: never)."""

    hang_after_invokes: int | None = None
    reset_after_invokes: int | None = None


class FirmwareApp:
    """Frames in, frames out. ``on_boot`` output goes to the same line before any frame."""

    def __init__(self, board: Board, slots: ModelSlots, esp_nn: bool = True, realtime: bool = True,
                 faults: FaultPlan | None = None, firmware: tuple[str, str] = (FIRMWARE_NAME, __version__)) -> None:
        self.board = board
        self.firmware_name, self.firmware_version = firmware
        self.slots = slots
        self.esp_nn = esp_nn
        self.realtime = realtime
        self.faults = faults or FaultPlan()
        self.decoder = FrameDecoder()
        self.loaded: LoadedModel | None = None
        self.load_error: str = ""
        self.error_code = ErrorCode.NO_MODEL
        self.invokes = 0
        self.hung = False
        self.reset_requested = False
        self._upload: tuple[ModelBegin, bytearray, int] | None = None
        self._heap_min = board.heap_after_boot_bytes
        self._seq = 0

    # --- boot ---------------------------------------------------------------------------------
    def boot(self) -> bytes:
        """Load the active model and return the text the board prints while it boots."""
        self.decoder = FrameDecoder()
        self._upload = None
        self.reset_requested = False
        lines = [
            "ESP-ROM:esp32s3-20210327",
            "Build:Mar 27 2021",
            "rst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)",
            "I (25) boot: ESP-IDF v5.3 2nd stage bootloader",
            f"I (289) espml: {self.firmware_name} {self.firmware_version} on {self.board.name} "
            "(virtual, simulated figures)",
        ]
        self._load_active()
        if self.loaded:
            lines.append(f"I (301) espml: model {self.loaded.model.sha256[:12]} ready, "
                         f"arena {self.loaded.arena_bytes} of {self.board.arena_bytes} bytes")
        else:
            lines.append(f"W (301) espml: no model running: {self.load_error or 'no valid model slot'}")
        return ("\r\n".join(lines) + "\r\n").encode()

    def _load_active(self) -> None:
        self.loaded, self.load_error, self.error_code = None, "", ErrorCode.NO_MODEL
        slot = self.slots.active
        if slot is None:
            return
        try:
            model = load_model(slot.data)
            missing = sorted(set(model.op_names) - self.registered_ops())
            if missing:
                self.load_error, self.error_code = f"firmware lacks ops {', '.join(missing)}", ErrorCode.UNSUPPORTED_OP
                return
            # The host's TFLM has 8-byte pointers: give it the board's arena plus the extra its
            # tail needs over the 32-bit target, so "too small" means too small on the board.
            pointer_overhead = plan_tail(model, 8) - plan_tail(model, 4)
            interpreter = HostInterpreter(model.data, self.board.arena_bytes + pointer_overhead)
        except ArenaTooSmall:
            need = plan_head(model).size + plan_tail(model, 4)
            self.load_error = f"model needs about {need} bytes of tensor arena, the firmware has {self.board.arena_bytes}"
            self.error_code = ErrorCode.ARENA_TOO_SMALL
            return
        except ModelError as exc:
            self.load_error, self.error_code = exc.message, ErrorCode.MODEL_INVALID
            return
        estimates = [self.board.estimate(work, self.esp_nn) for work in model_work(model)]
        cycles = sum(e.cycles for e in estimates)
        mean = sum(e.cycles * e.current_ma for e in estimates) / cycles if cycles else self.board.idle_current_ma
        peak = max((e.current_ma for e in estimates), default=self.board.idle_current_ma)
        inputs = [bytearray(t.nbytes) for t in model.inputs]
        arena = interpreter.arena.total - pointer_overhead
        self.loaded = LoadedModel(model, interpreter, arena, cycles, round(cycles / self.board.cpu_mhz), mean, peak,
                                  inputs)

    # --- frames -------------------------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Handle bytes from the host; return the bytes to send back."""
        out = bytearray()
        for event in self.decoder.feed(data):
            if self.hung:
                continue
            if isinstance(event, Garbage):
                continue  # a real board drops what it cannot decode; the host retries on time-out
            try:
                out += self._handle(event)
            except DeviceFault:
                self.hung = True
                break
        return bytes(out)

    def _reply(self, request: Frame, payload: bytes = b"") -> bytes:
        return encode_frame(Frame(request.type, request.seq, payload, FLAG_RESPONSE))

    def _error(self, request: Frame, code: ErrorCode, message: str) -> bytes:
        return encode_frame(Frame(MsgType.ERROR, request.seq, ErrorPayload(code, message).pack(), FLAG_RESPONSE))

    def log_frame(self, level: int, text: str) -> bytes:
        self._seq = (self._seq + 1) & 0xFFFF
        return encode_frame(Frame(MsgType.LOG, self._seq, LogRecord(level, text).pack()))

    def _handle(self, frame: Frame) -> bytes:
        if frame.version != PROTOCOL_VERSION:
            return self._error(frame, ErrorCode.UNSUPPORTED_VERSION,
                               f"protocol version {frame.version} not supported, this firmware speaks {PROTOCOL_VERSION}")
        handler = self._HANDLERS.get(frame.type)
        if handler is None:
            return self._error(frame, ErrorCode.UNKNOWN_TYPE, f"unknown message type 0x{frame.type:02x}")
        try:
            return handler(self, frame)
        except Exception as exc:  # noqa: BLE001 - a malformed payload must not kill the board
            if isinstance(exc, (DeviceFault, PowerCut)):
                raise
            return self._error(frame, ErrorCode.BAD_PAYLOAD, f"{type(exc).__name__}: {exc}")

    def info(self) -> Info:
        flags = InfoFlag.SIMULATED | InfoFlag.ACCEPTS_UPLOAD | InfoFlag.CURRENT_SENSOR
        active = self.slots.active_index
        if self.loaded:
            flags |= InfoFlag.MODEL_READY
        slot = self.slots.read(active) if active is not None else None
        return Info(
            protocol_version=PROTOCOL_VERSION, flags=int(flags), cpu_mhz=self.board.cpu_mhz,
            max_payload=MAX_PAYLOAD, model_slot=NO_SLOT if active is None else active,
            model_size=len(slot.data) if slot else 0, model_sha256=slot.sha256 if slot else bytes(32),
            arena_size=self.board.arena_bytes, heap_free_internal=self._heap_free(),
            heap_free_psram=self.board.psram_bytes, firmware_name=self.firmware_name, firmware_version=self.firmware_version,
            board=self.board.name, ops=tuple(sorted(self.registered_ops())),
        )

    def registered_ops(self) -> set[str]:
        return set(firmware_ops())

    def _heap_free(self) -> int:
        transient = MAX_PAYLOAD if self._upload else 0
        free = self.board.heap_after_boot_bytes - transient
        self._heap_min = min(self._heap_min, free)
        return free

    def _need_model(self, frame: Frame) -> bytes | None:
        if self.loaded is None:
            return self._error(frame, self.error_code, self.load_error or "no model loaded; upload or flash one")
        return None

    def _on_hello(self, frame: Frame) -> bytes:
        return self._reply(frame, self.info().pack())

    def _on_set_input(self, frame: Frame) -> bytes:
        if (err := self._need_model(frame)) is not None:
            return err
        chunk = TensorChunk.unpack(frame.payload)
        inputs = self.loaded.inputs
        if chunk.index >= len(inputs):
            return self._error(frame, ErrorCode.BAD_TENSOR, f"input {chunk.index} does not exist")
        buf = inputs[chunk.index]
        if chunk.total != len(buf) or chunk.offset + len(chunk.data) > len(buf):
            return self._error(frame, ErrorCode.BAD_TENSOR,
                               f"input {chunk.index} is {len(buf)} bytes, got total {chunk.total} "
                               f"at offset {chunk.offset}+{len(chunk.data)}")
        buf[chunk.offset:chunk.offset + len(chunk.data)] = chunk.data
        return self._reply(frame)

    def _on_invoke(self, frame: Frame) -> bytes:
        if (err := self._need_model(frame)) is not None:
            return err
        faults = self.faults
        if faults.hang_after_invokes is not None and self.invokes >= faults.hang_after_invokes:
            raise DeviceFault("modelled hang")
        if faults.reset_after_invokes is not None and self.invokes >= faults.reset_after_invokes:
            faults.reset_after_invokes = None
            self.reset_requested = True
            return b""
        loaded = self.loaded
        started = time.monotonic()
        arrays = [np.frombuffer(bytes(buf), dtype=t.numpy_dtype).reshape(t.shape)
                  for buf, t in zip(loaded.inputs, loaded.model.inputs)]
        try:
            loaded.outputs = loaded.interpreter.run(arrays, len(loaded.model.outputs))
        except RuntimeError as exc:
            return self._error(frame, ErrorCode.INVOKE_FAILED, str(exc))
        self.invokes += 1
        if self.realtime:
            remaining = loaded.latency_us / 1e6 - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
        return self._reply(frame, InvokeResult(loaded.latency_us, loaded.cycles).pack())

    def _on_get_output(self, frame: Frame) -> bytes:
        if (err := self._need_model(frame)) is not None:
            return err
        request = OutputRequest.unpack(frame.payload)
        outputs = self.loaded.outputs
        if outputs is None:
            return self._error(frame, ErrorCode.BAD_TENSOR, "no output yet; send INVOKE first")
        if request.index >= len(outputs):
            return self._error(frame, ErrorCode.BAD_TENSOR, f"output {request.index} does not exist")
        data = outputs[request.index].tobytes()
        length = min(request.length, MAX_PAYLOAD - TensorChunk.HEADER_SIZE)
        piece = data[request.offset:request.offset + length]
        return self._reply(frame, TensorChunk(request.index, request.offset, len(data), piece).pack())

    def _on_metrics(self, frame: Frame) -> bytes:
        loaded = self.loaded
        arena = loaded.arena_bytes if loaded else 0
        stack_use = TASK_STACK_BASE_USE + (INVOKE_STACK_USE if self.invokes else 0)
        mean = loaded.current_mean_ma if loaded and self.invokes else self.board.idle_current_ma
        peak = loaded.current_peak_ma if loaded and self.invokes else self.board.idle_current_ma
        metrics = Metrics(arena, self._heap_free(), self._heap_min, self.board.psram_bytes,
                          TASK_STACK_BYTES - stack_use, mean, peak, self.board.supply_volts)
        return self._reply(frame, metrics.pack())

    def _on_reset(self, frame: Frame) -> bytes:
        self.reset_requested = True
        return self._reply(frame)

    def _on_model_begin(self, frame: Frame) -> bytes:
        begin = ModelBegin.unpack(frame.payload)
        if image_size(begin.size) > self.slots.slot_bytes:
            return self._error(frame, ErrorCode.MODEL_TOO_LARGE,
                               f"model image is {image_size(begin.size)} bytes, a slot holds {self.slots.slot_bytes}")
        slot = self.slots.inactive_index
        self._upload = (begin, bytearray(begin.size), slot)
        self._heap_free()  # the upload buffer is the low point of the heap
        return self._reply(frame, SlotAnswer(slot).pack())

    def _on_model_data(self, frame: Frame) -> bytes:
        if self._upload is None:
            return self._error(frame, ErrorCode.UPLOAD_STATE, "MODEL_DATA without MODEL_BEGIN")
        chunk = ModelData.unpack(frame.payload)
        begin, buf, _ = self._upload
        if chunk.offset + len(chunk.data) > begin.size:
            return self._error(frame, ErrorCode.BAD_PAYLOAD, "chunk runs past the announced model size")
        buf[chunk.offset:chunk.offset + len(chunk.data)] = chunk.data
        return self._reply(frame)

    def _on_model_end(self, frame: Frame) -> bytes:
        if self._upload is None:
            return self._error(frame, ErrorCode.UPLOAD_STATE, "MODEL_END without MODEL_BEGIN")
        begin, buf, slot = self._upload
        self._upload = None
        if hashlib.sha256(buf).digest() != begin.sha256:
            return self._error(frame, ErrorCode.MODEL_INVALID, "SHA-256 of the received model does not match; "
                               "the active model is unchanged")
        previous = self.slots.active_index
        try:
            self.slots.store(slot, bytes(buf))
        except ModelError as exc:
            return self._error(frame, ErrorCode.MODEL_INVALID, f"{exc.message}; the active model is unchanged")
        self._load_active()
        if self.loaded is None:
            code, error = self.error_code, self.load_error
            self.slots.invalidate(slot)  # the new model cannot run, so the old one stays in charge
            self._load_active()
            kept = "no model" if previous is None else f"slot {'AB'[previous]}"
            return self._error(frame, code, f"{error}; {kept} stays active")
        note = self.log_frame(2, f"I espml: model {self.loaded.model.sha256[:12]} ready in slot {'AB'[slot]}, "
                                 f"arena {self.loaded.arena_bytes} of {self.board.arena_bytes} bytes")
        return note + self._reply(frame, SlotAnswer(slot).pack())

    _HANDLERS = {
        MsgType.HELLO: _on_hello,
        MsgType.INFO: _on_hello,
        MsgType.SET_INPUT: _on_set_input,
        MsgType.INVOKE: _on_invoke,
        MsgType.GET_OUTPUT: _on_get_output,
        MsgType.METRICS: _on_metrics,
        MsgType.RESET: _on_reset,
        MsgType.MODEL_BEGIN: _on_model_begin,
        MsgType.MODEL_DATA: _on_model_data,
        MsgType.MODEL_END: _on_model_end,
    }
