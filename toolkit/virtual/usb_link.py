"""The USB-Serial/JTAG driver's TX side on the virtual board, and a host that may not read.

On the chip the firmware's frames go into the driver's TX ring buffer (8 KB, the size the
firmware installs) and leave it only while a host reads the port. With the port closed, or the
board on a charger, the buffer fills and a write waits (up to its time-out) for room that never
comes. The firmware's link policy (device/core/espml_link.c) decides what to do about it; this
models what it works against: room in the buffer, whether a host reads, whether one is attached.
"""

from __future__ import annotations

import threading
import time

from toolkit.virtual.link import PacedPipe

TX_BUFFER_BYTES = 8192  # device/port/esp_idf/transport.cc installs the driver with this
WRITE_TIMEOUT_MS = 250  # the firmware's bounded wait per frame (transport.cc kWriteTimeoutMs)


class UsbTx:
    """The ring buffer between the firmware and the line to the host."""

    def __init__(self, line: PacedPipe, capacity: int = TX_BUFFER_BYTES) -> None:
        self.line = line
        self.capacity = capacity
        self._queued: list[bytes] = []
        self._cond = threading.Condition()
        self.reading = True  # a host has the port open and takes what arrives
        self.attached = True  # USB start-of-frame packets arrive (a computer, not a charger)

    @property
    def queued_bytes(self) -> int:
        with self._cond:
            return sum(map(len, self._queued))

    def send(self, data: bytes, delay_s: float, timeout_s: float) -> bool:
        """All of ``data`` into the buffer within ``timeout_s``, or none of it (False)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._draining() and sum(map(len, self._queued)) + len(data) > self.capacity:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            if self._draining():
                self.line.write(data, delay_s)
            else:
                self._queued.append(bytes(data))
            return True

    def flush(self) -> None:
        """What the firmware does by reinstalling the driver: the queue is gone."""
        with self._cond:
            self._queued.clear()
            self._cond.notify_all()

    def host_opens(self) -> None:
        """A host opens the port and reads: whatever waited in the buffer reaches it first."""
        with self._cond:
            self.reading = True
            self._drain()

    def host_closes(self) -> None:
        """The host's port closes: what it had not read yet goes with it; nobody reads now."""
        with self._cond:
            self.reading = False
            self.line.clear()

    def plug(self, attached: bool) -> None:
        """The cable to a computer (True) or to a charger / nothing (False)."""
        with self._cond:
            self.attached = attached
            self._drain()

    def _draining(self) -> bool:
        return self.reading and self.attached

    def _drain(self) -> None:
        if self._draining():
            for data in self._queued:
                self.line.write(data)
            self._queued.clear()
            self._cond.notify_all()
