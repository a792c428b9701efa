"""Fixtures of the farm tests: labs of `espml sim` boards behind labgrid's coordinator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One healthy board at place farm-0."""
    started = Lab(tmp_path_factory.mktemp("lab"), [""]).start()
    yield started
    started.stop()


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator:
    labs: list[Lab] = []

    def make(boards: list[str], *sim_args: str) -> Lab:
        labs.append(Lab(tmp_path / f"lab{len(labs)}", boards, sim_args))
        (tmp_path / f"lab{len(labs) - 1}").mkdir()
        return labs[-1].start()

    yield make
    for started in labs:
        started.stop()
