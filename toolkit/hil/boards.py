"""The boards of a HIL run: which ports there are, which one a test worker holds, and one open
session per board that survives from test to test.

A worker holds a board through an exclusive lock file named after its port, so pytest-xdist
workers never share one; a board that stops answering is taken out of the run (recorded in the
run's state folder, so every worker and the report know) and the worker moves to a free one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
import urllib.parse
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.harness import Session
from toolkit.model import load_model
from toolkit.model.reader import TFLiteModel
from toolkit.protocol import Info

DEFAULT_PORT = "vdev://esp32s3"


class NoBoardLeft(ToolkitError):
    """Every board of the run has been taken out."""


def read_ports_file(path: Path) -> list[str]:
    """One pyserial URL a line; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ToolkitError(f"cannot read the ports file {path}: {exc}", "give a readable file, one URL a line") from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def shareable(url: str, index: int) -> str:
    """An in-process virtual board must be reachable by esptool too (a model update by esptool
    opens the port again): give it a name, as a physical board has one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "vdev" or "id=" in parts.query:
        return url
    query = "&".join(filter(None, [parts.query, f"id=hil-{index}-{os.getpid()}"]))
    return urllib.parse.urlunsplit(parts._replace(query=query))


@dataclass
class HilBoard:
    """One board held by this worker, with its open session. ``target`` "micropython": the board
    runs MicroPython, and the agent (with a model) is put on its filesystem before a session opens."""

    port: str
    timeout: float = 2.0
    retries: int = 2  # per request; the harness's recovery retries an inference on top
    session: Session | None = None
    info: Info | None = None
    models_loaded: set[str] = field(default_factory=set)
    target: str = "espml"
    agent_running: bool = False  # MicroPython: the agent serves the line (a closed port leaves it running)

    @property
    def micropython(self) -> bool:
        return self.target == "micropython"

    def open(self) -> Session:
        if self.session is None:
            if self.micropython and not self.agent_running:
                self.install(load_model(resources.files("toolkit.demo_data").joinpath("digits_cnn_int8.tflite")
                                        .read_bytes()))  # the bundled model: the agent answers from now
            self.session = Session.open(self.port, timeout=self.timeout, retries=self.retries)
            try:
                self.info = self.session.hello()
            except ToolkitError:
                self.close()
                raise
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    @property
    def simulated(self) -> bool:
        self.open()
        return bool(self.info.simulated)

    @property
    def kind(self) -> str:
        self.open()
        return self.info.board

    @property
    def firmware(self) -> str:
        self.open()
        return f"{self.info.firmware_name} {self.info.firmware_version}"

    @property
    def where(self) -> str:
        return f"{self.kind} ({self.port})"

    def refresh(self) -> Info:
        self.info = self.open().hello()
        return self.info

    def install(self, model: TFLiteModel) -> None:
        """MicroPython: the agent and ``model`` onto the board's filesystem (each only if it differs),
        then the agent starts with it; the session opens again on the next use."""
        from toolkit.micropython.deploy import deploy

        self.close()
        deploy(self.port, model)
        self.agent_running = True

    def upload(self, model: TFLiteModel | bytes) -> None:
        """A model update without esptool and without a reset: over the protocol, or on a MicroPython
        board the MicroPython way, through its filesystem (raw REPL; the agent restarts with it)."""
        model = model if isinstance(model, TFLiteModel) else load_model(model)
        if self.micropython:
            self.install(model)
        else:
            self.open().upload_model(model.data)
        self.refresh()

    def flash(self, model: TFLiteModel | None = None, firmware=None):
        """A model or firmware update by esptool: the session lets go of the port meanwhile."""
        from toolkit.boards import get_board
        from toolkit.flash import flash

        board_kind = self.kind
        self.close()
        self.agent_running = False  # a MicroPython board boots to its REPL
        try:
            return flash(self.port, get_board(board_kind), model, firmware)
        finally:
            time.sleep(0.2)  # the board boots after the hard reset
            self.open()


class BoardPool:
    """The ports of the run, and the lock files that give each board to one worker at a time."""

    def __init__(self, ports: list[str], state_dir: Path, target: str = "espml") -> None:
        self.ports = ports
        self.target = target
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = None
        self.held: HilBoard | None = None

    def _lock_path(self, port: str) -> Path:
        return self.state_dir / f"board-{hashlib.sha256(port.encode()).hexdigest()[:12]}.lock"

    @property
    def taken_out(self) -> dict[str, str]:
        path = self.state_dir / "taken_out.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def take_out(self, board: HilBoard, reason: str) -> None:
        """Name the board as out of the run and release it; later tests get another board."""
        self.mark_out(board.port, reason)
        board.close()
        self.release()

    def mark_out(self, port: str, reason: str) -> None:
        """Name a board as out of the run (every worker reads it)."""
        with open(self.state_dir / "taken_out.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            out = self.taken_out
            out[port] = reason
            (self.state_dir / "taken_out.json").write_text(json.dumps(out, indent=1))

    @property
    def power_cycles(self) -> dict[str, list[list]]:
        """By port: [where, how many times] for each test (or health check) that cycled its power."""
        path = self.state_dir / "power_cycles.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def note_power_cycles(self, port: str, where: str, count: int) -> None:
        """A silent board was brought back by cutting its power (every worker and the report read it)."""
        with open(self.state_dir / "taken_out.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            cycles = self.power_cycles
            cycles.setdefault(port, []).append([where, count])
            (self.state_dir / "power_cycles.json").write_text(json.dumps(cycles, indent=1))

    def acquire(self, preferred: int, timeout: float = 600.0) -> HilBoard:
        """Hold a board: the preferred one (a worker's own) if it is free, else the next free one."""
        if self.held is not None and self.held.port not in self.taken_out:
            return self.held
        deadline = time.monotonic() + timeout
        while True:
            candidates = [p for p in self.ports if p not in self.taken_out]
            if not candidates:
                raise NoBoardLeft("every board of the run was taken out", "see the report for why")
            ordered = candidates[preferred % len(candidates):] + candidates[:preferred % len(candidates)]
            for port in ordered:
                handle = open(self._lock_path(port), "w")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                self._lock_file = handle
                self.held = HilBoard(port, target=self.target)
                return self.held
            if time.monotonic() > deadline:
                raise NoBoardLeft(f"no board became free within {timeout:g} s", "give more ports or fewer workers")
            time.sleep(0.2)

    def acquire_port(self, port: str, timeout: float = 600.0) -> HilBoard:
        """Hold the board at ``port`` (matrix mode), letting go of another one first so that two
        workers never wait for each other's board."""
        if self.held is not None and self.held.port == port:
            return self.held
        self.release()
        handle = open(self._lock_path(port), "w")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise NoBoardLeft(f"{port} did not become free within {timeout:g} s",
                                      "give fewer workers than boards") from None
                time.sleep(0.1)
        self._lock_file = handle
        self.held = HilBoard(port, target=self.target)
        return self.held

    def release(self) -> None:
        if self.held is not None:
            self.held.close()
            self.held = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
