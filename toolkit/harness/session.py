"""A protocol session with a board over any pyserial URL: requests, retries, time-outs, uploads."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterator

import serial

from toolkit.errors import DeviceError, DeviceTimeout, PortError, ProtocolError
from toolkit.ports import open_port
from toolkit.protocol import (
    PROTOCOL_VERSION,
    ErrorPayload,
    Frame,
    FrameDecoder,
    Garbage,
    Info,
    InvokeResult,
    LogRecord,
    Metrics,
    ModelBegin,
    ModelData,
    MsgType,
    OutputRequest,
    ProfileResult,
    SlotAnswer,
    TensorChunk,
    encode_frame,
    printable,
)

log = logging.getLogger(__name__)
device_log = logging.getLogger("toolkit.device")

BOOT_MARKERS = (b"ESP-ROM:", b"rst:0x")
REPL_MARKERS = (b"\n>>> ", b"raw REPL; CTRL-B to exit", b"MicroPython v")  # a board at MicroPython's prompt
MAX_BACKOFF = 4  # a retry waits up to this many times the time-out
MIN_PAYLOAD = 64  # the smallest max_payload a board may announce (docs/protocol.md)
READ_LIMIT = 65536  # bytes taken from the port per read
FLOOD_BYTES = 1 << 20  # bytes a board may send while one request waits for its answer
BOOT_TEXT_KEEP = 64 * 1024  # the last bytes of device text kept in ``boot_text``
LOG_LINE_CHARS = 1000  # a LOG line longer than this is cut when logged
MAX_CYCLES = 2**63 - 1  # a cycle count must fit a signed 64-bit integer (and the results store)
# esptool's READ_REG of the chip-id register, SLIP-framed: the ROM loader and the flasher stub answer it,
# our firmware reads it as line noise (SYNC is not used: on a pty board it is the reset into download mode)
LOADER_PROBE = b"\xc0\x00\x0a\x04\x00\x00\x00\x00\x00\x00\x10\x00\x40\xc0"
LOADER_ANSWER = b"\xc0\x01\x0a"
LOADER_WAIT_S = 0.3
Progress = Callable[[int, int], None]


@contextlib.contextmanager
def _port_errors(port) -> Iterator[None]:
    """A port that vanishes (a USB board unplugged) is a PortError: the run stops with one line and
    keeps what it measured."""
    try:
        yield
    except (serial.SerialException, OSError) as exc:
        raise PortError(f"the port {getattr(port, 'portstr', port)} went away: {exc}",
                        "plug the board back in; continue the run with 'espml bench ... --resume RUN_ID'") from exc


class DeviceReset(DeviceTimeout):
    """The board printed boot text in the middle of a request: it reset."""


class DeviceFlood(ProtocolError):
    """The board sent more than any answer could be while a request waited: text, frames, bytes."""


def _protocol_lie(what: str) -> ProtocolError:
    return ProtocolError(f"the board's answer breaks the protocol: {what}",
                         "the board does not run espml firmware or its firmware is faulty; flash it again "
                         "with 'espml flash --firmware ...'")


class Session:
    """One conversation with one board. Use as a context manager or call ``close()``."""

    def __init__(self, port, timeout: float = 2.0, retries: int = 2, hello_attempts: int = 5) -> None:
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.hello_attempts = hello_attempts  # a board still booting, or a noisy line
        self.decoder = FrameDecoder()
        self.info_cache: Info | None = None
        self.boot_text = bytearray()
        self._backlog: list = []  # events read after an answer, not yet looked at
        self._seq = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self._reopen: Callable[[], object] | None = None  # set by open(): how to open the port again
        self.power_cycles = 0

    @classmethod
    def open(cls, url: str, baudrate: int = 921600, timeout: float = 2.0, retries: int = 2,
             hello_attempts: int = 5) -> Session:
        # The port's read time-out bounds how late a request's time-out is noticed.
        def reopen():
            return open_port(url, baudrate=baudrate, timeout=min(0.05, timeout / 2))

        session = cls(reopen(), timeout, retries, hello_attempts)
        session._reopen = reopen
        return session

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """The port closed while something else uses it (mpremote's raw REPL), then opened again."""
        if self._reopen is None:
            raise PortError("this session was not opened from a URL, so it cannot give its port away",
                            "open it with Session.open(URL)")
        self.port.close()
        try:
            yield
        finally:
            self.port = self._reopen()
            self.decoder, self._backlog, self.info_cache = FrameDecoder(), [], None

    @property
    def can_power_cycle(self) -> bool:
        """The port offers a power switch (a labgrid place with a power port)."""
        return bool(getattr(self.port, "has_power_switch", False))

    def power_cycle(self) -> bool:
        """Cut and restore the board's power through its port's switch, then forget what the board
        said before; False when the port has no switch. The caller greets the board again."""
        if not self.can_power_cycle:
            return False
        with _port_errors(self.port):
            self.port.power_cycle()
        self.power_cycles += 1
        self.decoder, self._backlog, self.info_cache = FrameDecoder(), [], None
        return True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.port.close()

    # --- transport ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    def _send(self, frame: Frame) -> None:
        wire = encode_frame(frame)
        with _port_errors(self.port):
            self.port.write(wire)
        self.bytes_sent += len(wire)

    def _read_events(self) -> list:
        # The port's read timeout stays as opened (short): changing it costs a renegotiation on RFC 2217.
        with _port_errors(self.port):
            data = self.port.read(min(READ_LIMIT, max(1, self.port.in_waiting)))
        self.bytes_received += len(data)
        return self.decoder.feed(data) if data else []

    def _await(self, seq: int, timeout: float, watch_reset: bool) -> Frame | None:
        """The answer to ``seq``, or None at the deadline, which holds however many bytes keep arriving."""
        deadline = time.monotonic() + timeout
        received = self.bytes_received
        while time.monotonic() < deadline:
            if self.bytes_received - received > FLOOD_BYTES:
                raise DeviceFlood(f"the board floods the port: {self.bytes_received - received:,} bytes arrived "
                                  "while a request waited, and none of them was its answer",
                                  "check that the board runs espml firmware at this port's baud rate")
            events, self._backlog = self._backlog + self._read_events(), []
            for position, event in enumerate(events):
                if isinstance(event, Garbage):
                    self._on_text(event.data, watch_reset)
                elif event.type == MsgType.LOG:
                    record = LogRecord.unpack(event.payload)
                    if record.text:  # an empty LOG frame is skipped
                        device_log.log(_LEVELS.get(record.level, logging.INFO), "%s", record.text[:LOG_LINE_CHARS])
                elif event.is_response and event.seq == seq:
                    self._backlog = events[position + 1:]  # what came after it belongs to the next request
                    return event
                else:
                    log.debug("ignored frame type 0x%02x seq %d", event.type, event.seq)
            # Boot text ends with no delimiter, so it waits in the decoder until the next frame.
            if watch_reset and any(self.decoder.pending_contains(marker) for marker in BOOT_MARKERS):
                self._on_text(self.decoder.pending, watch_reset)
        return None

    def _on_text(self, data: bytes, watch_reset: bool) -> None:
        self.boot_text += data
        del self.boot_text[:-BOOT_TEXT_KEEP]
        for line in data.decode(errors="replace").splitlines():
            if line.strip():
                device_log.info("%s", printable(line.strip()[:LOG_LINE_CHARS]))
        if watch_reset and any(marker in data for marker in BOOT_MARKERS):
            raise DeviceReset("the board reset in the middle of a request",
                              "check its power supply and USB cable; results so far are kept")

    def request(self, msg_type: MsgType, payload: bytes = b"", timeout: float | None = None,
                retries: int | None = None, watch_reset: bool = True) -> bytes:
        """Send a request and return the payload of its answer; raise on ERROR or silence."""
        timeout = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        seq = self._next_seq()
        for attempt in range(attempts):
            self._send(Frame(msg_type, seq, payload))
            answer = self._await(seq, timeout * min(1 + attempt, MAX_BACKOFF), watch_reset)  # backing off
            if answer is None:
                log.debug("no answer to %s (attempt %d of %d)", msg_type.name, attempt + 1, attempts)
                continue
            if answer.type == MsgType.ERROR:
                error = ErrorPayload.unpack(answer.payload)
                raise DeviceError(error.code, error.name, error.message, _ERROR_HINTS.get(error.name, ""))
            if answer.type != msg_type:
                raise ProtocolError(f"asked {msg_type.name}, the device answered type 0x{answer.type:02x}",
                                    "update the firmware or the toolkit so both speak the same protocol")
            return answer.payload
        raise DeviceTimeout(f"the device did not answer {msg_type.name} within {timeout:g} s "
                            f"({attempts} attempts)",
                            "check that the board runs espml firmware and the port is right")

    # --- messages -----------------------------------------------------------------------------
    def hello(self, attempts: int | None = None) -> Info:
        """Handshake: tolerate boot text, retry while the board starts, check the version."""
        attempts = attempts or self.hello_attempts
        try:
            try:
                payload = self.request(MsgType.HELLO, timeout=self.timeout, retries=0, watch_reset=False)
            except DeviceTimeout:
                if attempts == 1:
                    raise
                self._refuse_esptool_loader()
                payload = self.request(MsgType.HELLO, timeout=self.timeout, retries=attempts - 2, watch_reset=False)
        except DeviceTimeout as exc:
            if any(mark in self.boot_text + self.decoder.pending for mark in REPL_MARKERS):
                raise DeviceTimeout(f"{exc.message}: the board answers with a MicroPython REPL",
                                    "give --target micropython (the agent is then put on the board and started)") from None
            raise
        info = Info.unpack(payload)
        if info.protocol_version != PROTOCOL_VERSION:
            raise ProtocolError(f"the firmware speaks protocol version {info.protocol_version}, "
                                f"this toolkit speaks {PROTOCOL_VERSION}",
                                "flash matching firmware with 'espml flash --firmware ...'")
        self.info_cache = _checked(info)
        return info

    def _refuse_esptool_loader(self) -> None:
        """A silent first HELLO: a board left in its ROM download mode, or with esptool's flasher stub
        running (esptool's reset does nothing on a port without modem lines), answers esptool's
        READ_REG. Say so at once rather than retrying HELLO for half a minute."""
        with _port_errors(self.port):
            self.port.write(LOADER_PROBE)
            deadline, seen = time.monotonic() + LOADER_WAIT_S, b""
            while LOADER_ANSWER not in seen and time.monotonic() < deadline:
                seen += self.port.read(max(1, self.port.in_waiting))
        start = seen.find(LOADER_ANSWER)
        if start < 0:
            self._backlog += self.decoder.feed(seen)  # not a loader: what came is read as usual
            return
        # the answer's size field: 4 status bytes from the ROM, 2 from the stub
        who = "esptool's flasher stub" if seen[start + 3:start + 5] == b"\x02\x00" else "its ROM download mode"
        raise DeviceTimeout(f"the board is in {who}, not running espml firmware (it answers esptool, not HELLO)",
                            "reset it into the firmware: press RESET, or run esptool again with "
                            "'--after watchdog-reset' (a pty or RFC 2217 port cannot pulse the reset line)")

    def info(self) -> Info:
        self.info_cache = _checked(Info.unpack(self.request(MsgType.INFO)))
        return self.info_cache

    @property
    def max_payload(self) -> int:
        if self.info_cache is None:
            self.hello()
        return self.info_cache.max_payload

    def set_input(self, index: int, data: bytes) -> None:
        step = self.max_payload - TensorChunk.HEADER_SIZE
        for offset in range(0, max(1, len(data)), step):
            chunk = TensorChunk(index, offset, len(data), data[offset:offset + step])
            self.request(MsgType.SET_INPUT, chunk.pack())

    def invoke(self, timeout: float | None = None) -> InvokeResult:
        """A retried INVOKE runs the model again on the same input: harmless, and the host keeps
        one answer (a late second one carries an old seq and is ignored)."""
        result = InvokeResult.unpack(self.request(MsgType.INVOKE, timeout=timeout))
        if result.cycles > MAX_CYCLES:
            raise _protocol_lie(f"INVOKE took {result.cycles:,} CPU cycles, more than a 64-bit signed count")
        return result

    def profile(self, timeout: float | None = None) -> ProfileResult:
        """One inference on the current input with every op timed on the device."""
        return ProfileResult.unpack(self.request(MsgType.PROFILE, timeout=timeout))

    def get_output(self, index: int, size: int) -> bytes:
        """Output ``index``, which the model says is ``size`` bytes: a board announcing another size,
        or sending more than asked for, is refused before the host keeps its bytes (so no caller can
        let a board's ``total`` decide how much the host holds)."""
        step = self.max_payload - TensorChunk.HEADER_SIZE
        data = bytearray()
        total = None
        while total is None or len(data) < total:
            answer = TensorChunk.unpack(self.request(MsgType.GET_OUTPUT, OutputRequest(index, len(data), step).pack()))
            if answer.total != size:
                raise _protocol_lie(f"output {index} is {answer.total:,} bytes by its answer, the model's is {size:,}")
            if answer.index != index or answer.offset != len(data):
                raise _protocol_lie(f"asked output {index} from byte {len(data)}, got output {answer.index} "
                                    f"from byte {answer.offset}")
            if len(answer.data) > step:
                raise _protocol_lie(f"asked at most {step:,} bytes of output {index}, got {len(answer.data):,}")
            if len(data) + len(answer.data) > answer.total:
                raise _protocol_lie(f"output {index} is {answer.total:,} bytes, and a chunk of {len(answer.data):,} "
                                    f"bytes at byte {len(data):,} runs past its end")
            total = answer.total
            if not answer.data and len(data) < total:
                raise ProtocolError(f"output {index} stopped at {len(data)} of {total} bytes",
                                    "the firmware's GET_OUTPUT answer is wrong; report it")
            data += answer.data
        return bytes(data)

    def metrics(self) -> Metrics:
        return Metrics.unpack(self.request(MsgType.METRICS))

    def reset(self) -> None:
        self.request(MsgType.RESET, watch_reset=False)
        self.info_cache = None

    def upload_model(self, model: bytes, progress: Progress | None = None, commit_timeout: float = 10.0) -> int:
        """Write ``model`` into the inactive slot; it becomes active only once its SHA-256 checks.
        ``commit_timeout`` covers the board erasing and writing its flash slot."""
        digest = hashlib.sha256(model).digest()
        SlotAnswer.unpack(self.request(MsgType.MODEL_BEGIN, ModelBegin(len(model), digest).pack()))  # checks the answer's shape
        step = self.max_payload - ModelData.HEADER_SIZE
        for offset in range(0, len(model), step):
            self.request(MsgType.MODEL_DATA, ModelData(offset, model[offset:offset + step]).pack())
            if progress:
                progress(min(offset + step, len(model)), len(model))
        active = SlotAnswer.unpack(self.request(MsgType.MODEL_END, timeout=commit_timeout)).slot
        self.info_cache = None
        return active


def _checked(info: Info) -> Info:
    """Info whose max_payload can carry a chunk header and data (docs/protocol.md)."""
    if info.max_payload < MIN_PAYLOAD:
        raise _protocol_lie(f"it announces a max_payload of {info.max_payload} bytes, the protocol's least is "
                            f"{MIN_PAYLOAD}")
    return info


_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
_ERROR_HINTS = {
    "NO_MODEL": "flash or upload a model first: espml flash --port URL MODEL.tflite",
    "ARENA_TOO_SMALL": "the model needs more RAM than the firmware's arena; check with 'espml inspect'",
    "UNSUPPORTED_OP": "the firmware lacks an op this model uses; check with 'espml inspect'",
    "MODEL_TOO_LARGE": "the model is larger than its flash slot; optimise it or repartition",
    "MODEL_INVALID": "the model was corrupted in transfer or cannot be parsed; try again",
    "BAD_TENSOR": "the input does not match the model's input tensor",
    "UNSUPPORTED_VERSION": "update the firmware or the toolkit so both speak the same protocol",
}
