"""labgrid places through the coordinator: find one, acquire it, read its serial and power
resources, release it. One short client session per call, as ``labgrid-client`` has: an acquired
place stays acquired (by this user on this host) between sessions, so worker processes of the
same run may use it."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from toolkit.errors import MissingExtraError, PortError

log = logging.getLogger(__name__)

COORDINATOR_ENV = "LG_COORDINATOR"  # labgrid-client's own variable
DEFAULT_COORDINATOR = "127.0.0.1:20408"
CONNECT_TIMEOUT_S = 10.0
POLL_S = 1.0  # labgrid-client polls its reservations as often
WAITING, ALLOCATED, ACQUIRED = 0, 1, 2  # labgrid.remote.common.ReservationState, as the protocol carries it
SERIAL = "NetworkSerialPort"
POWER = "NetworkPowerPort"


# grpc's asyncio client binds to one event loop, which must outlive it: a process's sessions share
# one loop (never closed) and take turns on it (the health check opens every board at once, a
# thread each); each lasts a few round trips.
_ONE_AT_A_TIME = threading.Lock()
_LOOP: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
    return _LOOP


class FarmError(PortError):
    """A labgrid coordinator, place or resource that cannot be used as asked."""


@dataclass(frozen=True)
class PlaceBoard:
    """What a place gives a run: its serial port as an RFC 2217 URL, and its power port, if any."""

    place: str
    serial_url: str
    power: dict | None  # NetworkPowerPort's arguments: model, host, index


def coordinator_address(address: str | None = None) -> str:
    return address or os.environ.get(COORDINATOR_ENV) or DEFAULT_COORDINATOR


def _labgrid():
    try:
        from labgrid.remote import client
        from labgrid.remote.generated import labgrid_coordinator_pb2
    except ImportError:
        raise MissingExtraError("labgrid places need labgrid", "pip install 'espml[farm]'") from None
    return client, labgrid_coordinator_pb2


class Coordinator:
    """A client session with a labgrid coordinator; use as a context manager."""

    def __init__(self, address: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.address = coordinator_address(address)
        self.timeout = timeout
        self._client, self._pb2 = _labgrid()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.session = None

    def __enter__(self) -> Coordinator:
        _ONE_AT_A_TIME.acquire()
        self._loop = _loop()
        client = self._client

        async def connect():  # grpc's channel binds to the loop running when it is made
            self.session = client.ClientSession(self.address, self._loop)
            await self.session.start()

        said = _LabgridSays()
        logging.getLogger().addFilter(said)  # labgrid logs its connection errors on the root logger
        try:
            self._run(connect())
        except (client.Error, asyncio.TimeoutError, OSError) as exc:
            self.__exit__()
            raise FarmError(f"the labgrid coordinator at {self.address} does not answer ({said.text or _why(exc)})",
                            f"start it (labgrid-coordinator -l {self.address}) or point {COORDINATOR_ENV} at it") from None
        finally:
            logging.getLogger().removeFilter(said)
        return self

    def __exit__(self, *exc) -> None:
        if self.session is not None:
            try:
                self._run(self.session.stop())
                self._run(self.session.close())
            except Exception as error:  # noqa: BLE001 - closing a dead channel must not hide the real error
                log.debug("closing the coordinator session: %s", error)
            self.session = None
        if self._loop is not None:
            self._loop = None
            _ONE_AT_A_TIME.release()

    def _run(self, coroutine):
        return self._loop.run_until_complete(asyncio.wait_for(coroutine, self.timeout))

    @property
    def me(self) -> str:
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    def place(self, name: str):
        place = self.session.places.get(name)
        if place is None:
            known = ", ".join(sorted(self.session.places)) or "none"
            raise FarmError(f"labgrid place {name} does not exist at {self.address} (places: {known})",
                            f"create it: labgrid-client -x {self.address} -p {name} create, then add-match its resources")
        return place

    def _matching(self, place) -> list[tuple[tuple, object]]:
        """The exported resources the place's matches select: ((exporter, group, cls, name), entry)."""
        found = []
        for exporter, groups in self.session.resources.items():
            for group_name, group in groups.items():
                for resource_name, entry in group.items():
                    path = (exporter, group_name, entry.cls, resource_name)
                    if place.hasmatch(path):
                        found.append((path, entry))
        return found

    def acquire(self, name: str) -> bool:
        """Acquire the place for this user on this host; False when it already is (then it is not
        ours to release). A place held by another, or without a serial port, is refused."""
        place = self.place(name)
        if place.acquired == self.me:
            return False
        if place.acquired:
            raise FarmError(f"labgrid place {name} is held by {place.acquired}",
                            "queue for it (?wait=SECONDS in the URL, --espml-place-wait in a HIL run), "
                            "or choose another place")
        if not any(path[2] == SERIAL for path, _ in self._matching(place)):
            raise self._no_serial(place)
        try:
            self._run(self.session.stub.AcquirePlace(self._pb2.AcquirePlaceRequest(placename=name)))
            self._run(self.session.sync_with_coordinator())
        except Exception as exc:  # grpc's AioRpcError: another client won the race, say
            raise FarmError(f"labgrid place {name} could not be acquired: {_why(exc)}",
                            f"see labgrid-client -p {name} show") from None
        return True

    def acquire_all(self, names: list[str], wait_s: float = 0.0,
                    on_wait: Callable[[str], None] | None = None) -> list[str]:
        """Acquire every place; those acquired here are returned. With ``wait_s``, places held by
        others are queued for in labgrid's own reservations (one per place, all made at once, as
        ``labgrid-client reserve --wait name=PLACE`` does), each acquired once it is allocated to
        us; after ``wait_s`` the queue is left and the first place still held is refused."""
        mine: list[str] = []
        try:
            waiting = [name for name in names if wait_s > 0 and not self._free_for_me(self.place(name))]
            for name in names:
                if name not in waiting and self.acquire(name):  # refuses one held by another, saying by whom
                    mine.append(name)
            if waiting:
                mine += self._acquire_when_allocated(waiting, wait_s, on_wait)
        except BaseException:
            for name in mine:
                self.release(name)
            raise
        return mine

    def _free_for_me(self, place) -> bool:
        return place.acquired == self.me or not place.acquired and not place.reservation

    def _acquire_when_allocated(self, names: list[str], wait_s: float,
                                on_wait: Callable[[str], None] | None) -> list[str]:
        pb2 = self._pb2
        tokens: dict[str, str] = {}
        mine: list[str] = []
        try:
            for name in names:
                request = pb2.CreateReservationRequest(
                    filters={"main": pb2.Reservation.Filter(filter={"name": name})}, prio=0.0)
                tokens[name] = self._run(self.session.stub.CreateReservation(request)).reservation.token
                if on_wait:
                    place = self.place(name)
                    on_wait(f"waiting up to {wait_s:g} s for labgrid place {name} "
                            f"(held by {place.acquired or 'a reservation'}; reservation {tokens[name]})")
            deadline = time.monotonic() + wait_s
            while tokens:
                for name, token in list(tokens.items()):
                    state = self._run(self.session.stub.PollReservation(  # a poll keeps it alive
                        pb2.PollReservationRequest(token=token))).reservation.state
                    if state not in (ALLOCATED, ACQUIRED, WAITING):  # expired or invalid: the place was deleted
                        raise FarmError(f"labgrid place {name}: the reservation queueing for it ended "
                                        f"(reservation {token})", f"see labgrid-client -p {name} show")
                    if state != WAITING:
                        self._run(self.session.sync_with_coordinator())
                        if self.acquire(name):
                            mine.append(name)
                        self._cancel(tokens.pop(name))  # the place is held now: the queue has done its job
                if tokens and time.monotonic() > deadline:
                    name = next(iter(tokens))
                    holder = self.place(name).acquired or "a reservation of someone else"
                    raise FarmError(f"labgrid place {name} is still held by {holder} after {wait_s:g} s",
                                    "wait longer, or choose another place")
                if tokens:
                    self._run(asyncio.sleep(POLL_S))
        except BaseException:
            for name in mine:
                self.release(name)
            raise
        finally:
            for token in tokens.values():
                self._cancel(token)
        return mine

    def _cancel(self, token: str) -> None:
        try:
            self._run(self.session.stub.CancelReservation(self._pb2.CancelReservationRequest(token=token)))
        except Exception as exc:  # noqa: BLE001 - it expires by itself 60 s after its last poll
            log.debug("cancelling reservation %s: %s", token, _why(exc))

    def release(self, name: str) -> None:
        place = self.session.places.get(name)
        if place is None or place.acquired != self.me:
            return
        self._run(self.session.stub.ReleasePlace(self._pb2.ReleasePlaceRequest(placename=name)))
        self._run(self.session.sync_with_coordinator())

    def board(self, name: str) -> PlaceBoard:
        """The acquired place's serial port (and power port): it must be exported and available."""
        place = self.place(name)
        if place.acquired != self.me:
            raise FarmError(f"labgrid place {name} is not acquired by {self.me}",
                            f"acquire it first (labgrid-client -p {name} acquire)")
        serial_url, power = None, None
        for (exporter, _, cls, _), entry in self._matching(place):
            if cls == SERIAL and serial_url is None:
                if not entry.avail:
                    raise FarmError(f"the {SERIAL} of labgrid place {name} is not available: its exporter "
                                    f"{exporter} is gone or cannot reach the board",
                                    f"restart labgrid-exporter on {exporter}, or take {name} out of the run")
                args = entry.args
                serial_url = f"rfc2217://{args['host']}:{args['port']}"
            elif cls == POWER and power is None and entry.avail:
                power = dict(entry.args)
        if serial_url is None:
            raise self._no_serial(place)
        return PlaceBoard(name, serial_url, power)

    def _no_serial(self, place) -> FarmError:
        """No exported serial port matches: its exporter is gone (a match could select one), or the
        place never had one."""
        exporters = sorted({m.exporter for m in place.matches if fnmatch.fnmatchcase(SERIAL, m.cls)})
        if exporters:
            gone = [e for e in exporters if not any(fnmatch.fnmatchcase(name, e) for name in self.session.resources)]
            who = f"exporter {', '.join(gone or exporters)}"
            return FarmError(f"labgrid place {place.name}: no {SERIAL} is exported for it now ({who} is gone "
                             f"or no longer offers it)",
                             f"start labgrid-exporter again on that host, or leave {place.name} out of the run")
        return FarmError(f"labgrid place {place.name} has no {SERIAL} resource",
                         f"export the board's RFC 2217 port as a {SERIAL} and match it: "
                         f"labgrid-client -p {place.name} add-match EXPORTER/GROUP/{SERIAL}")


class _LabgridSays(logging.Filter):
    """Keeps what labgrid's client logs on the root logger while connecting, for our one line."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if "labgrid" not in record.pathname:
            return True
        self.text = self.text or record.getMessage()
        return False


def _why(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    text = details() if callable(details) else str(exc)
    return text or type(exc).__name__


@contextmanager
def acquired(names: list[str], address: str | None = None, wait_s: float = 0.0) -> Iterator[list[PlaceBoard]]:
    """Acquire every place (all or none; queueing up to ``wait_s`` for held ones), yield their
    boards, release those acquired here."""
    mine: list[str] = []
    try:
        with Coordinator(address) as coordinator:
            try:
                mine += coordinator.acquire_all(names, wait_s, on_wait=say_waiting)
                boards = [coordinator.board(name) for name in names]
            except BaseException:
                for name in mine:
                    coordinator.release(name)
                mine.clear()
                raise
        yield boards
    finally:
        release(mine, address)


def say_waiting(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def release(names: list[str], address: str | None = None) -> None:
    """Release the places (a coordinator that cannot be reached is logged: nothing else can be done)."""
    if not names:
        return
    try:
        with Coordinator(address) as coordinator:
            for name in names:
                coordinator.release(name)
    except FarmError as exc:
        log.warning("could not release %s: %s", ", ".join(names), exc.message)
