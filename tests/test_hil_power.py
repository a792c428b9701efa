"""--espml-power: energy per inference from a meter on the board's supply joins the HIL figures and
baselines. Run through pytester against a virtual board with the virtual PPK2 beside it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from toolkit.hil.baseline import Baseline, BaselineError

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "hil" / "test_models.py"
REFERENCE_ONLY = ["-k", "test_model_figures and digits_cnn_int8", "-p", "no:cacheprovider"]

pytest_plugins = ["pytester"]


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("ESPML_REAL_MODELS", raising=False)
    baselines = tmp_path / "baselines"
    shutil.copytree(ROOT / "hil" / "baselines", baselines)

    def run(*extra: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(str(SUITE), *REFERENCE_ONLY, f"--espml-baseline={baselines}",
                                             f"--espml-db={tmp_path / 'r.sqlite'}", *extra, timeout=300)

    run.baselines = baselines
    run.db = tmp_path / "r.sqlite"
    return run


def test_energy_is_recorded_with_its_spread_and_a_hungrier_board_fails_naming_energy(run_suite, tmp_path):
    report = tmp_path / "report"
    board, meter = "--espml-port=vdev://esp32s3?id=hilpower", "--espml-power=ppk2:vppk2://hilpower"
    path = next(run_suite.baselines.glob("esp32s3-*-simulated.json"))
    committed = json.loads(path.read_text())
    committed_entry = committed["models"]["digits_cnn_int8"].pop("power.energy_uj")
    path.write_text(json.dumps(committed))  # the energy figure is written afresh by --espml-update-baseline
    run_suite(board, meter, "--espml-update-baseline", f"--espml-report={report}").assert_outcomes(passed=1)

    saved = json.loads(path.read_text())
    entry = saved["models"]["digits_cnn_int8"]["power.energy_uj"]
    assert entry["rel"] == 0.10 and entry["value"] == pytest.approx(committed_entry["value"], rel=0.10)
    assert entry["spread"]["min"] <= entry["value"] <= entry["spread"]["max"] and entry["spread"]["stdev"] >= 0
    results = json.loads((report / "hil-results.json").read_text())
    test = results["tests"][0]
    figure = test["figures"]["power.energy_uj"]
    assert figure["value"] == entry["value"] and figure["spread"] == entry["spread"] and figure["verdict"] == "new"
    power = test["summary"]["power"]
    assert power["simulated"] and test["simulated"] and power["windows"] == 20 and power["meter"] == meter.split("=")[1]
    with sqlite3.connect(run_suite.db) as db:  # the store holds the median and the spread of the run
        stored = json.loads(db.execute("SELECT summary FROM power WHERE run_id = ?", (test["run_id"],)).fetchone()[0])
    assert stored["energy_uj"] == entry["value"] and stored["spread_uj"] == entry["spread"]

    result = run_suite(board + "&draw=1.5", meter)  # each op draws 1.5 times the current above idle
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "power.energy_uj regressed on esp32s3 (vdev://esp32s3?id=hilpower&draw=1.5)" in output
    assert "tolerance 10%" in output and "latency_us.median regressed" not in output


def test_a_meter_that_is_not_there_fails_the_test_in_one_line(run_suite):
    result = run_suite("--espml-port=vdev://esp32s3?id=hilnometer", "--espml-power=ppk2:/dev/nonexistent-ppk2")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "--espml-power ppk2:/dev/nonexistent-ppk2: cannot open the PPK2 port" in output


def test_one_meter_measures_one_board(run_suite):
    result = run_suite("--espml-port=vdev://esp32s3", "--espml-port=vdev://esp32s3?slow=2", "--espml-power=ina")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--espml-power measures one board's supply" in result.stderr.str()


def test_simulated_energy_is_never_judged_against_a_measured_baseline(tmp_path):
    measured = Baseline(tmp_path / "m.json", "esp32s3", "espml-fw 0.1.0", simulated=False)
    summary = {"latency_us": {"median": 9959.0}, "power": {"meter": "ppk2:vppk2://lab", "simulated": True,
                                                           "energy_uj": 500.0, "spread_uj": {"min": 490.0}}}
    with pytest.raises(BaselineError, match="ppk2:vppk2://lab gave simulated energy figures; m.json holds measured"):
        measured.check("m", summary)
    simulated = Baseline(tmp_path / "s.json", "esp32s3", "espml-fw 0.1.0", simulated=True)
    verdict = next(v for v in simulated.check("m", summary) if v.figure.name == "power.energy_uj")
    assert verdict.outcome == "new" and verdict.spread == {"min": 490.0}
