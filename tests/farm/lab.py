"""A hardware-free labgrid lab on loopback: labgrid's own coordinator and exporter, the boards
`espml sim --rfc2217` processes, each with its power relay (labgrid's simplerest backend), each
exported as a NetworkSerialPort and a NetworkPowerPort and matched by a place of its own.
Used by the farm tests and bench/farm.py; runs in the farm venv (labgrid installed)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXPORTER = "espml-lab"
_LOOP: asyncio.AbstractEventLoop | None = None  # grpc's asyncio client binds to one loop: never closed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(what: str, ready, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout:g} s")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Lab:
    """Start with ``start()``, stop with ``stop()``; ``places`` are the places' names."""

    def __init__(self, folder: Path, boards: list[str], sim_args: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.boards = boards  # one --board-options query a board ("" for a healthy one)
        self.sim_args = sim_args
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.places = [f"farm-{i}" for i in range(len(boards))]
        self.sims: list[subprocess.Popen] = []
        self.coordinator: subprocess.Popen | None = None
        self.exporter: subprocess.Popen | None = None
        self.env = {**os.environ, "LG_COORDINATOR": self.address, "PYTHONPATH": str(ROOT)}
        self.env.pop("ESPML_REAL_MODELS", None)

    def _spawn(self, *command: str, name: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")
        return subprocess.Popen(command, cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def client(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        """labgrid-client against this lab's coordinator."""
        result = subprocess.run([str(BIN / "labgrid-client"), "-x", self.address, *args], env=env or self.env,
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"labgrid-client {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def session(self, action):
        """await action(session, messages) in a session of labgrid's own client library (what
        labgrid-client runs), in this process: a labgrid-client process costs 0.7 CPU-s to start."""
        global _LOOP
        from labgrid.remote.client import ClientSession
        from labgrid.remote.generated import labgrid_coordinator_pb2

        async def run():
            session = ClientSession(self.address, asyncio.get_running_loop())
            await session.start()
            try:
                return await action(session, labgrid_coordinator_pb2)
            finally:
                await session.stop()
                await session.close()

        _LOOP = _LOOP or asyncio.new_event_loop()
        return _LOOP.run_until_complete(run())

    def start(self) -> Lab:
        self.coordinator = self._spawn(str(BIN / "labgrid-coordinator"), "-l", self.address, name="coordinator")
        _wait_for("labgrid-coordinator", lambda: _listening(self.port), process=self.coordinator)
        for i, options in enumerate(self.boards):
            self.sims.append(self._spawn(
                sys.executable, "-m", "toolkit.cli", "sim", "--rfc2217", "127.0.0.1:0",
                "--port-file", f"port{i}", "--power-relay", "127.0.0.1:0", "--relay-file", f"relay{i}",
                *(["--board-options", options] if options else []), *self.sim_args, name=f"sim{i}"))
        for i, sim in enumerate(self.sims):
            for file in (f"port{i}", f"relay{i}"):
                path = self.folder / file
                _wait_for(f"espml sim {i}", lambda: path.is_file() and path.read_text().strip(), process=sim)
        self.export(range(len(self.boards)))

        async def create_places(session, messages) -> None:  # labgrid-client -p PLACE create, add-match
            for i, place in enumerate(self.places):
                await session.stub.AddPlace(messages.AddPlaceRequest(name=place))
                await session.stub.AddPlaceMatch(messages.AddPlaceMatchRequest(
                    placename=place, pattern=f"{EXPORTER}/board-{i}/*"))

        self.session(create_places)
        return self

    def exports(self, boards) -> str:
        lines = []
        for i in boards:
            serial_port = (self.folder / f"port{i}").read_text().strip().rsplit(":", 1)[1]
            relay = (self.folder / f"relay{i}").read_text().strip()
            lines += [f"board-{i}:", "  NetworkSerialPort:", "    host: 127.0.0.1", f"    port: {serial_port}",
                      "    speed: 921600", "    protocol: rfc2217", "  NetworkPowerPort:", "    model: simplerest",
                      f"    host: '{relay}'", "    index: 0"]
        return "\n".join(lines) + "\n"

    def export(self, boards) -> None:
        """(Re)start the exporter with these boards' resources, and wait until the coordinator has them."""
        boards = list(boards)
        config = self.folder / "exports.yaml"
        config.write_text(self.exports(boards))
        self.exporter = self._spawn(str(BIN / "labgrid-exporter"), "-c", self.address, "-n", EXPORTER,
                                    "--hostname", "127.0.0.1", str(config), name="exporter")

        def exported() -> bool:
            return all(f"board-{i}" in self.resources() for i in boards)

        _wait_for("labgrid-exporter", exported, process=self.exporter)

    def resources(self) -> set[str]:
        """The groups whose NetworkSerialPort the coordinator has available from this lab's exporter
        (what ``labgrid-client resources`` lists)."""
        async def groups(session, _messages) -> set[str]:
            exported = session.resources.get(EXPORTER, {})
            return {group for group, resources in exported.items()
                    if "NetworkSerialPort" in resources and resources["NetworkSerialPort"].avail}

        return self.session(groups)

    def who(self, place: str) -> str:
        """Who holds the place ('' when it is free)."""
        async def holder(session, _messages) -> str:
            return session.places[place].acquired or ""

        return self.session(holder)

    def stop(self) -> None:
        for process in [self.exporter, *self.sims, self.coordinator]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [self.exporter, *self.sims, self.coordinator]:
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
