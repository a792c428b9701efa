"""The harness against the in-process virtual board (vdev://), end to end, good paths and bad."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from toolkit.errors import DeviceError, DeviceTimeout, InputDataError, PortError, ToolkitError
from toolkit.harness import BenchInterrupted, BenchPlan, DeviceReset, ResultsStore, Session, run_bench
from toolkit.harness.inputs import load_inputs
from toolkit.model import load_model
from toolkit.protocol import NO_SLOT, MsgType

from conftest import real_model_params

FAST = "vdev://esp32s3?realtime=0"


def test_fresh_board_has_no_model_and_says_so() -> None:
    with Session.open(FAST) as session:
        info = session.hello()
        assert info.simulated and info.accepts_upload and not info.model_ready
        assert info.model_slot == NO_SLOT and info.protocol_version == 1
        assert b"ESP-ROM:esp32s3" in session.boot_text  # boot text came first and did not break the handshake
        with pytest.raises(DeviceError, match="NO_MODEL"):
            session.invoke()


def test_upload_goes_to_inactive_slot_and_activates_after_hash_check(reference_model_path: Path) -> None:
    data = reference_model_path.read_bytes()
    with Session.open(FAST) as session:
        session.hello()
        assert session.upload_model(data) == 0
        info = session.hello()
        assert info.model_ready and info.model_sha256 == hashlib.sha256(data).digest() and info.model_slot == 0
        assert session.upload_model(data) == 1  # the next upload takes the other slot
        assert session.hello().model_slot == 1


def test_corrupt_upload_leaves_the_old_model_in_charge(reference_model_path: Path) -> None:
    from toolkit.protocol import ModelBegin, ModelData

    data = reference_model_path.read_bytes()
    with Session.open(FAST) as session:
        session.hello()
        session.upload_model(data)
        session.request(MsgType.MODEL_BEGIN, ModelBegin(len(data), hashlib.sha256(data).digest()).pack())
        session.request(MsgType.MODEL_DATA, ModelData(0, b"\x00" * 100).pack())  # the rest never comes
        with pytest.raises(DeviceError, match="MODEL_INVALID"):
            session.request(MsgType.MODEL_END)
        info = session.hello()
        assert info.model_ready and info.model_slot == 0 and info.model_sha256 == hashlib.sha256(data).digest()


def test_bench_outputs_equal_host_reference(reference_model_path: Path, heldout_nhwc, db_path: Path) -> None:
    x, y = heldout_nhwc
    model = load_model(reference_model_path)
    store = ResultsStore(db_path)
    with Session.open(FAST) as session:
        summary = run_bench(session, model, list(x[:20]), BenchPlan(20, 2, [int(v) for v in y[:20]]), store, FAST)
    assert summary["outputs_match_reference"] and summary["simulated"] and summary["n"] == 20
    assert summary["accuracy"] == summary["host_accuracy"] >= 0.9
    assert summary["latency_us"]["median"] > 0 and summary["arena_used_bytes"] > 0
    assert summary["current_ma"]["peak"] >= summary["current_ma"]["mean"] > 0
    assert len(store.inferences(summary["run_id"])) == 20
    assert store.run(summary["run_id"])["status"] == "done"


def test_input_larger_than_a_frame_goes_in_chunks(db_path: Path) -> None:
    """A 96x96x3 image model's input (27,648 bytes) crosses several frames."""
    folder = Path(__import__("os").environ.get("ESPML_REAL_MODELS", "")) / "mlc_vww_96_int8.tflite"
    if not folder.is_file():
        pytest.skip("ESPML_REAL_MODELS is not set")
    model = load_model(folder)
    sample = np.random.default_rng(1).integers(-128, 128, (1, 96, 96, 3), dtype=np.int8)
    with Session.open(FAST) as session:
        summary = run_bench(session, model, [sample], BenchPlan(2), ResultsStore(db_path), FAST)
    assert summary["outputs_match_reference"]


def test_device_that_stops_answering_keeps_results(reference_model_path: Path, heldout_nhwc, db_path: Path) -> None:
    x, _ = heldout_nhwc
    url = "vdev://esp32s3?realtime=0&hang_after=5"
    store = ResultsStore(db_path)
    with Session.open(url, timeout=0.3, retries=0) as session:
        with pytest.raises(BenchInterrupted, match="after 4 of 10 inferences") as caught:
            run_bench(session, load_model(reference_model_path), list(x[:10]), BenchPlan(10, 1), store, url)
    assert "did not answer INVOKE" in caught.value.message
    runs = store.db.execute("SELECT id, status FROM runs").fetchall()
    assert runs == [(1, "interrupted")]
    assert len(store.inferences(1)) == 4


def test_a_board_that_resets_mid_run_is_greeted_again_and_the_run_finishes(reference_model_path: Path, heldout_nhwc,
                                                                          db_path: Path) -> None:
    x, _ = heldout_nhwc
    url = "vdev://esp32s3?realtime=0&reset_after=3"
    store = ResultsStore(db_path)
    with Session.open(url, timeout=1.0, retries=0) as session:
        summary = run_bench(session, load_model(reference_model_path), list(x[:6]), BenchPlan(6), store, url)
    assert summary["n"] == 6 and summary["recoveries"] == 1 and summary["outputs_match_reference"]
    assert [r["idx"] for r in store.inferences(summary["run_id"])] == list(range(6))  # none lost, none twice


def test_a_board_that_keeps_resetting_stops_the_run_and_keeps_what_was_measured(reference_model_path: Path,
                                                                                heldout_nhwc, db_path: Path) -> None:
    x, _ = heldout_nhwc
    url = "vdev://esp32s3?realtime=0&reset_every=1"  # during every first inference: no progress
    with Session.open(url, timeout=1.0, retries=0) as session:
        with pytest.raises(BenchInterrupted, match="reset in the middle of a request; 4 times in a row") as caught:
            run_bench(session, load_model(reference_model_path), list(x[:20]), BenchPlan(20), ResultsStore(db_path), url)
    assert isinstance(caught.value.__cause__.__cause__, DeviceReset)


def test_an_interrupted_run_resumes_where_it_stopped(reference_model_path: Path, heldout_nhwc, db_path: Path) -> None:
    x, _ = heldout_nhwc
    model = load_model(reference_model_path)
    store = ResultsStore(db_path)
    with Session.open("vdev://esp32s3?realtime=0&hang_after=4", timeout=0.3, retries=0) as session:
        with pytest.raises(BenchInterrupted):
            run_bench(session, model, list(x[:10]), BenchPlan(10), store, "vdev")
    assert len(store.inferences(1)) == 4 and store.run(1)["status"] == "interrupted"
    with Session.open(FAST) as session:
        summary = run_bench(session, model, list(x[:10]), BenchPlan(10), store, "vdev", resume=1)
    assert summary["run_id"] == 1 and summary["n"] == 10 and store.run(1)["status"] == "done"
    assert [r["idx"] for r in store.inferences(1)] == list(range(10))
    with Session.open(FAST) as session, pytest.raises(ToolkitError, match="already complete"):
        run_bench(session, model, list(x[:10]), BenchPlan(10), store, "vdev", resume=1)


def test_arena_too_small_is_refused_at_upload(reference_model_path: Path) -> None:
    with Session.open("vdev://esp32s3?realtime=0&arena_bytes=4096") as session:
        session.hello()
        with pytest.raises(DeviceError, match="ARENA_TOO_SMALL"):
            session.upload_model(reference_model_path.read_bytes())
        assert not session.hello().model_ready


def test_model_larger_than_slot_is_refused(reference_model_path: Path) -> None:
    with Session.open("vdev://esp32s3?realtime=0&slot_bytes=65536") as session:
        session.hello()
        with pytest.raises(DeviceError, match="MODEL_TOO_LARGE"):
            session.upload_model(reference_model_path.read_bytes())


def test_wrong_input_shape(reference_model_path: Path, tmp_path: Path) -> None:
    model = load_model(reference_model_path)
    np.save(tmp_path / "bad.npy", np.zeros((5, 5), np.float32))
    with pytest.raises(InputDataError, match=r"shape \[5, 5\].*\[1, 8, 8, 1\]"):
        load_inputs(tmp_path / "bad.npy", model.inputs[0])


def test_unknown_port_and_bad_vdev_option() -> None:
    with pytest.raises(PortError, match="no such port"):
        Session.open("/dev/ttyDOESNOTEXIST")
    with pytest.raises(PortError, match="unknown vdev option"):
        Session.open("vdev://esp32s3?bogus=1")
    with pytest.raises(PortError, match="unknown board"):
        Session.open("vdev://esp99")


def test_silent_port_times_out_with_a_hint(tmp_path: Path) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        with Session.open(f"socket://127.0.0.1:{port}", timeout=0.2) as session:
            with pytest.raises(DeviceTimeout, match="did not answer HELLO"):
                session.hello(attempts=2)
    finally:
        server.close()


def test_shared_board_keeps_its_model_between_sessions(reference_model_path: Path) -> None:
    url = "vdev://esp32s3?realtime=0&id=test-shared"
    with Session.open(url) as session:
        session.hello()
        session.upload_model(reference_model_path.read_bytes())
    with Session.open(url) as session:
        assert session.hello().model_ready


@pytest.mark.real_models
@pytest.mark.parametrize("path", real_model_params())
def test_real_models_bench_equal_to_reference(path: Path, db_path: Path) -> None:
    model = load_model(path)
    tensor = model.inputs[0]
    rng = np.random.default_rng(0)
    info = np.iinfo(tensor.numpy_dtype)
    samples = [rng.integers(info.min, info.max + 1, tensor.shape, dtype=tensor.numpy_dtype) for _ in range(3)]
    url = "vdev://esp32s3-r8?realtime=0"  # the PSRAM variant: the largest models need more than internal RAM
    with Session.open(url) as session:
        summary = run_bench(session, model, samples, BenchPlan(3), ResultsStore(db_path), url)
    assert summary["outputs_match_reference"] and summary["simulated"]


def test_log_frames_reach_the_device_logger_and_reset_reboots(reference_model_path: Path, caplog) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="toolkit.device"):
        with Session.open(FAST) as session:
            session.hello()
            session.upload_model(reference_model_path.read_bytes())
            assert any("model in slot A" in r.getMessage() and "ready" in r.getMessage() for r in caplog.records)
            before = len(session.boot_text)
            session.reset()
            info = session.hello()
            assert info.model_ready and len(session.boot_text) > before  # it booted again, from flash
