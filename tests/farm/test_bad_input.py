"""Bad input and faults of a farm, each one line naming the place and what to do, no traceback:
a coordinator that does not answer, a place that does not exist, is held by someone else or has no
serial port, an exporter that vanished; and a run killed mid-way releases its places."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from lab import free_port
from test_places import espml
from test_pool import FAST, run_suite


def one_line(result: subprocess.CompletedProcess, *words: str) -> str:
    text = (result.stdout + result.stderr).strip()
    assert result.returncode == 3, text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for word in words:
        assert word in text, text
    return text


def test_a_coordinator_that_does_not_answer(lab) -> None:
    address = f"127.0.0.1:{free_port()}"
    one_line(espml(lab, "info", "--port", f"labgrid://farm-0?coordinator={address}"),
             f"the labgrid coordinator at {address} does not answer", f"labgrid-coordinator -l {address}")


def test_a_coordinator_that_does_not_answer_stops_a_hil_run_before_it_starts(lab, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = run_suite(lab, tmp_path, f"--espml-coordinator={address}", places=["farm-0"])
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout
    assert f"the labgrid coordinator at {address} does not answer" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_place_that_does_not_exist(lab) -> None:
    one_line(espml(lab, "info", "--port", "labgrid://nowhere"), "labgrid place nowhere does not exist",
             "places: farm-0", "labgrid-client")


def test_a_place_held_by_someone_else_is_refused_and_left_to_them(lab) -> None:
    other = {**lab.env, "LG_USERNAME": "someone-else"}
    lab.client("-p", "farm-0", "acquire", env=other)
    try:
        one_line(espml(lab, "info", "--port", "labgrid://farm-0"), "labgrid place farm-0 is held by",
                 "/someone-else", "?wait=SECONDS")
        assert lab.who("farm-0").endswith("/someone-else")
    finally:
        lab.client("-p", "farm-0", "release", env=other)


def test_a_place_without_a_serial_port(lab) -> None:
    lab.client("-p", "bare", "create")
    lab.client("-p", "bare", "add-match", "espml-lab/board-0/NetworkPowerPort")
    one_line(espml(lab, "info", "--port", "labgrid://bare"), "labgrid place bare has no NetworkSerialPort",
             "add-match")
    assert lab.who("bare") == ""


def test_an_exporter_that_vanished(make_lab) -> None:
    lab = make_lab([FAST])
    assert espml(lab, "info", "--port", "labgrid://farm-0").returncode == 0
    lab.exporter.terminate()
    lab.exporter.wait(timeout=10)
    deadline = time.monotonic() + 30
    while "board-0" in lab.resources():
        assert time.monotonic() < deadline, "the coordinator kept the vanished exporter's resources"
        time.sleep(0.2)
    one_line(espml(lab, "info", "--port", "labgrid://farm-0"), "labgrid place farm-0", "exporter")
    assert lab.who("farm-0") == ""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_run_killed_mid_way_releases_its_places(make_lab, tmp_path: Path, signum: int) -> None:
    lab = make_lab([FAST, FAST])
    run = run_suite(lab, tmp_path, "--espml-n=200", wait=False)
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "report").glob("hil-run-*/health.json")):  # the boards are being benchmarked
            assert run.poll() is None, run.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert [lab.who(p) for p in lab.places] != ["", ""]
        run.send_signal(signum)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0
    assert [lab.who(p) for p in lab.places] == ["", ""], run.stdout.read()[-3000:]


@pytest.mark.parametrize("gone", ["exporter", "serial server"])
def test_a_farm_that_loses_its_exporter_mid_run_names_the_places_and_frees_them(make_lab, tmp_path: Path,
                                                                              gone: str) -> None:
    """The exporter (or the host serving a board's serial port) vanishes after the health check:
    the boards it served are taken out, each named in one line; the places are released."""
    lab = make_lab([FAST, FAST])
    run = run_suite(lab, tmp_path, "--espml-each-board", "--espml-n=40", wait=False)
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "report").glob("hil-run-*/health.json")):
            assert run.poll() is None, run.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for process in [lab.exporter] if gone == "exporter" else lab.sims:
            process.kill()
        output, _ = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-4000:]
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-4000:]
    taken_out = [line for line in output.splitlines() if line.startswith("board taken out of the run: labgrid://")]
    assert taken_out, output[-4000:]
    expected = "exporter espml-lab is gone" if gone == "exporter" else "labgrid://farm-"
    assert any(expected in line for line in output.splitlines() if "labgrid://farm-" in line), output[-4000:]
    assert [lab.who(p) for p in lab.places] == ["", ""]
