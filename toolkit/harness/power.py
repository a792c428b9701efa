"""A power meter around a bench run: idle baseline first, the measured inferences, then energy per
inference from the trace (marker windows, or the board's latencies when no marker is wired)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from toolkit.power.errors import PowerError
from toolkit.power.meter import Meter
from toolkit.power.trace import Trace
from toolkit.power.windows import EnergyResult, energy_per_inference, latency_windows

IDLE_BASELINE_S = 0.3  # the meter runs this long before the first measured inference
IDLE_TAIL_S = 0.1  # and this long after the last: the last window's falling edge and the samples behind it
                   # are still on their way from the instrument (USB buffering) when the board answers
PLOT_POINTS = 4000  # min/max pairs kept of a trace for the report's plot


@dataclass
class PowerPlan:
    meter: Meter
    spec: str  # what --power said
    marker: bool = True  # the board's marker GPIO is wired to the meter's D0 / GPI0
    group: int | None = None  # inferences per energy window (None: enough for 1000 samples)
    trace_path: str | None = None  # keep the whole trace here (a replay file)


class PowerCapture:
    """Started before the measured inferences, told when each answer came, finished after them."""

    def __init__(self, plan: PowerPlan, simulated_board: bool) -> None:
        self.plan, self.simulated_board = plan, simulated_board
        self.answered_s: list[float] = []
        self.latencies_us: list[float] = []
        self.trace: Trace | None = None
        self.result: EnergyResult | None = None

    def begin(self) -> None:
        self.plan.meter.start()
        time.sleep(IDLE_BASELINE_S)

    def answered(self, latency_us: float) -> None:
        self.answered_s.append(time.monotonic())
        self.latencies_us.append(latency_us)

    def finish(self, rows: list[dict]) -> dict:
        """Stop the meter, keep its trace, and give the run's power figures (PowerError if none)."""
        meter = self.plan.meter
        if not getattr(meter, "per_inference", False):
            time.sleep(IDLE_TAIL_S)
        meter.stop()
        if getattr(meter, "per_inference", False):  # the board's own sensor: METRICS of each inference
            return {"meter": self.plan.spec, **meter.energy(rows, self.simulated_board)}
        self.trace = meter.samples()
        if self.plan.trace_path:
            self.trace.save(self.plan.trace_path)
        if self.trace.simulated != self.simulated_board:
            raise PowerError(f"the {self.plan.spec} trace is {'simulated' if self.trace.simulated else 'measured'} "
                             f"but the board is {'virtual' if self.simulated_board else 'real'}",
                             "simulated and measured figures are never mixed: use a meter on this board")
        if self.plan.marker:
            self.result = energy_per_inference(self.trace, group=self.plan.group)
        else:
            windows = latency_windows(self.trace, self.answered_s, self.latencies_us)
            start = self.answered_s[0] - self.latencies_us[0] / 1e6 if self.answered_s else None
            self.result = energy_per_inference(self.trace, windows, group=self.plan.group, idle_before_s=start,
                                               approximate=True)
        figures = {k: v for k, v in self.result.to_dict().items() if k not in ("per_window_uj", "window_spans_s")}
        return {"meter": self.plan.spec, **figures, "samples": len(self.trace), "rate_hz": self.trace.rate_hz,
                "inferences": len(rows)}

    def details(self) -> dict:
        """What the report plots: per-window energies, window spans and the trace as min/max pairs."""
        if self.result is None or self.trace is None:
            return {}
        t0 = float(self.trace.time_s[0]) if len(self.trace) else 0.0
        return {"per_window_uj": self.result.per_window_uj,
                "window_spans_s": [(a - t0, b - t0) for a, b in self.result.window_spans_s], **plot_points(self.trace)}


def plot_points(trace: Trace, points: int = PLOT_POINTS) -> dict:
    """The trace in at most ``points`` bins: time, min and max current (mA), for a plot."""
    if not len(trace):
        return {"time_s": [], "min_ma": [], "max_ma": []}
    bins = np.array_split(np.arange(len(trace)), min(points, len(trace)))
    t0 = float(trace.time_s[0])
    return {"time_s": [float(trace.time_s[b[0]]) - t0 for b in bins],
            "min_ma": [float(trace.current_ma[b].min()) for b in bins],
            "max_ma": [float(trace.current_ma[b].max()) for b in bins]}
