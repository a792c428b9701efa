"""The test command's workers: a test marked `alone` never overlaps another, slow tests start first."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _outside_the_test_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs are not one of the outer run's phases."""
    monkeypatch.delenv("ESPML_TEST_PHASE", raising=False)


def with_machine_share(pytester: pytest.Pytester) -> None:
    """The inner run gets the suite's hooks and markers."""
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                          "from machine_share import _machine_share, pytest_collection_modifyitems  # noqa: F401\n")
    pytester.makeini("[pytest]\nmarkers =\n    alone: no other test beside it\n    slow: slow\n")


def collected(pytester: pytest.Pytester) -> list[str]:
    """The test ids an inner run with the suite's hooks collects, in order."""
    with_machine_share(pytester)
    return [line for line in pytester.runpytest_subprocess("--collect-only", "-q").outlines if "::" in line]


TIMED = """
import time
from pathlib import Path

import pytest


def _record(name, seconds):
    start = time.monotonic()
    time.sleep(seconds)
    with open("spans.txt", "a") as spans:
        spans.write(f"{name} {start} {time.monotonic()}\\n")


@pytest.mark.alone
def test_timed():
    _record("alone", 0.6)


@pytest.mark.parametrize("k", range(8))
def test_other(k):
    _record(f"other{k}", 0.2)
"""


def test_an_alone_test_overlaps_no_other_under_two_workers(pytester: pytest.Pytester) -> None:
    with_machine_share(pytester)
    pytester.makepyfile(test_timed=TIMED)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "worksteal", "-p", "xdist")
    result.assert_outcomes(passed=9)
    spans = {name: (float(a), float(b)) for name, a, b in
             (line.split() for line in (pytester.path / "spans.txt").read_text().splitlines())}
    alone = spans.pop("alone")
    assert all(end <= alone[0] or start >= alone[1] for start, end in spans.values()), (alone, spans)


def test_slow_tests_are_collected_first_and_alone_ones_last(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_order="import pytest\n\n@pytest.mark.alone\ndef test_a(): pass\n\ndef test_b(): pass\n\n"
                                   "@pytest.mark.slow\ndef test_c(): pass\n")
    assert collected(pytester) == [
        "test_order.py::test_c", "test_order.py::test_b", "test_order.py::test_a"]


@pytest.mark.parametrize("phase, expected", [("parallel", ["test_phase.py::test_b"]),
                                             ("alone", ["test_phase.py::test_a"])])
def test_the_test_commands_phases_split_alone_tests_from_the_rest(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 phase: str, expected: list[str]) -> None:
    pytester.makepyfile(test_phase="import pytest\n\n@pytest.mark.alone\ndef test_a(): pass\n\ndef test_b(): pass\n")
    monkeypatch.setenv("ESPML_TEST_PHASE", phase)
    assert collected(pytester) == expected
