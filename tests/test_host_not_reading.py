"""A host that does not read: the board's port closed, or the board on a charger. On the chip the
USB-Serial/JTAG driver's TX buffer (8 KB) fills and a write waits for room; the firmware's link
policy (device/core/espml_link.c, used by both ports) bounds that wait, drops frames while nobody
reads, and flushes what nobody read, so the next host reads only fresh frames."""

from __future__ import annotations

import logging
import time

import pytest

from toolkit.harness import Session
from toolkit.protocol.frame import Frame, FrameDecoder
from toolkit.virtual.usb_link import WRITE_TIMEOUT_MS

STALE = "written while nobody reads"


def frames_waiting(session: Session) -> list[Frame]:
    """What a new host finds on the line before it asks anything."""
    deadline, data = time.monotonic() + 0.3, b""
    while time.monotonic() < deadline:
        data += session.port.read(4096)
    return [event for event in FrameDecoder().feed(data) if isinstance(event, Frame)]


@pytest.mark.alone  # times the firmware's write time-outs on the host's clock
def test_a_host_that_does_not_read_stalls_nothing_and_the_next_reads_no_stale_frames(caplog) -> None:
    url = "vdev://esp32s3?realtime=0&id=test-host-not-reading"
    with Session.open(url) as session:
        session.hello()
        board = session.port.board
    started = time.monotonic()
    for line in range(300):  # about 30 KB of LOG frames, nearly four buffers' worth
        board.app.log(2, f"I test: {STALE}, line {line:03d} " + "." * 60)
    elapsed = time.monotonic() - started
    assert elapsed < 2 * WRITE_TIMEOUT_MS / 1000, f"{elapsed:.2f} s: the firmware waited on every frame"
    counts = board.app.link_counts
    assert counts["dropped"] >= 200 and counts["flushes"] == 1, counts
    assert board.usb.queued_bytes == 0
    with caplog.at_level(logging.INFO, logger="toolkit.device"):
        with Session.open(url) as session:
            assert frames_waiting(session) == []
            session.hello()
            board.app.log(2, "I test: fresh, after the host spoke")
            session.info()
    lines = [record.getMessage() for record in caplog.records]
    assert not any(STALE in line for line in lines)
    assert "I test: fresh, after the host spoke" in lines


def test_frames_queued_before_the_cable_was_pulled_are_flushed_when_a_host_attaches() -> None:
    url = "vdev://esp32s3?realtime=0&id=test-cable-pulled"
    with Session.open(url) as session:
        session.hello()
        board = session.port.board
    board.app.log(2, f"I test: {STALE}, queued, the buffer not full")  # no stall: it waits in the buffer
    assert board.usb.queued_bytes > 0
    board.usb.plug(False)  # a charger: no start-of-frame packets
    board.app.log(2, f"I test: {STALE}, with no host attached")
    board.usb.plug(True)
    time.sleep(0.2)  # the firmware's reader looks at the line between reads
    assert board.usb.queued_bytes == 0 and board.app.link_counts["flushes"] == 1
    with Session.open(url) as session:
        assert frames_waiting(session) == []
        assert session.hello().board == "esp32s3"
