"""Python fuzz targets: the host's parsers of bytes that come from outside.

Each target takes one input (bytes) and checks the contract: bad bytes raise the toolkit's own
errors (``ToolkitError`` subclasses) or give a documented "not valid" value (``None``, a
``Garbage`` event); any other exception, a broken invariant (``FuzzFailure``) or a call that
runs longer than ``SLOW_S`` is a bug. The input formats match the C targets' (device/fuzz/*.c),
so both read the same corpora (device/fuzz/corpus.py). The firmware's fuzzers live in device/fuzz/;
these, which fuzz the toolkit's Python, live beside the tests that run them (tests/test_fuzz.py):

    cobs         a COBS run                      toolkit/protocol/cobs.py
    frame        bytes as they arrive            toolkit/protocol/frame.py (FrameDecoder, decode_raw)
    messages     class index byte, payload       toolkit/protocol/messages.py (every unpack)
    tflite       a .tflite file                  toolkit/model/reader.py, then what espml inspect does
    model_image  the bytes of a model slot       toolkit/image/model_image.py (parse_header, verify_slot)

Where the firmware's C parses the same bytes (COBS, frames, model images), the target also runs
the C (the host port's library, when it is built) and checks that both agree.

    python tests/fuzz/host_targets.py TARGET [libFuzzer options] [CORPUS...]    fuzz one target with atheris
    FUZZ_COLLECT=FOLDER python tests/fuzz/host_targets.py ...     keep going past failures, one input
                                                                 of each kind saved in FOLDER
"""

from __future__ import annotations

import ctypes
import importlib
import io
import json
import math
import os
import struct
import sys
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "device" / "fuzz"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from corpus import MESSAGE_CLASSES  # noqa: E402  (device/fuzz/corpus.py)

SLOW_S = 5.0  # no single input may take longer than this (a hang, or a blow-up)


class FuzzFailure(AssertionError):
    """An input broke a target's contract."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise FuzzFailure(message)


# --- the firmware's C, for differential checks --------------------------------------------------------
@lru_cache(maxsize=1)
def c_core() -> ctypes.CDLL | None:
    """The host port's library (device/core + port/host), or None when it cannot be built here."""
    try:
        from toolkit.virtual import host_port

        lib = ctypes.CDLL(str(host_port.build()))
    except Exception:  # no compiler: the Python side is still checked on its own
        return None
    p, size = ctypes.c_void_p, ctypes.c_size_t
    lib.espml_cobs_decode.restype, lib.espml_cobs_decode.argtypes = ctypes.c_long, [ctypes.c_char_p, size, p, size]
    lib.espml_decoder_init.restype, lib.espml_decoder_init.argtypes = None, [p, p, p, size]
    lib.espml_decoder_feed.restype, lib.espml_decoder_feed.argtypes = ctypes.c_int, [p, ctypes.c_uint8, p]
    lib.espml_image_parse_header.restype = ctypes.c_int
    lib.espml_image_parse_header.argtypes = [ctypes.c_char_p, size, p]
    lib.espml_image_verify.restype = ctypes.c_int
    lib.espml_image_verify.argtypes = [ctypes.c_char_p, size, p, p, p]
    return lib


class _CFrame(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint8), ("type", ctypes.c_uint8), ("flags", ctypes.c_uint8),
                ("seq", ctypes.c_uint16), ("payload", ctypes.c_void_p), ("payload_length", ctypes.c_size_t)]


class _CDecoder(ctypes.Structure):
    _fields_ = [("buffer", ctypes.c_void_p), ("capacity", ctypes.c_size_t), ("length", ctypes.c_size_t),
                ("decoded", ctypes.c_void_p), ("overflowed", ctypes.c_int)]


class _CSummary(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_uint8), ("rank", ctypes.c_uint8), ("dims", ctypes.c_int32 * 6),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]


class _CHeader(ctypes.Structure):
    _fields_ = [("payload_length", ctypes.c_uint32), ("sequence", ctypes.c_uint32),
                ("payload_sha256", ctypes.c_uint8 * 32), ("input", _CSummary), ("output", _CSummary)]


def c_cobs_decode(data: bytes) -> bytes | None:
    lib = c_core()
    out = ctypes.create_string_buffer(max(1, len(data)))
    n = lib.espml_cobs_decode(data, len(data), out, len(data))
    return None if n < 0 else out.raw[:n]


def c_decode_stream(data: bytes, capacity: int) -> list[tuple[int, int, int, int, bytes] | None]:
    """What the firmware's decoder makes of ``data``: a frame tuple or None (garbage) per event."""
    lib = c_core()
    buffer, decoded = ctypes.create_string_buffer(capacity), ctypes.create_string_buffer(capacity)
    decoder, frame = _CDecoder(), _CFrame()
    lib.espml_decoder_init(ctypes.byref(decoder), buffer, decoded, capacity)
    events: list[tuple[int, int, int, int, bytes] | None] = []
    for byte in data:
        result = lib.espml_decoder_feed(ctypes.byref(decoder), byte, ctypes.byref(frame))
        if result == 1:
            payload = ctypes.string_at(frame.payload, frame.payload_length) if frame.payload_length else b""
            events.append((frame.version, frame.type, frame.flags, frame.seq, payload))
        elif result == 2:
            events.append(None)
    return events


def c_verify_slot(slot: bytes):
    """(parse_ok, verify_ok, header) from the firmware's image parser."""
    lib = c_core()
    header, payload = _CHeader(), ctypes.c_void_p()
    parse = lib.espml_image_parse_header(slot, len(slot), ctypes.byref(_CHeader()))
    verify = lib.espml_image_verify(slot, len(slot), lib.espml_sha256, ctypes.byref(header), ctypes.byref(payload))
    return parse == 0, verify == 0, header


# --- targets ---------------------------------------------------------------------------------------------
def check_cobs(data: bytes) -> None:
    from toolkit.protocol.cobs import CobsError, cobs_decode, cobs_encode

    try:
        decoded = cobs_decode(data)
    except CobsError:
        decoded = None
    if decoded is not None:
        again = cobs_encode(decoded)
        _check(0 not in again, "COBS encoding holds a zero")
        _check(cobs_decode(again) == decoded, "COBS decode(encode(x)) != x")
    encoded = cobs_encode(data)
    _check(0 not in encoded and len(encoded) <= len(data) + len(data) // 254 + 1,
           "COBS encoding too long or has a zero")
    _check(cobs_decode(encoded) == data, "COBS decode(encode(input)) != input")
    if c_core() is not None:
        _check(c_cobs_decode(data) == decoded, "the firmware's COBS decoder disagrees with the host's")


def _events(decoder, data: bytes, step: int) -> list:
    events = []
    for i in range(0, len(data), step):
        events += decoder.feed(data[i:i + step])
    return events


def check_frame(data: bytes) -> None:
    from toolkit.protocol.frame import Frame, FrameDecoder, Garbage, decode_raw, encode_frame

    whole = FrameDecoder().feed(data)
    for event in whole:
        _check(isinstance(event, (Frame, Garbage)), f"decoder returned {type(event).__name__}")
        if isinstance(event, Frame):
            again = FrameDecoder().feed(encode_frame(event))
            _check(again == [event], "a decoded frame does not encode back to itself")
    steps = (1, 7, 256) if len(data) <= 4096 else (7, 256) if len(data) <= 65536 else ()
    for step in steps:  # however the bytes are split, the same events (below the decoder's no-delimiter limit)
        _check(_events(FrameDecoder(), data, step) == whole, f"events differ when fed {step} bytes at a time")
    small = FrameDecoder(max_raw_frame=32)  # a tiny limit: long runs become garbage, never an error
    for event in _events(small, data, 97):
        _check(isinstance(event, (Frame, Garbage)), f"decoder returned {type(event).__name__}")
    for run in data.split(b"\x00"):
        if run:
            _check(isinstance(decode_raw(run), (Frame, Garbage)), "decode_raw returned something else")
    if c_core() is not None and len(data) <= 4096:  # (byte by byte through ctypes: slow past a few KB)
        c_events = c_decode_stream(data, 2 * len(data) + 16)
        py_events = [(e.version, e.type, e.flags, e.seq, e.payload) if isinstance(e, Frame) else None for e in whole]
        _check(c_events == py_events, "the firmware's frame decoder disagrees with the host's")


def check_messages(data: bytes) -> None:
    from toolkit.errors import ProtocolError
    from toolkit.protocol import messages

    if not data:
        return
    cls = getattr(messages, MESSAGE_CLASSES[data[0] % len(MESSAGE_CLASSES)])
    try:
        message = cls.unpack(data[1:])
    except ProtocolError:
        return
    packed = message.pack()  # whatever unpacks, packs
    again = cls.unpack(packed)
    if cls.__name__ not in ("Info", "LogRecord", "ErrorPayload", "Metrics"):  # text and NaN do not round-trip
        _check(again == message, f"{cls.__name__}: unpack(pack(m)) != m")
    if cls is messages.ErrorPayload:
        _check(isinstance(message.name, str), "ErrorPayload.name is not a string")
    if cls is messages.Info:
        _ = (message.simulated, message.accepts_upload, message.has_current_sensor, message.model_ready)


def check_tflite(data: bytes) -> None:
    from toolkit.boards import get_board
    from toolkit.errors import ToolkitError
    from toolkit.model.inspect import inspect_model
    from toolkit.model.reader import load_model

    try:
        model = load_model(data)
        # what `espml inspect` does with a model it read: the report, its JSON, its tables
        report = inspect_model(model, get_board("esp32s3"))
    except ToolkitError:  # refused, by the reader or by inspect: the contract
        return
    json.dumps(report.to_json())
    _ = (report.fits, report.macs, report.estimated_latency_ms, model.op_names, model.weight_bytes)
    for tensor in model.tensors:
        _ = (tensor.numpy_dtype, tensor.nbytes, tensor.per_channel)
    from rich.console import Console

    from toolkit.harness.report import inspect_tables

    console = Console(file=io.StringIO(), width=120)
    for table in inspect_tables(report):
        console.print(table)


def _consistent_slot(data: bytes) -> bytes:
    """The C target's fix-up (fuzz_model_image.c): a header that passes every check but the
    payload's, which passes too when the length fits."""
    import hashlib
    import zlib

    slot = bytearray(data)
    if len(slot) < 256:
        return bytes(slot)
    slot[0:8] = b"EMLI" + struct.pack("<HH", 1, 256)
    (length,) = struct.unpack_from("<I", slot, 8)
    if length > len(slot) - 256 and not slot[11] & 0x80:
        length = (len(slot) - 256) * (slot[8] + 1) // 256
        struct.pack_into("<I", slot, 8, length)
    if length <= len(slot) - 256:
        slot[16:48] = hashlib.sha256(slot[256:256 + length]).digest()
    struct.pack_into("<I", slot, 120, zlib.crc32(slot[:120]))
    return bytes(slot)


def check_model_image(data: bytes) -> None:
    from toolkit.image.model_image import HEADER_SIZE, ModelImageHeader, parse_header, verify_slot

    for slot in (data, _consistent_slot(data)):
        header = parse_header(slot)
        verified = verify_slot(slot)
        _check(header is None or isinstance(header, ModelImageHeader), "parse_header returned something else")
        _check(verified is None or header is not None, "verify_slot accepted a slot whose header does not parse")
        if verified is not None:
            v_header, payload = verified
            _check(v_header.pack() == header.pack()  # (packed: a NaN scale is not equal to itself)
                   and payload == slot[HEADER_SIZE:HEADER_SIZE + header.payload_length],
                   "verify_slot's header or payload differs from parse_header's")
        if c_core() is not None:
            c_parse, c_verify, c_header = c_verify_slot(slot)
            _check(c_parse == (header is not None), "the firmware's image parser disagrees with the host's (header)")
            _check(c_verify == (verified is not None), "the firmware's image check disagrees with the host's (verify)")
            if verified is not None:
                _check(c_header.sequence == header.sequence and c_header.payload_length == header.payload_length,
                       "the firmware reads other header fields than the host")
                for c_sum, py_sum in ((c_header.input, header.input), (c_header.output, header.output)):
                    _check(c_sum.dtype == py_sum.dtype and tuple(c_sum.dims[:c_sum.rank]) == py_sum.shape[:6]
                           and c_sum.zero_point == py_sum.zero_point
                           and (c_sum.scale == py_sum.scale or (math.isnan(c_sum.scale) and math.isnan(py_sum.scale))),
                           "the firmware reads other tensor summaries than the host")


TARGETS = {"cobs": check_cobs, "frame": check_frame, "messages": check_messages, "tflite": check_tflite,
           "model_image": check_model_image}


def run(target: str, data: bytes) -> None:
    """One input through one target: ToolkitError and friends are the contract; the rest is a bug."""
    started = time.perf_counter()
    TARGETS[target](data)
    elapsed = time.perf_counter() - started
    _check(elapsed < SLOW_S, f"{target} took {elapsed:.1f} s on a {len(data)}-byte input")


# --- atheris -----------------------------------------------------------------------------------------------
# What each target runs, imported under atheris's instrumentation (coverage comes from these).
ATHERIS_MODULES = {
    "cobs": ["toolkit.protocol.cobs"],
    "frame": ["toolkit.protocol.frame"],
    "messages": ["toolkit.protocol.messages"],
    "model_image": ["toolkit.image.model_image"],
    "tflite": ["flatbuffers", "tflite_micro.tensorflow.lite.micro.python.schema_py_generated", "toolkit.model.reader",
               "toolkit.boards", "toolkit.model.inspect", "toolkit.harness.report"],
}


def atheris_main(argv: list[str]) -> None:
    """``host_targets.py TARGET [libFuzzer options] [CORPUS...]``: coverage-guided, with atheris."""
    import atheris

    target = argv[1]
    if target not in TARGETS:
        raise SystemExit(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
    tflite = target == "tflite"  # the flatbuffer reader and the schema are worth instrumenting for it alone
    with atheris.instrument_imports(include=["toolkit"] + (["flatbuffers", "tflite_micro"] if tflite else [])):
        for module in ATHERIS_MODULES[target]:
            importlib.import_module(module)
    check = TARGETS[target]
    collect = os.environ.get("FUZZ_COLLECT")
    if collect:
        check = _collecting(check, Path(collect))
    atheris.Setup([argv[0]] + argv[2:], lambda data: check(bytes(data)))
    atheris.Fuzz()


def _collecting(check, folder: Path):
    """Keep fuzzing past failures: save the first input of each distinct failure (exception type
    and the toolkit line it came from) into ``folder`` and go on (FUZZ_COLLECT=FOLDER)."""
    import hashlib
    import traceback

    folder.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[str, str, int]] = set()

    def wrapped(data: bytes) -> None:
        try:
            check(data)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none stops the run
            frames = traceback.extract_tb(exc.__traceback__)
            where = next((f for f in reversed(frames) if "/toolkit/" in f.filename), frames[-1])
            signature = (type(exc).__name__, where.filename, where.lineno)
            if signature not in seen:
                seen.add(signature)
                digest = hashlib.sha1(data).hexdigest()[:12]
                name = f"{type(exc).__name__}-{Path(where.filename).stem}-{where.lineno}-{digest}"
                (folder / name).write_bytes(data)
                print(f"\nFAILURE {name}: {exc!r:.200}", file=sys.stderr, flush=True)

    return wrapped


if __name__ == "__main__":
    atheris_main(sys.argv)
