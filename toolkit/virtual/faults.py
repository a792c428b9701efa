"""What a bad cable, a noisy line or a flaky USB hub does to the bytes of a serial link.

Applied to each direction of the virtual board's link (the host's writes and the board's), from
a seeded random stream so a run can be repeated. Stalls are applied by the pipe (it holds the
bytes back); the rest changes the bytes themselves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NOISE_TEXT = b"\r\nESP-ROM:esp32s3-20210327\r\nrst:0xc (RTC_SW_CPU_RST),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n"
# What ESP-IDF's task watchdog ISR prints (ESP_EARLY_LOGE, straight into the USB-Serial/JTAG FIFO,
# whatever frame is being sent) when an idle task it watches has not run for its time-out.
WATCHDOG_TEXT = (b"E (5123) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the "
                 b"watchdog in time:\r\nE (5123) task_wdt:  - IDLE0 (CPU 0)\r\nE (5123) task_wdt: Tasks currently "
                 b"running:\r\nE (5123) task_wdt: CPU 0: main\r\nE (5123) task_wdt: CPU 1: IDLE1\r\n")


@dataclass(frozen=True)
class LinkFaults:
    """Rates per bit (flips) and per byte (drops, duplicates); a stall of ``stall_ms`` after every
    ``stall_every`` bytes; boot-like text before every ``noise_every``-th write; task-watchdog text
    spliced into the middle of every ``wdt_every``-th write (mid-frame, as the watchdog ISR does)."""

    flip: float = 0.0
    drop: float = 0.0
    dup: float = 0.0
    stall_ms: float = 0.0
    stall_every: int = 0
    noise_every: int = 0
    wdt_every: int = 0
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.flip or self.drop or self.dup or (self.stall_ms and self.stall_every) or self.noise_every
                    or self.wdt_every)


class FaultyLine:
    """One direction's faults and random stream."""

    def __init__(self, faults: LinkFaults, stream: int) -> None:
        self.faults = faults
        self.random = random.Random(faults.seed * 2 + stream)
        self.writes = 0
        self.bytes = 0

    def mangle(self, data: bytes) -> bytes:
        f = self.faults
        self.writes += 1
        out = bytearray(NOISE_TEXT if f.noise_every and self.writes % f.noise_every == 0 else b"")
        byte_flip = 1 - (1 - f.flip) ** 8
        for value in data:
            if f.drop and self.random.random() < f.drop:
                continue
            if byte_flip and self.random.random() < byte_flip:
                value ^= 1 << self.random.randrange(8)
            out.append(value)
            if f.dup and self.random.random() < f.dup:
                out.append(value)
        if f.wdt_every and self.writes % f.wdt_every == 0:
            middle = len(out) // 2
            out[middle:middle] = WATCHDOG_TEXT
        return bytes(out)

    def stall_after(self, count: int) -> float:
        """Seconds the line stalls after these ``count`` bytes (crossing a ``stall_every`` mark)."""
        f = self.faults
        if not (f.stall_ms and f.stall_every):
            self.bytes += count
            return 0.0
        marks = (self.bytes + count) // f.stall_every - self.bytes // f.stall_every
        self.bytes += count
        return marks * f.stall_ms / 1000
