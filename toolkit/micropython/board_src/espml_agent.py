# espml agent: the espml wire protocol v1 (docs/protocol.md) on a MicroPython board.
#
# MicroPython code, installed on the board as /espml_agent.py next to the model; the host starts
# it through the raw REPL. It speaks COBS frames with CRC-32 over the REPL's stdin/stdout, runs
# the model with the board's TFLM module (`microlite`, tensorflow-micropython-examples), times
# Invoke() with time.ticks_us and reads an INA219/INA226 over machine.I2C when one answers.
# While it runs, 0x03 is data (micropython.kbd_intr(-1)); it leaves, restoring Ctrl-C, on a
# RESET frame, at the end of input, or when a run starts with b"\r\x03" (mpremote taking the REPL).
import binascii
import gc
import hashlib
import struct
import sys
import time

import micropython

VERSION = 1
MAX_PAYLOAD = 4096
RESPONSE = 0x01
F_SIMULATED, F_CURRENT, F_READY = 0x01, 0x04, 0x08
HELLO, INFO, SET_INPUT, INVOKE, GET_OUTPUT, METRICS, RESET = 0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14
MODEL_BEGIN, MODEL_DATA, MODEL_END, LOG, ERROR = 0x20, 0x21, 0x22, 0x30, 0x3F
UNKNOWN_TYPE, BAD_PAYLOAD, UNSUPPORTED_VERSION, NO_MODEL = 1, 2, 3, 4
MODEL_INVALID, ARENA_TOO_SMALL, BAD_TENSOR, INVOKE_FAILED, UPLOAD_STATE = 5, 7, 9, 10, 11
ELEMENT = {0: "f", 3: "B", 9: "b"}  # the TensorTypes microlite's getValue/setValue take -> struct format
TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}
TYPE_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8}
NAN = float("nan")


def crc32(data) -> int:
    return binascii.crc32(data) & 0xFFFFFFFF


def cobs_encode(data) -> bytes:
    out = bytearray()
    n, start = len(data), 0
    while True:
        end = start
        while end < n and end - start < 254 and data[end] != 0:
            end += 1
        out.append(end - start + 1)
        out += data[start:end]
        if end - start == 254:
            if end == n:
                break
            start = end
        elif end == n:
            break
        else:
            start = end + 1
    return bytes(out)


def encode_frame(msg_type: int, seq: int, payload=b"", flags: int = RESPONSE) -> bytes:
    raw = bytearray(struct.pack("<BBBH", VERSION, msg_type, flags, seq & 0xFFFF))
    raw += payload
    raw += struct.pack("<I", crc32(raw))
    return b"\x00" + cobs_encode(raw) + b"\x00"


def decode_raw(raw):
    """A frame (version, type, flags, seq, payload) from a decoded run, or None for garbage."""
    if len(raw) < 9 or crc32(raw[:-4]) != struct.unpack("<I", raw[-4:])[0]:
        return None
    version, msg_type, flags, seq = struct.unpack("<BBBH", raw)
    return version, msg_type, flags, seq, bytes(raw[5:-4])


class Link:
    """Frames off a byte stream, read block by block as COBS announces them (never past a frame)."""

    REPL_TAKEOVER = b"\r\x03"

    def __init__(self, stream_in, stream_out) -> None:
        self.inp, self.out = stream_in, stream_out
        self.pending = b""
        self.limit = 2 * (MAX_PAYLOAD + 9)

    def _read(self, n: int) -> bytes:
        data = self.pending[:n]
        self.pending = self.pending[n:]
        while len(data) < n:
            more = self.inp.read(n - len(data))
            if not more:
                return data
            data += more
        return data

    def next_run(self):
        """The decoded bytes of the next run: bytearray (COBS-valid), b"" (garbage), None (end)."""
        code = 0
        while code == 0:
            first = self._read(1)
            if not first:
                return None
            code = first[0]
        if code == self.REPL_TAKEOVER[0]:
            peek = self._read(1)
            if peek == self.REPL_TAKEOVER[1:]:
                return self.REPL_TAKEOVER
            self.pending = peek + self.pending
        out = bytearray()
        seen = 1
        while True:
            block = self._read(code - 1)
            zero = block.find(b"\x00")
            if zero >= 0:  # a torn run: the next one starts after this delimiter
                self.pending = block[zero + 1:] + self.pending
                return b""
            if len(block) < code - 1:
                return None
            out += block
            seen += code
            nxt = self._read(1)
            if not nxt:
                return None
            if nxt[0] == 0:
                return out
            if seen > self.limit:
                self._skip()
                return b""
            if code != 0xFF:
                out.append(0)
            code = nxt[0]

    def _skip(self) -> None:
        while True:
            byte = self._read(1)
            if not byte or byte[0] == 0:
                return

    def send(self, msg_type: int, seq: int, payload=b"", flags: int = RESPONSE) -> None:
        self.out.write(encode_frame(msg_type, seq, payload, flags))


class UnsupportedModel(Exception):
    pass


class InvokeFailed(Exception):
    pass


class Model:
    """The model file run through microlite: per-element setValue/getValue in its callbacks."""

    def __init__(self, microlite, path: str, arena: int) -> None:
        with open(path, "rb") as f:
            data = bytearray(f.read())
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).digest()
        self.inputs = [bytearray(n) for n, _ in io_tensors(data, 1)]
        self.outputs = [bytearray(n) for n, _ in io_tensors(data, 2)]
        self.in_types = [t for _, t in io_tensors(data, 1)]
        self.out_types = [t for _, t in io_tensors(data, 2)]
        for kind, types in (("input", self.in_types), ("output", self.out_types)):
            for i, t in enumerate(types):
                if t not in ELEMENT:
                    raise UnsupportedModel("%s %d is %s: microlite reads and writes float32, int8 and uint8 "
                                           "tensors only" % (kind, i, TYPE_NAMES.get(t, "type %d" % t)))
        self.t_in = self.t_out = self.copy_us = 0
        gc.collect()
        self.interp = microlite.interpreter(data, arena, self._fill, self._drain)

    def _fill(self, interp) -> None:
        started = time.ticks_us()
        for i, buf in enumerate(self.inputs):
            fmt = ELEMENT[self.in_types[i]]
            tensor = interp.getInputTensor(i)
            for k, v in enumerate(struct.unpack("<%d%s" % (len(buf) // struct.calcsize(fmt), fmt), buf)):
                tensor.setValue(k, v)
        self.t_in = time.ticks_us()
        self.copy_us = time.ticks_diff(self.t_in, started)

    def _drain(self, interp) -> None:
        self.t_out = time.ticks_us()
        for i, buf in enumerate(self.outputs):
            fmt = ELEMENT[self.out_types[i]]
            tensor = interp.getOutputTensor(i)
            count = len(buf) // struct.calcsize(fmt)
            struct.pack_into("<%d%s" % (count, fmt), buf, 0, *[tensor.getValue(k) for k in range(count)])

    def invoke(self):
        """Run the model: (TFLM's Invoke() alone, the time between the two callbacks; the input
        callback's copy into the interpreter), in us."""
        if self.interp.invoke() != 0:
            raise InvokeFailed("microlite's invoke() returned 1: TFLM's Invoke() failed")
        return time.ticks_diff(self.t_out, self.t_in), self.copy_us


def _table(buf, pos: int) -> int:
    return pos + struct.unpack_from("<I", buf, pos)[0]


def _field(buf, table: int, index: int) -> int:
    """Absolute position of a table's field, or 0 when absent (flatbuffers vtable lookup)."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vt_size = struct.unpack_from("<H", buf, vtable)[0]
    if 4 + 2 * index >= vt_size:
        return 0
    off = struct.unpack_from("<H", buf, vtable + 4 + 2 * index)[0]
    return table + off if off else 0


def _vector(buf, pos: int):
    start = _table(buf, pos)
    return start + 4, struct.unpack_from("<I", buf, start)[0]


def io_tensors(buf, which: int) -> list:
    """(bytes, TensorType) of the first subgraph's inputs (which=1) or outputs (2)."""
    model = _table(buf, 0)
    subgraphs, _ = _vector(buf, _field(buf, model, 2))
    graph = _table(buf, subgraphs)
    tensors, _ = _vector(buf, _field(buf, graph, 0))
    ids, count = _vector(buf, _field(buf, graph, which))
    result = []
    for k in range(count):
        tensor = _table(buf, tensors + 4 * struct.unpack_from("<i", buf, ids + 4 * k)[0])
        type_pos = _field(buf, tensor, 1)
        ttype = buf[type_pos] if type_pos else 0
        elements = 1
        shape_pos = _field(buf, tensor, 0)
        if shape_pos:
            dims, ndims = _vector(buf, shape_pos)
            for d in range(ndims):
                elements *= struct.unpack_from("<i", buf, dims + 4 * d)[0]
        result.append((elements * TYPE_BYTES.get(ttype, 1), ttype))
    return result


class PowerSensor:
    """An INA219 or INA226 at 0x40..0x4F on machine.I2C(0), if one answers."""

    def __init__(self, shunt_ohm: float = 0.1) -> None:
        self.i2c = self.addr = None
        self.kind = ""
        try:
            from machine import I2C
            i2c = I2C(0)
            found = [a for a in i2c.scan() if 0x40 <= a <= 0x4F]
        except Exception:
            return
        if not found:
            return
        self.i2c, self.addr = i2c, found[0]
        self.kind = "ina226" if self._reg(0xFE) == 0x5449 else "ina219"
        self.lsb_ma = 0.05  # 50 uA per current bit: up to about 1.6 A
        self._write(0x05, int(0.00512 / (self.lsb_ma / 1000 * shunt_ohm)) if self.kind == "ina226"
                    else int(0.04096 / (self.lsb_ma / 1000 * shunt_ohm)))

    def _reg(self, reg: int) -> int:
        return struct.unpack(">H", self.i2c.readfrom_mem(self.addr, reg, 2))[0]

    def _write(self, reg: int, value: int) -> None:
        self.i2c.writeto_mem(self.addr, reg, struct.pack(">H", value))

    def read(self):
        """(current mA, bus volts); NaN without a sensor."""
        if self.i2c is None:
            return NAN, NAN
        raw = self._reg(0x04)
        raw = raw - 0x10000 if raw & 0x8000 else raw
        bus = self._reg(0x02)
        volts = bus * 0.00125 if self.kind == "ina226" else (bus >> 3) * 0.004
        return raw * self.lsb_ma, volts


class Agent:
    def __init__(self, link: Link, model_path: str, arena: int, board: str, microlite=None) -> None:
        self.link, self.arena, self.board = link, arena, board
        self.model = None
        self.error = (NO_MODEL, "no model at " + model_path)
        self.simulated = bool(getattr(microlite, "SIMULATED", False))
        self.sensor = PowerSensor()
        self.current = (NAN, NAN, NAN)
        self.has_output = False
        self.log_seq = 0
        self.heap_min = gc.mem_free()
        if microlite is None:
            self.error = (NO_MODEL, "this firmware has no TFLM module (microlite)")
        else:
            self._load(microlite, model_path)

    def _load(self, microlite, path: str) -> None:
        try:
            open(path, "rb").close()
        except OSError:
            return
        try:
            self.model = Model(microlite, path, self.arena)
            self.error = None
        except UnsupportedModel as exc:
            self.error = (MODEL_INVALID, str(exc))
        except MemoryError as exc:
            self.error = (ARENA_TOO_SMALL, "out of memory: " + str(exc))
        except Exception as exc:
            message = str(exc)
            too_small = "arena" in message.lower() or "allocate" in message.lower()
            self.error = (ARENA_TOO_SMALL if too_small else MODEL_INVALID, message)

    def log(self, level: int, text: str) -> None:
        """A LOG frame (device's own sequence counter)."""
        self.log_seq = (self.log_seq + 1) & 0xFFFF
        self.link.send(LOG, self.log_seq, bytes([level]) + text.encode(), 0)

    def info(self) -> bytes:
        m = self.model
        flags = (F_SIMULATED if self.simulated else 0) | (F_CURRENT if self.sensor.i2c else 0) | (F_READY if m else 0)
        head = struct.pack("<BBHHBI32sIII", VERSION, flags, _cpu_mhz(), MAX_PAYLOAD, 0 if m else 0xFF,
                           m.size if m else 0, m.sha256 if m else bytes(32), self.arena, gc.mem_free(), 0)
        version = ".".join(str(v) for v in sys.implementation.version[:3])
        return head + b"".join(_str8(s) for s in ("micropython", version, self.board)) + b"\x00"

    def handle(self, msg_type: int, payload: bytes):
        """(answer type, payload) for a request."""
        if msg_type in (HELLO, INFO):
            return msg_type, self.info()
        if msg_type == RESET:  # the agent leaves and hands the REPL back
            return RESET, b""
        if msg_type == METRICS:
            free = gc.mem_free()
            self.heap_min = min(self.heap_min, free)
            return msg_type, struct.pack("<IIIIIfff", self.arena if self.model else 0, free, self.heap_min, 0, 0,
                                         *self.current)
        if msg_type in (SET_INPUT, INVOKE, GET_OUTPUT) and self.error:
            return ERROR, struct.pack("<H", self.error[0]) + self.error[1].encode()
        if msg_type == SET_INPUT:
            return self._set_input(payload)
        if msg_type == INVOKE:
            return self._invoke()
        if msg_type == GET_OUTPUT:
            return self._get_output(payload)
        if msg_type in (MODEL_BEGIN, MODEL_DATA, MODEL_END):
            return ERROR, struct.pack("<H", UPLOAD_STATE) + b"a MicroPython board takes models on its filesystem"
        return ERROR, struct.pack("<H", UNKNOWN_TYPE) + b"no such message type"

    def _set_input(self, payload: bytes):
        if len(payload) < 9:
            return ERROR, struct.pack("<H", BAD_PAYLOAD) + b"tensor chunk too short"
        index, offset, total = struct.unpack_from("<BII", payload)
        data = memoryview(payload)[9:]
        inputs = self.model.inputs
        if index >= len(inputs) or total != len(inputs[index]) or offset + len(data) > total:
            return ERROR, struct.pack("<H", BAD_TENSOR) + b"no such input, wrong size or past its end"
        inputs[index][offset:offset + len(data)] = data
        return SET_INPUT, b""

    def _invoke(self):
        try:
            latency, copy_us = self.model.invoke()
        except Exception as exc:
            return ERROR, struct.pack("<H", INVOKE_FAILED) + str(exc).encode()
        current, volts = self.sensor.read()
        self.current = (current, current, volts)
        self.has_output = True
        return INVOKE, struct.pack("<IQI", latency, latency * _cpu_mhz(), copy_us)

    def _get_output(self, payload: bytes):
        if len(payload) < 7:
            return ERROR, struct.pack("<H", BAD_PAYLOAD) + b"output request too short"
        index, offset, length = struct.unpack("<BIH", payload)
        outputs = self.model.outputs
        if index >= len(outputs) or not self.has_output or offset > len(outputs[index]):
            return ERROR, struct.pack("<H", BAD_TENSOR) + b"no such output, or no output yet"
        length = min(length, MAX_PAYLOAD - 9)
        out = outputs[index]
        return GET_OUTPUT, struct.pack("<BII", index, offset, len(out)) + out[offset:offset + length]

    def serve(self) -> None:
        """Answer requests until RESET, the end of input or the REPL taking the line back."""
        while True:
            run = self.link.next_run()
            if run is None or run == Link.REPL_TAKEOVER:
                return
            frame = decode_raw(run) if run else None
            if frame is None:
                continue
            version, msg_type, flags, seq, payload = frame
            if flags & RESPONSE or msg_type == LOG:
                continue
            if version != VERSION:
                self.link.send(ERROR, seq, struct.pack("<H", UNSUPPORTED_VERSION) + b"this agent speaks version 1")
                continue
            if msg_type == HELLO and self.error:
                self.log(0, self.error[1])
            try:
                answer, body = self.handle(msg_type, payload)
            except Exception as exc:
                answer, body = ERROR, struct.pack("<H", BAD_PAYLOAD) + str(exc).encode()
            self.link.send(answer, seq, body)
            if msg_type == RESET:
                return


def _cpu_mhz() -> int:
    try:
        import machine
        return machine.freq() // 1000000
    except Exception:
        return 240


def _str8(text: str) -> bytes:
    raw = text.encode()[:255]
    return bytes([len(raw)]) + raw


def main(model: str = "espml_model.tflite", arena: int = 65536, board: str = "esp32s3") -> None:
    """Serve the protocol on stdin/stdout; Ctrl-C is data until the agent returns."""
    try:
        import microlite
    except ImportError:
        microlite = None
    micropython.kbd_intr(-1)
    try:
        agent = Agent(Link(sys.stdin.buffer, sys.stdout.buffer), model, arena, board, microlite)
        agent.log(2, "espml agent serving")  # the host waits for this first frame before it speaks
        agent.serve()
    finally:
        micropython.kbd_intr(3)
