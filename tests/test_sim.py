"""`espml sim` out of process: reached over a pty and over RFC 2217 on loopback, as other tools would."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.errors import PortError
from toolkit.harness import Session
from toolkit.ports import open_port
from toolkit.virtual.servers import loopback_address


def start_sim(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port_file = tmp_path / "port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "sim", "--port-file", str(port_file), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None:
            raise AssertionError(f"sim exited: {proc.stderr.read()}")
        time.sleep(0.05)
    return proc, port_file.read_text().strip()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("mode", [["--pty"], ["--rfc2217", "127.0.0.1:0"]], ids=["pty", "rfc2217"])
def test_sim_serves_the_protocol(tmp_path: Path, reference_model_path: Path, mode: list[str]) -> None:
    proc, url = start_sim(tmp_path, *mode, "--model", str(reference_model_path))
    try:
        first_line = proc.stdout.readline().strip()
        assert first_line == url
        with Session.open(url, timeout=2.0) as session:
            info = session.hello()
            assert info.simulated and info.model_ready
            session.set_input(0, bytes(64))
            assert session.invoke().latency_us > 0
            assert len(session.get_output(0, 10)) == 10
    finally:
        stop(proc)


def test_sim_refuses_non_loopback_addresses() -> None:
    with pytest.raises(PortError, match="only on loopback"):
        loopback_address("0.0.0.0:4000")
    assert loopback_address("127.0.0.1:4000") == ("127.0.0.1", 4000)


def test_a_port_already_open_elsewhere_is_busy(tmp_path: Path) -> None:
    proc, url = start_sim(tmp_path, "--pty")
    try:
        with Session.open(url):
            with pytest.raises(PortError, match="busy"):
                Session.open(url)
    finally:
        stop(proc)


def test_the_sim_holds_no_terminal_side_of_its_pty(tmp_path: Path) -> None:
    """Only programs that open the pty hold its terminal side: what the board sent before any of
    them did (its boot text) is not queued for the first one, and clients come and go."""
    import serial

    proc, path = start_sim(tmp_path, "--pty")
    try:
        fds = Path(f"/proc/{proc.pid}/fd")
        assert path not in {str(fd.readlink()) for fd in fds.iterdir() if fd.is_symlink()}
        time.sleep(0.5)  # the board has booted and printed its boot text by now
        with serial.Serial(path, timeout=0.5) as raw:
            assert raw.read(256) == b"", "bytes sent before anyone listened were queued"
        for _ in range(2):
            with Session.open(path, timeout=2.0) as session:
                assert session.hello().simulated
    finally:
        stop(proc)


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:-1"])
def test_a_port_out_of_range_is_one_line_and_exit_2(address: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli", "sim", "--rfc2217", address],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "not in 0..65535" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_second_client_is_told_busy_instead_of_hanging(tmp_path: Path) -> None:
    import socket
    import urllib.parse

    proc, url = start_sim(tmp_path, "--rfc2217", "127.0.0.1:0")
    try:
        address = urllib.parse.urlsplit(url)
        with Session.open(url, timeout=2.0) as session:  # the first client holds the board, idle
            session.hello()
            with socket.create_connection((address.hostname, address.port), timeout=5) as other:
                received = b""
                while chunk := other.recv(256):
                    received += chunk
            assert b"busy" in received
            with pytest.raises(PortError, match="another client may hold the board"):  # what pyserial makes of it
                open_port(url)
            assert session.hello().simulated  # the first client is still served
    finally:
        stop(proc)


def test_board_options_make_an_out_of_process_board_sick(tmp_path: Path, reference_model_path: Path) -> None:
    latencies = {}
    for options in ("", "slow=1.3&seed=2"):
        args = ["--board-options", options] if options else []
        proc, url = start_sim(tmp_path, "--pty", "--model", str(reference_model_path), *args)
        try:
            with Session.open(url, timeout=2.0) as session:
                session.hello()
                session.set_input(0, bytes(64))
                latencies[options] = session.invoke().latency_us
        finally:
            stop(proc)
    assert latencies["slow=1.3&seed=2"] == pytest.approx(latencies[""] * 1.3, rel=0.01)


def test_unknown_board_options_are_one_line_and_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli", "sim", "--board-options", "slo=1.3"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown vdev option(s): slo" in proc.stderr and "Traceback" not in proc.stderr


def test_sim_power_relay_speaks_simplerest_and_switches_the_board(tmp_path: Path, reference_model_path: Path) -> None:
    """The relay answers the HTTP of labgrid's simplerest backend: off cuts the board (silent), on
    boots it again (boot text, then it answers with its model still in flash)."""
    import urllib.request
    from urllib.error import HTTPError

    from toolkit.errors import DeviceTimeout

    relay_file = tmp_path / "relay"
    proc, url = start_sim(tmp_path, "--rfc2217", "127.0.0.1:0", "--model", str(reference_model_path),
                          "--power-relay", "127.0.0.1:0", "--relay-file", str(relay_file))
    try:
        deadline = time.monotonic() + 10
        while not (relay_file.exists() and relay_file.read_text().strip()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        template = relay_file.read_text().strip()
        assert template.endswith("/relay/{index}/{value}")

        def get(value: str = "") -> str:
            return urllib.request.urlopen(template.format(index=0, value=value).rstrip("/"), timeout=5).read().decode()

        with Session.open(url, timeout=0.5, retries=0) as session:
            assert session.hello().model_ready
            assert get() == "1"
            assert get("0") == "0" and get() == "0"
            with pytest.raises(DeviceTimeout):
                session.hello(attempts=1)
            assert get("1") == "1"
            session.boot_text.clear()
            info = session.hello()
            assert info.model_ready and b"ESP-ROM:" in session.boot_text
        with pytest.raises(HTTPError) as missing:
            urllib.request.urlopen(template.format(index=1, value=0), timeout=5)
        assert missing.value.code == 404
    finally:
        stop(proc)
