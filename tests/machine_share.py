"""How the tests share the machine under pytest-xdist: the slow ones start first, and a test
marked ``alone`` (it times something on the host) never runs beside another."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import pytest

# scripts/test runs the suite in two phases: "parallel" (xdist, the `alone` tests left out) and
# "alone" (one process, only those), so no worker idles while an `alone` test waits for the machine.
PHASE = "ESPML_TEST_PHASE"


def _alone(item: pytest.Item) -> bool:
    return item.get_closest_marker("alone") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow (training, conversion, the farm suite) tests first: with several workers
    (./scripts/test runs pytest-xdist's work stealing) they start at once and the quick ones fill
    in around them; the ``alone`` ones last, when fewer tests are left for them to wait out. In one
    of scripts/test's phases, only that phase's tests."""
    phase = os.environ.get(PHASE)
    if phase in ("parallel", "alone"):
        config.hook.pytest_deselected(items=[item for item in items if _alone(item) != (phase == "alone")])
        items[:] = [item for item in items if _alone(item) == (phase == "alone")]
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 2 if _alone(item) else 1)


@pytest.fixture(autouse=True)
def _machine_share(request: pytest.FixtureRequest):
    """Under pytest-xdist, a test marked ``alone`` holds the machine: it waits for the other
    workers' current tests to end, and they wait for it (an exclusive lock against shared ones)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        yield
        return
    with (Path(tempfile.gettempdir()) / f"espml-tests-{run}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if _alone(request.node) else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
