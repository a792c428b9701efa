"""Consistent Overhead Byte Stuffing: removes every 0x00 so 0x00 can delimit frames.

Canonical form: a final run of exactly 254 (or a multiple of 254) non-zero bytes ends on its
0xFF block with no empty block after it.
"""

from __future__ import annotations


class CobsError(ValueError):
    pass


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    pieces = data.split(b"\x00")
    last = len(pieces) - 1
    for index, piece in enumerate(pieces):
        chunked = False
        while len(piece) >= 254:
            out.append(0xFF)
            out += piece[:254]
            piece = piece[254:]
            chunked = True
        if chunked and not piece and index == last:
            break
        out.append(len(piece) + 1)
        out += piece
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        block = data[i + 1:i + code]
        if code == 0 or len(block) != code - 1:
            raise CobsError("COBS block is empty or runs past the end of the frame")
        if 0 in block:
            raise CobsError("zero byte inside a COBS block")
        out += block
        i += code
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
