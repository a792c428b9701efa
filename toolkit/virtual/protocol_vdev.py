"""pyserial URL handler for ``vdev://BOARD[?options]``: a virtual board in this process.

Options: ``baud=N`` models a UART link at N baud 8N1 (default: native USB, unpaced);
``latency_us=N``; ``realtime=0`` answers INVOKE without waiting the simulated time;
``esp_nn=0``; ``arena_bytes=N`` and ``slot_bytes=N`` override the board's; ``model=PATH`` installs a model before boot; ``slow=X``
scales the simulated Invoke() time, ``draw=X`` the modelled current above idle, and ``corrupt_outputs=1`` flips a bit of every output (regressions to
catch), ``corrupt_op=N`` makes operator N's output wrong and runs the rest of the model on it (a
faulty kernel, for ``espml bench --locate`` to find); link faults on both directions: ``flip=RATE`` (per bit), ``drop=RATE`` and ``dup=RATE`` (per
byte), ``stall_ms=MS&stall_every=BYTES``, ``noise_every=N`` (boot-like text before every N-th write),
``wdt_every=N`` (task-watchdog text spliced into the middle of every N-th write),
``seed=N``; ``power_cut_after=N`` (the supply fails after N more bytes written to flash, by esptool or
by the firmware); ``hang_after=N`` / ``reset_after=N``
model a board that stops answering or resets after N inferences, ``reset_every=N`` one that resets
during its N-th inference after every boot; ``id=NAME`` shares one board
between every port opened with that name in this process, as a physical board is shared.
``firmware=micropython`` gives a board running MicroPython instead (``toolkit.micropython.virtual``).
"""

from __future__ import annotations

import errno
import threading
import urllib.parse

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from toolkit.virtual.device import BoardOptions, VirtualBoard
from toolkit.virtual.faults import LinkFaults

_SHARED: dict[str, VirtualBoard] = {}
_SHARED_LOCK = threading.Lock()
_INT_OPTIONS = ("baud", "latency_us", "slot_bytes", "arena_bytes", "hang_after", "reset_after", "reset_every",
                "corrupt_op")
_BOOL_OPTIONS = ("realtime", "esp_nn", "sync_enters_download", "corrupt_outputs")
_FLOAT_OPTIONS = ("slow", "draw")
_LINK_OPTIONS = {"flip": float, "drop": float, "dup": float, "stall_ms": float, "stall_every": int,
                 "noise_every": int, "wdt_every": int, "seed": int}
_INT_OPTIONS_MORE = ("power_cut_after",)


def parse_url(url: str) -> tuple[BoardOptions, str | None, str | None]:
    """Return board options, shared id and model path from a vdev:// URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "vdev":
        raise SerialException(f"expected a vdev:// URL, got {url!r}")
    query = dict(urllib.parse.parse_qsl(parts.query))
    known = {*_INT_OPTIONS, *_INT_OPTIONS_MORE, *_BOOL_OPTIONS, *_FLOAT_OPTIONS, *_LINK_OPTIONS, "id", "model",
             "flash_file"}
    unknown = set(query) - known
    if unknown:
        raise SerialException(f"unknown vdev option(s): {', '.join(sorted(unknown))}")
    kwargs: dict = {"board": parts.netloc or "esp32s3"}
    try:
        for key in _INT_OPTIONS:
            if key in query:
                kwargs[key] = int(query[key])
        for key in _FLOAT_OPTIONS:
            if key in query:
                kwargs[key] = float(query[key])
        for key in _INT_OPTIONS_MORE:
            if key in query:
                kwargs[key] = int(query[key])
        link = {key: kind(query[key]) for key, kind in _LINK_OPTIONS.items() if key in query}
        if link:
            kwargs["link"] = LinkFaults(**link)
    except ValueError:
        raise SerialException(f"vdev option values must be numbers: {parts.query}") from None
    if kwargs.get("draw", 1.0) <= 0:
        raise SerialException("vdev option draw scales the current above idle: give a number above 0")
    if kwargs.get("corrupt_op", 0) < 0:
        raise SerialException("vdev option corrupt_op counts operators from 0")
    for key in _BOOL_OPTIONS:
        if key in query:
            kwargs[key] = query[key] not in ("0", "false", "no")
    if "flash_file" in query:
        kwargs["flash_file"] = query["flash_file"]
    return BoardOptions(**kwargs), query.get("id"), query.get("model")


def board_for_url(url: str) -> VirtualBoard:
    from toolkit.micropython import virtual as micropython_board

    if micropython_board.is_micropython_url(url):  # firmware=micropython: MicroPython's own board
        return micropython_board.board_for_url(url)
    options, shared_id, model_path = parse_url(url)
    from toolkit.errors import ToolkitError
    from toolkit.virtual.host_port import HostPortError

    try:
        board = _new_board(options, model_path) if shared_id is None else _shared_board(shared_id, options, model_path)
    except HostPortError:
        raise  # its own words say what to install
    except ToolkitError as exc:
        raise SerialException(str(exc)) from None
    board.power_on()
    return board


def _shared_board(shared_id: str, options: BoardOptions, model_path: str | None) -> VirtualBoard:
    with _SHARED_LOCK:
        if shared_id not in _SHARED:
            _SHARED[shared_id] = _new_board(options, model_path)
        return _SHARED[shared_id]


def _new_board(options: BoardOptions, model_path: str | None) -> VirtualBoard:
    board = VirtualBoard(options)
    if model_path:
        from toolkit.model.reader import read_model_bytes

        board.install_model(read_model_bytes(model_path))
    return board


class Serial(SerialBase):
    """The pyserial side of a virtual board."""

    board: VirtualBoard | None = None
    _owns_board = False
    _usb = None

    def open(self) -> None:
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port is already open")
        from toolkit.micropython.virtual import is_micropython_url

        self.board = board_for_url(self.portstr)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.portstr).query))
        self._owns_board = "id" not in query and not is_micropython_url(self.portstr)  # a MicroPython board outlives its port
        self._usb = getattr(self.board, "usb", None)  # MicroPython's board has no ESP-IDF driver model
        if getattr(self.board, "micropython", None) is not None:  # a flashed MicroPython: its USB port appears
            self.board.micropython.wait_booted()  # once it has booted, as on MicroPython's own board
        if self._usb is not None:
            self._usb.host_opens()
        self.is_open = True

    def close(self) -> None:
        """A board of its own powers off with its port; a shared (id=...) board and a MicroPython
        board (one per URL) keep running, with nobody reading its USB port until the next one opens."""
        if self.is_open and self.board is not None:
            if self._owns_board:
                self.board.close()
            elif self._usb is not None:
                self._usb.host_closes()
        self.is_open = False

    def _board(self) -> VirtualBoard:
        if not self.is_open or self.board is None:
            raise PortNotOpenError()
        return self.board

    def _reconfigure_port(self) -> None:
        """Line settings do not change the modelled link; its rate comes from the URL."""

    @property
    def in_waiting(self) -> int:
        return self._board().to_host.available()

    def read(self, size: int = 1) -> bytes:
        return self._board().to_host.read(size, self._timeout)

    def write(self, data) -> int:
        data = bytes(data)
        self._board().to_device.write(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        self._board().to_host.clear()

    def reset_output_buffer(self) -> None:
        self._board().to_device.clear()

    def _update_dtr_state(self) -> None:
        if self.is_open and self.board is not None:
            self.board.set_lines(self._dtr_state, self._rts_state)

    def _update_rts_state(self) -> None:
        if self.is_open and self.board is not None:
            self.board.set_lines(self._dtr_state, self._rts_state)

    def fileno(self) -> int:
        """No terminal device behind a virtual board: esptool then drives DTR/RTS through pyserial."""
        raise OSError(errno.ENOTTY, "a virtual board has no terminal device")

    def _update_break_state(self) -> None:
        """A break condition does nothing on the virtual board."""

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True


__all__ = ["Serial", "board_for_url", "parse_url", "serial"]
