"""What the HTML report shows, read from the results store and (when there is one) the HIL plugin's
``hil-results.json``. Plain data, no plotting: ``html_report`` and ``report_plots`` render it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.harness.store import ResultsStore


@dataclass(frozen=True)
class FigureSpec:
    """A main figure of a bench summary, followed across runs."""

    name: str  # dotted path into the summary, as the HIL baselines name it
    title: str
    unit: str


MAIN_FIGURES = (
    FigureSpec("latency_us.median", "latency median", "us"),
    FigureSpec("latency_us.p90", "latency p90", "us"),
    FigureSpec("arena_used_bytes", "arena used", "B"),
    FigureSpec("heap_free_min_bytes", "heap free (minimum)", "B"),
    FigureSpec("current_ma.mean", "current mean", "mA"),
)


MAX_REL_TOLERANCE = 1000.0  # ±100000%: any larger relative tolerance is a mistake, not a band
LATEST_TIMESTAMP = 32503680000.0  # 3000-01-01: a later (or earlier than 1970) time is no time


@dataclass(frozen=True)
class Band:
    """A baseline and the range its tolerance allows."""

    baseline: float
    low: float
    high: float
    text: str  # the tolerance as people read it: "±10%", "±256", "exact"


def tolerance_band(baseline: object, tolerance: object) -> Band | None:
    """``{"rel": f}`` gives baseline*(1±f), ``{"abs": x}`` baseline±x, ``{"exact": true}`` the baseline alone."""
    base = number(baseline)
    if base is None:
        return None
    tol = tolerance if isinstance(tolerance, dict) else {}
    rel, abs_ = number(tol.get("rel")), number(tol.get("abs"))
    if rel is not None:
        if not 0 <= rel <= MAX_REL_TOLERANCE or not math.isfinite(abs(base) * rel * 100):
            return None  # no band a person could read: the figure is shown without one
        spread = abs(base) * rel
        text = f"±{rel:.0%}" if rel * 100 == round(rel * 100) else f"±{rel:.1%}"
        return Band(base, base - spread, base + spread, text)
    if abs_ is not None:
        if abs_ < 0 or not math.isfinite(abs(base) + abs_):
            return None
        return Band(base, base - abs_, base + abs_, f"±{abs_:g}")
    return Band(base, base, base, "exact")


@dataclass(frozen=True)
class FigureResult:
    """One figure of a HIL test, judged against its baseline."""

    name: str
    value: object  # a number, or a bool for output equality
    baseline: object
    band: Band | None
    verdict: str
    unit: str

    @property
    def change_pct(self) -> float | None:
        value, base = number(self.value), number(self.baseline)
        if value is None or base in (None, 0) or isinstance(self.value, bool):
            return None
        return (value - base) / abs(base) * 100


@dataclass(frozen=True)
class OpTime:
    index: int
    op: str
    estimated_us: float | None  # inspect's estimate
    board_us: float | None = None  # the board's PROFILE answer for this op


@dataclass(frozen=True)
class OpProfile:
    """Per-op times of one model: inspect's estimates, and the board's when a run profiled it."""

    ops: list[OpTime]
    board_simulated: bool | None = None  # None: no board times

    @property
    def has_board_times(self) -> bool:
        return self.board_simulated is not None


@dataclass(frozen=True)
class TestResult:
    nodeid: str
    outcome: str
    port: str
    model: str
    run_id: int | None
    figures: list[FigureResult]
    per_op: list[OpTime]


@dataclass(frozen=True)
class BoardStatus:
    port: str
    board: str
    firmware: str
    simulated: bool | None
    status: str

    @property
    def taken_out(self) -> bool:
        return self.status.startswith("taken out")


@dataclass(frozen=True)
class SeriesKey:
    """Runs that may be compared: same model, same board kind, and simulated or measured, never both."""

    model: str
    board: str
    simulated: bool

    @property
    def kind(self) -> str:
        """The kind of board: which of its figures are simulated, the plots of them say."""
        return "virtual board" if self.simulated else "real board"

    @property
    def title(self) -> str:
        return f"{self.model} on {self.board} ({self.kind})"


@dataclass(frozen=True)
class Run:
    id: int
    started: float | None  # None: the store holds no time a calendar can show
    finished: float | None
    status: str
    port: str
    board: str
    firmware: str
    simulated: bool
    model: str
    git_commit: str
    label: str
    summary: dict

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(self.model, self.board, self.simulated)

    @property
    def name(self) -> str:
        """How the report names the run: its number and, when it has one, its label (what it was for)."""
        return f"run {self.id}" + (f" ({self.label})" if self.label else "")

    def figure(self, name: str) -> object:
        """A summary figure by dotted path (``latency_us.median``), or None."""
        value: object = self.summary
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True)
class PowerTrace:
    """What a power meter recorded around one run (``espml bench --power``): the trace as min/max pairs
    (seconds from its start, mA), the inference windows on the same clock, the energy of each (uJ)."""

    run: Run
    meter: str
    simulated: bool  # the trace came from a meter fed by a virtual board (the virtual PPK2)
    approximate: bool  # windows placed by the board's latency, no marker
    energy_uj: float | None  # median per inference, idle baseline subtracted
    per_window_uj: list[float]
    window_spans_s: list[tuple[float, float]]
    time_s: list[float]
    min_ma: list[float]
    max_ma: list[float]


@dataclass
class Series:
    """The runs of one model on one board kind, oldest first, and what to plot in detail."""

    key: SeriesKey
    runs: list[Run]
    detail_run: Run | None = None  # the run whose inferences are shown
    inferences: list[dict] = field(default_factory=list)
    bands: dict[str, Band] = field(default_factory=dict)  # baseline bands by figure name
    power: PowerTrace | None = None  # the newest run with a power meter's trace

    def previous(self, run: Run) -> Run | None:
        i = self.runs.index(run)
        return self.runs[i - 1] if i > 0 else None


@dataclass
class ReportData:
    db_path: Path
    results_path: Path | None
    git_commit: str | None
    started: float | None
    boards: list[BoardStatus]
    tests: list[TestResult]
    runs: list[Run]
    series: list[Series]
    per_op: dict[str, OpProfile]  # by model name

    @property
    def any_simulated(self) -> bool:
        return any(r.simulated for r in self.runs) or any(b.simulated for b in self.boards)

    def series_of(self, run: Run) -> Series:
        return next(s for s in self.series if s.key == run.key)


def number(value: object) -> float | None:
    """A finite float from ``value`` (bools count as 0/1), else None."""
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return float(value)
    return None


def timestamp(value: object) -> float | None:
    """Seconds since 1970 from ``value`` when it is a time a calendar can show, else None."""
    seconds = number(value)
    return seconds if seconds is not None and 0 <= seconds < LATEST_TIMESTAMP else None


def load_report_data(db_path: str | Path, results_json: str | Path | None = None) -> ReportData:
    """Read every run of the store and, when given, the HIL results; link tests to their series."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise ToolkitError(f"no results store at {db_path}",
                           "give the --db file that espml bench or the HIL run wrote")
    if not _is_sqlite(db_path):
        raise ToolkitError(f"{db_path} is not a results store (not an SQLite file)",
                           "give the --db file that espml bench or the HIL run wrote")
    results = read_results_file(Path(results_json)) if results_json is not None else {}
    store = ResultsStore(db_path, read_only=True)  # a report never writes the store it reads
    try:
        rows = store.runs()
        names = _model_names(rows)
        runs = [_run(row, names) for row in rows]
        tests = [_test(t) for t in _list(results.get("tests"))]
        boards = [_board(b) for b in _list(results.get("boards"))] or _boards_of(runs)
        series = _group(runs)
        _attach_tests(series, tests, runs, boards)
        for s in series:
            if s.detail_run is not None:
                s.inferences = store.inferences(s.detail_run.id)
            s.power = _power(store, s.runs)
        per_op = _profiled(store, runs)
    finally:
        store.close()
    for test in tests:
        if test.per_op:
            per_op.setdefault(test.model or "unknown model", OpProfile(test.per_op))
    commit = _text(results.get("git_commit")) or next((r.git_commit for r in reversed(runs) if r.git_commit), None)
    return ReportData(db_path, Path(results_json) if results_json is not None else None, commit,
                      timestamp(results.get("started")), boards, tests, runs, series, per_op)


def read_results_file(path: Path) -> dict:
    """The HIL plugin's results file; every field in it is optional."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ToolkitError(f"no HIL results file at {path}",
                           "give the hil-results.json the HIL run wrote, or leave out --results") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolkitError(f"cannot read the HIL results file {path}: {exc}",
                           "give the hil-results.json the HIL run wrote, or leave out --results") from None
    return data if isinstance(data, dict) else {}


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return True  # let the store say what is wrong
    return head == b"SQLite format 3\x00" or head == b""


def _group(runs: list[Run]) -> list[Series]:
    series: dict[SeriesKey, Series] = {}
    for run in sorted(runs, key=lambda r: (r.started or 0.0, r.id)):
        series.setdefault(run.key, Series(run.key, [])).runs.append(run)
    for s in series.values():
        s.detail_run = next((r for r in reversed(s.runs) if r.summary), s.runs[-1])
    return sorted(series.values(), key=lambda s: (s.key.model, s.key.board, s.key.simulated))


def _attach_tests(series: list[Series], tests: list[TestResult], runs: list[Run], boards: list[BoardStatus]) -> None:
    """Give each series the baseline bands of the tests that measured it, and show the runs those tests made."""
    by_id = {r.id: r for r in runs}
    by_port = {b.port: b for b in boards}
    for test in tests:
        run = by_id.get(test.run_id) if test.run_id is not None else None
        if run is not None:
            key = run.key
        else:
            board = by_port.get(test.port)
            if board is None or board.simulated is None or not test.model:
                continue
            key = SeriesKey(test.model, board.board, board.simulated)
        target = next((s for s in series if s.key == key), None)
        if target is None:
            continue
        if run is not None:
            target.detail_run = run
        for fig in test.figures:
            if fig.band is not None:
                target.bands[fig.name] = fig.band


def _profiled(store: ResultsStore, runs: list[Run]) -> dict[str, OpProfile]:
    """Each model's newest run with a PROFILE (``espml bench --profile``)."""
    profiles: dict[str, OpProfile] = {}
    for run in reversed(runs):
        rows = store.profile(run.id) if run.model not in profiles else []
        if rows:
            ops = [OpTime(r["index"], r["op"], number(r["estimated_us"]), number(r["device_us"])) for r in rows]
            profiles[run.model] = OpProfile(ops, run.simulated)
    return profiles


def _power(store: ResultsStore, runs: list[Run]) -> PowerTrace | None:
    """The newest of ``runs`` whose power meter left a trace to plot."""
    for run in reversed(runs):
        stored = store.power(run.id)
        if stored is None:
            continue
        summary, details = (part if isinstance(part, dict) else {} for part in stored)
        spans = [(float(w[0]), float(w[1])) for w in _list(details.get("window_spans_s"))
                 if isinstance(w, list) and len(w) == 2 and number(w[0]) is not None and number(w[1]) is not None]
        columns = [[float(v) if number(v) is not None else None for v in _list(details.get(k))]
                   for k in ("time_s", "min_ma", "max_ma")]
        if not columns[0] and not spans:
            continue  # the board's own sensor: figures, no trace
        energies = [float(v) for v in _list(details.get("per_window_uj")) if number(v) is not None]
        return PowerTrace(run, _text(summary.get("meter")), bool(summary.get("simulated")),
                          bool(summary.get("approximate")), number(summary.get("energy_uj")), energies, spans,
                          *columns)
    return None


def _model_names(rows: list[dict]) -> dict[str, str]:
    """The name each model (by SHA-256) was stored under, so that a run stored without one (an older
    demo run) is named as the other runs of the same model are, not by hash. The newest name wins."""
    return {_text(r.get("model_sha256")): _text(r.get("model_name")) for r in rows
            if r.get("model_name") and r.get("model_sha256")}


def _run(row: dict, names: dict[str, str]) -> Run:
    try:
        summary = json.loads(row.get("summary") or "null")
    except (TypeError, json.JSONDecodeError):
        summary = None
    sha = _text(row.get("model_sha256"))
    return Run(
        id=int(row["id"]), started=timestamp(row.get("started")), finished=timestamp(row.get("finished")),
        status=_text(row.get("status")), port=_text(row.get("port")), board=_text(row.get("board")) or "unknown board",
        firmware=_text(row.get("firmware")), simulated=bool(row.get("simulated")),
        model=_text(row.get("model_name")) or names.get(sha) or (f"model {sha[:12]}" if sha else "unknown model"),
        git_commit=_text(row.get("git_commit")), label=_text(row.get("label")),
        summary=summary if isinstance(summary, dict) else {})


def _test(item: object) -> TestResult:
    t = item if isinstance(item, dict) else {}
    figures = []
    raw = t.get("figures") if isinstance(t.get("figures"), dict) else {}
    for name, fig in raw.items():
        fig = fig if isinstance(fig, dict) else {"value": fig}
        figures.append(FigureResult(str(name), fig.get("value"), fig.get("baseline"),
                                    tolerance_band(fig.get("baseline"), fig.get("tolerance")),
                                    _text(fig.get("verdict")), _text(fig.get("unit"))))
    per_op = []
    for i, op in enumerate(_list(t.get("per_op"))):
        if isinstance(op, dict) and number(op.get("estimated_us")) is not None:
            index = op.get("index")
            per_op.append(OpTime(index if isinstance(index, int) else i, _text(op.get("op") or op.get("kind")) or "?",
                                 float(op["estimated_us"])))
    run_id = t.get("run_id")
    return TestResult(_text(t.get("nodeid")) or "unnamed test", _text(t.get("outcome")) or "unknown",
                      _text(t.get("port")), _text(t.get("model")), run_id if isinstance(run_id, int) else None,
                      figures, per_op)


def _board(item: object) -> BoardStatus:
    b = item if isinstance(item, dict) else {}
    sim = b.get("simulated")
    return BoardStatus(_text(b.get("port")) or "unknown port", _text(b.get("board")), _text(b.get("firmware")),
                       sim if isinstance(sim, bool) else None, _text(b.get("status")) or "ok")


def _boards_of(runs: list[Run]) -> list[BoardStatus]:
    """Without a HIL results file: every board the store has seen, latest firmware first."""
    seen: dict[tuple, BoardStatus] = {}
    for run in sorted(runs, key=lambda r: -(r.started or 0.0)):
        seen.setdefault((run.port, run.board, run.firmware, run.simulated),
                        BoardStatus(run.port, run.board, run.firmware, run.simulated, f"last run {run.id}"))
    return list(seen.values())


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    return "" if value is None else str(value)
