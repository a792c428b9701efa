"""pyserial URL handler for ``vppk2://ID``: a virtual PPK2 on the supply line of the virtual board
shared as ``vdev://...?id=ID`` in this process (``toolkit.power.virtual_ppk2``). Options:
``noise_ma=X`` (default 0.05), ``seed=N``, ``marker=0`` (its D0 not wired to the board's marker).
"""

from __future__ import annotations

import threading
import time
import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from toolkit.power.virtual_ppk2 import PENDING_LIMIT, VirtualPPK2


class Serial(SerialBase):
    """The host's end of a virtual PPK2's USB serial port."""

    ppk2: VirtualPPK2 | None = None

    def open(self) -> None:
        from toolkit.virtual.protocol_vdev import _SHARED

        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        parts = urllib.parse.urlsplit(self.portstr)
        query = dict(urllib.parse.parse_qsl(parts.query))
        board = _SHARED.get(parts.netloc)
        if board is None:
            raise SerialException(f"no virtual board with id {parts.netloc!r} in this process: open "
                                  f"vdev://esp32s3?id={parts.netloc or 'NAME'} first")
        try:
            noise, seed = float(query.get("noise_ma", 0.05)), int(query.get("seed", 0))
        except ValueError:
            raise SerialException(f"vppk2 option values must be numbers: {parts.query}") from None
        board.supply.marker_wired = query.get("marker", "1") not in ("0", "no", "false")
        self._buffer = bytearray()
        self._ready = threading.Condition()
        self.ppk2 = VirtualPPK2(board.supply, self._accept, noise_ma=noise, seed=seed)
        self.is_open = True

    def _accept(self, data: bytes) -> int:
        with self._ready:
            taken = min(len(data), max(0, PENDING_LIMIT - len(self._buffer)))
            self._buffer += data[:taken]
            self._ready.notify_all()
            return taken

    def close(self) -> None:
        if self.ppk2 is not None:
            self.ppk2.close()
            self.ppk2 = None
        self.is_open = False

    def _reconfigure_port(self) -> None:
        """A USB CDC port: line settings change nothing."""

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        with self._ready:
            while len(self._buffer) < size:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._ready.wait(left)
            data, self._buffer[:] = bytes(self._buffer[:size]), self._buffer[size:]
            return data

    def write(self, data) -> int:
        if not self.is_open or self.ppk2 is None:
            raise PortNotOpenError()
        self.ppk2.receive(bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        with self._ready:
            self._buffer.clear()

    def reset_output_buffer(self) -> None:
        """Nothing waits to be sent: commands are taken at once."""
