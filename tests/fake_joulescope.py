"""A stand-in for the ``joulescope`` package (v1 API: 1.1.15, the power extra's pin, and 1.5.0 agree) at
the boundary our driver uses, in place of the hardware: ``scan(name=None, config=None)`` gives devices whose ``open``, ``close``,
``parameter_set``, ``stream_process_register/unregister``, ``start``, ``stop``, ``stream_buffer``
(``sample_id_range``, ``samples_get(start, stop, fields)`` -> {"time": ..., "signals": {field:
{"value", "units"}}}) and ``output_sampling_frequency`` behave as the package's
``joulescope/v1/device.py`` and ``stream_buffer.py`` document: a circular buffer of
``buffer_duration`` seconds, NaN where samples were skipped, the GPIs as the ``current_lsb`` /
``voltage_lsb`` fields, and ``stream_notify`` / ``start`` / ``stop`` / ``close`` called on the
registered objects from the streaming thread. ``tests/test_power_joulescope.py`` checks these names
against the real package where it is installed.

The instrument's input is ``board(seconds since start()) -> (amps, gpi0)``, sampled at the output
rate in 10 ms chunks in real time."""

from __future__ import annotations

import threading
import time
import types

import numpy as np

CHUNK_S = 0.01
FIRST_ID = 7_000_003  # the instrument's sample counter is not zero at start()
UNITS = {"current": "A", "voltage": "V", "power": "W", "current_range": "", "current_lsb": "", "voltage_lsb": ""}


class FakeStreamBuffer:
    def __init__(self, duration_s: float, rate_hz: int) -> None:
        self.size = int(duration_s * rate_hz)
        self.rate_hz = rate_hz
        self.data = {name: np.zeros(self.size, np.uint8 if name.endswith(("_lsb", "_range")) else np.float32)
                     for name in UNITS}
        self.head = self.first = 0  # next sample id; the first one kept since reset()

    def reset(self, first_id: int = 0) -> None:
        self.head = self.first = first_id  # an instrument's sample ids count from its own start

    @property
    def sample_id_range(self) -> tuple[int, int]:
        return max(self.first, self.head - self.size + 1), self.head

    def insert(self, values: dict[str, np.ndarray]) -> None:
        n = len(values["current"])
        where = (self.head + np.arange(n)) % self.size
        for name, array in values.items():
            self.data[name][where] = array
        self.head += n

    def samples_get(self, start: int, stop: int, fields=None) -> dict:
        first, head = self.sample_id_range
        if start < first or stop > head:
            raise ValueError(f"get_range {start}:{stop} out of available range {first}:{head}")
        where = np.arange(start, stop) % self.size
        return {"time": {"sample_id_range": {"value": [start, stop], "units": "samples"},
                         "output_sampling_frequency": {"value": self.rate_hz, "units": "Hz"}},
                "signals": {f: {"value": self.data[f][where].copy(), "units": UNITS[f]} for f in fields}}


class FakeDevice:
    """One instrument: ``model`` js110 or js220. ``skip``: (sample id, count) spans the USB stack
    never delivers (NaN in the buffer); ``stall``: (after seconds, for seconds) during which the
    streaming thread does not call the registered objects (a busy host)."""

    def __init__(self, board, model: str = "js220", serial: str = "000415", volts: float = 3.3,
                 buffer_s: float = 30.0, skip: tuple[int, int] | None = None,
                 stall: tuple[float, float] | None = None, open_error: str | None = None) -> None:
        self.board, self._model, self._serial, self.volts = board, model, serial, volts
        self.buffer_s, self.skip, self.stall, self.open_error = buffer_s, skip, stall, open_error
        self.device_path = f"u/{model}/{serial}"
        self.is_open = False
        self.parameters: dict[str, object] = {}
        self.stream_buffer: FakeStreamBuffer | None = None
        self._rate = 2_000_000 if model == "js110" else 1_000_000
        self._objects: list = []
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._lock = threading.Lock()
        self.closed_objects: list = []

    def __str__(self) -> str:
        return f"{self._model.upper()}-{self._serial}"

    @property
    def model(self) -> str:
        return self._model

    @property
    def serial_number(self) -> str:
        return self._serial

    @property
    def output_sampling_frequency(self) -> int:
        return self._rate

    def open(self, event_callback_fn=None, mode=None, timeout=None) -> int:
        if self.open_error:
            raise RuntimeError(self.open_error)
        self.is_open = True
        self.stream_buffer = FakeStreamBuffer(self.buffer_s, self._rate)
        return 0

    def close(self, timeout=None) -> int:
        self.stop()
        self.is_open = False
        self.stream_buffer = None
        return 0

    def parameter_set(self, name: str, value) -> None:
        allowed = {"sampling_frequency": (2_000_000, 1_000_000, 500_000, 200_000, 100_000, 50_000),
                   "i_range": ("auto", "10 A", "2 A", "180 mA", "18 mA", "off"), "v_range": ("15V", "5V"),
                   "io_voltage": ("1.8V", "2.5V", "3.3V", "5.0V"), "current_lsb": ("normal", "gpi0", "gpi1"),
                   "voltage_lsb": ("normal", "gpi0", "gpi1")}
        if name not in allowed:
            raise KeyError(name)
        if value not in allowed[name]:
            raise KeyError(f"value {value} not allowed for parameter {name}")
        self.parameters[name] = value
        if name == "sampling_frequency" and self.is_open:
            self._rate = int(value)
            self.stream_buffer = FakeStreamBuffer(self.buffer_s, self._rate)

    def stream_process_register(self, obj) -> None:
        if self._running.is_set() and hasattr(obj, "start"):
            obj.start(self.stream_buffer)
        obj.driver_active = True
        with self._lock:
            self._objects.append(obj)

    def stream_process_unregister(self, obj) -> None:
        obj.driver_active = False

    def _call(self, method: str, *args) -> None:
        """As the package's _stream_process_call: an object whose call raises is closed and dropped."""
        with self._lock:
            objects = list(self._objects)
        for obj in objects:
            fn = getattr(obj, method, None)
            if not callable(fn) or not obj.driver_active:
                continue
            try:
                fn(*args)
            except Exception:
                obj.driver_active = False
                self.closed_objects.append(obj)
                if hasattr(obj, "close"):
                    obj.close()

    def start(self, stop_fn=None, duration=None, contiguous_duration=None) -> None:
        self.stop()
        self.stream_buffer.reset(FIRST_ID)
        self._running.set()
        self._call("start", self.stream_buffer)
        self._thread = threading.Thread(target=self._stream, daemon=True)
        self._thread.start()

    def stop(self) -> bool:
        if not self._running.is_set():
            return False
        self._running.clear()
        self._thread.join(timeout=2)
        self._call("stop")
        return True

    def _stream(self) -> None:
        t0 = time.monotonic()
        sent = 0
        per_chunk = int(self._rate * CHUNK_S)
        while self._running.is_set():
            due = int((time.monotonic() - t0) * self._rate)
            while sent + per_chunk <= due:
                ids = FIRST_ID + sent + np.arange(per_chunk)
                amps, gpi0 = self.board((ids - FIRST_ID) / self._rate)
                amps = np.asarray(amps, np.float32)
                if self.skip:  # (samples after start(), count)
                    lost = (ids - FIRST_ID >= self.skip[0]) & (ids - FIRST_ID < self.skip[0] + self.skip[1])
                    amps = np.where(lost, np.float32(np.nan), amps)
                volts = np.full(per_chunk, self.volts, np.float32)
                self.stream_buffer.insert({"current": amps, "voltage": volts, "power": amps * volts,
                                           "current_range": np.full(per_chunk, 2, np.uint8),
                                           "current_lsb": np.asarray(gpi0, np.uint8), "voltage_lsb":
                                           np.zeros(per_chunk, np.uint8)})
                sent += per_chunk
            now = time.monotonic() - t0
            if not (self.stall and self.stall[0] <= now < self.stall[0] + self.stall[1]):
                self._call("stream_notify", self.stream_buffer)
            time.sleep(CHUNK_S / 2)


def module(*devices: FakeDevice) -> types.ModuleType:
    """A ``joulescope`` module whose scan() finds these devices."""
    fake = types.ModuleType("joulescope")
    fake.__version__ = "1.1.15"
    fake.scanned = []

    def scan(name: str | None = None, config=None) -> list[FakeDevice]:
        fake.scanned.append(config)
        return sorted(devices, key=str)

    fake.scan = scan
    return fake
