"""The HTML report: built from a store of virtual-board runs (plus a measured run and a HIL results file),
checked as text, then opened in a real headless Chromium: every plot renders, no console message."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolkit.boards import get_board
from toolkit.cli import main
from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.harness.report_data import load_report_data
from toolkit.model import load_model
from toolkit.model.inspect import inspect_model
from toolkit.virtual.protocol_vdev import _SHARED

from conftest import FIXTURES, REFERENCE_MODEL

pytest.importorskip("plotly", reason="the report needs the 'report' extra (plotly)")
from toolkit.harness.html_report import write_report  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian's chromium is not installed (apt-get install -y chromium)")
SIM_PORT = "vdev://esp32s3?realtime=0"
HELDOUT_NHWC = FIXTURES / "reference" / "heldout_nhwc"
MEASURED_PORT = "/dev/ttyACM0"
TAKEN_OUT_PORT = "rfc2217://127.0.0.1:4001"
MODEL = "digits_cnn_int8.tflite"
SIM_TEST = f"hil/test_models.py::test_figures[{MODEL}-sim]"
POWER_BOARD = "report-power"  # the virtual board the virtual PPK2 measures
POWER_WINDOWS = 12
PLOTS = 9  # virtual series: trend, latency, current, power trace, energy; real series: three; per-op: one

# Records what the page reports as broken; the test puts it first in <head> of a copy of the report.
ERROR_RECORDER = """<script>
window.__problems = [];
window.addEventListener("error", e => __problems.push("error: " + e.message));
window.addEventListener("unhandledrejection", e => __problems.push("rejection: " + e.reason));
for (const k of ["error", "warn"]) {
  const original = console[k];
  console[k] = (...args) => { __problems.push(k + ": " + args.join(" ")); original.apply(console, args); };
}
window.addEventListener("load", () => setTimeout(() => {
  const out = document.createElement("pre"); out.id = "page-problems";
  out.textContent = JSON.stringify(__problems); document.body.appendChild(out);
}, 500));
</script>"""


def _measured_run(store: ResultsStore, k: int) -> int:
    """A run as a real board would record it: latencies that vary, a current sensor."""
    rng = np.random.default_rng(k)
    run_id = store.start_run(MEASURED_PORT, "esp32s3", "espml-fw 0.1.0", "ab" * 32, False, MODEL)
    latencies = rng.normal(12_000 + 250 * k, 150, 25).astype(int)
    for i, latency in enumerate(latencies):
        store.add_inference(run_id, {
            "idx": i, "sample": i, "latency_us": int(latency), "cycles": int(latency) * 240, "arena_used_bytes": 10_144,
            "heap_free_bytes": 99_000, "heap_free_min_bytes": 98_000 - 64 * k, "current_mean_ma": 95 + rng.random() * 4,
            "current_peak_ma": 110 + rng.random() * 5, "output_matches": 1, "predicted": 1, "label": 1})
    store.finish_run(run_id, "done", {
        "n": len(latencies), "latency_us": {"median": float(np.median(latencies)),
                                            "p90": float(np.percentile(latencies, 90))},
        "arena_used_bytes": 10_144, "heap_free_min_bytes": 98_000 - 64 * k, "current_ma": {"mean": 97.0 + k},
        "outputs_match_reference": True, "mismatches": 0, "simulated": False})
    return run_id


def _power_run(db: Path) -> None:
    """A bench run measured by the virtual PPK2 beside a virtual board (espml bench --power)."""
    port = f"vdev://esp32s3?id={POWER_BOARD}"
    try:
        assert main(["bench", "--port", port, "--model", str(REFERENCE_MODEL), "--inputs", str(HELDOUT_NHWC),
                     "--n", str(POWER_WINDOWS), "--db", str(db), "--power", f"ppk2:vppk2://{POWER_BOARD}"]) == 0
    finally:
        board = _SHARED.pop(POWER_BOARD, None)
        if board is not None:
            board.close()


@pytest.fixture(scope="module")
def results(tmp_path_factory, heldout_module) -> tuple[Path, Path]:
    """A store with virtual-board runs (one stored without a model name, as older demos did; one measured
    by the virtual PPK2) and two measured ones, and the HIL results file of a run."""
    folder = tmp_path_factory.mktemp("report")
    db = folder / "results.sqlite"
    model = load_model(REFERENCE_MODEL)
    store = ResultsStore(db)
    try:
        with Session.open(SIM_PORT) as session:
            run_bench(session, model, heldout_module, BenchPlan(4, 0), store, SIM_PORT)  # no name: an old demo run
            sim_ids = [run_bench(session, model, heldout_module,
                                 BenchPlan(10, 0, model_name=MODEL, profile=k == 2, label=SIM_TEST if k == 2 else None),
                                 store, SIM_PORT)["run_id"] for k in range(3)]
        measured_ids = [_measured_run(store, k) for k in range(2)]
    finally:
        store.close()
    _power_run(db)
    per_op = inspect_model(model, get_board("esp32s3"), True, 4).to_json()["per_op"]
    band = {"tolerance": {"rel": 0.1}, "unit": "us"}
    hil = {
        "git_commit": "abc123def456", "started": 1_700_000_000.0,
        "boards": [{"port": SIM_PORT, "board": "esp32s3", "firmware": "espml-fw 0.1.0", "simulated": True,
                    "status": "ok"},
                   {"port": MEASURED_PORT, "board": "esp32s3", "firmware": "espml-fw 0.1.0", "simulated": False,
                    "status": "ok"},
                   {"port": TAKEN_OUT_PORT, "board": "esp32s3", "simulated": True,
                    "status": "taken out: no answer after 3 tries"}],
        "tests": [
            {"nodeid": SIM_TEST, "outcome": "failed", "port": SIM_PORT,
             "model": MODEL, "run_id": sim_ids[-1],
             "figures": {"latency_us.median": {"value": 12_000.0, "baseline": 10_000.0, "verdict": "regressed", **band},
                         "outputs_match_reference": {"value": True, "baseline": True, "tolerance": {"exact": True},
                                                     "verdict": "ok"}},
             "per_op": [{"index": op["index"], "op": op["kind"], "estimated_us": op["estimated_us"]} for op in per_op]},
            {"nodeid": f"hil/test_models.py::test_figures[{MODEL}-board]", "outcome": "passed", "port": MEASURED_PORT,
             "model": MODEL, "run_id": measured_ids[-1],
             "figures": {"arena_used_bytes": {"value": 10_144, "baseline": 10_000, "tolerance": {"abs": 256},
                                              "verdict": "ok", "unit": "B"}}},
            {"nodeid": "hil/test_current.py::test_sensor", "outcome": "skipped", "port": SIM_PORT},
        ]}
    results_json = folder / "hil-results.json"
    results_json.write_text(json.dumps(hil))
    return db, results_json


@pytest.fixture(scope="module")
def heldout_module() -> list[np.ndarray]:
    x = np.load(Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "heldout_x.npy")
    return list(x.transpose(0, 2, 3, 1)[:4, None])


@pytest.fixture(scope="module")
def report(results, tmp_path_factory) -> Path:
    db, results_json = results
    return write_report(db, tmp_path_factory.mktemp("out") / "report.html", results_json)


def _plot_chunks(page: str) -> list[str]:
    """The page cut at each plot's wrapper: chunk i holds plot i."""
    return page.split("<div class=\"plot\">")[1:]


def test_simulated_and_measured_runs_are_never_one_series(results) -> None:
    db, results_json = results
    data = load_report_data(db, results_json)
    assert len(data.series) == 2
    for series in data.series:
        assert {run.simulated for run in series.runs} == {series.key.simulated}
        assert series.runs == sorted(series.runs, key=lambda r: r.started)
    sim = next(s for s in data.series if s.key.simulated)
    assert sim.bands["latency_us.median"].low == pytest.approx(9_000) and sim.bands["latency_us.median"].high == 11_000
    measured = next(s for s in data.series if not s.key.simulated)
    assert (measured.bands["arena_used_bytes"].low, measured.bands["arena_used_bytes"].high) == (9_744, 10_256)


def test_report_is_one_self_contained_file_that_says_what_is_simulated(report: Path) -> None:
    page = report.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|<img[^>]+src=\"?http", page), "fetches something"
    assert page.count("<script") > 1 and "Plotly.newPlot" in page
    assert "abc123def456" in page
    assert "Boards taken out of the run" in page and TAKEN_OUT_PORT in page and "no answer after 3 tries" in page
    assert "+20.0%" in page and "regressed" in page  # a figure with its baseline and change
    assert "hil/test_current.py::test_sensor" in page
    chunks = _plot_chunks(page)
    # per series: trend, latency histogram, current per inference (and the virtual series: power trace, energy
    # histogram); then one per-op plot
    assert len(chunks) == PLOTS
    titles = [re.search(r'"title":\{"font":\{"size":15\},"text":"([^"]+)"', c).group(1) for c in chunks]
    *series_titles, per_op_title = titles
    virtual = [t for t in series_titles if "(virtual board)" in t]
    real = [t for t in series_titles if "(real board)" in t]
    assert len(virtual) == 5 and len(real) == 3, series_titles
    assert all("SIMULATED" in t for t in virtual if not t.startswith("Trend")), virtual  # modelled figures alone
    assert not any("SIMULATED" in t for t in real)
    assert per_op_title == f"Per-op time of {MODEL}: board (simulated) and inspect's estimate"


def test_a_profiled_run_puts_the_boards_per_op_times_next_to_the_estimate(results) -> None:
    """The store's PROFILE rows (espml bench --profile) win over the HIL file's estimates alone."""
    db, results_json = results
    profile = load_report_data(db, results_json).per_op[MODEL]
    store = ResultsStore(db)
    try:
        stored = store.profile(next(run["id"] for run in store.runs() if run["label"] == SIM_TEST))
    finally:
        store.close()
    assert profile.board_simulated is True and len(profile.ops) == len(stored) > 3
    assert [(op.op, op.board_us, op.estimated_us) for op in profile.ops] == [
        (row["op"], row["device_us"], row["estimated_us"]) for row in stored]


@needs_chromium
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    page = report.read_text().replace("<head>", "<head>" + ERROR_RECORDER, 1)
    checked = tmp_path / "checked.html"
    checked.write_text(page)
    run = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    problems = re.search(r'<pre id="page-problems">(.*?)</pre>', run.stdout, re.S)
    assert problems is not None, "the page never finished loading"
    assert json.loads(problems.group(1).replace("&quot;", '"')) == []
    chunks = _plot_chunks(run.stdout)
    assert len(chunks) == PLOTS
    for chunk in chunks:
        assert "js-plotly-plot" in chunk and 'class="main-svg"' in chunk, chunk[:300]
        assert re.search(r'class="(trace|point|bars|scatterlayer)', chunk), "a plot without data drawn"
    trends = [c for c in chunks if "Trend across" in c]
    assert len(trends) == 2 and all('class="shape-group"' in c for c in trends)  # the baseline bands


def test_espml_report_on_a_store_alone(results, capsys, monkeypatch) -> None:
    db, _ = results
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    assert main(["report", "--db", str(db), "--open"]) == 0
    out = db.with_name("report.html")
    assert out.is_file() and "Plotly.newPlot" in out.read_text()
    assert str(out) in capsys.readouterr().out
    assert opened == [out.resolve().as_uri()]


def test_espml_report_on_an_empty_store(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    ResultsStore(db).close()
    out = tmp_path / "r.html"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    assert "holds no runs" in out.read_text()


def test_odd_fields_in_the_results_file_are_left_out(results, tmp_path: Path) -> None:
    db, _ = results
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"boards": "none", "tests": [7, {"figures": {"x": 3}, "per_op": [{"op": "ADD"}]}]}))
    out = write_report(db, tmp_path / "r.html", odd)
    assert "unnamed test" in out.read_text()


@pytest.mark.parametrize("name, needle", [
    ("missing.sqlite", "no results store at"),
    ("not-a-store.sqlite", "is not a results store"),
])
def test_espml_report_errors_are_one_line(tmp_path: Path, name: str, needle: str) -> None:
    db = tmp_path / name
    if name.startswith("not"):
        db.write_text("hello")
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "report", "--db", str(db)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "--db" in lines[0], result.stderr
    assert not (tmp_path / "report.html").exists()
    assert name.startswith("not") or not db.exists()


def test_missing_plotly_names_the_extra(results, tmp_path: Path, monkeypatch, capsys) -> None:
    db, _ = results
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r.html")]) == 6
    err = capsys.readouterr().err
    assert "espml[report]" in err and len(err.strip().splitlines()) == 1


# Measures the laid-out page: the document's width against the window, each scrolling box and each plot's
# drawing against its container; written into the DOM for --dump-dom to carry out.
LAYOUT_PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const de = document.documentElement;
  const boxes = [...document.querySelectorAll(".wide")].map(b => [b.scrollWidth, b.clientWidth]);
  const plots = [...document.querySelectorAll(".plot")].map(p => {
    const svg = p.querySelector("svg.main-svg");
    return [svg ? svg.getBoundingClientRect().width : -1, p.clientWidth];
  });
  const out = document.createElement("pre"); out.id = "page-layout";
  out.textContent = JSON.stringify({scroll: de.scrollWidth, inner: window.innerWidth, boxes, plots});
  document.body.appendChild(out);
}, 800));
</script>"""


def _chromium_dom(page: Path, tmp_path: Path, width: int) -> str:
    run = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / f'profile-{width}'}", f"--window-size={width},900",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


@needs_chromium
@pytest.mark.parametrize("width", [1400, 1024])
def test_nothing_overflows_the_window_and_plots_fit_their_boxes(report: Path, tmp_path: Path, width: int) -> None:
    checked = tmp_path / "layout.html"
    checked.write_text(report.read_text().replace("<head>", "<head>" + LAYOUT_PROBE, 1))
    found = re.search(r'<pre id="page-layout">(.*?)</pre>', _chromium_dom(checked, tmp_path, width), re.S)
    assert found is not None, "the page never finished loading"
    layout = json.loads(found.group(1).replace("&quot;", '"'))
    assert layout["inner"] == width
    assert layout["scroll"] <= layout["inner"], layout
    assert all(scroll <= client for scroll, client in layout["boxes"]), layout["boxes"]  # no hidden columns
    assert len(layout["plots"]) == PLOTS
    assert all(0 < drawn <= box for drawn, box in layout["plots"]), layout["plots"]


# What the page draws, measured in Chromium: per plot its title, the drawn bars' widths against the plot
# area's, the axis tick labels and the filled areas' outlines; per HIL figure row and per run row, which cells
# carry a SIMULATED tag.
PAGE_PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const texts = (root, sel) => [...root.querySelectorAll(sel)].map(t => t.textContent);
  const plots = [...document.querySelectorAll(".plot")].map(p => ({
    title: (p.querySelector(".gtitle") || {}).textContent || "",
    area: Number((p.querySelector("rect.nsewdrag") || {getAttribute: () => -1}).getAttribute("width")),
    bars: [...p.querySelectorAll("g.bars path")].map(b => b.getBBox()).filter(b => b.height > 0).map(b => b.width),
    xticks: texts(p, "g.xtick text"), yticks: texts(p, "g.ytick text"),
    fills: [...p.querySelectorAll("path.js-fill")].map(f => f.getAttribute("d") || ""),
  }));
  const tagged = tr => [...tr.children].map(td => [td.textContent, !!td.querySelector(".badge.sim")]);
  const figures = [...document.querySelectorAll(".test table tr:not(:first-child)")].map(tagged);
  const head = [...document.querySelectorAll(".wide table tr:first-child th")].map(th => th.textContent);
  const runs = Object.fromEntries([...document.querySelectorAll("tr[id^=run-]")].map(tr => [tr.id, tagged(tr)]));
  const out = document.createElement("pre"); out.id = "page-probe";
  out.textContent = JSON.stringify({plots, figures, head, runs, text: document.body.innerText});
  document.body.appendChild(out);
}, 800));
</script>"""


@pytest.fixture(scope="module")
def probe(report: Path, tmp_path_factory) -> dict:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    folder = tmp_path_factory.mktemp("probe")
    checked = folder / "probe.html"
    checked.write_text(report.read_text().replace("<head>", "<head>" + PAGE_PROBE, 1))
    found = re.search(r'<pre id="page-probe">(.*?)</pre>', _chromium_dom(checked, folder, 1400), re.S)
    assert found is not None, "the page never finished loading"
    import html

    return json.loads(html.unescape(found.group(1)))


def _plots(probe: dict, *words: str, without: str = "\0") -> list[dict]:
    found = [p for p in probe["plots"] if all(w in p["title"] for w in words) and without not in p["title"]]
    assert found, [p["title"] for p in probe["plots"]]
    return found


def _plot(probe: dict, *words: str, without: str = "\0") -> dict:
    (found,) = _plots(probe, *words, without=without)
    return found


def _ticks(labels: list[str]) -> list[float]:
    return [float(t.replace(",", "").replace("\u2212", "-")) for t in labels if t.strip()]


def test_a_constant_latency_draws_a_narrow_bar_on_a_readable_axis(probe: dict) -> None:
    for constant in _plots(probe, "Latency histogram", "SIMULATED"):  # the virtual board's cost model: one latency
        assert len(constant["bars"]) == 1 and constant["area"] > 0
        assert constant["bars"][0] < 0.1 * constant["area"], constant  # a bar, not a block filling the plot
        ticks = _ticks(constant["xticks"])
        assert len(ticks) >= 4 and ticks[-1] - ticks[0] >= 0.02 * 9_959, ticks  # about ±2%, not ±0.5 us
    varied = _plot(probe, "Latency histogram", without="SIMULATED")  # a real board's spread keeps its bins
    assert len(varied["bars"]) >= 8 and max(varied["bars"]) < 0.1 * varied["area"]


def test_a_flat_current_trace_keeps_readable_milliampere_ticks(probe: dict) -> None:
    for plot in _plots(probe, "Current", "SIMULATED"):  # mean 97.77, peak 97.90 mA, every inference
        ticks = _ticks(plot["yticks"])
        steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:])}
        assert len(ticks) >= 3 and min(steps) >= 0.5, ticks  # not 0.005 mA ticks zoomed into rounding
        assert ticks[0] < 97.77 and ticks[-1] > 97.9


def test_runs_are_named_by_model_name_and_label_not_by_hash(probe: dict) -> None:
    sha = load_model(REFERENCE_MODEL).sha256
    assert sha[:12] not in probe["text"]  # the run stored without a model name takes the name of its model
    assert f"{MODEL} on esp32s3" in probe["text"]
    histogram = _plot(probe, "Latency histogram (SIMULATED)")
    assert re.search(r"run \d+ \(" + re.escape(SIM_TEST) + r"\), 10 inferences", histogram["title"]), histogram
    assert SIM_TEST in " ".join(cell for cell, _ in next(r for r in probe["runs"].values() if SIM_TEST in r[0][0]))


def test_the_demo_names_its_run_by_the_models_file_and_its_label(tmp_path: Path) -> None:
    from toolkit.demo import run_demo

    db = tmp_path / "demo.sqlite"
    run_demo(tmp_path / "work", db, n=2, retrain=False, port="vdev://esp32s3?realtime=0&id=report-demo")
    _SHARED.pop("report-demo").close()
    page = write_report(db, tmp_path / "report.html").read_text()
    (run,) = load_report_data(db).runs
    assert (run.model, run.label) == (MODEL, "espml demo")
    assert f"run {run.id} (espml demo)" in page and "model " + run.summary["model_sha256"][:12] not in page


def test_only_the_modelled_figures_are_marked_simulated(probe: dict) -> None:
    figures = dict((row[0][0], row[1][1]) for row in probe["figures"])  # figure name -> value cell tagged
    assert figures == {"latency_us.median": True, "outputs_match_reference": False, "arena_used_bytes": False}
    head = probe["head"]
    for run_id, cells in probe["runs"].items():
        tagged = {head[i] for i, (_, tag) in enumerate(cells) if tag}
        if "virtual" in cells[head.index("kind")][0]:
            assert tagged == {"kind", "latency median", "latency p90", "heap free (minimum)", "current mean"}, run_id
        else:
            assert tagged == set(), run_id


def test_a_power_trace_is_drawn_with_its_inference_windows_shaded(probe: dict) -> None:
    trace = _plot(probe, "Power trace (SIMULATED: a virtual meter)", "(virtual board)")
    windows = [d for d in trace["fills"] if d.count("Z") == POWER_WINDOWS]
    assert len(windows) == 1, [d.count("Z") for d in trace["fills"]]  # one shaded rectangle per inference window
    ticks = _ticks(trace["yticks"])
    assert ticks[0] <= 60 and ticks[-1] >= 90  # idle (47.6 mA) and the inferences (about 98 mA) both in view
    energy = _plot(probe, "Energy per inference (SIMULATED: a virtual meter)")
    assert energy["bars"] and f"{POWER_WINDOWS} windows" in energy["title"]


def test_odd_power_details_in_the_store_are_left_out(tmp_path: Path) -> None:
    db = tmp_path / "odd.sqlite"
    store = ResultsStore(db)
    run_id = store.start_run(MEASURED_PORT, "esp32s3", "espml-fw 0.1.0", "cd" * 32, False, MODEL)
    store.finish_run(run_id, "done", {"n": 1})
    store.set_power(run_id, {"meter": "replay:x.npz", "energy_uj": "lots"},
                    {"window_spans_s": [[0.1], "x", [0.2, 0.3], [None, 1]], "time_s": [0, "a", 0.5],
                     "min_ma": [40, 41, None], "max_ma": [90, None, 95], "per_window_uj": [12.5, "x"]})
    store.close()
    (series,) = load_report_data(db).series
    assert series.power.window_spans_s == [(0.2, 0.3)] and series.power.per_window_uj == [12.5]
    assert series.power.energy_uj is None
    page = write_report(db, tmp_path / "r.html").read_text()
    body = page.split("</head>", 1)[1]
    assert "Power trace" in body and "Energy per inference" in body and "SIMULATED" not in body  # a real meter
