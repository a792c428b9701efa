"""Serve a virtual board out of process: on a pty, or on an RFC 2217 TCP port on loopback."""

from __future__ import annotations

import ipaddress
import logging
import os
import select
import socket
import threading
import tty
from collections.abc import Callable

import serial.rfc2217

from toolkit.errors import PortError, UsageError
from toolkit.virtual.device import VirtualBoard
from toolkit.virtual.protocol_vdev import Serial as VirtualSerial

log = logging.getLogger(__name__)


def open_pty() -> tuple[int, str]:
    """A raw pty pair: return the controller fd and the path of the terminal side.

    The terminal side is closed here: only the programs that open the path hold it, so what the
    board sends while none does is lost, as on a USB port with no host, not queued for the next."""
    controller, terminal = os.openpty()
    try:
        tty.setraw(terminal)
        path = os.ttyname(terminal)
    finally:
        os.close(terminal)
    os.set_blocking(controller, False)
    return controller, path


def serve_pty(board: VirtualBoard, controller: int, stop: threading.Event) -> None:
    """Pump bytes between the pty and the board until ``stop`` is set."""
    board.power_on()

    def to_host() -> None:
        while not stop.is_set():
            data = board.to_host.read_available(0.05)
            while data and not stop.is_set():
                try:
                    data = data[os.write(controller, data):]
                except BlockingIOError:
                    select.select([], [controller], [], 0.05)
                except OSError:
                    break  # no program has the terminal side open (EIO): nobody hears these bytes

    pump = threading.Thread(target=to_host, name="vdev-pty-out", daemon=True)
    pump.start()
    while not stop.is_set():
        ready, _, _ = select.select([controller], [], [], 0.1)
        if not ready:
            continue
        try:
            data = os.read(controller, 65536)
        except BlockingIOError:
            continue
        except OSError:
            # No program has the terminal side open (EIO): wait for the next one.
            stop.wait(0.05)
            continue
        board.to_device.write(data)
    pump.join(timeout=1)
    os.close(controller)


def loopback_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        address = ipaddress.ip_address(host or "127.0.0.1")
        number = int(port)
    except ValueError:
        raise PortError(f"'{text}' is not HOST:PORT", "give an address such as 127.0.0.1:4000") from None
    if not 0 <= number <= 65535:
        raise UsageError(f"'{text}': port {number} is not in 0..65535", "give a port such as 4000, or 0 for any free one")
    if not address.is_loopback:
        raise PortError(f"the virtual board serves only on loopback, not {host}", "use 127.0.0.1:PORT")
    return str(address), number


def serve_rfc2217(board: VirtualBoard, address: tuple[str, int], stop: threading.Event,
                  on_listening: Callable[[int], None] | None = None) -> None:
    """Accept one RFC 2217 client at a time; reset lines and baud rate travel as on a real server."""
    board.power_on()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        raise PortError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror}", "choose another port") from None
    listener.listen(1)
    listener.settimeout(0.2)
    if on_listening:
        on_listening(listener.getsockname()[1])
    try:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            _serve_client(board, connection, stop, listener)
    finally:
        listener.close()


class _SocketWriter:
    """What RFC 2217's PortManager writes through: one lock, since two threads send."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.connection.sendall(data)


BUSY = b"espml sim: busy: another client holds this board; try again when it lets go\r\n"


def _turn_away(listener: socket.socket) -> None:
    """A second client while one is served: tell it the board is busy and close, never leave it waiting."""
    try:
        other, _ = listener.accept()
    except OSError:
        return
    try:
        other.sendall(BUSY)
    except OSError:
        pass
    other.close()


def _serve_client(board: VirtualBoard, connection: socket.socket, stop: threading.Event,
                  listener: socket.socket | None = None) -> None:
    port = VirtualSerial()
    port.board = board
    port.is_open = True
    port.timeout = 0.05
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer = _SocketWriter(connection)
    manager = serial.rfc2217.PortManager(port, writer)
    done = threading.Event()

    def to_client() -> None:
        while not (done.is_set() or stop.is_set()):
            data = board.to_host.read_available(0.05)
            if data:
                try:
                    writer.write(b"".join(manager.escape(data)))
                except OSError:
                    break
        done.set()

    pump = threading.Thread(target=to_client, name="vdev-rfc2217-out", daemon=True)
    pump.start()
    connection.settimeout(0.1)
    try:
        while not (done.is_set() or stop.is_set()):
            if listener is not None and select.select([listener], [], [], 0)[0]:
                _turn_away(listener)
            try:
                data = connection.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            port.write(b"".join(manager.filter(data)))
    finally:
        done.set()
        pump.join(timeout=1)
        connection.close()
