"""Inference windows and energy per inference on synthetic traces of known energy."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.power.errors import MarkerError, SaturatedTrace
from toolkit.power.synthetic import Shape, make_trace
from toolkit.power.trace import Trace
from toolkit.power.windows import energy_per_inference, latency_windows, marker_windows


def _close(value: float, expected: float, pct: float) -> bool:
    return abs(value - expected) <= abs(expected) * pct / 100


def test_steps_give_the_energy_above_idle_and_the_gross_energy():
    trace = make_trace(Shape(idle_ma=40, peak_ma=100, window_s=0.002), windows=20)
    result = energy_per_inference(trace, group=1)
    assert _close(result.energy_uj, (100 - 40) * 3.3 * 2.0, 0.6)  # 396 uJ above idle
    assert _close(result.energy_gross_uj, 100 * 3.3 * 2.0, 0.6)
    assert result.windows == 20 and _close(result.idle_ma, 40, 0.01)
    assert result.spread_uj["max"] - result.spread_uj["min"] < 0.01 * result.energy_uj


def test_ramps_integrate_to_their_mean_current():
    shape = Shape(idle_ma=30, ramp_from_ma=50, peak_ma=150, window_s=0.003, period_s=0.006)
    result = energy_per_inference(make_trace(shape, windows=10), group=1)
    assert _close(result.energy_uj, (100 - 30) * 3.3 * 3.0, 1.0)


def test_noise_leaves_the_median_within_one_percent():
    shape = Shape(noise_ma=3.0)
    result = energy_per_inference(make_trace(shape, windows=30, seed=7), group=1)
    assert _close(result.energy_uj, shape.net_uj(), 1.0)
    assert result.spread_uj["stdev"] > 0  # noise shows in the spread


def test_marker_missing_an_edge_at_either_end_drops_the_partial_windows():
    trace = make_trace(Shape(), windows=10)
    steps = np.diff(trace.logic.astype(int))
    first_fall, last_rise = np.flatnonzero(steps == -1)[0], np.flatnonzero(steps == 1)[-1]
    cut = _slice(trace, first_fall - 50, last_rise + 50)  # starts inside window 0, ends inside window 9
    windows, partial = marker_windows(cut)
    assert partial == 2 and len(windows) == 8


def test_a_lost_falling_edge_mid_trace_drops_the_merged_window():
    trace = make_trace(Shape(), windows=10)
    falls = np.flatnonzero(np.diff(trace.logic.astype(int)) == -1) + 1
    rises = np.flatnonzero(np.diff(trace.logic.astype(int)) == 1) + 1
    trace.logic[falls[4]:rises[5]] = 1  # window 4's falling edge never came
    result = energy_per_inference(trace, group=1)
    assert result.dropped_windows["merged"] == 1 and result.windows == 8
    assert _close(result.energy_uj, Shape().net_uj(), 0.6)


def test_a_marker_that_never_toggles_is_one_line():
    trace = make_trace(Shape(), windows=5)
    trace.logic[:] = 0
    with pytest.raises(MarkerError) as caught:
        energy_per_inference(trace)
    assert "never made a window" in caught.value.message and "\n" not in str(caught.value)
    trace.logic[:] = 1
    with pytest.raises(MarkerError, match="stayed high"):
        marker_windows(trace)


def test_a_saturated_range_inside_a_window_is_refused():
    trace = make_trace(Shape(), windows=5)
    inside = np.flatnonzero(trace.logic)
    trace.saturated[inside[100:103]] = True
    with pytest.raises(SaturatedTrace, match="1 of 5"):
        energy_per_inference(trace)


def test_saturation_outside_windows_and_after_the_baseline_is_harmless():
    trace = make_trace(Shape(), windows=5)
    trace.saturated[-10:] = True  # after the last window
    assert energy_per_inference(trace, group=1).windows == 5


def test_counter_gaps_drop_their_windows_and_are_reported_as_data_loss():
    trace = make_trace(Shape(), windows=10)
    inside = np.flatnonzero(trace.logic)
    gap = int(inside[250])  # inside window 1 (200 samples each)
    trace.gaps = [(gap, 17)]
    result = energy_per_inference(trace, group=1)
    assert result.lost_samples == 17 and result.dropped_windows["data_loss"] == 1 and result.windows == 9


def test_short_inferences_are_grouped_mlperf_style():
    # 4.3 samples per window, edges at every phase of the sample clock, 3 mA of noise: one window
    # alone is noisy; a group of many averages it out
    shape = Shape(window_s=0.000043, period_s=0.000203, peak_ma=120, noise_ma=3.0)
    trace = make_trace(shape, windows=2000, seed=3)
    result = energy_per_inference(trace)
    assert result.group == 250  # 1000 samples per group of 4-sample windows
    assert _close(result.energy_uj, shape.net_uj(), 1.0)
    single = energy_per_inference(trace, group=1)
    assert single.spread_uj["stdev"] > 5 * result.spread_uj["stdev"]
    assert single.spread_uj["p90"] - single.spread_uj["p10"] > 0.05 * shape.net_uj()


def test_without_a_marker_windows_follow_the_reported_latency_and_say_approximate():
    shape = Shape()
    trace = make_trace(shape, windows=12)
    starts = shape.lead_s + 0.37e-5 + np.arange(12) * shape.period_s
    late = 0.0004  # the host hears each answer this long after Invoke() ended
    windows = latency_windows(trace, list(starts + shape.window_s + late), [shape.window_s * 1e6] * 12)
    result = energy_per_inference(trace, windows, group=1, approximate=True)
    assert result.approximate and result.windows == 12
    assert _close(result.energy_uj, shape.net_uj(), 1.0)


def test_a_trace_without_idle_before_the_first_window_is_refused():
    trace = make_trace(Shape(lead_s=0.0005), windows=3)
    with pytest.raises(MarkerError, match="no idle samples"):
        energy_per_inference(trace)


def test_a_saved_trace_reads_back(tmp_path):
    trace = make_trace(Shape(noise_ma=1), windows=3)
    trace.gaps = [(5, 2)]
    trace.save(tmp_path / "t.npz")
    back = Trace.load(tmp_path / "t.npz")
    assert np.array_equal(back.current_ma, trace.current_ma) and back.gaps == [(5, 2)] and back.simulated


def _slice(trace: Trace, a: int, b: int) -> Trace:
    return Trace(trace.time_s[a:b], trace.current_ma[a:b], trace.voltage_v[a:b], trace.logic[a:b].copy(),
                 trace.saturated[a:b], trace.rate_hz, trace.simulated)

