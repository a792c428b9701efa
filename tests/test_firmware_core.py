"""The firmware's own code (device/core on the host port), driven the way a host drives a board.

Each test names a behaviour of the C firmware and can only pass if the C does it: the virtual
board's application side is that code, and Python supplies only the chip (TFLM, timing, flash).
"""

from __future__ import annotations

import hashlib
import threading

import pytest

from toolkit.boards import get_board
from toolkit.errors import DeviceError
from toolkit.harness import Session
from toolkit.image.model_image import HEADER_SIZE, SECTOR
from toolkit.image.partitions import find, load_csv
from toolkit.model.synth import ModelBuilder
from toolkit.protocol import (Frame, FrameDecoder, Info, LogRecord, ModelBegin, ModelData, MsgType, SlotAnswer,
                              encode_frame)
from toolkit.virtual.chip import SimulatedChip
from toolkit.virtual.firmware import FirmwareImage, HostFirmware
from toolkit.virtual.flash import FlashMemory
from toolkit.virtual.protocol_vdev import board_for_url

from conftest import REFERENCE_MODEL

FAST = "vdev://esp32s3?realtime=0"
SLOT_A, SLOT_B = (find(load_csv(), name).offset for name in ("model_a", "model_b"))


def small_model(seed: int = 1) -> bytes:
    b = ModelBuilder(seed)
    x = b.input((1, 8, 8, 16))
    return b.build([x], [b.fully_connected(b.reshape(x, (1, -1)), 64)])


def model_with_an_op_the_firmware_lacks() -> bytes:
    b = ModelBuilder(2)
    x = b.input((1, 4, 4, 8))
    return b.build([x], [b.unary("GELU", b.conv2d(x, 8, 3))])


def chunks(data: bytes, step: int = 4092) -> list[ModelData]:
    return [ModelData(offset, data[offset:offset + step]) for offset in range(0, len(data), step)]


def test_retried_model_data_is_acknowledged_and_stored_once() -> None:
    """docs/protocol.md: every request but MODEL_END and INVOKE is idempotent, MODEL_DATA included."""
    data = small_model()
    with Session.open(FAST) as session:
        session.hello()
        session.request(MsgType.MODEL_BEGIN, ModelBegin(len(data), hashlib.sha256(data).digest()).pack())
        pieces = chunks(data)
        for i, piece in enumerate(pieces):
            session.request(MsgType.MODEL_DATA, piece.pack())
            session.request(MsgType.MODEL_DATA, piece.pack())  # the host did not hear the first answer
            session.request(MsgType.MODEL_DATA, pieces[max(0, i - 1)].pack())  # or an older one, late
        assert SlotAnswer.unpack(session.request(MsgType.MODEL_END)).slot == 0
        info = session.hello()
    assert info.model_ready and info.model_sha256 == hashlib.sha256(data).digest()


def test_model_data_that_leaves_a_gap_is_refused() -> None:
    data = small_model()
    with Session.open(FAST) as session:
        session.hello()
        session.request(MsgType.MODEL_BEGIN, ModelBegin(len(data), hashlib.sha256(data).digest()).pack())
        with pytest.raises(DeviceError, match="UPLOAD_STATE.*gap"):
            session.request(MsgType.MODEL_DATA, ModelData(4092, data[4092:8184]).pack())


def test_a_repeated_model_begin_keeps_what_arrived() -> None:
    data = small_model()
    begin = ModelBegin(len(data), hashlib.sha256(data).digest()).pack()
    with Session.open(FAST) as session:
        session.hello()
        session.request(MsgType.MODEL_BEGIN, begin)
        pieces = chunks(data)
        session.request(MsgType.MODEL_DATA, pieces[0].pack())
        session.request(MsgType.MODEL_BEGIN, begin)  # its answer was lost: the host asks again
        for piece in pieces[1:]:
            session.request(MsgType.MODEL_DATA, piece.pack())
        assert SlotAnswer.unpack(session.request(MsgType.MODEL_END)).slot == 0


def test_a_model_end_whose_answer_was_lost_is_answered_again() -> None:
    """The host re-sends MODEL_END with the same seq when it hears nothing; the upload succeeded,
    so the answer must say so again, not UPLOAD_STATE."""
    data = small_model()
    with Session.open(FAST) as session:
        session.hello()
        session.request(MsgType.MODEL_BEGIN, ModelBegin(len(data), hashlib.sha256(data).digest()).pack())
        for piece in chunks(data):
            session.request(MsgType.MODEL_DATA, piece.pack())
        seq = session._next_seq()
        answers = []
        for _ in range(2):
            session._send(Frame(MsgType.MODEL_END, seq))
            answers.append(session._await(seq, 2.0, watch_reset=True))
        assert [a.type for a in answers] == [MsgType.MODEL_END, MsgType.MODEL_END]
        assert SlotAnswer.unpack(answers[1].payload).slot == 0
        with pytest.raises(DeviceError, match="UPLOAD_STATE"):  # a new MODEL_END (new seq) is another request
            session.request(MsgType.MODEL_END)


def test_model_begin_erases_only_the_header_sector_and_data_erases_as_it_goes() -> None:
    """A whole-slot erase at MODEL_BEGIN takes seconds on a chip while the host waits 2 s."""
    url = "vdev://esp32s3?realtime=0&id=lazy-erase"
    board = board_for_url(url)
    board.install_model(REFERENCE_MODEL.read_bytes())  # slot A
    board.install_model(small_model())  # slot B, now the newest: A is the inactive one
    board.boot(download=False)
    third_sector_before = board.flash.read(SLOT_A + 2 * SECTOR, SECTOR)
    data = small_model(seed=7)
    with Session.open(url) as session:
        session.hello()
        slot = SlotAnswer.unpack(session.request(
            MsgType.MODEL_BEGIN, ModelBegin(len(data), hashlib.sha256(data).digest()).pack())).slot
        assert slot == 0
        assert board.flash.read(SLOT_A, SECTOR) == b"\xff" * SECTOR  # the old image no longer counts
        assert board.flash.read(SLOT_A + 2 * SECTOR, SECTOR) == third_sector_before  # nothing more erased yet
        session.request(MsgType.MODEL_DATA, chunks(data)[0].pack())
        assert board.flash.read(SLOT_A + 2 * SECTOR, SECTOR) == third_sector_before


def test_a_model_that_cannot_run_is_dropped_and_the_running_one_stays() -> None:
    old, bad = REFERENCE_MODEL.read_bytes(), model_with_an_op_the_firmware_lacks()
    url = "vdev://esp32s3?realtime=0&id=cannot-run"
    board = board_for_url(url)
    with Session.open(url) as session:
        session.hello()
        session.upload_model(old)
        with pytest.raises(DeviceError, match="UNSUPPORTED_OP.*GELU.*slot A stays active"):
            session.upload_model(bad)
        info = session.hello()
        assert info.model_ready and info.model_slot == 0 and info.model_sha256 == hashlib.sha256(old).digest()
        assert board.flash.read(SLOT_B, SECTOR) == b"\xff" * SECTOR  # its header is gone: it no longer counts
        session.set_input(0, bytes(64))  # and it still runs, from flash it never let go of
        session.invoke()
        session.reset()
        info = session.hello()  # chosen again at the next boot: the bad one was dropped
    assert info.model_ready and info.model_sha256 == hashlib.sha256(old).digest()


def test_at_boot_a_newer_model_that_cannot_run_gives_way_to_the_older_one(caplog) -> None:
    """Written by esptool (espml flash --force), so the firmware never saw it arrive."""
    import logging

    url = "vdev://esp32s3?realtime=0&id=boot-fallback"
    board = board_for_url(url)
    board.install_model(REFERENCE_MODEL.read_bytes())
    board.install_model(model_with_an_op_the_firmware_lacks())
    with caplog.at_level(logging.WARNING, logger="toolkit.device"):
        board.boot(download=False)
        with Session.open(url) as session:
            info = session.hello()
    assert info.model_ready and info.model_slot == 0
    assert any("slot B cannot run: firmware lacks op GELU" in r.getMessage() for r in caplog.records)


def test_info_comes_from_the_chip() -> None:
    with Session.open("vdev://esp32s3-r8?realtime=0") as session:
        info = session.hello()
    r8 = get_board("esp32s3-r8")
    assert (info.board, info.cpu_mhz, info.arena_size) == ("esp32s3-r8", r8.cpu_mhz, r8.arena_bytes)


class Wire:
    """What the firmware sends, decoded; a hook can run inside the port's write."""

    attached = True  # a host on the line that reads everything (toolkit/virtual/usb_link.py's interface)

    def __init__(self) -> None:
        self.bytes = bytearray()
        self.inside_write = None

    def send(self, data: bytes, delay_s: float = 0.0, timeout_s: float = 0.0) -> bool:
        hook, self.inside_write = self.inside_write, None
        if hook:
            hook()  # before the driver has taken the bytes: the frame's buffer is still in use
        self.bytes += data
        return True

    def flush(self) -> None:
        raise AssertionError("a host that reads everything never needs the queue flushed")

    def frames(self) -> list[Frame]:
        return [e for e in FrameDecoder().feed(bytes(self.bytes)) if isinstance(e, Frame)]


def firmware_on(flash: FlashMemory, wire: Wire) -> HostFirmware:
    chip = SimulatedChip(get_board("esp32s3"), realtime=False)
    return HostFirmware(chip, flash, (SLOT_A, SLOT_B), 0x100000, FirmwareImage("espml-fw", "test"), wire)


def test_a_log_line_produced_while_a_frame_is_sent_follows_it_intact() -> None:
    """ESP-IDF drivers log from inside the write path; the old firmware deadlocked on its
    transmit mutex there. The line must neither block nor land inside the frame."""
    wire = Wire()
    firmware = firmware_on(FlashMemory(8 << 20), wire)
    firmware.boot()
    wire.bytes.clear()
    wire.inside_write = lambda: firmware.log(2, "I driver: logged while sending")
    done = threading.Event()

    def ask() -> None:
        firmware.receive(encode_frame(Frame(MsgType.HELLO, 7)))
        done.set()

    threading.Thread(target=ask, daemon=True).start()
    assert done.wait(5), "the firmware blocked while logging from inside its own write"
    frames = wire.frames()
    assert [f.type for f in frames] == [MsgType.HELLO, MsgType.LOG]
    assert Info.unpack(frames[0].payload).board == "esp32s3"
    assert LogRecord.unpack(frames[1].payload).text == "I driver: logged while sending"


def test_tflite_micro_debug_text_becomes_log_frames() -> None:
    """TFLM's DebugLog writes raw text to stderr, the protocol's port on a chip: the firmware
    gathers it into lines and sends each as a LOG frame, so it never lands inside a frame."""
    wire = Wire()
    firmware = firmware_on(FlashMemory(8 << 20), wire)
    firmware.boot()
    wire.bytes.clear()
    firmware.debug_write("Didn't find op for builtin opcode ")
    firmware.debug_write("'HARD_SWISH'\r\nFailed to get registration")
    assert all(isinstance(e, Frame) for e in FrameDecoder().feed(bytes(wire.bytes)))  # no raw text on the wire
    texts = [LogRecord.unpack(f.payload).text for f in wire.frames()]
    assert texts == ["Didn't find op for builtin opcode 'HARD_SWISH'"]
    firmware.debug_write(" from op code HARD_SWISH\n")
    assert LogRecord.unpack(wire.frames()[-1].payload).text == "Failed to get registration from op code HARD_SWISH"


def test_a_corrupt_payload_is_never_run() -> None:
    """The firmware's own image check: one flipped payload bit makes the slot not count."""
    data = REFERENCE_MODEL.read_bytes()
    url = "vdev://esp32s3?realtime=0&id=corrupt-slot"
    board = board_for_url(url)
    board.install_model(data)
    at = next(i for i in range(1000, len(data)) if data[i])
    board.flash.program(SLOT_A + HEADER_SIZE + at, bytes([data[at] & (data[at] - 1)]))  # NOR: clears a bit
    board.boot(download=False)
    with Session.open(url) as session:
        info = session.hello()
    assert not info.model_ready and info.model_slot == 0xFF
