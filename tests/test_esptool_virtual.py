"""The unmodified esptool, as a user runs it, against `espml sim` (pty and RFC 2217)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.errors import DeviceTimeout
from toolkit.harness import Session
from toolkit.virtual import VirtualBoard

from test_sim import start_sim, stop

ROOT = Path(__file__).resolve().parent.parent


def esptool(port: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "esptool", "--port", port, *args], capture_output=True, text=True,
                            timeout=timeout)
    return result


def test_esptool_cli_over_a_pty(tmp_path: Path) -> None:
    flash_file = tmp_path / "flash.bin"
    proc, port = start_sim(tmp_path, "--pty", "--flash-file", str(flash_file))
    blob = os.urandom(70_000)
    (tmp_path / "blob.bin").write_bytes(blob)
    try:
        r = esptool(port, "--after", "no-reset", "write-flash", "0x300000", str(tmp_path / "blob.bin"))
        assert r.returncode == 0 and "Hash of data verified" in r.stdout, r.stdout + r.stderr
        r = esptool(port, "--before", "no-reset", "--after", "no-reset", "verify-flash", "0x300000",
                    str(tmp_path / "blob.bin"))
        assert r.returncode == 0 and "digest matched" in r.stdout
        r = esptool(port, "--before", "no-reset", "--after", "no-reset", "read-flash", "0x300000", "70000",
                    str(tmp_path / "back.bin"))
        assert r.returncode == 0 and (tmp_path / "back.bin").read_bytes() == blob
        r = esptool(port, "--before", "no-reset", "--after", "no-reset", "erase-region", "0x300000", "0x1000")
        assert r.returncode == 0
        r = esptool(port, "--before", "no-reset", "--after", "watchdog-reset", "flash-id")
        assert r.returncode == 0 and "Detected flash size: 8MB" in r.stdout
        time.sleep(0.3)
        with Session.open(port) as session:  # the watchdog reset booted our firmware from flash
            assert session.hello().firmware_name == "espml-fw"
        r = esptool(port, "--no-stub", "--after", "soft-reset", "write-flash", "0x310000", str(tmp_path / "blob.bin"))
        assert r.returncode == 0 and "Hash of data verified" in r.stdout, r.stdout + r.stderr
    finally:
        stop(proc)
    # The flash file kept what was written: a new board on it reads it back.
    proc, port = start_sim(tmp_path, "--pty", "--flash-file", str(flash_file))
    try:
        r = esptool(port, "--after", "no-reset", "verify-flash", "0x310000", str(tmp_path / "blob.bin"))
        assert r.returncode == 0 and "digest matched" in r.stdout
    finally:
        stop(proc)


def test_esptool_default_options_over_rfc2217_reset_the_board(tmp_path: Path) -> None:
    """DTR/RTS travel over RFC 2217 into the modelled auto-reset circuit, both ways."""
    proc, port = start_sim(tmp_path, "--rfc2217", "127.0.0.1:0")
    (tmp_path / "blob.bin").write_bytes(os.urandom(4096))
    try:
        r = esptool(port, "write-flash", "0x300000", str(tmp_path / "blob.bin"), timeout=240)
        assert r.returncode == 0 and "Hash of data verified" in r.stdout, r.stdout + r.stderr
        assert "Hard resetting via RTS pin" in r.stdout
        time.sleep(0.3)
        with Session.open(port) as session:
            assert session.hello().firmware_name == "espml-fw"
    finally:
        stop(proc)


def test_the_readme_esptool_line_leaves_a_pty_board_running_espml(tmp_path: Path) -> None:
    """The esptool line the README shows, run as written on `espml sim --pty`: espml answers after it."""
    line = next(text.strip() for text in (ROOT / "README.md").read_text().splitlines()
                if text.strip().startswith("python -m esptool --port /dev/pts/N"))
    args = line.split("#")[0].split()[3:]  # after `python -m esptool`
    proc, port = start_sim(tmp_path, "--pty", "--flash-file", str(tmp_path / "flash.bin"))
    (tmp_path / "file.bin").write_bytes(bytes(range(256)) * 64)
    try:
        args = [port if a == "/dev/pts/N" else str(tmp_path / "file.bin") if a == "file.bin" else a for a in args]
        r = subprocess.run([sys.executable, "-m", "esptool", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        with Session.open(port) as session:
            assert session.hello(attempts=2).firmware_name == "espml-fw"
    finally:
        stop(proc)


def test_flash_garbage_app_and_the_board_does_not_pretend_to_boot(tmp_path: Path) -> None:
    proc, port = start_sim(tmp_path, "--pty")
    (tmp_path / "junk.bin").write_bytes(os.urandom(8192))
    try:
        r = esptool(port, "--after", "watchdog-reset", "write-flash", "0x10000", str(tmp_path / "junk.bin"))
        assert r.returncode == 0, r.stdout + r.stderr
        time.sleep(0.3)
        with Session.open(port, timeout=0.3) as session:
            with pytest.raises(DeviceTimeout, match="did not answer HELLO"):
                session.hello(attempts=2)
    finally:
        stop(proc)


def test_boot_text_of_a_board_with_no_bootable_app() -> None:
    board = VirtualBoard()
    board.flash.write(0x10000, os.urandom(4096))
    board.power_on()
    try:
        assert board.mode == "halted"
        text = board.to_host.read(board.to_host.available(), 0)
        assert b"No bootable app partitions" in text
    finally:
        board.power_off()


def test_a_large_application_image_boots() -> None:
    from toolkit.image import app_image

    board = VirtualBoard()
    big = app_image.build_image([(app_image.DROM_ADDRESS, app_image.app_description("espml-fw", "2.0.0")),
                                 (app_image.IRAM_ENTRY, os.urandom(700_000))])
    board.flash.write(0x10000, big)
    board.power_on()
    try:
        assert board.mode == "app" and board.app.image.version == "2.0.0"
    finally:
        board.power_off()
