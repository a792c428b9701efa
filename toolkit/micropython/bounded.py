"""Bounded reads for mpremote's transport: a board that keeps talking is cut in one line.

mpremote reads an answer until its end marker, growing a bytes object one byte at a time, with a
time-out only between characters: a board that floods or trickles text for ever keeps the host
waiting, and growing, for ever. ``bounded`` lends the transport a port whose reads stop at a
byte count and a deadline, for one exchange.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from toolkit.errors import ProtocolError

HINT = "check that the port is a MicroPython board's REPL at its baud rate; reset the board and try again"


class ReplFlood(ProtocolError):
    """The board's raw REPL sent more than an answer can be, or did not end it in time."""


class _BoundedPort:
    """``port`` with reads that raise ReplFlood past ``limit`` bytes or ``seconds``; the rest passes through."""

    def __init__(self, port, limit: int, seconds: float) -> None:
        self._port, self._limit, self._seconds = port, limit, seconds
        self._deadline = time.monotonic() + seconds
        self._read = 0

    def read(self, size: int = 1) -> bytes:
        if time.monotonic() > self._deadline:
            raise ReplFlood(f"the board's raw REPL did not end its answer within {self._seconds:g} s "
                            f"({self._read:,} bytes came)", HINT)
        data = self._port.read(size)
        self._read += len(data)
        if self._read > self._limit:
            raise ReplFlood(f"the board's raw REPL sent more than {self._limit:,} bytes without ending its answer",
                            HINT)
        return data

    def __getattr__(self, name: str):
        return getattr(self._port, name)


@contextlib.contextmanager
def bounded(transport, limit: int, seconds: float) -> Iterator[None]:
    """While the block runs, ``transport`` reads at most ``limit`` bytes and for at most ``seconds``."""
    port = transport.serial
    transport.serial = _BoundedPort(port, limit, seconds)
    try:
        yield
    finally:
        transport.serial = port
