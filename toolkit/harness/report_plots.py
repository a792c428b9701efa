"""The report's plots as plotly figures: latency histogram, current trace, per-op bars, trends.

Every figure of a simulated series says SIMULATED in its title and is drawn in the simulated colour;
a series never holds simulated and measured runs together (``report_data.SeriesKey``).
Model, board and port names are data: plotly renders tags in titles, legends and hovers, so they
are HTML-escaped."""

from __future__ import annotations

import datetime as dt
import html
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.harness.report_data import MAIN_FIGURES, Band, OpProfile, Run, Series, SeriesKey, number

SIMULATED_COLOUR = "#d9822b"
MEASURED_COLOUR = "#2b6cb0"
BAND_COLOUR = "rgba(56, 161, 105, 0.18)"
PORT_COLOURS = ("#d9822b", "#2b6cb0", "#805ad5", "#2f855a", "#c53030", "#319795", "#b7791f", "#4a5568")


def _text(name: str) -> str:
    """A name for a plotly title, legend or hover template: tags shown, not rendered."""
    return html.escape(str(name))


def colour(key: SeriesKey) -> str:
    return SIMULATED_COLOUR if key.simulated else MEASURED_COLOUR


def _layout(fig: go.Figure, title: str, height: int, top: int = 60) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01, "y": 0.99, "yanchor": "top", "font": {"size": 15}},
                      height=height, template="plotly_white", margin={"l": 70, "r": 20, "t": top, "b": 50},
                      bargap=0.05, separators=".,")
    return fig


def latency_histogram(series: Series) -> go.Figure | None:
    """Latencies of the series' detail run, one bar per latency bin, median and p90 marked."""
    latencies = [r["latency_us"] for r in series.inferences if number(r.get("latency_us")) is not None]
    if not latencies or series.detail_run is None:
        return None
    run = series.detail_run
    fig = go.Figure(go.Histogram(x=latencies, marker_color=colour(series.key), name="inferences",
                                 hovertemplate="%{x} us: %{y} inferences<extra></extra>"))
    median, p90 = number(run.figure("latency_us.median")), number(run.figure("latency_us.p90"))
    if median is not None:
        fig.add_vline(x=median, line_color="#1a202c", annotation_position="top left",
                      annotation_text="median = p90" if median == p90 else "median")
    if p90 is not None and p90 != median:
        fig.add_vline(x=p90, line_dash="dot", line_color="#1a202c", annotation_text="p90",
                      annotation_position="top right")
    fig.update_xaxes(title_text="latency per inference (us)", tickformat=",~g")
    fig.update_yaxes(title_text="inferences")
    return _layout(fig, f"Latency histogram: {_text(series.key.title)}, run {run.id}, {len(latencies)} inferences", 320)


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
    fig.update_xaxes(title_text="inference")
    fig.update_yaxes(title_text="current (mA)")
    return _layout(fig, f"Current trace: {_text(series.key.title)}, run {series.detail_run.id}", 300)


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
                        subplot_titles=[_subplot_title(spec.title, spec.unit, series.bands.get(spec.name))
                                        for spec in specs])
    ports = sorted({r.port for r in series.runs})
    for i, spec in enumerate(specs):
        row, col = i // cols + 1, i % cols + 1
        for p, port in enumerate(ports):
            points = [r for r in series.runs if r.port == port and number(r.figure(spec.name)) is not None]
            fig.add_trace(_trend_trace(points, spec.name, port, _port_colour(series.key, p, len(ports)), i == 0),
                          row=row, col=col)
        band = series.bands.get(spec.name)
        fig.update_yaxes(range=_flat_range(series.runs, spec.name, band), row=row, col=col)
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
        customdata=[[r.id, r.git_commit or "?", r.status] for r in runs],
        hovertemplate="run %{customdata[0]} (commit %{customdata[1]}, %{customdata[2]})<br>%{x}<br>%{y:,.6g}"
                      "<extra>" + _text(port) + "</extra>")


def _flat_range(runs: list[Run], name: str, band: Band | None) -> list[float] | None:
    """A y range of ±2% around a figure that never changed (a virtual board's memory, say), else None (auto)."""
    values = [v for v in (number(r.figure(name)) for r in runs) if v is not None]
    if band is not None:
        values += [band.low, band.high]
    low, high = min(values), max(values)
    if high - low > 1e-9 * max(abs(high), 1.0):
        return None
    pad = max(abs(high) * 0.02, 1.0)
    return [low - pad, high + pad]


def _subplot_title(title: str, unit: str, band: Band | None) -> str:
    text = f"{title} ({unit})"
    if band is not None:
        text += f" · baseline {band.baseline:,.6g} {band.text}"
    return text


def _port_colour(key: SeriesKey, index: int, count: int) -> str:
    if count == 1:
        return colour(key)
    return PORT_COLOURS[index % len(PORT_COLOURS)]
