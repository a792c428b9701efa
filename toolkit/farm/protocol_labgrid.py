"""pyserial URL handler for ``labgrid://PLACE[?coordinator=HOST:PORT][&wait=SECONDS]``: the place
is acquired (unless this user already holds it; with ``wait``, queueing while others hold it), its
``NetworkSerialPort`` opened over RFC 2217, and the place released on close if acquired here. A place with a power port offers ``power_cycle()``,
which the harness uses to bring a hung board back. Registered by ``toolkit.ports``."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import serial
import serial.rfc2217

from toolkit.farm.places import Coordinator, FarmError, PlaceBoard, release, say_waiting
from toolkit.farm.power import PowerSwitch


@dataclass(frozen=True)
class PlaceURL:
    place: str
    coordinator: str | None
    wait_s: float  # how long to queue for the place while others hold it


def parse(url: str) -> PlaceURL:
    """What a ``labgrid://PLACE[?coordinator=HOST:PORT][&wait=SECONDS]`` URL asks for."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    unknown = set(query) - {"coordinator", "wait"}
    wait = query.get("wait", ["0"])[0]
    try:
        wait_s = float(wait)
    except ValueError:
        wait_s = -1.0
    if parts.scheme != "labgrid" or not parts.netloc or unknown or not 0 <= wait_s < 1e7:
        raise serial.SerialException(f"expected labgrid://PLACE[?coordinator=HOST:PORT][&wait=SECONDS], got {url!r}")
    return PlaceURL(parts.netloc, query.get("coordinator", [None])[0], wait_s)


class Serial(serial.rfc2217.Serial):
    """The RFC 2217 client of pyserial (labgrid's fork when the farm extra is installed), on a place."""

    place_board: PlaceBoard | None = None
    _acquired_here = False
    _switch: PowerSwitch | None = None

    def open(self) -> None:
        url = parse(self.portstr)
        place, self._coordinator = url.place, url.coordinator
        with Coordinator(url.coordinator) as coordinator:
            acquired_here = bool(coordinator.acquire_all([place], url.wait_s, on_wait=say_waiting))
            try:
                self.place_board = coordinator.board(place)
            except BaseException:
                if acquired_here:
                    coordinator.release(place)
                raise
        self._acquired_here = acquired_here
        try:
            super().open()
        except BaseException as exc:
            self._let_go()
            if not isinstance(exc, serial.SerialException):
                raise
            raise FarmError(f"labgrid place {place}: its serial port {self.place_board.serial_url} does not answer "
                            f"({exc})", f"check that the exporter's host still serves the board of {place}") from None

    def from_url(self, url: str):
        """RFC 2217's parser, on the place's serial URL (pyserial's open() calls it with ours)."""
        return super().from_url(self.place_board.serial_url if url.startswith("labgrid:") else url)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self._acquired_here:
            release([self.place_board.place], self._coordinator)
        self._acquired_here = False

    @property
    def has_power_switch(self) -> bool:
        return bool(self.place_board and self.place_board.power)

    def power_cycle(self) -> bool:
        """Cut and restore the board's power through the place's power port; False: it has none."""
        if not self.has_power_switch:
            return False
        if self._switch is None:
            self._switch = PowerSwitch(self.place_board.place, self.place_board.power)
        self._switch.cycle()
        return True
