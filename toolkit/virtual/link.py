"""A serial line in one direction, paced at a modelled baud rate.

Bytes written become readable at the rate the line would carry them (start bit, 8 data bits,
stop bit: 10 bit times a byte for 8N1), plus an optional fixed latency (a USB frame, say).
"""

from __future__ import annotations

import collections
import threading
import time

from toolkit.virtual.faults import FaultyLine


class PacedPipe:
    def __init__(self, baud: int | None = None, latency_s: float = 0.0, bits_per_byte: int = 10,
                 faults: FaultyLine | None = None) -> None:
        self.faults = faults
        self.byte_time = bits_per_byte / baud if baud else 0.0
        self.latency_s = latency_s
        self._segments: collections.deque[list] = collections.deque()  # [ready_at, data, consumed]
        self._line_free_at = 0.0
        self._cond = threading.Condition()
        self._closed = False
        self.bytes_written = 0  # everything ever sent down this line, for benchmarks

    def write(self, data: bytes, delay_s: float = 0.0) -> None:
        """Send ``data``; ``delay_s`` holds it back that long first (a board still computing)."""
        if not data:
            return
        with self._cond:
            stall = 0.0
            if self.faults is not None:
                data = self.faults.mangle(data)
                stall = self.faults.stall_after(len(data))
                if not data:
                    return
            self.bytes_written += len(data)
            now = time.monotonic()
            start = max(now + delay_s, self._line_free_at)
            self._line_free_at = start + len(data) * self.byte_time + stall
            self._segments.append([start + self.latency_s, bytes(data), 0])
            self._cond.notify_all()

    def _ready_count(self, segment: list, now: float) -> int:
        ready_at, data, consumed = segment
        if now < ready_at + (self.byte_time if self.byte_time else 0.0):
            return 0
        arrived = len(data) if not self.byte_time else min(len(data), int((now - ready_at) / self.byte_time))
        return arrived - consumed

    def _next_ready_time(self) -> float | None:
        if not self._segments:
            return None
        ready_at, _, consumed = self._segments[0]
        return ready_at + (consumed + 1) * self.byte_time

    def available(self) -> int:
        with self._cond:
            now = time.monotonic()
            return sum(self._ready_count(seg, now) for seg in self._segments)

    def read(self, size: int, timeout: float | None) -> bytes:
        """Return up to ``size`` bytes, waiting until ``size`` arrived or ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out = bytearray()
        with self._cond:
            while len(out) < size and not self._closed:
                now = time.monotonic()
                while self._segments and len(out) < size:
                    segment = self._segments[0]
                    count = min(self._ready_count(segment, now), size - len(out))
                    if count <= 0:
                        break
                    start = segment[2]
                    out += segment[1][start:start + count]
                    segment[2] += count
                    if segment[2] == len(segment[1]):
                        self._segments.popleft()
                if len(out) >= size or (deadline is not None and now >= deadline):
                    break
                wake = self._next_ready_time()
                waits = [t - now for t in (wake, deadline) if t is not None]
                self._cond.wait(max(0.0, min(waits)) if waits else None)
        return bytes(out)

    def read_available(self, timeout: float) -> bytes:
        """Wait up to ``timeout`` for the first byte, then return every byte that has arrived."""
        first = self.read(1, timeout)
        if not first:
            return b""
        return first + self.read(self.available(), 0)

    def clear(self) -> None:
        with self._cond:
            self._segments.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
