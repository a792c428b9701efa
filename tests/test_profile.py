"""PROFILE: one inference with every op timed on the board, next to inspect's estimate.

The virtual board's chip answers per-op times from the same cost model that inspect's estimate
uses, so on it "board equals estimate" proves the transport only; these tests instead give the
chip known times (or a slower chip) and check that the firmware's C answer, the host's decoding,
the pairing with the estimate and the store carry exactly those."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.errors import DeviceError
from toolkit.harness import ResultsStore, Session
from toolkit.virtual import port_types as pt
from toolkit.virtual.chip import SimulatedChip
from toolkit.virtual.protocol_vdev import board_for_url

from conftest import REFERENCE_MODEL

WITH_MODEL = f"vdev://esp32s3?realtime=0&model={REFERENCE_MODEL}"
INPUTS = str(Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "heldout_nhwc")


def test_the_answer_carries_each_op_time_the_port_measured_in_order(monkeypatch) -> None:
    times = [(3, 101), (9, 70_000), (0xFF, 7), (25, 4_000_000_000)]
    monkeypatch.setattr(SimulatedChip, "op_times", lambda self: times)
    with Session.open(WITH_MODEL + "&id=profile-times") as session:
        session.hello()
        session.set_input(0, bytes(64))
        result = session.profile()
    assert result.ops == tuple(times) and result.op_count == 4
    assert result.latency_us > 0


def test_an_answer_lists_at_most_256_ops_and_counts_all_that_ran(monkeypatch) -> None:
    times = [(i % 200, i) for i in range(300)]
    monkeypatch.setattr(SimulatedChip, "op_times", lambda self: times)
    with Session.open(WITH_MODEL + "&id=profile-many") as session:
        session.hello()
        result = session.profile()
    assert result.op_count == 300 and result.ops == tuple(times[:256])


def test_profile_without_a_model_is_refused() -> None:
    with Session.open("vdev://esp32s3?realtime=0&id=profile-empty") as session:
        session.hello()
        with pytest.raises(DeviceError, match="NO_MODEL"):
            session.profile()


def test_a_port_that_cannot_profile_answers_unknown_type() -> None:
    """espml_port_t.profile may be NULL (a port without a timer): the core says so, it does not crash."""
    url = WITH_MODEL + "&id=profile-null"
    board = board_for_url(url)
    with Session.open(url) as session:
        assert session.hello().model_ready
        board.app.port.profile = pt.ProfileFn()  # NULL, as the C core sees it
        with pytest.raises(DeviceError, match="UNKNOWN_TYPE.*cannot time single ops"):
            session.profile()
        session.invoke()  # and the board goes on


def test_bench_profile_shows_each_op_next_to_its_estimate_and_stores_it(tmp_path: Path) -> None:
    """A chip 1.5x slower than the cost model: every op reads 1.5x its estimate."""
    db, out = tmp_path / "r.sqlite", tmp_path / "b.json"
    url = "vdev://esp32s3?realtime=0&slow=1.5&id=profile-bench"
    assert main(["bench", "--port", url, "--model", str(REFERENCE_MODEL), "--inputs", INPUTS, "--n", "2",
                 "--profile", "--db", str(db), "--json", str(out)]) == 0
    profile = json.loads(out.read_text())["profile"]
    assert profile["simulated"] and profile["op_count"] == len(profile["ops"]) > 3
    for op in profile["ops"]:
        assert op["estimated_us"] and op["device_us"] / op["estimated_us"] == pytest.approx(1.5, abs=0.1), op
    store = ResultsStore(db)
    try:
        assert store.profile(json.loads(out.read_text())["run_id"]) == profile["ops"]
    finally:
        store.close()


def test_bench_profile_on_a_board_that_cannot_profile_keeps_the_run(tmp_path: Path, capsys) -> None:
    """The MicroPython agent has no PROFILE: the bench succeeds, one line says why, the run stays in the store."""
    db = tmp_path / "r.sqlite"
    url = "vdev://esp32s3?firmware=micropython&id=profile-micropython"
    code = main(["bench", "--target", "micropython", "--port", url, "--model", str(REFERENCE_MODEL),
                 "--inputs", INPUTS, "--n", "2", "--profile", "--db", str(db)])
    captured = capsys.readouterr()
    assert code == 0 and "no per-op profile: MicroPython" in " ".join(captured.out.split())
    assert "Traceback" not in captured.err
    store = ResultsStore(db)
    try:
        (run,) = store.runs()
        assert run["status"] == "done" and len(store.inferences(run["id"])) == 2
    finally:
        store.close()


def test_ops_after_the_first_that_differs_from_inspect_get_no_estimate(monkeypatch) -> None:
    """A subgraph's ops run nested inside their caller: positions stop matching inspect's list."""
    from toolkit.harness.profile import profile_ops
    from toolkit.model import load_model

    model = load_model(REFERENCE_MODEL)
    monkeypatch.setattr(SimulatedChip, "op_times", lambda self: [(3, 10), (0, 20), (3, 30), (17, 40)])
    with Session.open(WITH_MODEL + "&id=profile-pairing") as session:
        session.hello()
        ops = profile_ops(session, model, np.zeros(model.inputs[0].shape, model.inputs[0].numpy_dtype))["ops"]
    assert [op["op"] for op in ops] == ["CONV_2D", "ADD", "CONV_2D", "MAX_POOL_2D"]
    assert ops[0]["estimated_us"] is not None and [op["estimated_us"] for op in ops[1:]] == [None, None, None]


def test_a_board_that_timed_no_ops_is_refused_in_one_line(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(SimulatedChip, "op_times", lambda self: [])
    code = main(["bench", "--port", WITH_MODEL + "&id=profile-none", "--model", str(REFERENCE_MODEL),
                 "--inputs", INPUTS, "--n", "1", "--profile", "--db", str(tmp_path / "r.sqlite")])
    err = capsys.readouterr().err
    assert code != 0 and "timed no ops" in err and "Traceback" not in err
