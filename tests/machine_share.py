"""How the tests share the machine under pytest-xdist: the slow ones start first, one per worker,
and a test marked ``alone`` (it times something on the host) never runs beside another."""

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


def _chunk_sizes(count: int, workers: int) -> list[int]:
    """The contiguous slices pytest-xdist's work stealing hands the workers at the start."""
    sizes = []
    for left in range(workers, 0, -1):
        sizes.append((count - sum(sizes)) // left)
    return sizes


def _weight(item: pytest.Item) -> float:
    """A slow test's rough seconds (``@pytest.mark.slow(seconds=N)``, 10 when unsaid)."""
    return float(item.get_closest_marker("slow").kwargs.get("seconds", 10))


def dealt(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The slow tests at the heads of the workers' first slices, a module's together (they share its
    fixtures) and the heaviest modules first, each to the slice with the least slow work so far, so
    no worker runs them one after another while the others finish early; then the quick ones fill
    the slices; the ``alone`` ones last."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        if item.get_closest_marker("slow"):
            modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    quick = [item for item in items if not item.get_closest_marker("slow") and not _alone(item)]
    alone = [item for item in items if _alone(item)]
    chunks: list[list[pytest.Item]] = [[] for _ in range(max(workers, 1))]
    loads = [0.0] * len(chunks)
    for group in sorted(modules.values(), key=lambda group: -sum(map(_weight, group))):
        lightest = loads.index(min(loads))
        chunks[lightest] += group
        loads[lightest] += sum(map(_weight, group))
    ordered: list[pytest.Item] = []
    for chunk, size in zip(chunks, _chunk_sizes(len(items) - len(alone), len(chunks))):
        take = max(0, size - len(chunk))
        ordered += chunk + quick[:take]
        quick = quick[take:]
    return ordered + quick + alone


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected: the slices are of what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    phase = os.environ.get(PHASE)
    if phase in ("parallel", "alone"):
        config.hook.pytest_deselected(items=[item for item in items if _alone(item) != (phase == "alone")])
        items[:] = [item for item in items if _alone(item) == (phase == "alone")]
    items[:] = dealt(items, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


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
