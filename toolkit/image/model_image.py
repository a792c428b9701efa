"""The on-flash model image: a 256-byte header, the TFLite bytes, 0xFF padding to the sector.

Header, little-endian (docs/model_image.md):
    0   magic "EMLI"            4   format_version u16 (1)   6  header_size u16 (256)
    8   payload_length u32      12  sequence u32             16 payload_sha256 [32]
    48  input summary (36)      84  output summary (36)      120 header_crc32 u32 (bytes 0..119)
    124 zero to 256
Tensor summary: dtype u8 (TFLite TensorType), rank u8, reserved u16, dims i32 x 6, scale f32,
zero_point i32. The firmware takes the slot whose image is valid (magic, version, header CRC,
length within the slot, SHA-256 of the payload) with the newer sequence number: serial-number
order (RFC 1982), so the number after 0xFFFFFFFF is 0 and is newer (``is_newer``).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from toolkit.errors import UnfitModelError
from toolkit.image.partitions import MODEL_SLOTS, Partition, find
from toolkit.model.reader import TENSOR_TYPES, TensorInfo, TFLiteModel

MAGIC = b"EMLI"
FORMAT_VERSION = 1
HEADER_SIZE = 256
SECTOR = 4096
_FIXED = struct.Struct("<4sHHII32s")
_TENSOR = struct.Struct("<BBH6ifi")
_CRC_AT = _FIXED.size + 2 * _TENSOR.size  # 120


@dataclass(frozen=True)
class TensorSummary:
    dtype: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @classmethod
    def of(cls, tensor: TensorInfo) -> TensorSummary:
        code = next((c for c, (name, _) in TENSOR_TYPES.items() if name == tensor.dtype), 255)
        return cls(code, tuple(tensor.shape[:6]), tensor.scale[0] if tensor.scale else 0.0,
                   tensor.zero_point[0] if tensor.zero_point else 0)

    def pack(self) -> bytes:
        dims = list(self.shape) + [0] * (6 - len(self.shape))
        return _TENSOR.pack(self.dtype, len(self.shape), 0, *dims, self.scale, self.zero_point)

    @classmethod
    def unpack(cls, data: bytes) -> TensorSummary:
        dtype, rank, _, *rest = _TENSOR.unpack(data)
        return cls(dtype, tuple(rest[:min(rank, 6)]), rest[6], rest[7])  # a rank past 6 must not take in scale


@dataclass(frozen=True)
class ModelImageHeader:
    payload_length: int
    sequence: int
    payload_sha256: bytes
    input: TensorSummary
    output: TensorSummary

    def pack(self) -> bytes:
        head = _FIXED.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, self.payload_length, self.sequence,
                           self.payload_sha256) + self.input.pack() + self.output.pack()
        return (head + struct.pack("<I", zlib.crc32(head))).ljust(HEADER_SIZE, b"\x00")


def build_image(model: TFLiteModel, sequence: int) -> bytes:
    """Header + TFLite bytes, padded with 0xFF (erased flash) to a whole number of sectors."""
    header = ModelImageHeader(model.size, sequence, bytes.fromhex(model.sha256),
                              TensorSummary.of(model.inputs[0]), TensorSummary.of(model.outputs[0]))
    image = header.pack() + model.data
    return image + b"\xff" * (-len(image) % SECTOR)


def parse_header(data: bytes) -> ModelImageHeader | None:
    """The header at the start of ``data``, or None when it is blank, foreign or damaged."""
    if len(data) < HEADER_SIZE or data[:4] != MAGIC:
        return None
    magic, version, header_size, length, sequence, digest = _FIXED.unpack_from(data)
    (crc,) = struct.unpack_from("<I", data, _CRC_AT)
    if version != FORMAT_VERSION or header_size != HEADER_SIZE or zlib.crc32(data[:_CRC_AT]) != crc:
        return None
    inp = TensorSummary.unpack(data[_FIXED.size:_FIXED.size + _TENSOR.size])
    out = TensorSummary.unpack(data[_FIXED.size + _TENSOR.size:_CRC_AT])
    return ModelImageHeader(length, sequence, digest, inp, out)


def verify_slot(slot: bytes) -> tuple[ModelImageHeader, bytes] | None:
    """(header, TFLite bytes) when the slot holds a complete, verified image; else None."""
    header = parse_header(slot)
    if header is None or HEADER_SIZE + header.payload_length > len(slot):
        return None
    payload = slot[HEADER_SIZE:HEADER_SIZE + header.payload_length]
    if hashlib.sha256(payload).digest() != header.payload_sha256:
        return None
    return header, payload


def image_size(model_bytes: int) -> int:
    return -(-(HEADER_SIZE + model_bytes) // SECTOR) * SECTOR


def check_fits(model: TFLiteModel, slot_bytes: int) -> None:
    size = image_size(model.size)
    if size > slot_bytes:
        raise UnfitModelError(f"the model image is {size:,} bytes, its slot holds {slot_bytes:,}",
                         "optimise the model (espml optimize) or enlarge the model partitions")


def choose_slot(read, partitions: list[Partition]) -> tuple[Partition, int]:
    """The slot to write and its sequence number: the slot whose header is older (or blank).
    ``read(offset, length)`` reads the board's flash.

    Images are written data first and header sector last (``write_order``), so the slot with
    the newest header is always complete: it is the one running, and it is never the target.
    """
    slots = [find(partitions, name) for name in MODEL_SLOTS]
    headers = [parse_header(read(p.offset, HEADER_SIZE)) for p in slots]
    valid = [i for i, h in enumerate(headers) if h is not None]
    if not valid:
        return slots[0], 1
    newest = valid[-1] if len(valid) > 1 and is_newer(headers[valid[-1]].sequence, headers[valid[0]].sequence) \
        else valid[0]  # as the firmware (espml_image_choose): on a tie, slot A
    target = next(i for i in range(len(slots)) if i != newest)
    return slots[target], (headers[newest].sequence + 1) & 0xFFFFFFFF


def is_newer(sequence: int, than: int) -> bool:
    """Serial-number order of 32-bit sequence numbers, as the firmware compares them."""
    return 0 < (sequence - than) & 0xFFFFFFFF < 0x80000000


def write_order(offset: int, image: bytes) -> list[tuple[int, bytes]]:
    """Where and what to write for an image at ``offset``: its data sectors first, then its first
    sector (the header), so a cut at any moment leaves the slot not counting or complete."""
    data = [(offset + SECTOR, image[SECTOR:])] if len(image) > SECTOR else []
    return data + [(offset, image[:SECTOR])]
