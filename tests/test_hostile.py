"""Hostile stores and results files for ``espml report`` (issue 19 items 6 and 9): values out of
range are shown as unknown or left without a band, never a traceback; board text stays text."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.harness.store import ResultsStore

pytest.importorskip("plotly", reason="the report needs the 'report' extra (plotly)")

LINK = '<a href="https://evil.example/">click</a>'


def _store(path: Path, started: str = "1700000000", board: str = "esp32s3", model: str = "m.tflite") -> None:
    """A store of two finished runs of one series whose ``started`` is then set to the SQL value ``started``."""
    store = ResultsStore(path)
    for median in (900, 950):
        run = store.start_run("vdev://esp32s3", board, "espml-fw 1", "ab" * 32, True, model, None, 1, "x", None)
        store.finish_run(run, "done", {"n": 1, "latency_us": {"median": median, "p90": median}, "simulated": True})
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"UPDATE runs SET started = {started}, finished = {started}")
        db.commit()


def _report(tmp_path: Path, db: Path, *extra: str) -> tuple[int, str]:
    out = tmp_path / "report.html"
    code = main(["report", "--db", str(db), "--out", str(out), *extra])
    return code, out.read_text() if out.exists() else ""


STARTED = [("a started of 1e20", "1e20"), ("a started before 1970", "-1e300"),
           ("a non-numeric started", "'yesterday'")]


@pytest.mark.parametrize("case, started", STARTED, ids=[s[0] for s in STARTED])
def test_a_stored_time_out_of_range_is_unknown(case, started, tmp_path: Path, capsys) -> None:
    db = tmp_path / "r.sqlite"
    _store(db, started)
    code, html = _report(tmp_path, db)
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, (case, captured.err)
    assert ">unknown<" in html, case


TOLERANCES = [("a rel tolerance of 1e307", {"rel": 1e307}, 1e300), ("a negative rel tolerance", {"rel": -0.1}, 900),
              ("an abs tolerance of 1e308 on 1e308", {"abs": 1e308}, 1e308), ("a string tolerance", {"rel": "lots"}, 900)]


@pytest.mark.parametrize("case, tolerance, baseline", TOLERANCES, ids=[t[0] for t in TOLERANCES])
def test_a_tolerance_out_of_range_draws_no_band(case, tolerance, baseline, tmp_path: Path, capsys) -> None:
    db, results = tmp_path / "r.sqlite", tmp_path / "hil-results.json"
    _store(db)
    figure = {"value": 900, "baseline": baseline, "tolerance": tolerance, "verdict": "pass", "unit": "us"}
    results.write_text(json.dumps({"started": 1e20, "tests": [
        {"nodeid": "hil/test_x.py::test_latency", "outcome": "passed", "run_id": 2, "model": "m.tflite",
         "figures": {"latency_us.median": figure}}]}))
    code, html = _report(tmp_path, db, "--results", str(results))
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, (case, captured.err)
    assert "test_latency" in html and "baseline 1e+300 ±" not in html


def test_board_and_model_names_in_plots_are_text_not_links(tmp_path: Path) -> None:
    """A board or model name holding HTML reaches plotly's titles, legends and hovers escaped:
    plotly renders <a href> in those strings as a live link, so the raw tag must appear nowhere."""
    db = tmp_path / "r.sqlite"
    _store(db, board=LINK, model=f"{LINK}.tflite")
    code, html = _report(tmp_path, db)
    assert code == 0
    assert LINK not in html and 'href="https://evil.example/"' not in html
    assert "&lt;a href=" in html or "\\u0026lt;a href=" in html  # the name is there, as text


def test_the_hostile_bench_runs_every_case_to_one_line_or_a_valid_end(tmp_path: Path) -> None:
    """bench/hostile.py on the quick kinds (the board lies run in tests/test_bad_inputs.py): no
    traceback, no hang, every refusal one line, every honest baseline a success. Its memory
    figures are measured there, not asserted here."""
    import subprocess
    import sys

    out = tmp_path / "hostile.json"
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "bench" / "hostile.py"), "--only", "probe,flasher_args,report",
                             "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["cases"] == len(figures["per_case"]) - 3 > 20
    assert figures["tracebacks"] == 0 and figures["hangs"] == 0, figures
    assert figures["not_one_line"] == [] and figures["honest_cases_failed"] == []
    refused = [k for k, v in figures["per_case"].items() if k.startswith(("flasher_args:", "probe:")) and v["exit"]]
    assert len(refused) == 4 + 14 + 2  # every flasher_args lie, every probe lie but the inert-text one, the endless two
    assert {"max_rss_mb", "max_rss_over_baseline_mb", "max_rss_growth_mb", "baseline_rss_mb"} <= set(figures)
