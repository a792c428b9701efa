"""SLIP framing as the ESP ROM bootloader uses it: 0xC0 ends a frame; 0xDB escapes 0xC0 and 0xDB."""

from __future__ import annotations

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def slip_encode(payload: bytes) -> bytes:
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class SlipDecoder:
    """Feed bytes; get whole frames. Bytes outside a frame are ignored, as the ROM does."""

    def __init__(self) -> None:
        self._frame: bytearray | None = None
        self._escape = False

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for byte in data:
            if self._frame is None:
                if byte == END:
                    self._frame = bytearray()
                continue
            if self._escape:
                self._escape = False
                self._frame.append({ESC_END: END, ESC_ESC: ESC}.get(byte, byte))
            elif byte == ESC:
                self._escape = True
            elif byte == END:
                if self._frame:
                    frames.append(bytes(self._frame))
                    self._frame = None
                # an empty frame (two 0xC0 in a row) is the start of the next one
            else:
                self._frame.append(byte)
        return frames
