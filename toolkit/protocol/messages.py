"""Message types and their payloads. Every multi-byte field is little-endian."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from toolkit.errors import ProtocolError
from toolkit.model.reader import builtin_names


class MsgType(IntEnum):
    HELLO = 0x01
    INFO = 0x02
    SET_INPUT = 0x10
    INVOKE = 0x11
    GET_OUTPUT = 0x12
    METRICS = 0x13
    RESET = 0x14
    PROFILE = 0x15
    MODEL_BEGIN = 0x20
    MODEL_DATA = 0x21
    MODEL_END = 0x22
    LOG = 0x30
    ERROR = 0x3F


class ErrorCode(IntEnum):
    UNKNOWN_TYPE = 1
    BAD_PAYLOAD = 2
    UNSUPPORTED_VERSION = 3
    NO_MODEL = 4
    MODEL_INVALID = 5
    MODEL_TOO_LARGE = 6
    ARENA_TOO_SMALL = 7
    UNSUPPORTED_OP = 8
    BAD_TENSOR = 9
    INVOKE_FAILED = 10
    UPLOAD_STATE = 11
    FLASH_WRITE = 12


class InfoFlag(IntEnum):
    SIMULATED = 0x01
    ACCEPTS_UPLOAD = 0x02
    CURRENT_SENSOR = 0x04
    MODEL_READY = 0x08


NO_SLOT = 0xFF


def printable(text: str) -> str:
    """Board text as data: control characters (ESC sequences, line ends, bells) shown as escapes,
    so a board cannot move the cursor, clear the screen or print a link on the host's terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _str8(text: str) -> bytes:
    raw = text.encode()[:255]
    return bytes([len(raw)]) + raw


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProtocolError(f"{self.what} payload is {len(self.data)} bytes, too short",
                                "check that host and firmware speak the same protocol version")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def str8(self) -> str:
        (length,) = self.take("<B")
        (raw,) = self.take(f"<{length}s")
        return printable(raw.decode(errors="replace"))

    def rest(self) -> bytes:
        data = self.data[self.pos:]
        self.pos = len(self.data)
        return data


@dataclass(frozen=True)
class Info:
    """The device's answer to HELLO and INFO."""

    protocol_version: int
    flags: int
    cpu_mhz: int
    max_payload: int  # largest frame payload the device accepts
    model_slot: int
    model_size: int
    model_sha256: bytes
    arena_size: int
    heap_free_internal: int
    heap_free_psram: int
    firmware_name: str
    firmware_version: str
    board: str
    op_codes: tuple[int, ...] = field(default_factory=tuple)  # TFLite builtin codes the firmware registers
    custom_ops: tuple[str, ...] = field(default_factory=tuple)  # custom codes it registers (signal library)

    _FIXED = "<BBHHBI32sIII"

    @property
    def simulated(self) -> bool:
        return bool(self.flags & InfoFlag.SIMULATED)

    @property
    def ops(self) -> tuple[str, ...]:
        """The registered ops by schema name (a code the schema lacks reads UNKNOWN(N)), then the
        custom ops as CUSTOM:<code>, the names inspect gives them."""
        names = builtin_names()
        return (tuple(names.get(code, f"UNKNOWN({code})") for code in self.op_codes)
                + tuple(f"CUSTOM:{name}" for name in self.custom_ops))

    @property
    def accepts_upload(self) -> bool:
        return bool(self.flags & InfoFlag.ACCEPTS_UPLOAD)

    @property
    def has_current_sensor(self) -> bool:
        return bool(self.flags & InfoFlag.CURRENT_SENSOR)

    @property
    def model_ready(self) -> bool:
        return bool(self.flags & InfoFlag.MODEL_READY)

    def pack(self) -> bytes:
        head = struct.pack(self._FIXED, self.protocol_version, self.flags, self.cpu_mhz, self.max_payload,
                           self.model_slot, self.model_size, self.model_sha256, self.arena_size,
                           self.heap_free_internal, self.heap_free_psram)
        names = _str8(self.firmware_name) + _str8(self.firmware_version) + _str8(self.board)
        custom = bytes([len(self.custom_ops)]) + b"".join(_str8(name) for name in self.custom_ops)
        return head + names + bytes([len(self.op_codes)]) + bytes(self.op_codes) + custom

    @classmethod
    def unpack(cls, data: bytes) -> Info:
        r = _Reader(data, "INFO")
        fixed = r.take(cls._FIXED)
        name, version, board = r.str8(), r.str8(), r.str8()
        (count,) = r.take("<B")
        codes = r.take(f"<{count}B")
        custom: list[str] = []
        if r.pos < len(data):  # firmware before the custom-op list ends at the op codes
            (count,) = r.take("<B")
            custom = [r.str8() for _ in range(count)]
        return cls(*fixed, name, version, board, codes, tuple(custom))


@dataclass(frozen=True)
class TensorChunk:
    """A slice of an input (SET_INPUT) or output (GET_OUTPUT answer) tensor."""

    index: int
    offset: int
    total: int
    data: bytes = b""

    _FIXED = "<BII"
    HEADER_SIZE = struct.calcsize(_FIXED)

    def pack(self) -> bytes:
        return struct.pack(self._FIXED, self.index, self.offset, self.total) + self.data

    @classmethod
    def unpack(cls, data: bytes) -> TensorChunk:
        r = _Reader(data, "tensor chunk")
        return cls(*r.take(cls._FIXED), r.rest())


@dataclass(frozen=True)
class OutputRequest:
    index: int
    offset: int
    length: int

    _FIXED = "<BIH"

    def pack(self) -> bytes:
        return struct.pack(self._FIXED, self.index, self.offset, self.length)

    @classmethod
    def unpack(cls, data: bytes) -> OutputRequest:
        return cls(*_Reader(data, "GET_OUTPUT").take(cls._FIXED))


@dataclass(frozen=True)
class InvokeResult:
    latency_us: int
    cycles: int
    input_copy_us: int | None = None  # the MicroPython agent's copy of the inputs into microlite; None: not sent

    _FIXED = "<IQ"

    def pack(self) -> bytes:
        copy = b"" if self.input_copy_us is None else struct.pack("<I", self.input_copy_us)
        return struct.pack(self._FIXED, self.latency_us, self.cycles) + copy

    @classmethod
    def unpack(cls, data: bytes) -> InvokeResult:
        r = _Reader(data, "INVOKE")
        fixed = r.take(cls._FIXED)
        return cls(*fixed, r.take("<I")[0] if len(data) - r.pos >= 4 else None)


@dataclass(frozen=True)
class ProfileResult:
    """One inference with every op timed on the device, in the order TFLite-Micro ran them.

    ``ops`` holds (builtin code, time in us) for the first ops; ``op_count`` says how many ran
    (more when the answer could not list them all). Code 0xFF is a custom op."""

    latency_us: int
    op_count: int
    ops: tuple[tuple[int, int], ...]

    _FIXED = "<IHH"

    def pack(self) -> bytes:
        head = struct.pack(self._FIXED, self.latency_us, self.op_count, len(self.ops))
        return head + b"".join(struct.pack("<BI", code, time_us) for code, time_us in self.ops)

    @classmethod
    def unpack(cls, data: bytes) -> ProfileResult:
        r = _Reader(data, "PROFILE")
        latency_us, op_count, listed = r.take(cls._FIXED)
        ops = tuple(r.take("<BI") for _ in range(listed))
        return cls(latency_us, op_count, ops)


@dataclass(frozen=True)
class Metrics:
    """Memory figures now, and current over the last INVOKE (NaN when no sensor is fitted)."""

    arena_used_bytes: int
    heap_free_bytes: int
    heap_free_min_bytes: int
    psram_free_bytes: int
    stack_high_water_bytes: int
    current_mean_ma: float
    current_peak_ma: float
    bus_voltage_v: float

    _FIXED = "<IIIIIfff"

    def pack(self) -> bytes:
        return struct.pack(self._FIXED, self.arena_used_bytes, self.heap_free_bytes, self.heap_free_min_bytes,
                           self.psram_free_bytes, self.stack_high_water_bytes, self.current_mean_ma,
                           self.current_peak_ma, self.bus_voltage_v)

    @classmethod
    def unpack(cls, data: bytes) -> Metrics:
        return cls(*_Reader(data, "METRICS").take(cls._FIXED))


@dataclass(frozen=True)
class ModelBegin:
    size: int
    sha256: bytes

    _FIXED = "<I32s"

    def pack(self) -> bytes:
        return struct.pack(self._FIXED, self.size, self.sha256)

    @classmethod
    def unpack(cls, data: bytes) -> ModelBegin:
        return cls(*_Reader(data, "MODEL_BEGIN").take(cls._FIXED))


@dataclass(frozen=True)
class ModelData:
    offset: int
    data: bytes

    HEADER_SIZE = 4

    def pack(self) -> bytes:
        return struct.pack("<I", self.offset) + self.data

    @classmethod
    def unpack(cls, data: bytes) -> ModelData:
        r = _Reader(data, "MODEL_DATA")
        return cls(*r.take("<I"), r.rest())


@dataclass(frozen=True)
class SlotAnswer:
    """MODEL_BEGIN's and MODEL_END's answer: the slot being written or now active."""

    slot: int

    def pack(self) -> bytes:
        return bytes([self.slot])

    @classmethod
    def unpack(cls, data: bytes) -> SlotAnswer:
        return cls(*_Reader(data, "slot answer").take("<B"))


@dataclass(frozen=True)
class ErrorPayload:
    code: int
    message: str

    def pack(self) -> bytes:
        return struct.pack("<H", self.code) + self.message.encode()

    @classmethod
    def unpack(cls, data: bytes) -> ErrorPayload:
        r = _Reader(data, "ERROR")
        (code,) = r.take("<H")
        return cls(code, printable(r.rest().decode(errors="replace")))

    @property
    def name(self) -> str:
        try:
            return ErrorCode(self.code).name
        except ValueError:
            return f"CODE_{self.code}"


@dataclass(frozen=True)
class LogRecord:
    level: int  # 0 error, 1 warning, 2 info, 3 debug
    text: str

    def pack(self) -> bytes:
        return bytes([self.level]) + self.text.encode()

    @classmethod
    def unpack(cls, data: bytes) -> LogRecord:
        """An empty LOG frame is an empty line (level info), not an error."""
        if not data:
            return cls(2, "")
        return cls(data[0], printable(data[1:].decode(errors="replace")))
