"""The virtual board's supply line: the current it draws over time and its inference marker GPIO.

Each Invoke() is a window on the host's monotonic clock, made of one step per op at the board's
current model for that op; between windows the board draws its idle current. The marker (logic
input D0 of a meter) is high inside the windows of the Invoke() calls the firmware's core bracketed
with its marker GPIO (espml_port_t.marker), and only those. A meter that
stands beside the virtual board (the virtual PPK2) samples it. All of it is simulated.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

KEEP_S = 5.0  # windows that ended this long before the newest sample asked for are forgotten


@dataclass(frozen=True)
class InvokeWindow:
    start_s: float
    edges_s: np.ndarray  # start of each op's step, and the end of the last
    current_ma: np.ndarray  # per op
    marked: bool = True  # the firmware held its marker GPIO high through this Invoke()

    @property
    def end_s(self) -> float:
        return float(self.edges_s[-1])


class SupplyLine:
    def __init__(self, idle_ma: float, volts: float, marker_wired: bool = True) -> None:
        self.idle_ma, self.volts, self.marker_wired = idle_ma, volts, marker_wired
        self._windows: list[InvokeWindow] = []
        self._lock = threading.Lock()

    def invoke(self, start_s: float, op_us: list[float], op_ma: list[float], marked: bool = True) -> InvokeWindow:
        """Record an Invoke() that starts at ``start_s`` (not before the last one ended)."""
        with self._lock:
            start = max(start_s, self._windows[-1].end_s) if self._windows else start_s
            edges = start + np.concatenate([[0.0], np.cumsum(np.asarray(op_us, dtype=np.float64))]) / 1e6
            window = InvokeWindow(start, edges, np.asarray(op_ma, dtype=np.float64), marked)
            self._windows.append(window)
            return window

    def windows(self) -> list[InvokeWindow]:
        with self._lock:
            return list(self._windows)

    def sample(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Current (mA) and the logic byte (bit 0: the marker) at each time."""
        current = np.full(len(times_s), self.idle_ma)
        logic = np.zeros(len(times_s), dtype=np.uint8)
        if not len(times_s):
            return current, logic
        first, last = float(times_s[0]), float(times_s[-1])
        with self._lock:
            self._windows = [w for w in self._windows if w.end_s > last - KEEP_S]
            windows = [w for w in self._windows if w.end_s > first and w.start_s <= last]
        for window in windows:
            step = np.searchsorted(window.edges_s, times_s, side="right") - 1
            inside = (step >= 0) & (step < len(window.current_ma))
            current[inside] = window.current_ma[step[inside]]
            if self.marker_wired and window.marked:
                logic[inside] |= 1
        return current, logic
