"""Synthetic traces of known energy (for the tests and bench/energy.py): inference windows on an idle
baseline, each a step or a ramp, with noise; the exact energy follows from the shape, not from a sum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.power.trace import Trace


@dataclass(frozen=True)
class Shape:
    idle_ma: float = 40.0
    peak_ma: float = 100.0  # a step's current; a ramp's current at the window's end
    ramp_from_ma: float | None = None  # a ramp from this current to peak_ma; None: a step
    window_s: float = 0.002
    period_s: float = 0.005
    lead_s: float = 0.02  # idle before the first window
    volts: float = 3.3
    noise_ma: float = 0.0

    def net_uj(self) -> float:
        """Exact energy above idle of one window."""
        mean = self.peak_ma if self.ramp_from_ma is None else (self.ramp_from_ma + self.peak_ma) / 2
        return (mean - self.idle_ma) * self.volts * self.window_s * 1000.0


def make_trace(shape: Shape, windows: int, rate_hz: float = 100_000, seed: int = 0,
               phase_s: float = 0.37e-5) -> Trace:
    """``windows`` windows; window k starts at lead + k period + phase. As an instrument samples, each
    current sample is the exact mean over its interval [t, t + 1/rate) (an edge inside it gives a partial
    value) and the marker is read at the interval's middle. The gap between windows must exceed 1/rate."""
    dt = 1.0 / rate_hz
    total = shape.lead_s + windows * shape.period_s + shape.lead_s
    t = np.arange(int(round(total * rate_hz))) * dt
    starts = shape.lead_s + phase_s + np.arange(windows) * shape.period_s
    k = np.maximum(np.searchsorted(starts, t + dt, side="left") - 1, 0)  # the last window starting before t + dt
    begin = np.maximum(t, starts[k])
    end = np.minimum(t + dt, starts[k] + shape.window_s)
    overlap = np.clip(end - begin, 0.0, None) / dt
    if shape.ramp_from_ma is None:
        level = np.full(len(t), shape.peak_ma)
    else:
        middle = ((begin + end) / 2 - starts[k]) / shape.window_s
        level = shape.ramp_from_ma + (shape.peak_ma - shape.ramp_from_ma) * middle
    current = shape.idle_ma + overlap * (level - shape.idle_ma)
    if shape.noise_ma:
        current = current + np.random.default_rng(seed).normal(0.0, shape.noise_ma, len(t))
    middle_t = t + dt / 2
    marker = (middle_t >= starts[k]) & (middle_t < starts[k] + shape.window_s)
    return Trace(t, current, np.full(len(t), shape.volts), marker.astype(np.uint8), np.zeros(len(t), bool), rate_hz,
                 simulated=True, source="synthetic")
