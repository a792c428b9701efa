"""A virtual PPK2: the PPK2's serial protocol, fed by a current source (the virtual board's supply
line), on a pty or through the ``vppk2://`` pyserial URL. Its metadata says ``Simulated: 1`` and every
trace read from it is labelled simulated.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import tty
from collections.abc import Callable
from typing import Protocol

import numpy as np

from toolkit.power import ppk2_protocol as pp

# Coefficients of the simulated unit: Nordic's nominal shunts, small made-up gain corrections.
SIMULATED_CALIBRATION = pp.Calibration(
    R=(1031.64, 101.65, 10.15, 0.94, 0.043), GS=(0.0, 0.02, 0.01, 0.005, 0.0), GI=(1.0, 0.998, 1.002, 0.997, 1.0),
    O=(112.0, 75.0, 64.0, 61.0, 65.0), S=(0.0, 0.0, 1e-6, 2e-6, 0.0), I=(0.0, 0.0, 0.0, 1e-6, 0.0),
    UG=(1.0, 1.0, 1.0, 1.0, 1.0), vdd_mv=3300, simulated=True)
STEP_S = 0.002  # the streamer makes samples in steps of this much time
LAG_S = 0.002  # and only up to this long ago, so that an Invoke() that has begun is known
SWITCH_FIELD = 15000  # a range's ADC field above this switches to the next range up
PENDING_LIMIT = 256 * 1024  # bytes the device buffers when the host does not read; beyond, samples are lost


class CurrentSource(Protocol):
    def sample(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Current (mA) and logic byte at each of ``times_s`` (host monotonic clock)."""


class VirtualPPK2:
    """The instrument's side of the protocol. ``out(data) -> int`` sends bytes to the host and says how
    many were taken (a host that does not read takes fewer: the rest wait, then samples are lost)."""

    def __init__(self, source: CurrentSource, out: Callable[[bytes], int], noise_ma: float = 0.05,
                 seed: int = 0, calibration: pp.Calibration = SIMULATED_CALIBRATION) -> None:
        self.source, self.out, self.noise_ma, self.calibration = source, out, noise_ma, calibration
        self._rng = np.random.default_rng(seed)
        self._command = bytearray()
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._streaming = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.vdd_mv = calibration.vdd_mv
        self.mode = pp.AMPERE_MODE
        self.produced = self.lost = 0
        self._counter = 0
        self._next_t = 0.0

    # --- commands -----------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        self._command += data
        while self._command:
            opcode = self._command[0]
            need = 1 + pp.ARGUMENT_BYTES.get(opcode, 0)
            if len(self._command) < need:
                return
            args, self._command = bytes(self._command[1:need]), self._command[need:]
            self._execute(opcode, args)

    def _execute(self, opcode: int, args: bytes) -> None:
        if opcode == pp.GET_METADATA:
            self._send(pp.format_metadata(self.calibration, {"HW": "0", "mode": str(self.mode), "IA": "0",
                                                              "Calibrated": "1", "Simulated": "1"}))
        elif opcode == pp.REGULATOR_SET:
            self.vdd_mv = int.from_bytes(args, "big")
        elif opcode == pp.SET_POWER_MODE:
            self.mode = args[0]
        elif opcode == pp.AVERAGE_START and not self._streaming.is_set():
            self._next_t = time.monotonic()
            self._streaming.set()
            self._thread = threading.Thread(target=self._stream, name="virtual-ppk2", daemon=True)
            self._thread.start()
        elif opcode == pp.AVERAGE_STOP:
            self._streaming.clear()
        elif opcode == pp.RESET:
            self._streaming.clear()
            with self._lock:
                self._pending.clear()

    # --- samples ------------------------------------------------------------------------------
    def words(self, times_s: np.ndarray) -> bytes:
        """Sample words at ``times_s``: the source's current, noise, auto-ranging, the ADC's quantum."""
        current_ma, logic = self.source.sample(times_s)
        amps = (current_ma + self._rng.normal(0.0, self.noise_ma, len(times_s))) / 1000.0
        fields = np.stack([self.calibration.adc_field(amps, np.full(len(amps), r), self.vdd_mv)
                           for r in range(pp.RANGES)])
        ranges = np.argmax(np.vstack([fields[:-1] < SWITCH_FIELD, np.ones((1, len(amps)), bool)]), axis=0)
        adc = np.rint(fields[ranges, np.arange(len(amps))]).astype(np.int64)
        counter = (self._counter + np.arange(len(times_s))) % pp.COUNTER_MODULO
        self._counter = (self._counter + len(times_s)) % pp.COUNTER_MODULO
        return pp.encode_words(adc, ranges, counter, logic)

    def _stream(self) -> None:
        while self._streaming.is_set() and not self._closed.is_set():
            now = time.monotonic() - LAG_S
            n = int((now - self._next_t) * pp.RATE_HZ)
            if n > 0:
                times = self._next_t + np.arange(n) / pp.RATE_HZ
                self._next_t += n / pp.RATE_HZ
                data = self.words(times)
                with self._lock:
                    room = max(0, PENDING_LIMIT - len(self._pending)) // 4 * 4
                    self.lost += (len(data) - min(room, len(data))) // 4
                    self._pending += data[:room]
                    self.produced += n
            self._flush()
            time.sleep(STEP_S)

    def _send(self, data: bytes) -> None:
        with self._lock:
            self._pending += data
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            while self._pending:
                taken = self.out(bytes(self._pending))
                if taken <= 0:
                    return
                del self._pending[:taken]

    def close(self) -> None:
        self._closed.set()
        self._streaming.clear()
        if self._thread is not None:
            self._thread.join(timeout=2)


class PtyServer:
    """The virtual PPK2 on a pty: ``path`` is the device a PPK2 driver (ours or another) opens."""

    def __init__(self, source: CurrentSource, **options) -> None:
        self._master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # kept open so the pty survives between the host's opens
        os.set_blocking(self._master, False)
        self.ppk2 = VirtualPPK2(source, self._write, **options)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="virtual-ppk2-pty", daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> int:
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno == errno.EIO:
                return 0  # no one has the pty open
            raise

    def _serve(self) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                time.sleep(0.01)
                continue
            self.ppk2.receive(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.ppk2.close()
        os.close(self._master)
        os.close(self._slave)

    def __enter__(self) -> PtyServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
