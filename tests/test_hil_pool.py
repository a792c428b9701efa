"""Every board of a pool is judged: three healthy virtual boards and one sick one (slow, corrupting
or hanging) must fail the session naming the sick board, in spread mode and in matrix mode.

The runs are without xdist, so one process takes the boards in order: in spread mode the only
figure test goes to the first board, and the sick board (last) would get no figure test at all
were it not for the health check (the silent pass the check exists to prevent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "hil" / "test_models.py"
HEALTHY = "vdev://esp32s3?realtime=0"
SICK = {"slow": "slow=1.3", "corrupting": "corrupt_outputs=1", "hanging": "hang_after=3"}

pytest_plugins = ["pytester"]


@pytest.fixture
def run_pool(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("ESPML_REAL_MODELS", raising=False)
    baselines = tmp_path / "baselines"
    shutil.copytree(ROOT / "hil" / "baselines", baselines)
    report = tmp_path / "report"

    def run(ports: list[str], *extra: str) -> pytest.RunResult:
        args = [f"--espml-port={p}" for p in ports]
        result = pytester.runpytest_subprocess(
            str(SUITE), "-k", "test_model_figures and digits_cnn_int8", "-p", "no:cacheprovider", *args,
            f"--espml-baseline={baselines}", f"--espml-db={tmp_path / 'r.sqlite'}", f"--espml-report={report}",
            "--junitxml=junit.xml", *extra, timeout=300)
        result.results = json.loads((report / "hil-results.json").read_text())
        result.junit = (pytester.path / "junit.xml").read_text()
        return result

    run.baselines = baselines
    return run


def _board(results: dict, url: str) -> dict:
    return next(b for b in results["boards"] if b["port"].split("&id=")[0] == url)


@pytest.mark.parametrize("sickness", SICK)
def test_spread_mode_fails_naming_the_sick_board(run_pool, sickness: str) -> None:
    sick = f"{HEALTHY}&{SICK[sickness]}"
    result = run_pool([HEALTHY] * 3 + [sick])
    result.assert_outcomes(passed=1)  # the figure test itself ran on a healthy board
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert f"sick board: {sick}&id=" in result.stdout.str()
    (test,) = result.results["tests"]
    assert test["port"].split("&id=")[0] == HEALTHY and "&id=hil-0-" in test["port"]
    assert _board(result.results, sick)["verdict"] == "sick"
    assert _board(result.results, sick)["status"].startswith("taken out: sick: ")
    assert [b["verdict"] for b in result.results["boards"] if b["port"].split("&id=")[0] == HEALTHY] == ["healthy"] * 3
    assert result.junit.count('value="healthy"') == 3 and result.junit.count('value="sick: ') == 1


@pytest.mark.parametrize("sickness", SICK)
def test_matrix_mode_runs_every_model_on_every_board_and_names_the_sick_one(run_pool, sickness: str) -> None:
    sick = f"{HEALTHY}&{SICK[sickness]}"
    result = run_pool([HEALTHY] * 3 + [sick], "--espml-each-board")
    result.assert_outcomes(passed=3, errors=1)
    output = result.stdout.str()
    assert "test_model_figures[digits_cnn_int8-board3]" in output
    assert f"board {sick}&id=" in output and "failed its health check" in output
    ports = sorted(t["port"].split("&id=hil-")[1].split("-")[0] for t in result.results["tests"]
                   if t["outcome"] == "passed")
    assert ports == ["0", "1", "2"]


def test_a_sick_board_gives_no_figures_to_a_baseline_update(run_pool) -> None:
    """The sick board comes first: without the check it would serve the test and its slower
    figures would become the baseline."""
    sick = f"{HEALTHY}&slow=1.3"
    result = run_pool([sick, HEALTHY, HEALTHY], "--espml-update-baseline")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert f"sick board: {sick}&id=" in result.stdout.str()
    saved = json.loads(next(run_pool.baselines.glob("esp32s3-*-simulated.json")).read_text())
    assert saved["models"]["digits_cnn_int8"]["latency_us.median"]["value"] == pytest.approx(9959, rel=0.01)


def test_a_change_every_board_shares_is_recorded_by_an_update(run_pool) -> None:
    """Updating the baseline judges boards against the pool: all slower alike is an intended change."""
    slower = f"{HEALTHY}&slow=1.3"
    result = run_pool([slower, slower], "--espml-update-baseline")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    saved = json.loads(next(run_pool.baselines.glob("esp32s3-*-simulated.json")).read_text())
    assert saved["models"]["digits_cnn_int8"]["latency_us.median"]["value"] == pytest.approx(9959 * 1.3, rel=0.01)
