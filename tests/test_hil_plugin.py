"""The HIL plugin and the hil/ suite, run through pytest's own pytester against virtual boards
made worse on purpose: each run must fail naming the figure, the board and the change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "hil" / "test_models.py"
REFERENCE_ONLY = ["-k", "test_model_figures and digits_cnn_int8", "-p", "no:cacheprovider"]

pytest_plugins = ["pytester"]


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("ESPML_REAL_MODELS", raising=False)  # the reference model is enough here
    baselines = tmp_path / "baselines"
    shutil.copytree(ROOT / "hil" / "baselines", baselines)

    def run(port: str, *extra: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(str(SUITE), *REFERENCE_ONLY, f"--espml-port={port}",
                                             f"--espml-baseline={baselines}", f"--espml-db={tmp_path / 'r.sqlite'}",
                                             *extra, timeout=300)

    run.baselines = baselines
    run.folder = pytester.path
    return run


def test_the_committed_baseline_passes_on_a_virtual_board(run_suite) -> None:
    result = run_suite("vdev://esp32s3?realtime=0", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    junit = (run_suite.folder / "junit.xml").read_text()  # the figures travel as JUnit properties
    assert 'name="espml.digits_cnn_int8.latency_us.median" value="9959' in junit


MODELLED = {"latency_us.median", "latency_us.p90", "heap_free_min_bytes", "stack_high_water_bytes", "current_ma.mean",
            "energy_uj_per_inference"}


def test_only_a_virtual_boards_modelled_figures_say_simulated(run_suite) -> None:
    """Output equality, accuracy and the arena are computed by TFLite-Micro: never tagged simulated."""
    result = run_suite("vdev://esp32s3?realtime=0")
    result.assert_outcomes(passed=1)
    results = next(line for line in result.stdout.lines if line.startswith("results: "))[len("results: "):]
    (test,) = json.loads(Path(results).read_text())["tests"]
    figures = test["figures"]
    assert {name for name, fig in figures.items() if fig["simulated"]} == MODELLED
    assert {"outputs_match_reference", "accuracy", "arena_used_bytes"} <= figures.keys() - MODELLED
    rows = {line.split()[0]: line for line in result.stdout.lines if line.startswith("    ") and "(baseline" in line}
    assert rows.keys() == figures.keys()  # the terminal's figures table, one row per figure
    assert {name for name, line in rows.items() if line.endswith("  simulated")} == MODELLED


def test_a_slower_board_fails_naming_figure_board_and_change(run_suite) -> None:
    result = run_suite("vdev://esp32s3?realtime=0&slow=1.2")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "latency_us.median regressed on esp32s3 (vdev://esp32s3?realtime=0&slow=1.2" in output
    assert "+20.0%" in output and "tolerance 10%), simulated" in output  # a modelled figure of a virtual board


def test_perturbed_outputs_fail_naming_the_figure(run_suite) -> None:
    result = run_suite("vdev://esp32s3?realtime=0&corrupt_outputs=1")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "outputs_match_reference regressed on esp32s3" in output and "True -> False" in output


def test_a_smaller_arena_fails_naming_board_and_arena(run_suite) -> None:
    result = run_suite("vdev://esp32s3?realtime=0&arena_bytes=8192")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "digits_cnn_int8 cannot run on esp32s3 (vdev://esp32s3?realtime=0&arena_bytes=8192" in output
    assert "ARENA_TOO_SMALL" in output and "the firmware has 8192" in output


def test_improvements_are_reported_and_recorded_on_request(run_suite) -> None:
    faster = "vdev://esp32s3?realtime=0&slow=0.8"
    result = run_suite(faster)
    result.assert_outcomes(passed=1)
    assert "improved: digits_cnn_int8: latency_us.median improved on esp32s3" in result.stdout.str()
    run_suite(faster, "--espml-update-baseline").assert_outcomes(passed=1)
    saved = json.loads(next(run_suite.baselines.glob("esp32s3-*-simulated.json")).read_text())
    assert saved["models"]["digits_cnn_int8"]["latency_us.median"]["value"] == pytest.approx(9959 * 0.8, rel=0.01)
    run_suite("vdev://esp32s3?realtime=0").assert_outcomes(failed=1)  # the old speed is now a regression


def test_simulated_and_measured_baselines_never_meet(run_suite, tmp_path: Path) -> None:
    measured = tmp_path / "measured.json"
    measured.write_text(json.dumps({"board": "esp32s3", "firmware": "espml-fw 0.1.0", "simulated": False,
                                    "models": {}}))
    result = run_suite("vdev://esp32s3?realtime=0", f"--espml-baseline={measured}")
    result.assert_outcomes(failed=1)
    assert "holds measured figures; this board's are simulated" in result.stdout.str()


def test_a_board_that_stops_answering_is_taken_out_and_the_others_finish(run_suite, tmp_path: Path) -> None:
    silent = "vdev://esp32s3?realtime=0&hang_after=30"  # past the health check (21 inferences)
    report = tmp_path / "report"
    result = run_suite(silent, "--espml-port=vdev://esp32s3?realtime=0", f"--espml-report={report}",
                       "-k", "digits_cnn_int8 or current")
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert "stopped answering and was taken out of the run" in output
    assert "board taken out of the run: vdev://esp32s3?realtime=0&hang_after=30" in output
    boards = {b["port"].split("&id=")[0]: b for b in json.loads((report / "hil-results.json").read_text())["boards"]}
    assert boards[silent]["status"].startswith("taken out: ")
    assert boards["vdev://esp32s3?realtime=0"]["status"] == "ok"


def test_the_firmware_update_suite_flashes_a_build_folder_and_the_board_answers(run_suite, tmp_path: Path) -> None:
    from toolkit.image import app_image
    from toolkit.image.partitions import load_csv, to_binary

    build = tmp_path / "build"
    (build / "bootloader").mkdir(parents=True)
    (build / "partition_table").mkdir()
    (build / "bootloader" / "bootloader.bin").write_bytes(app_image.build_bootloader())
    (build / "partition_table" / "partition-table.bin").write_bytes(to_binary(load_csv()))
    (build / "espml-fw.bin").write_bytes(app_image.build_app("espml-fw", "0.1.0"))
    (build / "flasher_args.json").write_text(json.dumps({"flash_files": {
        "0x0": "bootloader/bootloader.bin", "0x8000": "partition_table/partition-table.bin", "0x10000": "espml-fw.bin"}}))
    result = run_suite("vdev://esp32s3?realtime=0", f"--espml-firmware={build}", "-k", "update",
                       str(ROOT / "hil" / "test_updates.py"))
    result.assert_outcomes(passed=3)


def test_the_suite_runs_on_a_micropython_board(run_suite) -> None:
    result = run_suite("vdev://esp32s3?firmware=micropython", "--espml-target=micropython")
    result.assert_outcomes(passed=1)
    assert list(run_suite.baselines.glob("esp32s3-micropython-*-simulated.json")) == []  # new figures: nothing written


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_bad_espml_n_is_a_usage_error_before_any_board(pytester: pytest.Pytester, value: str) -> None:
    """--espml-n 0 ran the default 20 inferences, 'many' was a ValueError inside a test: refused
    at start-up, as the CLI's parser refuses --n 0."""
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(f"--espml-n={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"*--espml-n*a whole number of at least 1*{value}*"])
