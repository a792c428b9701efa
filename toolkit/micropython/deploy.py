"""Putting the agent and a model on a MicroPython board through its raw REPL, with mpremote's
transport used as a library; then starting the agent, after which ``Session`` talks to the board.

Every file goes to a temporary name, is hashed on the board (``hashlib.sha256``) and compared, and
only then renamed over the old one: a cut during the copy leaves the old file in use. The data
travels as raw bytes on the REPL's stdin (``micropython.kbd_intr(-1)`` while it does), in chunks
the board acknowledges, a window of them in flight.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import PortError, ToolkitError, UnfitModelError
from toolkit.micropython.bounded import ReplFlood, bounded
from toolkit.micropython.heap import MICROLITE_TYPES, heap_fit, unsupported_io
from toolkit.model.arena import plan_head
from toolkit.model.reader import TFLiteModel
from toolkit.model.tail import plan_tail
from toolkit.ports import register_url_handlers
from toolkit.protocol.messages import printable

AGENT_SOURCE = Path(__file__).resolve().parent / "board_src" / "espml_agent.py"
AGENT_FILE = "espml_agent.py"
MODEL_FILE = "espml_model.tflite"
CHUNK = 1024
WINDOW = 2  # chunks in flight: the board's USB line buffers them while it writes the last one
ACK = b"\x06"
AGENT_START_S = 60.0  # compiling the agent and loading the model, on a slow or busy board
ARENA_MARGIN = 2048
TFLM_BUILDS = ("tensorflow-micropython-examples' ESP32-S3 firmware (the microlite module), "
               "e.g. its MICROLITE_SPIRAM build for ESP32-S3 boards")
Progress = Callable[[int, int], None]
device_log = logging.getLogger("toolkit.device")  # what the board prints, as the session logs it

_PROBE = """
import gc, os, sys, hashlib
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = f.read(4096)
    while b:
        h.update(b)
        b = f.read(4096)
    f.close()
    return h.digest().hex()
try:
    import microlite
    _t = True
except ImportError:
    _t = False
_s = os.statvfs('')
try:
    _m = os.uname().machine
except AttributeError:
    _m = ''
gc.collect()
print(repr((sys.implementation.name, '.'.join(str(v) for v in sys.implementation.version[:3]), _t,
            _s[0] * _s[3], _h(%r), _h(%r), gc.mem_free(), _m)))
"""
PROBE_MAX_CHARS = 1024  # the probe prints one short line; anything longer is not our probe's answer
ANSWER_LIMIT = 64 * 1024  # bytes any of our raw-REPL exchanges may read (prompt, echo, output, errors)
COPY_MIN_RATE = 1000  # bytes per second a copy may not fall below (115200 baud carries about 11,000)
_PROBE_FIELDS = ((str,), (str,), (bool,), (int,), (str, type(None)), (str, type(None)), (int,), (str,))

_RECEIVE = """
import micropython, sys, hashlib
micropython.kbd_intr(-1)
try:
    _n = %d
    _f = open(%r, 'wb')
    _i = sys.stdin.buffer
    _o = sys.stdout.buffer
    while _n:
        _b = _i.read(min(_n, %d))
        if not _b:
            break
        _f.write(_b)
        _n -= len(_b)
        _o.write(%r)
    _f.close()
    _f = open(%r, 'rb')
    _h = hashlib.sha256()
    _b = _f.read(4096)
    while _b:
        _h.update(_b)
        _b = _f.read(4096)
    _f.close()
    print(_h.digest().hex())
finally:
    micropython.kbd_intr(3)
"""


class NotMicroPython(ToolkitError):
    exit_code = 3


class NoRoom(ToolkitError):
    """The board's filesystem has no room for the file; nothing was copied."""


@dataclass(frozen=True)
class BoardState:
    implementation: str
    version: str
    has_tflm: bool
    free_bytes: int
    model_sha256: str | None
    agent_sha256: str | None
    heap_free: int  # gc.mem_free() after a collection
    machine: str  # os.uname().machine ('' where the port has no os.uname)
    virtual: bool = False  # the board's firmware is espml's virtual one (its vboard module is running)


@dataclass(frozen=True)
class DeployResult:
    model_copied: bool
    agent_copied: bool
    model_seconds: float
    arena_bytes: int
    version: str


NO_PROFILE_NOTE = ("no per-op profile: MicroPython's microlite module times only the whole invoke() "
                   "(it has no MicroProfiler); flash the ESP-IDF firmware from device/ for per-op timing")


def arena_for(model: TFLiteModel) -> int:
    """The arena the agent asks microlite for: the planner's 32-bit figure plus a margin, whole KiB."""
    need = plan_head(model).size + plan_tail(model, 4) + ARENA_MARGIN
    return (need + 1023) // 1024 * 1024


@contextlib.contextmanager
def raw_repl(url: str, baudrate: int = 115200, timeout: float = 3.0) -> Iterator:
    """mpremote's SerialTransport in the raw REPL (a running agent gives way to its Ctrl-C)."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    register_url_handlers()
    try:
        transport = SerialTransport(url, baudrate=baudrate)
    except TransportError as exc:
        raise PortError(f"cannot open {url}: {exc}", "check the port URL and that the board is connected") from None
    transport.serial.timeout = 10.0  # no read waits for ever on a board that stopped
    _drain(transport.serial)
    try:
        with contextlib.redirect_stdout(io.StringIO()), bounded(transport, ANSWER_LIMIT, timeout + 1):
            transport.enter_raw_repl(soft_reset=False, timeout_overall=timeout)  # (mpremote prints what it read)
    except ReplFlood:
        transport.close()
        raise
    except TransportError:
        transport.close()
        raise NotMicroPython(f"no MicroPython REPL answered on {url}",
                             "flash MicroPython first (espml flash --target micropython --firmware 0x0=FIRMWARE.bin), "
                             "or drop --target micropython for a board running espml firmware") from None
    try:
        yield transport
    finally:
        transport.close()


def _drain(port, quiet: float = 0.2, limit: float = 3.0) -> None:
    """Read until the board has been quiet a while (after a reset it may still be talking)."""
    deadline = time.monotonic() + limit
    last = time.monotonic()
    while time.monotonic() - last < quiet and time.monotonic() < deadline:
        if port.in_waiting:
            port.read(port.in_waiting)
            last = time.monotonic()
        else:
            time.sleep(0.02)


def probe(transport) -> BoardState:
    """What the board runs, whether it has microlite, free space and the hashes of our files."""
    state = parse_probe(_exec(transport, _PROBE % (MODEL_FILE, AGENT_FILE)))
    if state.implementation != "micropython":
        raise NotMicroPython(f"the board runs {state.implementation}, not MicroPython", "flash MicroPython first")
    virtual = _exec(transport, "import sys\nprint('vboard' in sys.modules)").strip() == "True"
    return dataclasses.replace(state, virtual=virtual)


def parse_probe(text: str) -> BoardState:
    """The probe's one line, read as data: bounded, a tuple of the expected shape, or one line."""
    line = text.strip()
    if len(line) > PROBE_MAX_CHARS or "\n" in line:
        raise NotMicroPython(f"the board's answer to the probe is not one short line ({len(line):,} characters)",
                             "check that the port is a MicroPython board's REPL")
    try:
        values = ast.literal_eval(line)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        values = None
    if not isinstance(values, tuple) or len(values) != len(_PROBE_FIELDS) or not all(
            isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)
            for v, kinds in zip(values, _PROBE_FIELDS)):
        raise NotMicroPython(f"the board's answer to the probe is not what MicroPython prints: {line[:80]!r}",
                             "check that the port is a MicroPython board's REPL")
    return BoardState(*(printable(v) if isinstance(v, str) else v for v in values))  # board text is data


def _exec(transport, code: str, timeout: float = 10.0) -> str:
    from mpremote.transport import TransportError

    try:
        with bounded(transport, ANSWER_LIMIT, timeout):
            out, err = transport.exec_raw(code, timeout=timeout)
    except TransportError as exc:
        raise ToolkitError(f"the board stopped answering its raw REPL: {exc}", "reset the board and try again") from None
    if err:
        raise ToolkitError(f"the board failed: {err.decode(errors='replace').strip().splitlines()[-1]}",
                           "check the board's filesystem and firmware")
    return out.decode(errors="replace")


def put_file(transport, name: str, data: bytes, progress: Progress | None = None) -> None:
    """Copy ``data`` to ``name`` on the board: temporary name, hash on the board, then rename."""
    temporary = name + ".part"
    from mpremote.transport import TransportError

    with bounded(transport, ANSWER_LIMIT, 10.0):
        transport.exec_raw_no_follow(_RECEIVE % (len(data), temporary, CHUNK, ACK, temporary))
    try:  # one acknowledgement a chunk, then the hash line
        with bounded(transport, len(data) // CHUNK + 1 + ANSWER_LIMIT, 30 + len(data) / COPY_MIN_RATE):
            _send_chunks(transport, name, data, progress)
            out, err = transport.follow(timeout=30)
    except TransportError:
        raise ToolkitError(f"the board stopped answering while {name} was copied",
                           "the old file stays in use; reset the board and try again") from None
    digest = out.decode(errors="replace").strip()
    if err or digest != hashlib.sha256(data).hexdigest():
        _exec(transport, f"import os\nos.remove({temporary!r})")
        raise ToolkitError(f"{name} arrived corrupted on the board (SHA-256 differs)",
                           "the old file stays in use; check the cable and try again")
    _exec(transport, f"import os\nos.rename({temporary!r}, {name!r})")


def _send_chunks(transport, name: str, data: bytes, progress: Progress | None) -> None:
    """Chunks in a window; the board acknowledges each once it is written."""
    port = transport.serial
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    sent = acked = 0
    while acked < len(chunks):
        while sent < len(chunks) and sent - acked < WINDOW:
            port.write(chunks[sent])
            sent += 1
        reply = port.read(1)
        if reply != ACK:
            out, err = transport.follow(timeout=2)
            why = (err or reply + out).decode(errors="replace").strip().splitlines()
            raise ToolkitError(f"copying {name} failed: {why[-1] if why else 'the board stopped answering'}",
                               "the old file stays in use; check the board's filesystem and try again")
        acked += 1
        if progress:
            progress(min(acked * CHUNK, len(data)), len(data))


def deploy(url: str, model: TFLiteModel, baudrate: int = 115200, progress: Progress | None = None,
           start: bool = True) -> DeployResult:
    """Install the agent and ``model`` (each only if the board's copy differs), then start the agent."""
    agent = AGENT_SOURCE.read_bytes()
    check_model(model)
    with raw_repl(url, baudrate) as transport:
        state = probe(transport)
        if not state.has_tflm:
            raise ToolkitError(f"the board's MicroPython {state.version} has no TFLM module (microlite)",
                               f"flash a build that has one: {TFLM_BUILDS}")
        copy_model = state.model_sha256 != model.sha256
        copy_agent = state.agent_sha256 != hashlib.sha256(agent).hexdigest()
        need = (len(model.data) if copy_model else 0) + (len(agent) if copy_agent else 0)
        if need > state.free_bytes:
            raise NoRoom(f"the model needs {need:,} bytes on the board's filesystem, it has {state.free_bytes:,} free "
                               "(the old model stays until the new one is in place)",
                               "free space on the board, or optimise the model: espml optimize")
        arena = arena_for(model)
        fit = heap_fit(model, state.heap_free, arena)
        if not fit.fits:
            raise UnfitModelError(f"the model ({fit.model_bytes:,} B) and its tensor area ({fit.tensor_area_bytes:,} B) "
                               f"need {fit.needed_bytes:,} B of the board's GC heap, it has {fit.heap_bytes:,} B free",
                               "use a board with PSRAM (a MICROLITE_S3_SPIRAM build), or optimise the model: "
                               "espml optimize")
        if copy_agent:
            put_file(transport, AGENT_FILE, agent)
        started = time.monotonic()
        if copy_model:
            put_file(transport, MODEL_FILE, model.data, progress)
        seconds = time.monotonic() - started
        if start:
            start_agent(transport, arena)
    return DeployResult(copy_model, copy_agent, seconds, arena, state.version)


class FilesystemLoader:
    """How ``espml bench --locate`` puts probe models on a MicroPython board: onto its filesystem
    through the raw REPL (``deploy``), the session's port lent for it; the agent restarts with the
    model and an arena sized for it."""

    def __init__(self, url: str, baudrate: int = 115200) -> None:
        self.url, self.baudrate = url, baudrate

    def install(self, session, model: TFLiteModel, progress=None) -> None:
        from toolkit.harness.locate import ProbeDoesNotFit

        with session.released():
            try:
                deploy(self.url, model, self.baudrate, (lambda d, t: progress("upload", d, t)) if progress else None)
            except NoRoom as exc:
                raise ProbeDoesNotFit(f"the probe model does not fit: {exc.message}", exc.hint) from exc
        info = session.hello()
        if info.model_sha256.hex() != model.sha256:
            raise ToolkitError("the model is on the board's filesystem but the agent does not run it",
                               "check the board's log output (espml -v): its heap may not hold the arena")

    def why_unfit(self, session, model: TFLiteModel) -> str | None:
        """The arena comes out of MicroPython's heap: what the running model's arena and the free heap hold."""
        info = session.info_cache or session.hello()
        room = info.arena_size + info.heap_free_internal
        need = arena_for(model)
        return f"needs a {need:,} B arena, the board's heap has about {room:,} B" if need > room else None


def check_model(model: TFLiteModel) -> None:
    """A model microlite cannot feed or read is refused before anything is copied."""
    bad = unsupported_io(model)
    if bad:
        raise UnfitModelError(f"{', '.join(bad)}: the MicroPython microlite module reads and writes "
                              f"{', '.join(MICROLITE_TYPES)} tensors only",
                              "convert the model with int8 inputs and outputs (espml optimize does), "
                              "or use espml firmware")


def start_agent(transport, arena: int, board: str = "esp32s3", timeout: float = AGENT_START_S) -> None:
    """Run the agent from the raw REPL and return once it serves (its first frame has arrived: a
    busy or slow board may take seconds to compile it and load the model); the line is the
    protocol's until the agent leaves."""
    with bounded(transport, ANSWER_LIMIT, 10.0):
        transport.exec_raw_no_follow(f"import sys\nsys.modules.pop('espml_agent', None)\nimport espml_agent\n"
                                     f"espml_agent.main({MODEL_FILE!r}, {arena}, {board!r})")
    _await_first_frame(transport.serial, timeout)


def _await_first_frame(port, timeout: float) -> None:
    """Read up to the end of the agent's first frame. Text before it (microlite prints) is logged;
    the raw REPL's end of output (0x04) before any frame means the agent stopped: its last line says why."""
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += port.read(max(1, port.in_waiting))
        if len(seen) > ANSWER_LIMIT:
            raise ToolkitError(f"the board sent over {ANSWER_LIMIT:,} bytes before the agent's first frame",
                               "reset the board and try again")
        start = seen.find(b"\x00")
        ended = seen.find(b"\x04", 0, start if start >= 0 else len(seen))
        if ended >= 0:
            if b"\x04" not in seen[ended + 1:]:
                seen += port.read_until(b"\x04", 4096)
            why = seen[ended + 1:].split(b"\x04")[0].decode(errors="replace").strip().splitlines()
            raise ToolkitError(f"the agent did not start on the board: {printable(why[-1]) if why else 'it stopped'}",
                               "check the board's filesystem and firmware (espml info --target micropython)")
        if start >= 0 and seen.find(b"\x00", start + 1) > start + 1:
            for line in seen[:start].decode(errors="replace").splitlines():
                if line.strip():
                    device_log.info("%s", printable(line.strip()))
            return
    raise ToolkitError(f"the agent did not start within {timeout:g} s", "reset the board and try again")


def start(url: str, model: TFLiteModel, baudrate: int = 115200) -> None:
    """Start the agent on a board that already holds it and the model."""
    with raw_repl(url, baudrate) as transport:
        start_agent(transport, arena_for(model))
