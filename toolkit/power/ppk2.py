"""Our Nordic PPK2 driver over pyserial: ampere-meter mode, the marker on logic input D0."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import serial

from toolkit.power import ppk2_protocol as pp
from toolkit.power.errors import MeterNotFound, PowerError, WrongDevice
from toolkit.power.trace import Trace

log = logging.getLogger(__name__)

METADATA_TIMEOUT_S = 2.0
DRAIN_QUIET_S = 0.05
READ_CHUNK = 64 * 1024


class PPK2Meter:
    """A PPK2 on ``port`` (a device path or any pyserial URL). ``source_mv``: power the board from
    the PPK2 at that voltage (source-meter mode); None measures in ampere-meter mode at ``volts``."""

    name = "ppk2"

    def __init__(self, port: str | None, volts: float = 3.3, source_mv: int | None = None) -> None:
        if not port:
            raise PowerError("--power ppk2 needs the PPK2's port: ppk2:PORT", "list ports: python -m serial.tools.list_ports")
        self.port, self.volts, self.source_mv = port, volts, source_mv
        self.calibration: pp.Calibration | None = None
        self._serial: serial.SerialBase | None = None
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._running = threading.Event()
        self._index = 0  # samples (including lost ones) since start()
        self._counter: int | None = None
        self._t0 = 0.0

    @property
    def simulated(self) -> bool:
        return bool(self.calibration and self.calibration.simulated)

    def open(self) -> None:
        from toolkit.ports import register_url_handlers

        register_url_handlers()
        try:
            self._serial = serial.serial_for_url(self.port, baudrate=115200, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise MeterNotFound(f"cannot open the PPK2 port {self.port}: {exc}",
                                "plug the PPK2 in and give its port (VID 1915 PID C00A)") from None
        try:
            self._serial.write(bytes([pp.AVERAGE_STOP]))  # a unit left streaming keeps sending
            self._drain()
            self.calibration = self._metadata()
            mode = pp.SOURCE_MODE if self.source_mv else pp.AMPERE_MODE
            self._serial.write(bytes([pp.SET_POWER_MODE, mode]))
            self._serial.write(pp.regulator_command(self.source_mv or round(self.volts * 1000)))
            if self.source_mv:
                self._serial.write(bytes([pp.DEVICE_RUNNING_SET, 1]))
        except BaseException:
            self._serial.close()
            raise

    def _drain(self, keep: bool = False) -> None:
        """Read until the port is quiet; ``keep`` what came (the stream's tail after a stop)."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < DRAIN_QUIET_S:
            data = self._serial.read(READ_CHUNK)
            if data:
                quiet_since = time.monotonic()
                if keep:
                    with self._lock:
                        self._buffer += data

    def _metadata(self) -> pp.Calibration:
        self._serial.write(bytes([pp.GET_METADATA]))
        text = b""
        deadline = time.monotonic() + METADATA_TIMEOUT_S
        while b"END" not in text and time.monotonic() < deadline:
            text += self._serial.read(4096)
        try:
            return pp.parse_metadata(text.decode("ascii"))
        except (UnicodeDecodeError, pp.MetadataError) as exc:
            why = "nothing" if not text else f"{len(text)} bytes that are not PPK2 metadata ({exc})"
            raise WrongDevice(f"no PPK2 answers on {self.port}: it sent {why}",
                              "give the PPK2's own port (not the board's); unplug and replug the PPK2") from None

    def start(self) -> None:
        with self._lock:
            self._buffer.clear()
        self._index, self._counter = 0, None
        self._running.set()
        self._t0 = time.monotonic()
        self._serial.write(bytes([pp.AVERAGE_START]))
        self._reader = threading.Thread(target=self._read, name="ppk2-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self._running.is_set():
            try:
                data = self._serial.read(max(4, min(READ_CHUNK, self._serial.in_waiting)))
            except (serial.SerialException, OSError) as exc:
                log.warning("PPK2 read failed: %s", exc)
                self._running.clear()
                return
            if data:
                with self._lock:
                    self._buffer += data

    def stop(self) -> None:
        self._serial.write(bytes([pp.AVERAGE_STOP]))
        self._running.clear()
        if self._reader is not None:
            self._reader.join(timeout=2)
        self._drain(keep=True)

    def samples(self) -> Trace:
        with self._lock:
            whole = len(self._buffer) // 4 * 4
            data, self._buffer[:] = bytes(self._buffer[:whole]), self._buffer[whole:]
        return self.decode(data)

    def decode(self, data: bytes) -> Trace:
        """Sample words (continuing the stream since start()) as a trace; counter skips become gaps."""
        adc, ranges, counter, logic = pp.decode_words(data)
        at, missing = pp.counter_gaps(counter, self._counter)
        if len(counter):
            self._counter = int(counter[-1])
        missing_before = np.zeros(len(adc), dtype=np.int64)
        missing_before[at] = missing
        index = self._index + np.arange(len(adc)) + np.cumsum(missing_before)
        if len(at):
            log.warning("PPK2 lost %d samples in %d gaps", int(missing.sum()), len(at))
        self._index += len(adc) + int(missing.sum())
        ranges = np.minimum(ranges, pp.RANGES - 1)
        current = self.calibration.current_a(adc, ranges) * 1000.0
        volts = self.source_mv / 1000 if self.source_mv else self.volts
        pinned = (adc >= pp.ADC_FULL_SCALE) & (ranges == pp.RANGES - 1)  # no higher range to switch to
        return Trace(self._t0 + index / pp.RATE_HZ, current, np.full(len(adc), volts), logic, pinned, pp.RATE_HZ,
                     self.simulated, f"ppk2:{self.port}", [(int(i), int(m)) for i, m in zip(at, missing)])

    def close(self) -> None:
        if self._serial is not None:
            if self._running.is_set():
                self.stop()
            self._serial.close()
            self._serial = None
