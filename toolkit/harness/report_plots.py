"""The report's plots as plotly figures: latency histogram, current per inference, a power meter's trace
with its inference windows and their energies, per-op bars, trends.

Every plot of a modelled figure from a virtual board says SIMULATED in its title (or subplot title) and
a simulated series is drawn in the simulated colour;
a series never holds simulated and measured runs together (``report_data.SeriesKey``).
Model, board and port names are data: plotly renders tags in titles, legends and hovers, so they
are HTML-escaped."""

from __future__ import annotations

import datetime as dt
import html
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.harness.modelled import is_modelled
from toolkit.harness.report_data import (MAIN_FIGURES, Band, FigureSpec, OpProfile, PowerTrace, Run, Series, SeriesKey,
                                         number)

SIMULATED_COLOUR = "#d9822b"
MEASURED_COLOUR = "#2b6cb0"
BAND_COLOUR = "rgba(56, 161, 105, 0.18)"
WINDOW_COLOUR = "rgba(128, 90, 213, 0.16)"  # the inference windows behind a power trace
PORT_COLOURS = ("#d9822b", "#2b6cb0", "#805ad5", "#2f855a", "#c53030", "#319795", "#b7791f", "#4a5568")


def _text(name: str) -> str:
    """A name for a plotly title, legend or hover template: tags shown, not rendered."""
    return html.escape(str(name))


def colour(key: SeriesKey) -> str:
    return SIMULATED_COLOUR if key.simulated else MEASURED_COLOUR


def _layout(fig: go.Figure, title: str, height: int, top: int = 60, subtitle: str = "") -> go.Figure:
    """Title (and a second, smaller line naming the run, so long labels do not run off the plot), size, margins."""
    if subtitle:
        title += f"<br><span style=\"font-size: 12px\">{subtitle}</span>"
        top += 12
    fig.update_layout(title={"text": title, "x": 0.01, "y": 0.99, "yanchor": "top", "font": {"size": 15}},
                      height=height, template="plotly_white", margin={"l": 70, "r": 20, "t": top, "b": 50},
                      bargap=0.05, separators=".,")
    return fig


def latency_histogram(series: Series) -> go.Figure | None:
    """Latencies of the series' detail run, one bar per latency bin, median and p90 marked."""
    latencies = [float(r["latency_us"]) for r in series.inferences if number(r.get("latency_us")) is not None]
    if not latencies or series.detail_run is None:
        return None
    run = series.detail_run
    x_range, size = histogram_bins(latencies)
    fig = go.Figure(go.Histogram(x=latencies, marker_color=colour(series.key), name="inferences",
                                 xbins={"start": x_range[0], "end": x_range[1], "size": size},
                                 hovertemplate="%{x} us: %{y} inferences<extra></extra>"))
    median, p90 = number(run.figure("latency_us.median")), number(run.figure("latency_us.p90"))
    if median is not None:
        fig.add_vline(x=median, line_color="#1a202c", annotation_position="top left",
                      annotation_text="median = p90" if median == p90 else "median")
    if p90 is not None and p90 != median:
        fig.add_vline(x=p90, line_dash="dot", line_color="#1a202c", annotation_text="p90",
                      annotation_position="top right")
    fig.update_xaxes(title_text="latency per inference (us)", tickformat=",~g", range=x_range)
    fig.update_yaxes(title_text="inferences")
    return _layout(fig, f"Latency histogram{_simulated(series.key)}: {_text(series.key.title)}", 320,
                   subtitle=f"{_text(run.name)}, {len(latencies)} inferences")


def histogram_bins(values: list[float]) -> tuple[list[float], float]:
    """An x range and a bin width for a histogram of ``values``: about 30 bins over their spread, and
    an axis at least 4% of their size wide, so that a constant (a virtual board's latency) or
    near-constant series draws one narrow bar on a readable axis, not one bar filling the plot."""
    low, high = min(values), max(values)
    axis = floored_range([low, high]) or [low, high]
    pad = max((high - low) * 0.05, 0.0)
    x_range = [min(axis[0], low - pad), max(axis[1], high + pad)]
    size = max((high - low) / 30, (x_range[1] - x_range[0]) / 60)
    return x_range, size


def current_trace(series: Series) -> go.Figure | None:
    """Mean (and peak) current of each inference of the detail run, when the board reported any."""
    rows = [r for r in series.inferences if number(r.get("current_mean_ma")) is not None]
    if not rows or series.detail_run is None:
        return None
    fig = go.Figure(go.Scatter(x=[r["idx"] for r in rows], y=[r["current_mean_ma"] for r in rows], mode="lines+markers",
                               name="mean per inference", line_color=colour(series.key), marker_size=4))
    peaks = [r for r in rows if number(r.get("current_peak_ma")) is not None]
    if peaks:
        fig.add_trace(go.Scatter(x=[r["idx"] for r in peaks], y=[r["current_peak_ma"] for r in peaks], mode="lines",
                                 name="peak per inference", line={"color": colour(series.key), "dash": "dot"}))
    values = [float(r["current_mean_ma"]) for r in rows] + [float(r["current_peak_ma"]) for r in peaks]
    fig.update_xaxes(title_text="inference")
    fig.update_yaxes(title_text="current (mA)", range=floored_range(values), tickformat=",~g")
    return _layout(fig, f"Current per inference{_simulated(series.key)}: {_text(series.key.title)}", 300,
                   subtitle=_text(series.detail_run.name))


def power_trace(series: Series) -> go.Figure | None:
    """A power meter's current trace (min and max of each plotted bin) with the inference windows shaded."""
    power = series.power
    values = [v for v in power.max_ma + power.min_ma if v is not None] if power is not None else []
    if power is None or not power.time_s or not values:
        return None
    line = SIMULATED_COLOUR if power.simulated else MEASURED_COLOUR
    fig = go.Figure()
    low, high = min(values), max(values)
    y_range = floored_range(values) or [low - (high - low) * 0.05, high + (high - low) * 0.05]
    if power.window_spans_s:  # one trace of rectangles: thousands of windows stay cheap to draw
        xs: list[float | None] = []
        ys: list[float | None] = []
        for start, end in power.window_spans_s:
            xs += [start, start, end, end, start, None]
            ys += [y_range[0], y_range[1], y_range[1], y_range[0], y_range[0], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=WINDOW_COLOUR, mode="lines", line_width=0,
                                 name=f"inference windows ({len(power.window_spans_s)})", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=power.time_s, y=power.max_ma, mode="lines", line={"color": line, "width": 1},
                             name="max per bin", hovertemplate="%{x:.4f} s: %{y:,.3f} mA<extra>max</extra>"))
    fig.add_trace(go.Scatter(x=power.time_s, y=power.min_ma, mode="lines", line={"color": line, "width": 1},
                             fill="tonexty", fillcolor=_fade(line), name="min per bin",
                             hovertemplate="%{x:.4f} s: %{y:,.3f} mA<extra>min</extra>"))
    fig.update_xaxes(title_text="time from the meter's start (s)")
    fig.update_yaxes(title_text="current (mA)", range=y_range, tickformat=",~g")
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    return _layout(fig, f"Power trace{_meter_kind(power)}: {_text(series.key.title)}", 340,
                   subtitle=f"{_text(power.run.name)} by {_text(power.meter)}")


def energy_histogram(series: Series) -> go.Figure | None:
    """The energy of each inference window (idle baseline subtracted), median marked."""
    power = series.power
    if power is None or not power.per_window_uj:
        return None
    x_range, size = histogram_bins(power.per_window_uj)
    fig = go.Figure(go.Histogram(x=power.per_window_uj, xbins={"start": x_range[0], "end": x_range[1], "size": size},
                                 marker_color=SIMULATED_COLOUR if power.simulated else MEASURED_COLOUR, name="windows",
                                 hovertemplate="%{x} uJ: %{y} windows<extra></extra>"))
    if power.energy_uj is not None:
        fig.add_vline(x=power.energy_uj, line_color="#1a202c", annotation_text="median",
                      annotation_position="top left")
    fig.update_xaxes(title_text="energy per inference above idle (uJ)", tickformat=",~g", range=x_range)
    fig.update_yaxes(title_text="windows")
    return _layout(fig, f"Energy per inference{_meter_kind(power)}: {_text(series.key.title)}", 320,
                   subtitle=f"{_text(power.run.name)} by {_text(power.meter)}, {len(power.per_window_uj)} windows")


def _simulated(key: SeriesKey) -> str:
    return " (SIMULATED)" if key.simulated else ""


def _meter_kind(power: PowerTrace) -> str:
    notes = (["SIMULATED: a virtual meter"] if power.simulated else []) + \
        (["approximate: windows placed by latency"] if power.approximate else [])
    return f" ({'; '.join(notes)})" if notes else ""


def _fade(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, 0.35)"


def per_op_bars(model: str, profile: OpProfile) -> go.Figure:
    """Time per operator as ``inspect`` estimates it and, when a run profiled it, as the board timed it."""
    ops = profile.ops
    labels = [f"{op.index}: {op.op}" for op in ops]
    fig = go.Figure(go.Bar(x=[op.estimated_us for op in ops], y=labels, orientation="h", marker_color="#718096",
                           name="estimated by inspect", hovertemplate="%{y}: %{x:,.1f} us estimated<extra></extra>"))
    if profile.has_board_times:
        kind = "simulated" if profile.board_simulated else "measured"
        fig.add_trace(go.Bar(x=[op.board_us for op in ops], y=labels, orientation="h", marker_color="#2b6cb0",
                             name=f"board ({kind})", hovertemplate=f"%{{y}}: %{{x:,.1f}} us {kind}<extra></extra>"))
        title = f"Per-op time of {_text(model)}: board ({kind}) and inspect's estimate"
    else:
        title = f"Per-op time of {_text(model)}: estimated by inspect, not measured"
    fig.update_layout(barmode="group")
    fig.update_yaxes(autorange="reversed", title_text="operator")
    fig.update_xaxes(title_text="time (us)")
    return _layout(fig, title, 120 + (34 if profile.has_board_times else 22) * len(ops))


def trend(series: Series) -> go.Figure | None:
    """Each main figure across the series' runs, oldest first, one line per port, baseline band shaded."""
    specs = [s for s in MAIN_FIGURES if any(number(r.figure(s.name)) is not None for r in series.runs)]
    if not specs:
        return None
    cols = 3 if len(specs) > 2 else len(specs)
    rows = math.ceil(len(specs) / cols)
    fig = make_subplots(rows=rows, cols=cols, vertical_spacing=0.16, horizontal_spacing=0.08,
                        subplot_titles=[_subplot_title(spec, series.bands.get(spec.name), series.key.simulated)
                                        for spec in specs])
    ports = sorted({r.port for r in series.runs})
    for i, spec in enumerate(specs):
        row, col = i // cols + 1, i % cols + 1
        for p, port in enumerate(ports):
            points = [r for r in series.runs if r.port == port and number(r.figure(spec.name)) is not None]
            fig.add_trace(_trend_trace(points, spec.name, port, _port_colour(series.key, p, len(ports)), i == 0),
                          row=row, col=col)
        band = series.bands.get(spec.name)
        values = [v for v in (number(r.figure(spec.name)) for r in series.runs) if v is not None]
        fig.update_yaxes(range=floored_range(values + ([band.low, band.high] if band else [])), row=row, col=col)
        if band is not None:
            fig.add_hrect(y0=band.low, y1=band.high, fillcolor=BAND_COLOUR, line_width=0, layer="below",
                          row=row, col=col)
            fig.add_hline(y=band.baseline, line_dash="dash", line_color="#2f855a", line_width=1, row=row, col=col)
    fig.update_yaxes(tickformat=",~g")
    fig.update_annotations(font_size=13)
    fig.update_layout(legend={"orientation": "h", "y": -0.12 if rows > 1 else -0.25, "title": {"text": "port"}})
    return _layout(fig, f"Trend across {len(series.runs)} stored runs, oldest first: {_text(series.key.title)}",
                   260 * rows + 150, top=90)


def _trend_trace(runs: list[Run], name: str, port: str, line_colour: str, legend: bool) -> go.Scatter:
    return go.Scatter(
        x=[dt.datetime.fromtimestamp(r.started) if r.started is not None else None for r in runs], y=[number(r.figure(name)) for r in runs],
        mode="lines+markers", name=_text(port), legendgroup=port, showlegend=legend, line_color=line_colour,
        customdata=[[_text(r.name), r.git_commit or "?", r.status] for r in runs],
        hovertemplate="%{customdata[0]} (commit %{customdata[1]}, %{customdata[2]})<br>%{x}<br>%{y:,.6g}"
                      "<extra>" + _text(port) + "</extra>")


def floored_range(values: list[float], rel: float = 0.02, floor: float = 1.0) -> list[float] | None:
    """A y range of ±``rel`` (at least ±``floor``) around figures that (nearly) never change (a virtual
    board's memory or current, say), so the axis does not zoom into rounding noise; else None (auto)."""
    if not values:
        return None
    low, high = min(values), max(values)
    mid = (low + high) / 2
    pad = max(abs(mid) * rel, floor)
    if high - low > pad:
        return None
    return [mid - pad, mid + pad]


def _subplot_title(spec: FigureSpec, band: Band | None, simulated: bool) -> str:
    text = f"{spec.title} ({spec.unit})"
    if simulated and is_modelled(spec.name):
        text += " · SIMULATED"
    if band is not None:
        text += f" · baseline {band.baseline:,.6g} {band.text}"
    return text


def _port_colour(key: SeriesKey, index: int, count: int) -> str:
    if count == 1:
        return colour(key)
    return PORT_COLOURS[index % len(PORT_COLOURS)]
