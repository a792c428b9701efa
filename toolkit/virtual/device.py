"""A running virtual ESP32-S3: the application side behind a modelled serial line."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass

from toolkit.boards import get_board
from toolkit.virtual.app import FaultPlan, FirmwareApp
from toolkit.virtual.link import PacedPipe
from toolkit.virtual.slots import ModelSlots

@dataclass(frozen=True)
class BoardOptions:
    board: str = "esp32s3"
    baud: int | None = None  # None: native USB, not paced; a number: a UART at that rate, 8N1
    latency_us: int = 0
    realtime: bool = True  # take the simulated Invoke() time in wall-clock time too
    esp_nn: bool = True
    slot_bytes: int | None = None  # None: the board's own figure
    arena_bytes: int | None = None  # None: the board's own figure
    hang_after: int | None = None
    reset_after: int | None = None


class VirtualBoard:
    def __init__(self, options: BoardOptions | None = None) -> None:
        self.options = options or BoardOptions()
        opts = self.options
        board = get_board(opts.board)
        self.board = board if opts.arena_bytes is None else dataclasses.replace(board, arena_bytes=opts.arena_bytes)
        self.slots = ModelSlots(opts.slot_bytes or self.board.model_slot_bytes)
        self.app = FirmwareApp(self.board, self.slots, opts.esp_nn, opts.realtime,
                               FaultPlan(opts.hang_after, opts.reset_after))
        self.to_device = PacedPipe(opts.baud, opts.latency_us / 1e6)
        self.to_host = PacedPipe(opts.baud, opts.latency_us / 1e6)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.boots = 0

    def install_model(self, data: bytes) -> None:
        """Put a model in the inactive slot and make it active, as flashing it would."""
        self.slots.store(self.slots.inactive_index, data, hashlib.sha256(data).digest())
        if self.running:
            self.reset()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def power_on(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._boot()
        self._thread = threading.Thread(target=self._serve, name="vdev-esp32s3", daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.to_device.clear()
        self.app.hung = False
        self._boot()

    def _boot(self) -> None:
        self.boots += 1
        self.to_host.write(self.app.boot())

    def _serve(self) -> None:
        while not self._stop.is_set():
            data = self.to_device.read_available(0.05)
            if not data:
                continue
            reply = self.app.receive(data)
            if reply:
                self.to_host.write(reply)
            if self.app.reset_requested:
                self.reset()

    def power_off(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None
