"""The HIL/bench report: one self-contained HTML file (plotly.js inlined, nothing fetched) made from the
results store and, when given, the HIL plugin's ``hil-results.json``."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from toolkit.errors import MissingExtraError, ToolkitError
from toolkit.harness.modelled import is_modelled
from toolkit.harness.report_data import (MAIN_FIGURES, BoardStatus, FigureResult, OpProfile, ReportData, Run,
                                         TestResult, load_report_data, number)

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
SIMULATED_TAG = "<span class=\"badge sim\">SIMULATED</span>"
MAX_RUN_ROWS = 500

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 0 24px 48px; color: #1a202c; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 36px; border-bottom: 2px solid #e2e8f0; padding-bottom: 4px; }
h3 { margin: 28px 0 6px; }
.meta { color: #4a5568; margin: 0 0 12px; } .meta b { color: #1a202c; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f7fafc; } td.nowrap { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 600; }
.sim { background: #feebc8; color: #7b341e; } .measured { background: #bee3f8; color: #1a365d; }
.pass, .ok { background: #c6f6d5; color: #22543d; } .fail, .regressed, .out { background: #fed7d7; color: #742a2a; }
.improved { background: #c6f6d5; color: #22543d; } .skip, .new, .other { background: #e2e8f0; color: #2d3748; }
.banner { padding: 8px 12px; border-radius: 6px; margin: 10px 0; }
.banner.sim { font-weight: normal; } .banner.out { font-weight: normal; }
.change { color: #718096; font-size: 11px; } .empty { color: #718096; font-style: italic; }
.test { margin: 14px 0; } .test code { font-size: 13px; }
.wide { overflow-x: auto; } .wide table { font-size: 12px; }
.wide td, .wide th { padding: 3px 5px; overflow-wrap: anywhere; } .wide td.num, .wide td.nowrap { white-space: normal; } .plot { border: 1px solid #e2e8f0; border-radius: 6px; margin: 10px 0; }
"""


def write_report(db_path: str | Path, out_path: str | Path, results_json: Path | None = None,
                 title: str = "espml results") -> Path:
    """Write the report for every run in ``db_path`` (and the HIL results, when given) to ``out_path``."""
    plotly_js = _require_plotly()
    data = load_report_data(db_path, results_json)
    page = render_page(data, title, plotly_js)
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ToolkitError(f"cannot write the report {out}: {exc.strerror}",
                           "give a writable path with --out") from None
    return out


def _require_plotly() -> str:
    """plotly.js's source, or MissingExtraError: the report's plots need the 'report' extra."""
    try:
        from plotly.offline import get_plotlyjs
        return get_plotlyjs()
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        raise MissingExtraError("the HTML report needs plotly, which is not installed",
                                "pip install 'espml[report]'") from None


def render_page(data: ReportData, title: str, plotly_js: str) -> str:
    """The whole page: header, boards, tests, runs, then the plots of each model and board kind."""
    body = "\n".join([_header(data, title), _boards(data.boards), _tests(data), _runs(data), _plots(data)])
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>\n"
            f"<style>{CSS}</style>\n<script type=\"text/javascript\">{plotly_js}</script>\n</head>\n"
            f"<body>\n{body}\n</body></html>\n")


def _header(data: ReportData, title: str) -> str:
    meta = [f"git commit <b>{_e(data.git_commit or 'unknown')}</b>",
            f"results store <b>{_e(str(data.db_path))}</b> ({len(data.runs)} runs)"]
    if data.results_path is not None:
        meta.append(f"HIL results <b>{_e(str(data.results_path))}</b>")
    if data.started is not None:
        meta.append(f"HIL run started {_e(_when(data.started))}")
    meta.append(f"written {_e(_when(dt.datetime.now().timestamp()))}")
    parts = [f"<h1>{_e(title)}</h1>", f"<p class=\"meta\">{' · '.join(meta)}</p>"]
    kinds = {r.simulated for r in data.runs} | {b.simulated for b in data.boards if b.simulated is not None}
    if True in kinds:
        parts.append("<div class=\"banner sim\"><b>SIMULATED</b> figures come from virtual boards' models, not a "
                     "chip: latency and cycles (the cost model), heap and stack (the board's figures), current and "
                     "energy (the current model, and any meter fed from it). Each is marked SIMULATED. Output "
                     "equality, accuracy and arena use are computed by TFLite-Micro running the model, as on a chip, "
                     "and are not marked" + (". Virtual and real boards' runs are never plotted in one series"
                                             if False in kinds else "") + ".</div>")
    taken = [b for b in data.boards if b.taken_out]
    if taken:
        names = "; ".join(f"<b>{_e(b.port)}</b> ({_e(b.status)})" for b in taken)
        parts.append(f"<div class=\"banner out\">Boards taken out of the run: {names}</div>")
    return "\n".join(parts)


def _boards(boards: list[BoardStatus]) -> str:
    if not boards:
        return "<h2>Boards</h2><p class=\"empty\">No boards: the store holds no runs.</p>"
    rows = "".join(
        f"<tr><td>{_e(b.port)}</td><td>{_e(b.board)}</td><td>{_e(b.firmware)}</td><td>{_board_kind(b.simulated)}</td>"
        f"<td>{_badge(b.status, 'out' if b.taken_out else 'ok' if b.status == 'ok' else 'other')}</td></tr>"
        for b in boards)
    return ("<h2>Boards</h2><table><tr><th>port</th><th>board</th><th>firmware</th><th>kind</th><th>status</th></tr>"
            f"{rows}</table>")


def _tests(data: ReportData) -> str:
    if not data.tests:
        return ""
    counts: dict[str, int] = {}
    for t in data.tests:
        counts[t.outcome] = counts.get(t.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    failed = [t for t in data.tests if t.outcome == "failed"]
    parts = ["<h2>Tests</h2>", f"<p class=\"meta\">{len(data.tests)} tests: {_e(summary)}</p>"]
    if failed:
        parts.append("<p>Failed: " + ", ".join(f"<a href=\"#{_anchor(t.nodeid)}\">{_e(t.nodeid)}</a>"
                                               for t in failed) + "</p>")
    runs = {r.id: r for r in data.runs}
    sim = {b.port: b.simulated for b in data.boards}
    parts += [_test(t, runs.get(t.run_id) if t.run_id is not None else None, sim.get(t.port)) for t in data.tests]
    return "\n".join(parts)


def _test(test: TestResult, run: Run | None, board_simulated: bool | None) -> str:
    simulated = run.simulated if run is not None else board_simulated
    outcome = {"passed": "pass", "failed": "fail"}.get(test.outcome, "skip")
    where = " · ".join(_e(x) for x in (test.port, test.model) if x)
    run_name = (f"run {run.id}" if run.label == test.nodeid else run.name) if run is not None else ""
    run_link = f" · <a href=\"#run-{run.id}\">{_e(run_name)}</a>" if run is not None else ""
    head = (f"<div class=\"test\" id=\"{_anchor(test.nodeid)}\">{_badge(test.outcome, outcome)} "
            f"<code>{_e(test.nodeid)}</code> {_board_kind(simulated)} <span class=\"meta\">{where}{run_link}</span>")
    if not test.figures:
        return head + "</div>"
    rows = "".join(_figure_row(f, simulated) for f in test.figures)
    return (head + "<table><tr><th>figure</th><th>value</th><th>baseline</th><th>band</th><th>change</th>"
            f"<th>verdict</th></tr>{rows}</table></div>")


def _figure_row(fig: FigureResult, simulated: bool | None) -> str:
    """One figure of a test; SIMULATED when a virtual board modelled it (not for what it computed)."""
    band = fig.band
    band_text = "" if band is None else (_e(band.text) if band.text == "exact" else
                                         f"{_fmt(band.low)} … {_fmt(band.high)} ({_e(band.text)})")
    change = fig.change_pct
    sim = " " + SIMULATED_TAG if simulated and is_modelled(fig.name) else ""
    verdict = {"ok": "ok", "regressed": "regressed", "improved": "improved"}.get(fig.verdict, "new")
    return (f"<tr><td>{_e(fig.name)}</td><td class=\"num\">{_fmt(fig.value, fig.unit)}{sim}</td>"
            f"<td class=\"num\">{_fmt(fig.baseline, fig.unit)}</td><td class=\"num\">{band_text}</td>"
            f"<td class=\"num\">{'' if change is None else f'{change:+.1f}%'}</td>"
            f"<td>{_badge(fig.verdict, verdict) if fig.verdict else ''}</td></tr>")


def _runs(data: ReportData) -> str:
    if not data.runs:
        return ("<h2>Runs</h2><p class=\"empty\">The results store holds no runs yet: "
                "run espml bench or the HIL suite.</p>")
    shown = sorted(data.runs, key=lambda r: (r.started or 0.0, r.id), reverse=True)[:MAX_RUN_ROWS]
    heads = "".join(f"<th>{_e(s.title)}</th>" for s in MAIN_FIGURES)
    rows = "".join(_run_row(r, data) for r in shown)
    more = (f"<p class=\"meta\">The {MAX_RUN_ROWS} latest of {len(data.runs)} runs.</p>"
            if len(data.runs) > MAX_RUN_ROWS else "")
    return ("<h2>Runs</h2><p class=\"meta\">Newest first, local time. The small figure under a value is its "
            "change from the previous run of the same model on the same board kind (virtual or real)."
            + (" A virtual board's modelled figures are marked sim (SIMULATED)." if data.any_simulated else "") + "</p>"
            + more + "<div class=\"wide\"><table><tr><th>run</th><th>started</th><th>model</th><th>board</th>"
            "<th>port</th><th>kind</th><th>firmware</th><th>commit</th><th>status</th><th>n</th><th>outputs</th>"
            f"{heads}</tr>{rows}</table></div>")


def _run_row(run: Run, data: ReportData) -> str:
    previous = data.series_of(run).previous(run)
    match = run.figure("outputs_match_reference")
    outputs = ("" if match is None else _badge("pass", "pass") if match
               else _badge(f"fail ({run.figure('mismatches')} differ)", "fail"))
    cells = "".join(f"<td class=\"num\">{_fmt(run.figure(s.name), s.unit)}{_cell_tag(run, s.name)}"
                    f"{_change(run, previous, s.name)}</td>" for s in MAIN_FIGURES)
    status = run.status if run.status in ("done", "") else _badge(run.status, "other")
    label = f"<br><span class=\"change\">{_e(run.label)}</span>" if run.label else ""
    return (f"<tr id=\"run-{run.id}\"><td class=\"num\">{run.id}{label}</td>"
            f"<td class=\"nowrap\">{_e(_when(run.started, zone=False))}</td><td>{_e(run.model)}</td>"
            f"<td>{_e(run.board)}</td><td>{_e(run.port)}</td><td>{_board_kind(run.simulated, short=True)}</td>"
            f"<td class=\"nowrap\">{_e(run.firmware)}</td><td>{_e(run.git_commit)}</td><td>{status}</td>"
            f"<td class=\"num\">{_fmt(run.figure('n'))}</td><td>{outputs}</td>{cells}</tr>")


def _cell_tag(run: Run, name: str) -> str:
    if not (run.simulated and is_modelled(name) and run.figure(name) is not None):
        return ""
    return "<br><span class=\"badge sim\" title=\"SIMULATED: the virtual board's model\">sim</span>"


def _change(run: Run, previous: Run | None, name: str) -> str:
    now = number(run.figure(name))
    before = number(previous.figure(name)) if previous is not None else None
    if now is None or before in (None, 0):
        return ""
    return f"<br><span class=\"change\">{(now - before) / abs(before) * 100:+.1f}%</span>"


def _plots(data: ReportData) -> str:
    from toolkit.harness import report_plots as plots

    parts = []
    for series in data.series:
        current = plots.current_trace(series)
        figures = [plots.trend(series), plots.latency_histogram(series), current]
        parts.append(f"<h3>{_e(series.key.model)} on {_e(series.key.board)} {_board_kind(series.key.simulated)}</h3>")
        parts += [_plot_div(f) for f in figures if f is not None]
        if current is None:
            parts.append("<p class=\"empty\">No current per inference: the board reported no current.</p>")
        parts += [_plot_div(f) for f in (plots.power_trace(series), plots.energy_histogram(series)) if f is not None]
    for model, profile in data.per_op.items():
        parts.append(f"<h3>Per-op time of {_e(model)} {_per_op_badge(profile)}</h3>"
                     f"<p class=\"meta\">{_per_op_note(profile)}</p>" + _plot_div(plots.per_op_bars(model, profile)))
    if not parts:
        return ""
    return "<h2>Plots</h2>\n" + "\n".join(parts)


def _plot_div(fig) -> str:
    from plotly.io import to_html

    return f"<div class=\"plot\">{to_html(fig, full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)}</div>"


def _fmt(value: object, unit: str = "") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    n = number(value)
    if n is None:
        return _e(str(value))
    text = f"{n:,.0f}" if n == int(n) and abs(n) >= 1 else f"{n:,.3g}" if abs(n) < 100 else f"{n:,.1f}"
    return text + (f" {_e(unit)}" if unit else "")


def _per_op_badge(profile: OpProfile) -> str:
    if not profile.has_board_times:
        return "<span class=\"badge other\">estimated by inspect</span>"
    return _kind(profile.board_simulated)


def _per_op_note(profile: OpProfile) -> str:
    if not profile.has_board_times:
        return ("Inspect's estimates from the board's cost model; run <code>espml bench --profile</code> "
                "to add the board's own per-op times.")
    if profile.board_simulated:
        return ("Board times from a virtual board's PROFILE answer: it times each op with the same cost model "
                "as inspect's estimate, so they differ only where the virtual board models a fault (slow=).")
    return "Board times measured on the chip (PROFILE: TFLite-Micro's profiler hook), next to inspect's estimate."


def _kind(simulated: bool | None) -> str:
    """For figures: SIMULATED (a virtual board's model) or measured."""
    if simulated is None:
        return ""
    return SIMULATED_TAG if simulated else _badge("measured", "measured")


def _board_kind(simulated: bool | None, short: bool = False) -> str:
    """For boards and runs: a virtual board (some of whose figures are simulated) or a real one."""
    if simulated is None:
        return ""
    board = "" if short else " board"
    return _badge(f"virtual{board}", "sim") if simulated else _badge(f"real{board}", "measured")


def _badge(text: str, cls: str) -> str:
    return f"<span class=\"badge {cls}\">{_e(text)}</span>"


def _anchor(nodeid: str) -> str:
    return "test-" + "".join(c if c.isalnum() else "-" for c in nodeid)


def _when(ts: float | None, zone: bool = True) -> str:
    if ts is None:
        return "unknown"
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S" + (" %Z" if zone else ""))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
