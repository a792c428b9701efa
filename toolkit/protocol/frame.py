"""Frames: header + payload + CRC-32, COBS-encoded, delimited by 0x00 on both sides.

Raw frame (before COBS), little-endian:
    version u8 | type u8 | flags u8 | seq u16 | payload ... | crc32 u32 (over all bytes before it)
On the wire: 0x00 | COBS(raw frame) | 0x00. The leading delimiter ends any boot text or
garbage that came before, so the frame after it decodes cleanly.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from toolkit.protocol.cobs import CobsError, cobs_decode, cobs_encode

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<BBBH")
CRC = struct.Struct("<I")
DELIMITER = b"\x00"
FRAME_OVERHEAD = HEADER.size + CRC.size  # bytes added to a payload before COBS
MAX_RAW_FRAME = 65536 + FRAME_OVERHEAD  # decoder's hard limit, whatever a device announces

FLAG_RESPONSE = 0x01


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib's): polynomial 0xEDB88320 reflected, init and xorout 0xFFFFFFFF."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""
    flags: int = 0
    version: int = PROTOCOL_VERSION

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_RESPONSE)


@dataclass(frozen=True)
class Garbage:
    """Bytes between delimiters that are not a valid frame: boot text, line noise, a torn frame."""

    data: bytes
    reason: str


def encode_frame(frame: Frame) -> bytes:
    raw = HEADER.pack(frame.version, frame.type, frame.flags, frame.seq & 0xFFFF) + frame.payload
    raw += CRC.pack(crc32(raw))
    return DELIMITER + cobs_encode(raw) + DELIMITER


def wire_size(payload_len: int) -> int:
    """Bytes on the wire for a frame carrying ``payload_len`` bytes of payload (no zeros assumed)."""
    raw = payload_len + FRAME_OVERHEAD
    return raw + raw // 254 + 1 + 2


def decode_raw(raw: bytes) -> Frame | Garbage:
    try:
        data = cobs_decode(raw)
    except CobsError as exc:
        return Garbage(raw, f"bad COBS: {exc}")
    if len(data) < FRAME_OVERHEAD:
        return Garbage(raw, "too short for a frame")
    body, (crc,) = data[:-CRC.size], CRC.unpack(data[-CRC.size:])
    if crc32(body) != crc:
        return Garbage(raw, "CRC mismatch")
    version, msg_type, flags, seq = HEADER.unpack(body[:HEADER.size])
    return Frame(msg_type, seq, body[HEADER.size:], flags, version)


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get frames and garbage in order."""

    def __init__(self, max_raw_frame: int = MAX_RAW_FRAME) -> None:
        self._buffer = bytearray()
        self._max = max_raw_frame * 2  # COBS can grow a frame slightly; text lines are short

    def feed(self, data: bytes) -> list[Frame | Garbage]:
        """The buffer keeps at most twice the largest frame between calls: a longer run without a
        delimiter leaves as garbage, however slowly the bytes arrive."""
        events: list[Frame | Garbage] = []
        start = len(self._buffer)  # the buffer holds no delimiter: search only what is new
        self._buffer += data
        while True:
            end = self._buffer.find(0, start)
            start = 0
            if end < 0:
                if len(self._buffer) > self._max:
                    events.append(Garbage(bytes(self._buffer), "no delimiter within the maximum frame size"))
                    self._buffer.clear()
                return events
            chunk = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if chunk:
                events.append(decode_raw(chunk))

    @property
    def pending(self) -> bytes:
        return bytes(self._buffer)

    def pending_contains(self, marker: bytes) -> bool:
        """Whether the bytes waiting for a delimiter hold ``marker`` (no copy of the buffer)."""
        return self._buffer.find(marker) >= 0
