"""First contact with a board that is not running our firmware (issue 23 item 1): a board left in
its ROM download mode or with esptool's flasher stub running is named at the first silent HELLO,
not after half a minute of retries."""

from __future__ import annotations

import time
import uuid

import pytest
from esptool.targets import ESP32S3ROM

from toolkit.errors import DeviceTimeout
from toolkit.harness.session import Session
from toolkit.ports import register_url_handlers
from toolkit.virtual import protocol_vdev


@pytest.fixture
def board_url(monkeypatch: pytest.MonkeyPatch):
    register_url_handlers()
    monkeypatch.setattr(protocol_vdev, "_SHARED", {})
    url = f"vdev://esp32s3?id=first-{uuid.uuid4().hex}"
    board = protocol_vdev.board_for_url(url)
    yield board, url
    board.power_off()


def in_download_mode(board) -> None:
    board.set_lines(dtr=False, rts=True)  # EN low
    board.set_lines(dtr=True, rts=False)  # EN released with IO0 low
    time.sleep(0.2)
    assert board.mode == "rom"


def hello_error(url: str) -> str:
    with Session.open(url, timeout=0.5, hello_attempts=5) as session:
        with pytest.raises(DeviceTimeout) as caught:
            session.hello()
    return str(caught.value)


def test_a_board_in_its_rom_download_mode_is_named_at_first_contact(board_url) -> None:
    board, url = board_url
    in_download_mode(board)
    message = hello_error(url)
    assert "ROM download mode" in message and "--after watchdog-reset" in message


def test_a_board_running_the_flasher_stub_is_named_at_first_contact(board_url) -> None:
    board, url = board_url
    in_download_mode(board)
    esp = ESP32S3ROM(url)
    try:
        esp.connect(mode="no-reset")
        esp = esp.run_stub()
    finally:
        esp._port.close()
    assert board.rom is not None and board.rom.stub
    assert "flasher stub" in hello_error(url)


def test_the_loader_probe_leaves_a_running_firmware_alone(board_url) -> None:
    """A board running espml that answers late still gets its HELLO retries after the probe."""
    board, url = board_url
    with Session.open(url, timeout=0.5) as session:
        session._refuse_esptool_loader()  # raises nothing: the firmware does not answer esptool
        assert session.hello().protocol_version > 0
    assert board.mode == "app"


def test_info_on_a_board_in_download_mode_is_one_line(board_url, capsys) -> None:
    from pathlib import Path

    from toolkit.cli import main

    board, url = board_url
    in_download_mode(board)
    code = main(["info", "--port", url, "--timeout", "0.5"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 4 and len(lines) == 1 and "ROM download mode" in lines[0], lines
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "info: a board left in its ROM download mode or running esptool's flasher stub" in readme
