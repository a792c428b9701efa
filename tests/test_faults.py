"""Runs that survive a bad line and a board that browns out: nothing lost, nothing counted twice,
nothing wrong (a short soak; bench/faults.py is the long one)."""

from __future__ import annotations

import numpy as np

from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.model import load_model
from toolkit.protocol.frame import Frame, FrameDecoder, Garbage, encode_frame
from toolkit.virtual.faults import WATCHDOG_TEXT, FaultyLine, LinkFaults

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


def test_a_frame_with_watchdog_text_spliced_in_is_dropped_and_the_stream_resyncs() -> None:
    """ESP-IDF's task watchdog prints raw text into the USB FIFO in the middle of a frame: that frame
    is lost (CRC), the ones around it decode."""
    frames = [Frame(0x81, seq, bytes(range(40)) * 3) for seq in (1, 2, 3)]
    second = encode_frame(frames[1])
    torn = second[:len(second) // 2] + WATCHDOG_TEXT + second[len(second) // 2:]
    wire = encode_frame(frames[0]) + torn + encode_frame(frames[2])
    decoder = FrameDecoder()
    events = [event for start in range(0, len(wire), 7) for event in decoder.feed(wire[start:start + 7])]
    assert [event for event in events if isinstance(event, Frame)] == [frames[0], frames[2]]
    garbage = [event for event in events if isinstance(event, Garbage)]
    assert len(garbage) == 1 and b"task_wdt: Task watchdog got triggered" in garbage[0].data
    spliced = FaultyLine(LinkFaults(wdt_every=1), 1).mangle(b"x" * 10)
    assert spliced == b"x" * 5 + WATCHDOG_TEXT + b"x" * 5


def test_a_session_answers_every_request_through_watchdog_text_mid_frame(tmp_path) -> None:
    """Every third frame the board sends has watchdog text spliced into it: each request is retried
    until answered, nothing is lost or counted twice, and the text is not mistaken for a reset."""
    model = load_model(REFERENCE_MODEL)
    images = np.load(FIXTURES / "reference" / "heldout_x.npy")[:8]
    samples = [image.transpose(1, 2, 0)[None] for image in images]
    url = f"vdev://esp32s3?realtime=0&wdt_every=3&model={REFERENCE_MODEL}"
    store = ResultsStore(tmp_path / "wdt.sqlite")
    with Session.open(url, timeout=0.05, retries=10, hello_attempts=20) as session:
        summary = run_bench(session, model, samples, BenchPlan(12, 0, invoke_timeout_s=0.1), store, url)
        seen = bytes(session.boot_text)
    rows = store.inferences(summary["run_id"])
    assert [r["idx"] for r in rows] == list(range(12))
    assert all(r["output_matches"] for r in rows)
    assert seen.count(b"task_wdt: Task watchdog got triggered") >= 3
    assert summary["recoveries"] == 0  # retried, never taken for a reset
