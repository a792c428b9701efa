"""espml's pytest plugin: hardware-in-the-loop regression runs on real or virtual boards.

Registered through the ``pytest11`` entry point, so ``pip install espml`` is enough. Options
(``--espml-*``, each also an ini key ``espml_*``) say which boards to use and where baselines and
reports go; fixtures ``board``, ``bench`` and ``baseline`` give tests a board, a benchmark on it,
and a verdict against the baseline of its kind. Without a port, it uses ``vdev://esp32s3``.
``--espml-power SPEC`` puts a meter on the (one) board's supply for every benchmark.
"""

from __future__ import annotations

import logging
import shutil
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from toolkit.errors import DeviceError, DeviceTimeout, PortError, ToolkitError
from toolkit.harness import BenchInterrupted, BenchPlan, ResultsStore, run_bench
from toolkit.harness.power import PowerPlan
from toolkit.hil.baseline import Baseline, BaselineError, Verdict
from toolkit.hil.boards import DEFAULT_PORT, BoardPool, HilBoard, read_ports_file, shareable
from toolkit.hil.health import HEALTH_MODEL, BoardHealth, check_pool, load_or_check, read_health
from toolkit.hil.results import RunResults, figure_lines, merge_parts, simulated_figure
from toolkit.hil.suite import SuiteModel, suite_models
from toolkit.power import make_meter
from toolkit.power.errors import PowerError

log = logging.getLogger(__name__)

OPTIONS = {  # name: (help, kind)
    "port": ("a board's pyserial URL; repeat for several boards (default vdev://esp32s3)", "list"),
    "ports_file": ("a file of board URLs, one a line", "path"),
    "board": ("the board kind every board must report (esp32s3, esp32s3-r8)", "str"),
    "baseline": ("baseline folder (a file per board kind and firmware) or one baseline file", "path"),
    "update_baseline": ("write new and improved figures into the baseline (and regressed ones, as an intended "
                        "change)", "flag"),
    "report": ("folder for hil-results.json and the HTML report", "path"),
    "firmware": ("an ESP-IDF build folder to flash for the firmware-update tests", "path"),
    "db": ("results store (default: REPORT/results.sqlite, else .espml/results.sqlite)", "path"),
    "suite": ("a JSON suite file: [{model, inputs, labels, board}]", "path"),
    "n": ("inferences per benchmark (default 20)", "int"),
    "target": ("espml (our ESP-IDF firmware, the default) or micropython (the agent is deployed with each model)",
               "str"),
    "power": ("a meter on the board's supply, as espml bench --power: ppk2:PORT, joulescope[:SERIAL], ina or "
              "replay:FILE; energy per inference (median and spread) joins the figures and the baseline", "str"),
    "place": ("a labgrid place to run on (its NetworkSerialPort is the board, its power port recovers a hung "
              "board); repeat for several. Acquired for the run, released at its end", "list"),
    "place_wait": ("seconds to queue for places others hold (labgrid reservations) before giving up; default 0: "
                   "a held place is refused at once", "float"),
    "coordinator": ("the labgrid coordinator HOST:PORT (default: $LG_COORDINATOR, else 127.0.0.1:20408)", "str"),
    "each_board": ("matrix mode: every test that takes a board runs on every board (board qualification); "
                   "without it, spread mode: each test on the next free board", "flag"),
}
MARKERS = {
    "espml_real_board": "needs a real chip (skipped on a virtual board)",
    "espml_current_sensor": "needs a current sensor on the board (skipped without one)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("espml", "espml hardware-in-the-loop runs")
    for name, (text, kind) in OPTIONS.items():
        flag = "--espml-" + name.replace("_", "-")
        if kind == "flag":
            group.addoption(flag, action="store_true", default=None, help=text)
            parser.addini(f"espml_{name}", text, type="bool", default=False)
        elif kind == "list":
            group.addoption(flag, action="append", default=None, metavar="URL" if name == "port" else name.upper(),
                            help=text)
            parser.addini(f"espml_{name}", text, type="linelist", default=[])
        else:
            group.addoption(flag, default=None, metavar=name.upper(), help=text)
            parser.addini(f"espml_{name}", text, default=None)


def option(config: pytest.Config, name: str):
    """A command-line value, else the ini value."""
    value = config.getoption(f"espml_{name}")
    return config.getini(f"espml_{name}") if value is None else value


def inferences(config: pytest.Config) -> int:
    """--espml-n (or the ini's espml_n), default 20; anything but a whole number >= 1 is a usage error."""
    value = option(config, "n")
    if value is None or value == "":
        return 20
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(f"--espml-n must be a whole number of at least 1, not {value!r}")
    return n


def pytest_configure(config: pytest.Config) -> None:
    inferences(config)  # refused before any board is opened
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.pluginmanager.register(BoardVerdicts(), "espml-board-verdicts")
    if option(config, "power") and (len(option(config, "port") or []) > 1 or option(config, "ports_file")):
        raise pytest.UsageError("--espml-power measures one board's supply: give one --espml-port")
    worker = getattr(config, "workerinput", None)
    config.stash[_RUN_ID] = worker["espml_run"] if worker and "espml_run" in worker else uuid.uuid4().hex[:12]
    if worker is None and option(config, "place"):
        _hold_places(config)


def place_wait(config: pytest.Config) -> float:
    value = option(config, "place_wait")
    try:
        wait_s = float(value or 0)
    except ValueError:
        wait_s = -1.0
    if not 0 <= wait_s < 1e7:
        raise pytest.UsageError(f"--espml-place-wait must be a number of seconds, 0 or more, not {value!r}")
    return wait_s


def place_urls(config: pytest.Config) -> list[str]:
    """The ``labgrid://`` ports of the run's places."""
    coordinator = option(config, "coordinator")
    query = f"?coordinator={coordinator}" if coordinator else ""
    return [f"labgrid://{name}{query}" for name in option(config, "place") or []]


def _hold_places(config: pytest.Config) -> None:
    """The controller acquires every place before any worker starts, and releases those it
    acquired when pytest ends, however it ends (Ctrl-C and SIGTERM included)."""
    from toolkit.farm.places import Coordinator, release

    names, address = list(option(config, "place")), option(config, "coordinator")
    wait_s = place_wait(config)
    mine: list[str] = []
    config.add_cleanup(lambda: release(mine, address))
    try:
        with Coordinator(address) as coordinator:
            mine += coordinator.acquire_all(names, wait_s, on_wait=lambda line: print(line, file=sys.stderr))
            for name in names:
                coordinator.board(name)  # its serial port is exported and available
    except ToolkitError as exc:
        raise pytest.UsageError(f"{exc.message} ({exc.hint})" if exc.hint else exc.message) from None
    _terminate_as_interrupt(config)


def _terminate_as_interrupt(config: pytest.Config) -> None:
    """A cancelled CI job sends SIGTERM: end as on Ctrl-C, so the places are released."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, previous))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: every worker of the run shares the controller's run id (its state folder)."""
    node.workerinput["espml_run"] = node.config.stash[_RUN_ID]


_RUN_ID = pytest.StashKey[str]()
_HIL = pytest.StashKey["HilRun"]()


class HilRun:
    """The plugin's state in one pytest process (the controller or one xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.worker = getattr(config, "workerinput", {}).get("workerid", "main")
        ports = list(option(config, "port") or [])
        if option(config, "ports_file"):
            ports += read_ports_file(Path(option(config, "ports_file")))
        ports += place_urls(config)
        self.ports = [shareable(url, i) for i, url in enumerate(ports or [DEFAULT_PORT])]
        report = option(config, "report")
        self.report_dir = Path(report) if report else None
        base = self.report_dir or Path(config.rootpath) / ".espml"
        self.state_dir = base / f"hil-run-{config.stash[_RUN_ID]}"
        self.target = option(config, "target") or "espml"
        if self.target not in ("espml", "micropython"):
            raise pytest.UsageError(f"--espml-target {self.target}: give espml or micropython")
        self.pool = BoardPool(self.ports, self.state_dir, self.target)
        self.db = Path(option(config, "db") or (self.report_dir / "results.sqlite" if self.report_dir
                                                 else Path(".espml") / "results.sqlite"))
        self._store: ResultsStore | None = None
        self.baselines: dict[tuple, Baseline] = {}
        self.results = RunResults()
        self.records: dict[str, dict] = {}
        self.improvements: list[str] = []
        self.notes: list[str] = []  # figures that had no baseline
        self._health: dict[str, BoardHealth] | None = None
        self._power: PowerPlan | None = None  # --espml-power's meter, opened beside the board it measures

    @property
    def store(self) -> ResultsStore:
        if self._store is None:
            self._store = ResultsStore(self.db)
        return self._store

    @property
    def n(self) -> int:
        return inferences(self.config)

    def health(self) -> dict[str, BoardHealth]:
        """Every board's verdict, checked once per run before any board serves a test."""
        if self._health is None:
            self._health = load_or_check(self.state_dir, self._check_pool)
        return self._health

    def _check_pool(self) -> dict[str, BoardHealth]:
        results = check_pool(self.ports, self._health_bench, self.baseline_for_key,
                             pool_consensus=bool(option(self.config, "update_baseline")))
        for health in results.values():
            if health.power_cycles:
                self.pool.note_power_cycles(health.port, "the health check", health.power_cycles)
        sick = [health for health in results.values() if health.sick]
        for health in sick:
            log.warning("board %s is sick: %s", health.port, health.reason)
            if len(sick) < len(results):  # with no healthy board left, the tests judge the sick ones
                self.pool.mark_out(health.port, f"sick: {health.reason}")
        return results

    def _health_bench(self, port: str) -> tuple[dict, tuple]:
        """The health check on one board: the bundled model, as the suite runs it."""
        board = HilBoard(port, retries=0, target=self.target)  # a silent board is named sooner; the harness retries
        model = HEALTH_MODEL.load()
        samples, labels = HEALTH_MODEL.samples(model)
        store = ResultsStore(self.db)
        try:
            if board.micropython:
                board.install(model)
            plan = BenchPlan(self.n, 1, labels, model_name=HEALTH_MODEL.name, label="espml health check")
            summary = run_bench(board.open(), model, samples, plan, store, port)
            return summary, (board.kind, board.firmware, board.simulated)
        finally:
            board.close()
            store.close()

    def board(self, port: str | None = None) -> HilBoard:
        """The worker's board (spread mode), or the board at ``port`` (matrix mode)."""
        verdict = self.health().get(port) if port else None
        if verdict is not None and verdict.sick:
            pytest.fail(f"board {port} failed its health check: {verdict.reason}", False)
        if port is not None and port in self.pool.taken_out:
            pytest.fail(f"board {port} was taken out of the run: {self.pool.taken_out[port]}", False)
        index = int(self.worker[2:]) if self.worker.startswith("gw") else 0
        board = self.pool.acquire(index) if port is None else self.pool.acquire_port(port)
        try:
            board.open()
        except ToolkitError as exc:
            self.pool.take_out(board, exc.message)
            hint = f" ({exc.hint})" if exc.hint else ""
            pytest.fail(f"board {board.port} did not answer and was taken out of the run: {exc.message}{hint}", False)
        expected = option(self.config, "board")
        if expected and board.kind != expected:
            raise pytest.UsageError(f"{board.port} is an {board.kind} board, --espml-board says {expected}")
        self.results.board_seen(board.port, board.kind, board.firmware, board.simulated)
        return board

    def baseline_for(self, board: HilBoard) -> Baseline:
        return self.baseline_for_key((board.kind, board.firmware, board.simulated))

    def baseline_for_key(self, key: tuple) -> Baseline:
        if key not in self.baselines:
            location = option(self.config, "baseline")
            folder = Path(location) if location else Path(self.config.rootpath) / "hil" / "baselines"
            self.baselines[key] = Baseline.for_board(folder, *key)
        return self.baselines[key]

    def power(self) -> PowerPlan | None:
        """The meter --espml-power names, opened once (after the board: a virtual PPK2 stands beside a
        virtual board); None without the option. A meter that cannot open fails the test in one line."""
        spec = option(self.config, "power")
        if not spec:
            return None
        if self._power is None:
            try:
                meter = make_meter(spec)
                meter.open()
            except ToolkitError as exc:
                pytest.fail(f"--espml-power {spec}: {exc.message} ({exc.hint})", False)
            self._power = PowerPlan(meter, spec)
        return self._power

    def record(self, item: pytest.Item) -> dict:
        return self.records.setdefault(item.nodeid, {"nodeid": item.nodeid, "outcome": "running", "figures": {}})

    def finish(self) -> None:
        if self._power is not None:
            self._power.meter.close()
        for baseline in self.baselines.values():
            baseline.save()
        self.results.tests = list(self.records.values())
        if self.records or self.results.boards:
            self.results.write_part(self.state_dir, self.worker)
        self.pool.release()
        if self._store is not None:
            self._store.close()


def hil(config: pytest.Config) -> HilRun:
    if _HIL not in config.stash:
        config.stash[_HIL] = HilRun(config)
    return config.stash[_HIL]


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def espml_port() -> str | None:
    """The board a test runs on in matrix mode (``--espml-each-board`` parametrizes it); None: any."""
    return None


@pytest.fixture
def board(request: pytest.FixtureRequest, espml_port: str | None) -> HilBoard:
    """A board held by this worker, its session open; the same one test after test."""
    run = hil(request.config)
    run.health()
    held = run.board(espml_port)
    if request.node.get_closest_marker("espml_real_board") and held.simulated:
        pytest.skip(f"needs a real chip; {held.where} is virtual")
    if request.node.get_closest_marker("espml_current_sensor") and not held.info.has_current_sensor:
        pytest.skip(f"needs a current sensor; {held.where} has none")
    run.record(request.node).update(port=held.port, board=held.kind, firmware=held.firmware,
                                    simulated=held.simulated)
    return held


@pytest.fixture
def bench(request: pytest.FixtureRequest, board: HilBoard):
    """``bench(suite_model_or_model, samples=None, labels=None, n=None)``: run a benchmark on the
    board; return its summary. A board that stops answering is taken out of the run."""
    run = hil(request.config)

    def run_one(target: SuiteModel, n: int | None = None) -> dict:
        from toolkit.boards import get_board
        from toolkit.model.inspect import inspect_model

        model = target.load()
        report = inspect_model(model, get_board(board.kind))
        if not report.fits:
            why = "; ".join(f"{p.op}: {p.reason}" for p in report.problems) or "its arena or flash budget"
            pytest.skip(f"{target.name} will not run on {board.kind}: {why}")
        samples, labels = target.samples(model)
        count = n or run.n
        if board.micropython:  # the model goes onto its filesystem, the agent starts
            board.install(model)
        plan = BenchPlan(count, 1, labels, model_name=target.name, label=request.node.nodeid)
        try:
            summary = run_bench(board.open(), model, samples, plan, run.store, board.port,
                                _progress_log(f"{target.name} on {board.where}"), power=run.power())
        except PowerError as exc:
            pytest.fail(f"{target.name} on {board.where} gave no energy figure: {exc.message} ({exc.hint})", False)
        except DeviceError as exc:
            pytest.fail(f"{target.name} cannot run on {board.where}: {exc}", False)
        except (DeviceTimeout, BenchInterrupted, PortError) as exc:
            cause = exc.__cause__ if isinstance(exc, BenchInterrupted) else exc
            if isinstance(cause, DeviceTimeout):
                run.pool.take_out(board, cause.message)
                pytest.fail(f"{board.where} stopped answering and was taken out of the run: {exc.message}", False)
            if isinstance(cause, PortError):  # unplugged, or its host (a labgrid exporter's) is gone
                run.pool.take_out(board, cause.message)
                pytest.fail(f"{board.port} was taken out of the run: {cause.message} ({cause.hint})", False)
            raise
        if summary.get("power_cycles"):
            run.pool.note_power_cycles(board.port, request.node.nodeid, summary["power_cycles"])
        run.record(request.node).update(
            model=target.name, run_id=summary["run_id"], summary=summary,
            per_op=[{"index": i, "op": op.kind, "estimated_us": op.estimated_us} for i, op in enumerate(report.ops)])
        return summary

    return run_one


def _progress_log(what: str):
    """Progress of a long benchmark as log lines (shown with --log-cli-level=INFO), every quarter."""
    def report(stage: str, done: int, total: int) -> None:
        if stage == "bench" and total >= 40 and done % max(1, total // 4) == 0:
            log.info("%s: %d of %d inferences", what, done, total)
    return report


class BaselineCheck:
    """Compare a summary with the baseline of the board's kind; fail on regressions."""

    def __init__(self, run: HilRun, board: HilBoard, item: pytest.Item) -> None:
        self.run, self.board, self.item = run, board, item

    def check(self, model: str, summary: dict) -> list[Verdict]:
        baseline = self.run.baseline_for(self.board)
        try:
            verdicts = baseline.check(model, summary)
        except BaselineError as exc:
            pytest.fail(f"{model}: {exc.message} ({exc.hint})", False)
        record = self.run.record(self.item)
        for verdict in verdicts:  # a virtual board's modelled figures say simulated; what it computed does not
            record["figures"][verdict.figure.name] = {**verdict.as_dict(), "simulated": self._simulated(verdict)}
            self.item.user_properties.append((f"espml.{model}.{verdict.figure.name}", verdict.value))
        update = bool(option(self.run.config, "update_baseline"))
        if update:
            baseline.record(model, verdicts, regressions_too=True)
        where = f"{self.board.kind} ({self.board.port})"
        self._say_if_new(model, baseline, verdicts, update)
        for verdict in verdicts:
            if verdict.outcome == "improved":
                self.run.improvements.append(f"{model}: {self._describe(verdict, where)}")
                if not update:
                    warnings.warn(f"{model}: {self._describe(verdict, where)}; --espml-update-baseline records it")
        regressed = [self._describe(v, where) for v in verdicts if v.outcome == "regressed"]
        if regressed and not update:
            pytest.fail(f"{model} regressed against {baseline.path.name}:\n  " + "\n  ".join(regressed), False)
        return verdicts


    def _simulated(self, verdict: Verdict) -> bool:
        return simulated_figure(verdict.figure.name, self.board.simulated)

    def _describe(self, verdict: Verdict, where: str) -> str:
        return verdict.describe(where) + (", simulated" if self._simulated(verdict) else "")

    def _say_if_new(self, model: str, baseline: Baseline, verdicts: list[Verdict], update: bool) -> None:
        """A figure without a baseline passes as new: the terminal says so, and what records it."""
        new = [v.figure.name for v in verdicts if v.outcome == "new"]
        if not new:
            return
        what = model if len(new) == len(verdicts) else f"{model} ({', '.join(new)})"
        kind = "simulated" if self.board.simulated else "measured"
        subject = f"{what} on {self.board.kind} ({self.board.firmware}, {kind}) in {baseline.path}"
        line = (f"new baseline for {subject}: written, review the diff and commit it" if update
                else f"no baseline for {subject}: run with --espml-update-baseline to record one")
        if line not in self.run.notes:
            self.run.notes.append(line)
            if not update:
                warnings.warn(line)


@pytest.fixture
def baseline(request: pytest.FixtureRequest, board: HilBoard) -> BaselineCheck:
    return BaselineCheck(hil(request.config), board, request.node)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``suite_model`` runs once per model of the suite; in matrix mode a test
    that takes a board runs once per board."""
    if "suite_model" in metafunc.fixturenames:
        models = suite_models(option(metafunc.config, "suite"))
        metafunc.parametrize("suite_model", models, ids=[m.name for m in models])
    if "board" in metafunc.fixturenames and option(metafunc.config, "each_board"):
        ports = hil(metafunc.config).ports
        metafunc.parametrize("espml_port", ports, ids=[f"board{i}" for i in range(len(ports))])


# --- reporting -----------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if _HIL in item.config.stash and item.nodeid in hil(item.config).records:
        record = hil(item.config).records[item.nodeid]
        if report.when == "call" or report.outcome != "passed":
            record["outcome"] = report.outcome
            if report.outcome == "failed":
                record["message"] = str(report.longrepr.reprcrash.message) if hasattr(report.longrepr, "reprcrash") \
                    else str(report.longrepr)[-2000:]
    return report


def _state_dir(config: pytest.Config) -> Path:
    run = config.stash.get(_HIL, None)
    if run is not None:
        return run.state_dir
    # The controller of an xdist run used no fixture itself: find the workers' folder.
    base = Path(option(config, "report") or Path(config.rootpath) / ".espml")
    return base / f"hil-run-{config.stash[_RUN_ID]}"


class BoardVerdicts:
    """Registered as a plugin of its own: its session-finish hook runs before JUnit is written."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Every board's verdict as a property of the JUnit test suite; a sick board fails the
        session, whatever the tests did."""
        config = session.config
        if hasattr(config, "workerinput"):
            return
        health = read_health(_state_dir(config))
        config.stash[_HEALTH] = health
        from _pytest.junitxml import xml_key

        junit = config.stash.get(xml_key, None)
        for entry in health.values():
            if junit is not None:
                junit.add_global_property(f"espml.board.{entry.port}",
                                          f"sick: {entry.reason}" if entry.sick else entry.verdict)
        if any(entry.sick for entry in health.values()) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


_HEALTH = pytest.StashKey[dict]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _HIL in config.stash:
        hil(config).finish()
    if hasattr(config, "workerinput"):
        return
    state_dir = _state_dir(config)
    found = ("hil-part-*.json", "taken_out.json", "health.json")  # boards taken out before any test ran: reported
    if not state_dir.is_dir() or not any(next(state_dir.glob(pattern), None) for pattern in found):
        return
    pool = BoardPool([], state_dir)
    taken_out, power_cycles = pool.taken_out, pool.power_cycles
    results = merge_parts(state_dir, taken_out, config.stash.get(_HEALTH, {}), power_cycles)
    final = state_dir.parent / results.name  # the report folder, or .espml/
    final.write_text(results.read_text())
    shutil.rmtree(state_dir, ignore_errors=True)
    config.stash[_REPORT] = (final, taken_out, _render(config, final))
    config.stash[_CYCLES] = power_cycles


_REPORT = pytest.StashKey[tuple]()
_CYCLES = pytest.StashKey[dict]()


def _render(config: pytest.Config, results: Path) -> Path | None:
    """The HTML report, when a report folder was asked for (a warning when it cannot be written,
    e.g. without the plotting extra: the results file is there either way)."""
    if not option(config, "report"):
        return None
    from toolkit.harness.html_report import write_report

    run = config.stash.get(_HIL, None)
    db = run.db if run else Path(option(config, "db") or Path(option(config, "report")) / "results.sqlite")
    try:
        return write_report(db, results.parent / "report.html", results)
    except ToolkitError as exc:
        warnings.warn(f"no HTML report: {exc}")
        return None


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if _REPORT not in config.stash:
        return
    results, taken_out, html = config.stash[_REPORT]
    terminalreporter.section("espml HIL")
    for entry in config.stash.get(_HEALTH, {}).values():
        if entry.sick:
            terminalreporter.write_line(f"sick board: {entry.port}: {entry.reason}", red=True)
    for port, reason in taken_out.items():
        if not reason.startswith("sick: "):  # named above
            terminalreporter.write_line(f"board taken out of the run: {port}: {reason}", red=True)
    for port, events in config.stash.get(_CYCLES, {}).items():
        times = sum(count for _, count in events)
        terminalreporter.write_line(f"power-cycled: {port} fell silent and was brought back by cutting its power "
                                    f"{times} time(s), during {', '.join(where for where, _ in events)}", yellow=True)
    run = config.stash.get(_HIL, None)
    for line in (run.improvements if run else []):
        terminalreporter.write_line(f"improved: {line}", green=True)
    for line in figure_lines(results):
        terminalreporter.write_line(line)
    for line in (run.notes if run else []):
        terminalreporter.write_line(line, yellow=True)
    terminalreporter.write_line(f"results: {results}")
    if html:
        terminalreporter.write_line(f"report: {html}")
