"""Queueing for a place someone else holds, through labgrid's own reservations (`?wait=SECONDS`,
`--espml-place-wait`): the run waits its turn, takes the place when it is released and leaves no
reservation behind; one still held when the wait ends is refused (after the line saying it waits), and the queue left."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from test_places import espml
from test_pool import run_suite

COLLEAGUE = "someone-else"


def colleague(lab) -> dict:
    return {**lab.env, "LG_USERNAME": COLLEAGUE}


def reservations(lab) -> str:
    return lab.client("reservations").stdout


def wait_for_reservation(lab, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while "waiting" not in reservations(lab):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no reservation was made"
        time.sleep(0.3)


@contextmanager
def held_by_colleague(lab) -> Iterator[None]:
    """farm-0 is someone else's for the block; released afterwards if it still is."""
    lab.client("-p", "farm-0", "acquire", env=colleague(lab))
    try:
        yield
    finally:
        if lab.who("farm-0").endswith(COLLEAGUE):
            lab.client("-p", "farm-0", "release", env=colleague(lab))


def released_while_queued(lab, process: subprocess.Popen) -> tuple[str, str]:
    """Once ``process`` queues for farm-0, the colleague releases it; what ``process`` printed."""
    try:
        wait_for_reservation(lab, process)
        assert process.poll() is None  # still waiting its turn
        lab.client("-p", "farm-0", "release", env=colleague(lab))
        return process.communicate(timeout=120)
    finally:
        process.kill()


def test_a_held_place_is_queued_for_and_taken_once_released(lab) -> None:
    with held_by_colleague(lab):
        queued = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "info", "--port", "labgrid://farm-0?wait=120"],
                                  cwd=lab.folder, env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = released_while_queued(lab, queued)
    assert queued.returncode == 0, out + err
    assert "waiting up to 120 s for labgrid place farm-0 (held by " in err and f"/{COLLEAGUE};" in err, err
    assert lab.who("farm-0") == ""
    assert "Reservation '" not in reservations(lab)  # cancelled once the place was ours


def test_a_place_still_held_when_the_wait_ends_is_refused_and_the_queue_left(lab) -> None:
    with held_by_colleague(lab):
        result = espml(lab, "info", "--port", "labgrid://farm-0?wait=2")
        assert lab.who("farm-0").endswith(COLLEAGUE)
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    waiting, refused = result.stderr.strip().splitlines()  # what it waits for, then why it gave up
    assert waiting.startswith("waiting up to 2 s for labgrid place farm-0"), waiting
    assert "labgrid place farm-0 is still held by " in refused and f"/{COLLEAGUE} after 2 s" in refused, refused
    assert "choose another place" in refused
    assert "Reservation '" not in reservations(lab)


def test_a_hil_run_queues_for_its_places_with_espml_place_wait(lab, tmp_path: Path) -> None:
    with held_by_colleague(lab):
        run = run_suite(lab, tmp_path, "--espml-place-wait=120", "--collect-only", places=["farm-0"], wait=False)
        out, _ = released_while_queued(lab, run)
    assert run.returncode == 0, out
    assert "waiting up to 120 s for labgrid place farm-0" in out
    assert lab.who("farm-0") == ""  # released when the run ended
    assert "Reservation '" not in reservations(lab)


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_place_wait_that_is_no_number_of_seconds_is_a_usage_error(lab, tmp_path: Path, value: str) -> None:
    result = run_suite(lab, tmp_path, f"--espml-place-wait={value}", "--collect-only", places=["farm-0"])
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "--espml-place-wait must be a number of seconds" in result.stderr
    assert lab.who("farm-0") == ""
