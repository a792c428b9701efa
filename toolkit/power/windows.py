"""Inference windows in a current trace, and the energy in them.

The board drives a marker input high for the duration of each ``Invoke()``; a window is a rising
edge and the falling edge after it. Energy per window is the integral of current x voltage over
its samples less the idle baseline (the board's power before the run) times the window's length;
the figure reported is the median over windows, or over groups of ``k`` consecutive windows when
one inference is too short for the meter to resolve alone (as MLPerf Tiny's energy mode divides the
energy of many inferences by their number). Without a marker, windows are placed by the board's
reported latency and host-side answer times, and the result says it is approximate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from toolkit.power.errors import MarkerError, SaturatedTrace
from toolkit.power.trace import Trace

MIN_GROUP_SAMPLES = 1000  # a group of windows spans at least this many samples (10 ms at 100 kS/s)
MERGED_FACTOR = 1.8  # a window this many times the median long holds two inferences: a lost edge
IDLE_GUARD_S = 0.002  # the idle baseline ends this long before the first window
ALIGN_SEARCH_S = 0.005  # without a marker, windows may sit up to this long before the answer times


@dataclass(frozen=True)
class Window:
    start: int  # index of the first sample inside
    end: int  # one past the last sample inside


@dataclass
class EnergyResult:
    """Energy per inference over the windows of one trace (uJ; mA; us)."""

    energy_uj: float  # median over groups, idle baseline subtracted
    energy_gross_uj: float  # median over groups, baseline included (what the supply delivered)
    spread_uj: dict  # min, p10, p90, max, stdev of the per-group figures (baseline subtracted)
    windows: int  # windows used
    group: int  # inferences per group
    idle_ma: float
    window_us_median: float
    approximate: bool  # windows placed by latency, not by a marker
    simulated: bool
    lost_samples: int  # samples the meter lost in the whole trace (counter gaps)
    dropped_windows: dict  # why windows were left out: partial, merged, data_loss
    source: str = ""
    per_window_uj: list[float] = field(default_factory=list)  # baseline subtracted, for the histogram
    window_spans_s: list[tuple[float, float]] = field(default_factory=list)  # trace time, for the plot

    def to_dict(self) -> dict:
        return asdict(self)


def marker_windows(trace: Trace, bit: int = 0) -> tuple[list[Window], int]:
    """Windows between each rising edge of ``bit`` and the next falling edge; and how many were cut
    off by the trace's start or end (a missing edge). MarkerError when the input never toggles."""
    level = ((trace.logic >> bit) & 1).astype(np.int8)
    steps = np.diff(level)
    rises, falls = np.flatnonzero(steps == 1) + 1, np.flatnonzero(steps == -1) + 1
    if not len(rises) or not len(falls):
        state = "high" if len(level) and level.all() else "low" if not len(rises) and not len(falls) else "half-toggled"
        raise MarkerError(f"the inference marker on digital input D{bit} never made a window (it stayed {state} "
                          f"through {len(level)} samples)",
                          "wire the firmware's marker GPIO (CONFIG_ESPML_MARKER_GPIO) to the meter's D0/GPI0, or "
                          "measure without a marker (--no-marker: windows placed by latency, approximate)")
    partial = int(falls[0] < rises[0])  # the trace started inside a window
    windows = []
    j = 0
    for rise in rises:
        j = int(np.searchsorted(falls, rise, side="right"))
        if j == len(falls):
            partial += 1  # ends inside a window
            break
        windows.append(Window(int(rise), int(falls[j])))
    return windows, partial


def latency_windows(trace: Trace, ends_s: list[float], latencies_us: list[float]) -> list[Window]:
    """Windows of the board's reported latencies ending at the host's answer times, all shifted by
    the one offset (up to ALIGN_SEARCH_S earlier) that puts the most charge inside them: approximate."""
    if not len(trace):
        return []
    dt = 1.0 / trace.rate_hz
    ends = np.asarray(ends_s, dtype=np.float64)
    starts = ends - np.asarray(latencies_us, dtype=np.float64) / 1e6
    cumulative = np.concatenate([[0.0], np.cumsum(trace.current_ma)])
    best, best_charge = 0.0, -math.inf
    for offset in np.arange(0.0, ALIGN_SEARCH_S + dt, dt):
        s = np.searchsorted(trace.time_s, starts - offset)
        e = np.searchsorted(trace.time_s, ends - offset)
        charge = float(np.sum(cumulative[e] - cumulative[s]))
        if charge > best_charge + 1e-9:
            best, best_charge = offset, charge
    s = np.searchsorted(trace.time_s, starts - best)
    e = np.searchsorted(trace.time_s, ends - best)
    return [Window(int(a), int(b)) for a, b in zip(s, e) if 0 < a < b < len(trace)]


def idle_baseline_ma(trace: Trace, before_s: float) -> tuple[float, float]:
    """Mean current and mean power (mW) of the samples up to ``before_s`` less a guard."""
    idle = trace.time_s < before_s - IDLE_GUARD_S
    if not idle.any():
        raise MarkerError("the trace holds no idle samples before the first inference window",
                          "start the meter before the run (the bench does) or give a longer replay trace")
    if trace.saturated[idle].any():
        raise SaturatedTrace("the meter's range was exceeded while the board was idle",
                             "check the meter's wiring and range; the board draws more than the meter reads")
    power = trace.current_ma[idle] * trace.voltage_v[idle]
    return float(np.mean(trace.current_ma[idle])), float(np.mean(power))


def window_energies(trace: Trace, windows: list[Window], idle_mw: float) -> tuple[np.ndarray, np.ndarray]:
    """Gross and baseline-subtracted energy (uJ) of each window. An edge falls inside a sample that
    averages over its interval, so the sample either side of a window holds part of its charge: the
    energy above idle is summed over the window and one sample each side (idle samples add nothing),
    the gross energy adds the idle power over the window's marker length."""
    dt = 1.0 / trace.rate_hz
    above = trace.current_ma * trace.voltage_v - idle_mw  # mW
    cumulative = np.concatenate([[0.0], np.cumsum(above)])
    s = np.array([w.start for w in windows], dtype=np.int64)
    e = np.array([w.end for w in windows], dtype=np.int64)
    net = (cumulative[np.minimum(e + 1, len(trace))] - cumulative[np.maximum(s - 1, 0)]) * dt * 1000.0  # mJ -> uJ
    gross = net + idle_mw * (e - s) * dt * 1000.0
    return gross, net


def _drop_lossy(trace: Trace, windows: list[Window]) -> tuple[list[Window], int]:
    gap_at = np.array([index for index, _ in trace.gaps], dtype=np.int64)
    kept = [w for w in windows if not np.any((gap_at >= w.start) & (gap_at <= w.end))]
    return kept, len(windows) - len(kept)


def _drop_merged(windows: list[Window]) -> tuple[list[Window], int]:
    if len(windows) < 3:
        return windows, 0
    lengths = np.array([w.end - w.start for w in windows])
    limit = MERGED_FACTOR * float(np.median(lengths))
    kept = [w for w, n in zip(windows, lengths) if n <= limit]
    return kept, len(windows) - len(kept)


def auto_group(windows: list[Window]) -> int:
    """Inferences per group so that one group spans MIN_GROUP_SAMPLES (1 for long inferences)."""
    if not windows:
        return 1
    median = float(np.median([w.end - w.start for w in windows]))
    return max(1, min(len(windows), math.ceil(MIN_GROUP_SAMPLES / max(median, 1.0))))


def energy_per_inference(trace: Trace, windows: list[Window] | None = None, *, bit: int = 0,
                         group: int | None = None, idle_before_s: float | None = None,
                         approximate: bool = False) -> EnergyResult:
    """Cut ``trace`` at the marker (or use ``windows``), subtract the idle baseline measured before
    the first window, and give the median energy per inference over groups of ``group`` windows."""
    partial = 0
    if windows is None:
        windows, partial = marker_windows(trace, bit)
    windows, merged = _drop_merged(windows)
    windows, lossy = _drop_lossy(trace, windows)
    if not windows:
        raise MarkerError(f"no complete inference window is left in the trace ({partial} cut off, {merged} merged, "
                          f"{lossy} with lost samples)", "run more inferences, or read the meter faster")
    saturated = int(np.count_nonzero([trace.saturated[w.start:w.end].any() for w in windows]))
    if saturated:
        raise SaturatedTrace(f"the meter's range was exceeded in {saturated} of {len(windows)} inference windows",
                             "the board draws more current than the meter's range: check the meter's range and "
                             "its shunt; nothing of the run's figures is lost")
    first_start = trace.time_s[windows[0].start]
    idle_ma, idle_mw = idle_baseline_ma(trace, first_start if idle_before_s is None else idle_before_s)
    gross, net = window_energies(trace, windows, idle_mw)
    k = group or auto_group(windows)
    k = max(1, min(k, len(windows)))
    groups = len(windows) // k
    per_group = net[:groups * k].reshape(groups, k).sum(axis=1) / k
    per_group_gross = gross[:groups * k].reshape(groups, k).sum(axis=1) / k
    lengths = np.array([w.end - w.start for w in windows]) / trace.rate_hz * 1e6
    return EnergyResult(
        energy_uj=float(np.median(per_group)), energy_gross_uj=float(np.median(per_group_gross)),
        spread_uj={"min": float(per_group.min()), "p10": float(np.percentile(per_group, 10)),
                   "p90": float(np.percentile(per_group, 90)), "max": float(per_group.max()),
                   "stdev": float(per_group.std(ddof=1)) if groups > 1 else 0.0},
        windows=len(windows), group=k, idle_ma=idle_ma, window_us_median=float(np.median(lengths)),
        approximate=approximate, simulated=trace.simulated, lost_samples=trace.lost_samples,
        dropped_windows={"partial": partial, "merged": merged, "data_loss": lossy}, source=trace.source,
        per_window_uj=[float(x) for x in net],
        window_spans_s=[(float(trace.time_s[w.start]), float(trace.time_s[w.end - 1])) for w in windows])
