"""Runs that survive a bad line and a board that browns out: nothing lost, nothing counted twice,
nothing wrong (a short soak; bench/faults.py is the long one)."""

from __future__ import annotations

import numpy as np

from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.model import load_model
from toolkit.virtual.faults import FaultyLine, LinkFaults

from conftest import FIXTURES, REFERENCE_MODEL


def test_link_faults_are_repeatable_and_near_their_rates() -> None:
    faults = LinkFaults(flip=1e-3, drop=0.01, dup=0.01, seed=4)
    data = bytes(range(256)) * 200
    first, again = FaultyLine(faults, 0).mangle(data), FaultyLine(faults, 0).mangle(data)
    assert first == again and first != data
    assert 0.005 < (len(data) - len(first)) / len(data) + 0.01 < 0.03  # drops less dups, about 1% each
    assert FaultyLine(LinkFaults(noise_every=2), 1).mangle(b"x") == b"x"


def test_a_run_over_a_lossy_line_with_brown_outs_loses_nothing(tmp_path) -> None:
    model = load_model(REFERENCE_MODEL)
    images = np.load(FIXTURES / "reference" / "heldout_x.npy")[:20]
    samples = [image.transpose(1, 2, 0)[None] for image in images]
    url = f"vdev://esp32s3?realtime=0&flip=1e-4&drop=0.01&reset_every=25&seed=3&model={REFERENCE_MODEL}"
    store = ResultsStore(tmp_path / "soak.sqlite")
    with Session.open(url, timeout=0.02, retries=20, hello_attempts=60) as session:
        summary = run_bench(session, model, samples, BenchPlan(60, 0, invoke_timeout_s=0.05), store, url)
    rows = store.inferences(summary["run_id"])
    assert [r["idx"] for r in rows] == list(range(60))  # none lost, none twice
    assert all(r["output_matches"] for r in rows) and summary["recoveries"] >= 2  # two brown-outs at least
