"""The virtual ESP32-S3's ROM as esptool meets it (issue 8): boards with nothing bootable, reset
reasons, flash identification before and after SPI_ATTACH, SFDP, and a flasher stub left running.

Most tests drive esptool's Python API against an in-process board shared through
``vdev://esp32s3?id=...``, as esptool's own integration tests drive a board; the last one runs the
esptool command against ``espml sim --pty``.
"""

from __future__ import annotations

import hashlib
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from esptool.cmds import DETECTED_FLASH_SIZES, detect_chip
from esptool.loader import ESPLoader
from esptool.targets import ESP32S3ROM
from esptool.targets.esp32s3 import ESP32S3StubLoader

from toolkit.ports import register_url_handlers
from toolkit.virtual import protocol_vdev, rom
from toolkit.virtual.device import VirtualBoard
from toolkit.virtual.slip import slip_encode

from test_esptool_virtual import esptool
from test_sim import start_sim, stop

COMPLAINT = b"invalid header: 0xffffffff\r\n"
SYNC = slip_encode(struct.pack("<BBHI", 0, ESPLoader.ESP_CMDS["SYNC"], 36, 0) + b"\x07\x07\x12\x20" + b"\x55" * 32)

SharedBoard = Callable[..., tuple[VirtualBoard, str]]


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[SharedBoard]:
    """Make boards that esptool (through their vdev:// URL) and the test (directly) both reach."""
    register_url_handlers()
    monkeypatch.setattr(protocol_vdev, "_SHARED", {})  # forget this test's boards afterwards
    boards: list[VirtualBoard] = []

    def make(erased: bool = False, **options: int) -> tuple[VirtualBoard, str]:
        query = "".join(f"&{key}={value}" for key, value in options.items())
        url = f"vdev://esp32s3?id=rom-{uuid.uuid4().hex}{query}"
        board = protocol_vdev.board_for_url(url)
        boards.append(board)
        if erased:
            board.power_off()
            board.flash.erase(0, board.flash.size)
            board.power_on()
        return board, url

    yield make
    for board in boards:
        board.power_off()


def output(board: VirtualBoard, wait_s: float = 0.0) -> bytes:
    time.sleep(wait_s)
    return board.to_host.read(board.to_host.available(), 0)


def port_output_until(port: serial.SerialBase, text: bytes, timeout_s: float = 5.0) -> bytes:
    """What the host's open port receives, read until ``text`` appears (a timer thread prints it)."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while text not in seen and time.monotonic() < deadline:
        seen += port.read(max(1, port.in_waiting))
    return seen


@pytest.mark.parametrize("reset", ["dtr-rts", "sync-on-pty"])
def test_esptool_connects_to_a_board_whose_flash_is_erased(shared: SharedBoard, reset: str) -> None:
    """USB-Serial/JTAG resets the chip into download mode whatever it runs, even a ROM boot loop."""
    board, url = shared(erased=True, sync_enters_download=int(reset == "sync-on-pty"))
    assert board.mode == "halted"
    esp = detect_chip(url, connect_mode="default-reset" if reset == "dtr-rts" else "no-reset")
    try:
        assert esp.CHIP_NAME == "ESP32-S3" and board.mode == "rom"
    finally:
        esp._port.close()


def test_a_watchdog_reset_into_erased_flash_says_so_and_the_rom_keeps_complaining(shared: SharedBoard) -> None:
    board, url = shared()
    esp = detect_chip(url).run_stub()
    try:
        esp.erase_flash()
        output(board)
        esp.watchdog_reset()  # arms the RTC watchdog, then waits half a second
        text = output(board, 0.2)
    finally:
        esp._port.close()
    banner, _, rest = text.partition(b"rst:0x10 (RTCWDT_RTC_RESET),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n")
    assert banner == b"ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"  # printed once, no POWERON
    assert len(rest) >= 4 * len(COMPLAINT) and rest == COMPLAINT * (len(rest) // len(COMPLAINT))


def test_complaints_never_pile_up_and_stop_while_esptool_talks(shared: SharedBoard,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rom, "RETRY_PERIOD_S", 0.001)
    board, url = shared(erased=True, sync_enters_download=1)
    deadline = time.monotonic() + 10
    while board.to_host.available() < rom.BACKLOG_BYTES and time.monotonic() < deadline:
        time.sleep(0.05)  # nobody reads: the complaints pile up to the backlog limit...
    time.sleep(0.2)  # ...and no further
    assert rom.BACKLOG_BYTES <= board.to_host.available() < rom.BACKLOG_BYTES + len(COMPLAINT)
    esp = detect_chip(url, connect_mode="no-reset")
    try:
        for _ in range(20):  # boot text among the answers would break esptool's SLIP reader
            assert esp.read_reg(ESP32S3ROM.MAC_EFUSE_REG + 4) == 0xF412
        assert output(board, 0.05) == b""
    finally:
        esp._port.close()


def test_the_flash_answers_rdid_only_once_attached(shared: SharedBoard) -> None:
    board, url = shared()
    esp = detect_chip(url)
    try:
        assert esp.flash_id(cache=False) == 0xFFFFFF  # pins not routed yet: the data line floats high
        esp.flash_spi_attach(0)
        flash_id = esp.flash_id(cache=False)
        assert flash_id & 0xFF == 0xEF  # Winbond
        assert DETECTED_FLASH_SIZES[flash_id >> 16] == f"{board.flash.size >> 20}MB"
    finally:
        esp._port.close()


def test_sfdp_reads_a_jedec_basic_flash_parameter_table(shared: SharedBoard) -> None:
    board, url = shared()
    esp = detect_chip(url)
    try:
        esp.flash_spi_attach(0)
        assert struct.pack("<I", esp.read_spiflash_sfdp(0, 32)) == b"SFDP"
        header = struct.pack("<II", esp.read_spiflash_sfdp(8, 32), esp.read_spiflash_sfdp(12, 32))
        assert header[0] == 0x00 and header[2] == 1 and header[3] >= 9  # JEDEC basic table, v1, 9 words
        table = int.from_bytes(header[4:7], "little")
        assert (esp.read_spiflash_sfdp(table, 32) >> 8) & 0xFF == 0x20  # 4 KB erase instruction
        assert esp.read_spiflash_sfdp(table + 4, 32) + 1 == board.flash.size * 8  # density in bits
        stub = esp.run_stub()  # the stub attaches the flash itself
        assert struct.pack("<I", stub.read_spiflash_sfdp(0, 32)) == b"SFDP"
    finally:
        esp._port.close()


def test_a_new_esptool_run_on_a_pty_meets_the_rom_not_a_stub_left_running(shared: SharedBoard) -> None:
    board, url = shared(sync_enters_download=1)
    esp = detect_chip(url, connect_mode="no-reset").run_stub()
    esp._port.close()  # as with --after no-reset: the stub keeps running
    assert board.rom.stub
    output(board)
    board.to_device.write(SYNC)  # a new esptool run: USB-Serial/JTAG resets the chip into download mode
    banner = b"rst:0x15 (USB_UART_CHIP_RESET),boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n"
    assert banner in output(board, 0.2)
    esp = ESP32S3ROM(url)  # --chip esp32s3 --no-stub: expects the ROM's answers
    try:
        esp.connect(mode="no-reset")
        assert not esp.sync_stub_detected
        esp.flash_spi_attach(0)
        assert esp.flash_md5sum(0, 4096) == hashlib.md5(board.flash.read(0, 4096)).hexdigest()
    finally:
        esp._port.close()


def test_a_running_stub_stays_where_nothing_resets_the_chip(shared: SharedBoard) -> None:
    """Pins the limits of the rule above: without a SYNC (--before no-reset-no-sync) nothing resets
    the chip on a pty, and where DTR/RTS exist (vdev://, RFC 2217) --before no-reset finds the stub
    still running, as on a real board."""
    board, url = shared(sync_enters_download=1)
    detect_chip(url, connect_mode="no-reset").run_stub()._port.close()
    esp = ESP32S3ROM(url)
    try:
        esp.connect(mode="no-reset-no-sync")
        assert ESP32S3StubLoader(esp).read_reg(ESP32S3ROM.MAC_EFUSE_REG + 4) == 0xF412 and board.rom.stub
    finally:
        esp._port.close()
    board, url = shared()
    detect_chip(url).run_stub()._port.close()
    esp = detect_chip(url, connect_mode="no-reset")
    try:
        assert esp.sync_stub_detected and esp.IS_STUB and board.rom.stub
    finally:
        esp._port.close()


def test_reset_reasons_follow_what_caused_the_boot(shared: SharedBoard) -> None:
    board, url = shared()
    assert b"rst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n" in output(board)
    board.set_lines(dtr=False, rts=True)  # EN low through the auto-reset circuit
    board.set_lines(dtr=True, rts=False)  # EN released with IO0 low: download mode
    assert output(board, 0.3).endswith(b"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n")
    rebooted = b"rst:0x10 (RTCWDT_RTC_RESET),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n"
    esp = ESP32S3ROM(url)
    try:
        esp.connect(mode="no-reset")
        esp.watchdog_reset()
        esp._port.timeout = 0.1
        # read while the port is open: the USB-Serial/JTAG link drops what a closed port left unread
        assert rebooted in port_output_until(esp._port, rebooted)
    finally:
        esp._port.close()
    assert board.mode == "app"


def test_esptool_over_a_pty_after_erasing_the_flash(tmp_path: Path) -> None:
    """The user's view of all of the above, with the esptool command on `espml sim --pty`."""
    proc, port = start_sim(tmp_path, "--pty")
    try:
        r = esptool(port, "--after", "watchdog-reset", "erase-flash")
        assert r.returncode == 0 and "Hard resetting with a watchdog" in r.stdout, r.stdout + r.stderr
        with serial.Serial(port, timeout=0.5) as terminal:  # a terminal opened now sees the ROM loop
            assert terminal.read(200).count(COMPLAINT) >= 2
        r = esptool(port, "--after", "no-reset", "flash-id")  # the stub stays behind
        assert r.returncode == 0 and "Detected flash size: 8MB" in r.stdout, r.stdout + r.stderr
        r = esptool(port, "--after", "no-reset", "flash-id")
        assert r.returncode == 0 and "Uploading stub flasher" in r.stdout, r.stdout + r.stderr
        assert "already running" not in r.stdout
    finally:
        stop(proc)


def test_a_command_with_a_short_payload_gets_an_error_and_the_rom_keeps_serving() -> None:
    from esptool.loader import ESPLoader

    from toolkit.virtual.flash import FlashMemory
    from toolkit.virtual.rom import RomLoader
    from toolkit.virtual.slip import slip_encode

    loader = RomLoader(FlashMemory(8 << 20), on_reboot=lambda download: None, on_baud=lambda baud: None,
                       on_watchdog=lambda: None)
    read_reg = ESPLoader.ESP_CMDS["READ_REG"]
    short = slip_encode(bytes([0, read_reg]) + (1).to_bytes(2, "little") + bytes(4) + b"\x01")
    answer = loader.receive(short)
    assert answer[1:3] == bytes([1, read_reg]) and answer[-5] == 1  # status: failed
    full = slip_encode(bytes([0, read_reg]) + (4).to_bytes(2, "little") + bytes(4) + (0x60007044).to_bytes(4, "little"))
    assert loader.receive(full)[1:3] == bytes([1, read_reg])  # and it still answers
