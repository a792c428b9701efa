"""espml bench --power on the virtual board: the virtual PPK2 on its supply line, the board's INA, a
replayed trace; and the bad inputs of --power (one line each, the inferences kept)."""

from __future__ import annotations

import itertools
import json
import sqlite3

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.power.trace import Trace
from toolkit.virtual.protocol_vdev import _SHARED

from conftest import FIXTURES, REFERENCE_MODEL

INPUTS = str(FIXTURES / "reference" / "heldout_nhwc")
_ids = itertools.count()


@pytest.fixture
def board_id():
    """A virtual board shared under a fresh id (a meter beside it finds it), closed afterwards."""
    name = f"power{next(_ids)}"
    yield name
    board = _SHARED.pop(name, None)
    if board is not None:
        board.close()


def bench(board: str, tmp_path, *extra: str, n: int = 12) -> list[str]:
    return ["bench", "--port", f"vdev://esp32s3?id={board}", "--model", str(REFERENCE_MODEL), "--inputs", INPUTS,
            "--n", str(n), "--db", str(tmp_path / "r.sqlite"), "--json", str(tmp_path / "out.json"), *extra]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING", "W espml"))]
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and "Traceback" not in err, err
    return lines[0]


def stored_inferences(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM inferences").fetchone()[0]


def test_the_virtual_ppk2_measures_what_the_board_reports(board_id, tmp_path):
    trace_file = tmp_path / "trace.npz"
    assert main(bench(board_id, tmp_path, "--power", f"ppk2:vppk2://{board_id}", "--trace", str(trace_file))) == 0
    summary = json.loads((tmp_path / "out.json").read_text())
    power = summary["power"]
    assert power["simulated"] and not power["approximate"] and power["lost_samples"] == 0
    assert power["windows"] == 12 and power["meter"] == f"ppk2:vppk2://{board_id}"
    # the instrument integrates the per-op current steps; the board multiplies its mean by its latency
    assert power["energy_gross_uj"] == pytest.approx(summary["energy_uj_per_inference"], rel=0.005)
    assert power["idle_ma"] == pytest.approx(47.6, abs=0.1)  # the board's idle current, measured before the run
    assert power["energy_uj"] == pytest.approx(power["energy_gross_uj"] - 47.6 * 3.3 * power["window_us_median"] / 1000,
                                               rel=0.01)
    from toolkit.harness.store import ResultsStore

    stored, details = ResultsStore(tmp_path / "r.sqlite").power(summary["run_id"])
    assert stored["energy_uj"] == power["energy_uj"] and len(details["per_window_uj"]) == 12
    assert len(details["window_spans_s"]) == 12 and len(details["time_s"]) == len(details["max_ma"]) > 100
    assert Trace.load(trace_file).simulated


def test_a_replayed_trace_gives_the_same_figures(board_id, tmp_path):
    trace_file = tmp_path / "trace.npz"
    assert main(bench(board_id, tmp_path, "--power", f"ppk2:vppk2://{board_id}", "--trace", str(trace_file))) == 0
    live = json.loads((tmp_path / "out.json").read_text())["power"]
    assert main(bench(board_id, tmp_path, "--power", f"replay:{trace_file}", n=3)) == 0
    replayed = json.loads((tmp_path / "out.json").read_text())["power"]
    assert replayed["energy_uj"] == live["energy_uj"] and replayed["windows"] == 12


@pytest.mark.alone  # the windows follow the board's reported latency against the meter's real-time clock
def test_without_a_marker_the_board_latency_places_the_windows_and_says_approximate(board_id, tmp_path):
    assert main(bench(board_id, tmp_path, "--power", f"ppk2:vppk2://{board_id}?marker=0", "--no-marker")) == 0
    summary = json.loads((tmp_path / "out.json").read_text())
    power = summary["power"]
    assert power["approximate"] and power["windows"] >= 10
    assert power["energy_gross_uj"] == pytest.approx(summary["energy_uj_per_inference"], rel=0.03)


def test_the_boards_ina_gives_the_metrics_figure(board_id, tmp_path):
    assert main(bench(board_id, tmp_path, "--power", "ina")) == 0
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["power"]["energy_gross_uj"] == pytest.approx(summary["energy_uj_per_inference"], rel=1e-6)
    assert summary["power"]["energy_uj"] is None and summary["power"]["simulated"]


def test_a_marker_that_never_toggles_is_one_line_and_the_inferences_are_kept(board_id, tmp_path, capsys):
    assert main(bench(board_id, tmp_path, "--power", f"ppk2:vppk2://{board_id}?marker=0")) == 10
    line = one_line(capsys)
    assert "never made a window" in line and "kept" in line
    assert stored_inferences(tmp_path) == 12


def test_a_saturated_trace_is_one_line_and_the_inferences_are_kept(board_id, tmp_path, capsys):
    trace_file = tmp_path / "trace.npz"
    assert main(bench(board_id, tmp_path, "--power", f"ppk2:vppk2://{board_id}", "--trace", str(trace_file))) == 0
    trace = Trace.load(trace_file)
    trace.saturated[np.flatnonzero(trace.logic & 1)[::500]] = True  # the range ran out now and then
    trace.save(trace_file)
    capsys.readouterr()
    assert main(bench(board_id, tmp_path, "--power", f"replay:{trace_file}", n=3)) == 10
    assert "range was exceeded" in one_line(capsys)
    assert stored_inferences(tmp_path) == 12 + 3


BAD = [
    ("a meter that is absent", "ppk2:/dev/nonexistent-ppk2", 10, "cannot open the PPK2 port"),
    ("the board's own port given as the PPK2's", "ppk2:vdev://esp32s3", 10, "no PPK2 answers"),
    ("an unknown meter", "fluke:1", 10, "unknown power meter"),
    ("a PPK2 without a port", "ppk2", 10, "needs a port"),
    ("a replay file that is not there", "replay:/nonexistent/t.npz", 10, "no trace file"),
]


@pytest.mark.parametrize("case, spec, code, words", BAD, ids=[b[0] for b in BAD])
def test_bad_power_specs_get_one_line_and_record_nothing(case, spec, code, words, board_id, tmp_path, capsys):
    assert main(bench(board_id, tmp_path, "--power", spec)) == code, case
    assert words in one_line(capsys)
    assert stored_inferences(tmp_path) == 0


def test_the_energy_bench_script_reports_its_figures(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "energy.json"
    script = Path(__file__).resolve().parent.parent / "bench" / "energy.py"
    run = subprocess.run([sys.executable, str(script), "--seconds", "0.5", "--n", "5", "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    figures = json.loads(out.read_text())
    assert figures["energy_error_pct"] <= 1.0  # synthetic traces: deterministic
    assert figures["lost_samples"] == 0 and figures["driver"]["samples"] > 0  # rates are not asserted
    assert figures["reference_model"]["simulated"]
