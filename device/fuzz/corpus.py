"""Seed corpora for the fuzz targets, made from the project's fixtures and nothing else.

    python device/fuzz/corpus.py OUT_DIR        writes OUT_DIR/<target>/<name> for every target

Deterministic (fixed seeds), small (about 350 KB in all, 200 KB of it the reference model) and
regenerated rather than committed. The inputs that once broke something live next to this file,
in corpus/<target>/, and are committed: they are regression tests. Both the C targets (replay
driver, libFuzzer) and the Python targets read these folders; each target's input format is the
same in both languages except ``device`` (C only) and ``messages`` (Python only).

Sources: fixtures/protocol/vectors.json (wire bytes), fixtures/image/vectors.json (slots),
fixtures/reference/*.tflite and small models from toolkit/model/synth.py's ModelBuilder, plus
deterministic byte mutations of those and structural mutations of the models (a field of the
flatbuffer set to a hostile value, then packed again: what random bytes rarely reach).
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
C_TARGETS = ("cobs", "frame", "model_image", "tflite", "device")
PY_TARGETS = ("cobs", "frame", "messages", "tflite", "model_image")
TARGETS = tuple(dict.fromkeys(C_TARGETS + PY_TARGETS))
SEED = 20240611

if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))


# --- byte mutations ----------------------------------------------------------------------------------
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def mutate(data: bytes, rng: random.Random, rounds: int = 1) -> bytes:
    """A few random edits, the kinds a noisy line or a torn write makes: flips, overwrites, cuts,
    duplications, insertions, a delimiter where none was."""
    out = bytearray(data)
    for _ in range(rounds):
        kind = rng.randrange(8)
        at = rng.randrange(len(out) + 1)
        if kind == 0 and out:  # flip a bit
            at = min(at, len(out) - 1)
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:  # an interesting byte
            out[min(at, len(out) - 1)] = rng.choice(INTERESTING)
        elif kind == 2:  # cut the tail
            del out[at:]
        elif kind == 3:  # drop a range
            del out[at:at + rng.randint(1, 16)]
        elif kind == 4:  # repeat a range
            out[at:at] = out[at:at + rng.randint(1, 32)]
        elif kind == 5:  # insert random bytes
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 6:  # a stray delimiter
            out[at:at] = b"\x00"
        elif out:  # a little-endian word set to an edge value
            at = min(at, max(0, len(out) - 4))
            out[at:at + 4] = struct.pack("<I", rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)))[:len(out) - at]
    return bytes(out)


# --- fixtures -----------------------------------------------------------------------------------------
def protocol_cases() -> list[tuple[str, bytes]]:
    cases = json.loads((FIXTURES / "protocol" / "vectors.json").read_text())["cases"]
    return [(case["name"], bytes.fromhex(case["wire"])) for case in cases]


def protocol_frames() -> list[tuple[str, dict]]:
    """(name, frame) of every frame the protocol vectors expect."""
    frames = []
    for case in json.loads((FIXTURES / "protocol" / "vectors.json").read_text())["cases"]:
        for event in case["events"]:
            if "frame" in event:
                frames.append((case["name"], event["frame"]))
    return frames


def image_cases() -> list[tuple[str, bytes]]:
    cases = json.loads((FIXTURES / "image" / "vectors.json").read_text())["cases"]
    return [(case["name"], bytes.fromhex(case["slot"])) for case in cases]


def reference_models() -> list[tuple[str, bytes]]:
    return [(path.stem, path.read_bytes()) for path in sorted((FIXTURES / "reference").glob("*.tflite"))]


def small_models() -> list[tuple[str, bytes]]:
    """A handful of few-KB int8 models covering the op kinds and the odd cases inspect handles."""
    from toolkit.model.synth import ModelBuilder

    models = []
    b = ModelBuilder(seed=1)
    x = b.input((1, 8, 8, 2))
    y = b.conv2d(x, 4, 3, stride=2)
    y = b.depthwise_conv2d(y, 3)
    y = b.max_pool(y, 2)
    y = b.fully_connected(b.reshape(y, (1, -1)), 6, per_channel=True)
    models.append(("conv_dw_pool_fc", b.build([x], [b.softmax(y)])))

    b = ModelBuilder(seed=2)
    x = b.input((1, 6, 6, 3))
    y = b.add(x, b.depthwise_conv2d(x, 3))
    models.append(("add_avgpool", b.build([x], [b.avg_pool(y, 2)])))

    b = ModelBuilder(seed=3)
    x = b.input((1, 16))
    models.append(("fc_only", b.build([x], [b.fully_connected(x, 4, relu=True)])))

    b = ModelBuilder(seed=4)
    x = b.input((1, 4, 4, 1))
    models.append(("custom_flex", b.build([x], [b.custom("FlexErf", b.unary("RELU", x))])))

    b = ModelBuilder(seed=5)
    x = b.input((1, 4, 4, 1))
    models.append(("float_inside", b.build([x], [b.unary("LOGISTIC", x, float_output=True)])))

    b = ModelBuilder(seed=6)
    x = b.input((1, 5))
    models.append(("two_outputs", b.build([x], [b.unary("RELU", x), b.unary("TANH", x)])))
    return models


# --- structural mutations of a model -----------------------------------------------------------------
HOSTILE_INTS = (-(2 ** 31), -2, -1, 0, 1, 3, 7, 255, 256, 65535, 2 ** 31 - 1)


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def mutate_model(data: bytes, rng: random.Random, edits: int = 1) -> bytes:
    """The model with ``edits`` fields set to hostile values, packed again (a valid flatbuffer
    with invalid contents). Returns ``data`` itself when the schema cannot pack the edit."""
    import flatbuffers
    import numpy as np

    s = _schema()
    model = s.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    tensors, ops = graph.tensors or [], graph.operators or []
    codes, buffers = model.operatorCodes or [], model.buffers or []

    def hostile_int() -> int:
        return rng.choice(HOSTILE_INTS + (len(tensors), len(codes), len(buffers)))

    def int_list(allow_negative: bool = True) -> np.ndarray:
        values = [rng.choice(HOSTILE_INTS) for _ in range(rng.randint(0, 7))]
        if not allow_negative:
            values = [v & 0x7FFFFFFF for v in values]
        return np.array(values, dtype=np.int64).astype(np.int32)

    for _ in range(edits):
        kind = rng.randrange(22)
        tensor = rng.choice(tensors) if tensors else None
        op = rng.choice(ops) if ops else None
        code = rng.choice(codes) if codes else None
        if kind == 0 and op is not None:
            op.opcodeIndex = rng.choice((len(codes), len(codes) + 1, 2 ** 31, 2 ** 32 - 1))
        elif kind == 1 and op is not None and op.inputs is not None and len(op.inputs):
            op.inputs = np.array(op.inputs, dtype=np.int32)
            op.inputs[rng.randrange(len(op.inputs))] = rng.choice((-1, -2, len(tensors), 2 ** 31 - 1))
        elif kind == 2 and op is not None:
            op.outputs = rng.choice((np.array([], dtype=np.int32), np.array([len(tensors)], dtype=np.int32),
                                     np.array([-1], dtype=np.int32)))
        elif kind == 3 and tensor is not None:
            tensor.shape = int_list()
        elif kind == 4 and tensor is not None:
            shape = list(tensor.shape if tensor.shape is not None else [])
            tensor.shapeSignature = np.array([-1] + shape[1:] if rng.random() < 0.5 else [-1] * rng.randint(0, 6),
                                             dtype=np.int32)
        elif kind == 5 and tensor is not None:
            tensor.type = rng.choice((1, 4, 5, 8, 10, 11, 12, 13, 14, 15, 17, 18, 19, 99, 127))
        elif kind == 6 and tensor is not None:
            tensor.buffer = rng.choice((len(buffers), len(buffers) + 5, 2 ** 31, 2 ** 32 - 1))
        elif kind == 7 and tensor is not None and tensor.quantization is not None:
            q = tensor.quantization
            q.scale = np.array([rng.choice((0.0, -1.0, float("nan"), float("inf"), 1e-45))] * rng.randint(0, 3),
                               dtype=np.float32)
            q.zeroPoint = np.array([rng.choice(HOSTILE_INTS)] * rng.randint(0, 3), dtype=np.int64)
            q.quantizedDimension = rng.choice((-1, 0, 3, 7, 2 ** 31 - 1))
        elif kind == 8 and tensor is not None:
            tensor.quantization = None
        elif kind == 9 and tensor is not None:
            tensor.name = rng.choice((b"\xff\xfe\xfd", b"", b"[red]x[/]", b"a" * 300, b"\x00nul"))
        elif kind == 10 and tensor is not None:
            tensor.isVariable = True
        elif kind == 11 and code is not None:
            code.builtinCode = rng.choice((-1, 32, 127, 161, 162, 500, 2 ** 31 - 1))
            code.deprecatedBuiltinCode = rng.choice((-128, -1, 0, 32, 127))
        elif kind == 12 and code is not None:
            code.builtinCode, code.deprecatedBuiltinCode = 32, 32
            code.customCode = rng.choice((b"\xff\xfe", b"Flex", b"[/]", b"", None))
        elif kind == 13:
            model.version = rng.choice((0, 2, 4, 2 ** 32 - 1))
        elif kind == 14:
            model.subgraphs = rng.choice(([], [graph, graph], [s.SubGraphT()] + [graph]))
        elif kind == 15:
            graph.inputs = int_list()
        elif kind == 16:
            graph.outputs = int_list()
        elif kind == 17:
            graph.operators = rng.choice(([], ops + ops[:1], list(reversed(ops))))
        elif kind == 18:
            model.operatorCodes = rng.choice(([], codes[:1]))
        elif kind == 19 and op is not None:
            op.builtinOptionsType = rng.randrange(130)
        elif kind == 20 and op is not None and op.builtinOptions is not None:
            for name, value in vars(op.builtinOptions).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    setattr(op.builtinOptions, name, rng.choice((-1, 0, 2 ** 31 - 1)))
        elif kind == 21 and buffers:
            buffer = rng.choice(buffers)
            buffer.data = None
            buffer.offset, buffer.size = rng.choice(((1, 2 ** 40), (0, 12), (2 ** 63 - 1, 1)))
        else:
            model.description = rng.choice((b"\xc3\x28", None, b"x" * 1000))
    builder = flatbuffers.Builder(1024)
    try:
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    except (struct.error, TypeError, ValueError, OverflowError, AttributeError):
        return data  # a value this schema's packer will not write
    return bytes(builder.Output())


# --- images, device sessions, messages -------------------------------------------------------------------
def image_slot(payload: bytes, sequence: int = 1, slot_size: int = 0) -> bytes:
    """A slot holding ``payload`` as a model image (tensor summaries zero, as an upload writes them)."""
    head = struct.pack("<4sHHII32s", b"EMLI", 1, 256, len(payload), sequence, hashlib.sha256(payload).digest())
    head += bytes(72)
    header = (head + struct.pack("<I", zlib.crc32(head))).ljust(256, b"\x00")
    slot = header + payload
    return slot + b"\xff" * (max(slot_size, len(slot)) - len(slot))


def _record_frame(type_: int, seq: int, payload: bytes = b"") -> bytes:
    return bytes([1, type_]) + struct.pack("<HH", seq, len(payload)) + payload


def _record_upload(model: bytes, chunk: int = 15, tag: int = 2) -> bytes:
    return bytes([tag]) + struct.pack("<HB", len(model), chunk) + model


def _record_image(model: bytes, slot: int = 0, sequence: int = 1, verbatim: bool = False) -> bytes:
    tag = 3 | (0x80 if slot else 0) | (0x40 if verbatim else 0)
    return bytes([tag, sequence]) + struct.pack("<H", len(model)) + model


def edit_model(data: bytes, edit) -> bytes:
    """``data`` with ``edit(model, subgraph)`` applied to its schema objects, packed again."""
    import flatbuffers

    model = _schema().ModelT.InitFromPackedBuf(data, 0)
    edit(model, model.subgraphs[0])
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def device_sessions() -> list[tuple[str, bytes]]:
    """Inputs for fuzz_device.c (its header documents the records): the conversations the host
    has with a board, and the faults it meets."""
    models = dict(small_models())
    model = models["fc_only"]
    hello = _record_frame(0x01, 1)
    info = _record_frame(0x02, 2)
    metrics = _record_frame(0x13, 3)
    run = bytes([7, 0, 16]) + bytes(range(16))
    sessions = [
        ("hello", b"\x01\x00" + hello),
        ("upload_run", b"\x03\x00" + hello + _record_upload(model) + info + run + metrics),
        ("upload_retried", b"\x01\x00" + _record_upload(model, 3, 2 | 0x40 | 0x80) + run),
        ("upload_over_running", b"\x01\x00" + _record_upload(model) + _record_upload(models["conv_dw_pool_fc"], 255)
         + info),
        ("upload_too_large", b"\x00\x00" + _record_upload(models["conv_dw_pool_fc"] * 3, 255)),
        ("upload_refused_by_interpreter", b"\x05\x00" + _record_upload(model) + run),
        ("upload_unsupported_op", b"\x01\x00" + _record_upload(models["float_inside"]) + info),
        ("upload_not_a_model", b"\x01\x00" + _record_upload(b"not a flatbuffer" * 4) + info),
        ("upload_schema_2", b"\x01\x00" + _record_upload(edit_model(model, lambda m, g: setattr(m, "version", 2)))),
        ("upload_unknown_op", b"\x01\x00" + _record_upload(edit_model(
            model, lambda m, g: setattr(m.operatorCodes[0], "builtinCode", 500))) + run),
        ("flash_fault", b"\x01\x03" + _record_upload(model) + info),
        ("invoke_fails", b"\x11\x00" + _record_upload(model) + run + metrics),
        ("images_both_slots", b"\x02\x00" + _record_image(model, 0, 5) + _record_image(model, 1, 6) + info + run),
        ("image_verbatim", b"\x02\x00" + _record_image(image_slot(model, 9), 1, 0, True) + info),
        ("image_then_reboot", b"\x22\x00" + _record_image(model, 1, 200) + bytes([4]) + run + metrics),
        ("reset", b"\x01\x00" + _record_upload(model) + _record_frame(0x14, 7) + info),
        ("logs_while_sending", b"\x41\x00" + _record_upload(model) + bytes([5, 40]) + b"tflm: line one\nline two\r\n"
         + bytes(14) + bytes([6 | 0x10, 5]) + b"hello" + run),
        ("bad_requests", b"\x01\x00" + _record_frame(0x10, 1, b"\x00") + _record_frame(0x12, 2, b"\x00\x01")
         + _record_frame(0x21, 3, b"\x00\x00\x00\x00abc") + _record_frame(0x22, 4) + _record_frame(0x20, 5, b"\x01")
         + _record_frame(0x7E, 6) + bytes([0x81, 0x01, 0x02, 9, 0, 0, 0])),
        ("model_data_gap", b"\x01\x00" + _record_frame(0x20, 1, struct.pack("<I", 100) + bytes(32))
         + _record_frame(0x21, 2, struct.pack("<I", 50) + b"x" * 10)),
        ("model_begin_repeated_data_past_size_wrong_sha", b"\x01\x00"
         + _record_frame(0x20, 1, struct.pack("<I", 10) + bytes(32))
         + _record_frame(0x20, 2, struct.pack("<I", 10) + bytes(32))
         + _record_frame(0x21, 3, struct.pack("<I", 0) + b"y" * 20)
         + _record_frame(0x21, 4, struct.pack("<I", 0) + b"y" * 10)
         + _record_frame(0x22, 5) + _record_frame(0x22, 5) + _record_frame(0x22, 6)),
    ]
    for name, wire in protocol_cases():  # the vectors' bytes as they arrive, boot text and all
        sessions.append((f"raw_{name}", b"\x01\x00" + b"".join(bytes([0, len(wire[i:i + 255])]) + wire[i:i + 255]
                                                                 for i in range(0, len(wire), 255))))
    return sessions


MESSAGE_CLASSES = ("Info", "TensorChunk", "OutputRequest", "InvokeResult", "Metrics", "ModelBegin", "ModelData",
                   "SlotAnswer", "LogRecord", "ErrorPayload")
# which message class unpacks the payload of each frame type, as requests or as answers
_PAYLOADS = {(0x01, 1): "Info", (0x02, 1): "Info", (0x10, 0): "TensorChunk", (0x12, 0): "OutputRequest",
             (0x12, 1): "TensorChunk", (0x11, 1): "InvokeResult", (0x13, 1): "Metrics", (0x20, 0): "ModelBegin",
             (0x20, 1): "SlotAnswer", (0x21, 0): "ModelData", (0x22, 1): "SlotAnswer", (0x30, 0): "LogRecord",
             (0x3F, 1): "ErrorPayload"}


def message_inputs() -> list[tuple[str, bytes]]:
    """Inputs for the Python ``messages`` target: the class index, then the payload."""
    out = []
    for name, frame in protocol_frames():
        cls = _PAYLOADS.get((frame["type"], frame["flags"] & 1))
        if cls is not None:
            out.append((name, bytes([MESSAGE_CLASSES.index(cls)]) + bytes.fromhex(frame["payload"])))
    return out


# --- the seed corpora ------------------------------------------------------------------------------------
def seeds(target: str) -> dict[str, bytes]:
    rng = random.Random(f"{SEED}:{target}")
    out: dict[str, bytes] = {}
    if target in ("frame", "cobs"):
        cases = protocol_cases()
        if target == "frame":
            out.update(cases)
            out["all_vectors"] = b"".join(wire for _, wire in cases)
        else:  # the COBS runs between delimiters
            for name, wire in cases:
                for i, run in enumerate(r for r in wire.split(b"\x00") if r):
                    out[f"{name}_{i}"] = run
        base = list(out.values())
        for i in range(40):
            out[f"mutated_{i:02d}"] = mutate(rng.choice(base), rng, rng.randint(1, 4))
    elif target == "messages":
        out.update(message_inputs())
        base = list(out.values())
        for i in range(30):
            data = mutate(rng.choice(base)[1:], rng, rng.randint(1, 3))
            out[f"mutated_{i:02d}"] = bytes([rng.randrange(len(MESSAGE_CLASSES))]) + data
    elif target == "model_image":
        out.update(image_cases())
        models = dict(small_models())
        out["synth_fc_only"] = image_slot(models["fc_only"], 7, 4096)
        out["synth_two_outputs_seq_max"] = image_slot(models["two_outputs"], 0xFFFFFFFF)
        out["length_past_slot"] = image_slot(b"x" * 40)[:200 + 56]
        base = list(out.values())
        for i in range(20):
            out[f"mutated_{i:02d}"] = mutate(rng.choice(base), rng, rng.randint(1, 3))
    elif target == "tflite":
        models = small_models()
        out.update(models)
        out.update(reference_models())
        for i in range(40):
            name, model = rng.choice(models)
            out[f"structural_{i:02d}_{name}"] = mutate_model(model, rng, rng.randint(1, 3))
        for i in range(10):
            name, model = rng.choice(models)
            out[f"bytes_{i:02d}_{name}"] = mutate(model, rng, rng.randint(1, 3))
    elif target == "device":
        out.update(device_sessions())
    else:
        raise ValueError(f"no such fuzz target: {target}")
    return out


def write(out_dir: Path, targets: tuple[str, ...] = TARGETS) -> dict[str, Path]:
    """Write the seed corpora into out_dir/<target>/ (replacing what was there); return the folders."""
    folders = {}
    for target in targets:
        folder = out_dir / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, data in seeds(target).items():
            (folder / name).write_bytes(data)
        folders[target] = folder
    return folders


def regression_dir(target: str) -> Path:
    """Committed inputs that once found a bug (device/fuzz/corpus/<target>/)."""
    return Path(__file__).resolve().parent / "corpus" / target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for target, folder in write(Path(argv[0])).items():
        files = list(folder.iterdir())
        print(f"{target}: {len(files)} inputs, {sum(f.stat().st_size for f in files):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
