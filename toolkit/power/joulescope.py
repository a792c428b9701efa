"""A Joulescope JS110 / JS220 through the ``joulescope`` package's v1 API, the marker on GPI0.

The package keeps the instrument's stream in a circular ``stream_buffer`` and calls a registered
stream process object's ``stream_notify(stream_buffer)`` from its USB thread as samples arrive; we
copy each new span out (current, voltage, GPI0, GPI1), so a run may outlast the buffer. Samples the
package never received are NaN in its buffer, and a span overwritten before we read it is gone:
both are lost samples (gaps), never integrated.
"""

from __future__ import annotations

import threading
import time

import joulescope
import numpy as np

from toolkit.power.errors import MeterNotFound, PowerError, WrongDevice
from toolkit.power.trace import Trace

RATE_HZ = 100_000  # the rate we ask for (the instruments decimate 2 MS/s on board)
MODELS = ("js110", "js220")
FULL_SCALE_A = 10.0  # the top current range of both ("10 A" in the package's i_range options)
FIELDS = ["current", "voltage", "current_lsb", "voltage_lsb"]  # current_lsb / voltage_lsb carry GPI0 / GPI1
HINT_SCAN = "plug the Joulescope in (USB), close the Joulescope UI, which holds it, and give joulescope[:SERIAL]"


class StreamCopy:
    """The stream process object the package calls from its USB thread: it copies each new span of
    the package's circular buffer out. It has no start/stop/close of its own on purpose: the
    package calls those of a registered object, and close() on one whose notify raised."""

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = rate_hz
        self.driver_active = False  # set by the package on registering
        self.lock = threading.Lock()
        self.chunks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # (first sample id, A, V, logic)
        self.next_id: int | None = None  # the first sample id not yet copied out
        self.first_id = 0
        self.t0 = 0.0  # host time of sample first_id

    def stream_notify(self, stream_buffer) -> bool:
        start, end = stream_buffer.sample_id_range
        if start is None or end is None or end <= start:
            return False
        with self.lock:
            if self.next_id is None:
                self.first_id = self.next_id = start
                self.t0 = time.monotonic() - (end - start) / self.rate_hz  # the span has just arrived
            begin = max(start, self.next_id)  # what the buffer overwrote before we read it is lost
            if end <= begin:
                return False
            data = stream_buffer.samples_get(begin, end, fields=FIELDS)["signals"]
            logic = (np.asarray(data["current_lsb"]["value"], np.uint8) & 1) \
                | ((np.asarray(data["voltage_lsb"]["value"], np.uint8) & 1) << 1)
            self.chunks.append((begin, np.array(data["current"]["value"], np.float64),
                                np.array(data["voltage"]["value"], np.float64), logic))
            self.next_id = end
        return False  # never asks the package to stop streaming

    def trace(self, source: str) -> Trace:
        """What was copied out; NaN samples (never received) and overwritten spans become gaps."""
        with self.lock:
            chunks, self.chunks = self.chunks, []
        if not chunks:
            return Trace.empty(self.rate_hz, source=source)
        ids = np.concatenate([first + np.arange(len(amps)) for first, amps, _, _ in chunks])
        amps, volts, logic = (np.concatenate([c[k] for c in chunks]) for k in (1, 2, 3))
        received = np.isfinite(amps) & np.isfinite(volts)
        ids, amps, volts, logic = ids[received], amps[received], volts[received], logic[received]
        steps = np.diff(ids, prepend=self.first_id - 1)
        gaps = [(int(i), int(steps[i] - 1)) for i in np.flatnonzero(steps > 1)]
        return Trace(self.t0 + (ids - self.first_id) / self.rate_hz, amps * 1000.0, volts, logic,
                     np.abs(amps) >= FULL_SCALE_A, self.rate_hz, False, source, gaps)


class JoulescopeMeter:
    """A Joulescope on the board's supply line (IN+ from the supply, OUT+ to the board); ``serial``
    picks one when several are plugged in."""

    name = "joulescope"
    simulated = False  # no virtual Joulescope exists: whatever it gives was measured

    def __init__(self, serial: str | None) -> None:
        self.serial = serial
        self.device = None
        self._copy = StreamCopy(float(RATE_HZ))

    def open(self) -> None:
        devices = joulescope.scan(config="auto")  # JS110: source on, auto ranging
        if self.serial:
            devices = [d for d in devices if self.serial.lower() in (d.serial_number.lower(), str(d).lower())]
        if not devices:
            where = f"with serial {self.serial}" if self.serial else "on USB"
            raise MeterNotFound(f"no Joulescope {where}", HINT_SCAN)
        if len(devices) > 1:
            names = ", ".join(str(d) for d in devices)
            raise PowerError(f"{len(devices)} Joulescopes are plugged in ({names})",
                             f"give one: joulescope:{devices[0].serial_number}")
        device = devices[0]
        if device.model not in MODELS:
            raise WrongDevice(f"{device} is a {device.model}, not a JS110 or JS220", "give the serial of a JS110 or JS220")
        try:
            device.open()
        except RuntimeError as exc:  # the driver cannot open it (another program holds it)
            raise MeterNotFound(f"cannot open the Joulescope {device}: {exc}", HINT_SCAN) from None
        try:
            device.parameter_set("sampling_frequency", RATE_HZ)
            device.parameter_set("i_range", "auto")
            device.parameter_set("v_range", "15V")
            device.parameter_set("io_voltage", "3.3V")
            if device.model == "js110":  # its GPIs reach the host in the current and voltage LSBs
                device.parameter_set("current_lsb", "gpi0")
                device.parameter_set("voltage_lsb", "gpi1")
        except BaseException:
            device.close()
            raise
        self.device = device
        self._copy = StreamCopy(float(device.output_sampling_frequency))

    def start(self) -> None:
        self._copy = StreamCopy(self._copy.rate_hz)
        self.device.stream_process_register(self._copy)
        self.device.start()

    def stop(self) -> None:
        self.device.stop()
        self.device.stream_process_unregister(self._copy)
        if self.device.stream_buffer is not None:
            self._copy.stream_notify(self.device.stream_buffer)  # the tail that came before the stop

    def samples(self) -> Trace:
        return self._copy.trace(f"joulescope:{self.device}")

    def close(self) -> None:
        if self.device is not None:
            self.device.close()
            self.device = None
