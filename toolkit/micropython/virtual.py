"""The virtual MicroPython board: a real MicroPython interpreter (WASI, under wasmtime) behind a
modelled serial line, with a flash filesystem (a host folder), MicroPython's REPL (raw REPL and
raw-paste included, so mpremote's transport talks to it unmodified) and a stand-in for the
``microlite`` TFLM module: inference by the host's tflite-micro (``SimulatedChip``), Invoke() time
and current from the board's cost model, and each ``tensor.setValue`` loop step of an input callback
the board's ``micropython_set_value_cycles``. Every figure it gives is simulated.

URL: ``vdev://esp32s3?firmware=micropython`` with options ``baud=N``, ``latency_us=N``,
``fs_bytes=N`` (filesystem capacity), ``fs_dir=PATH`` (keep the filesystem in that folder),
``tflm=0`` (a MicroPython build without microlite), ``corrupt_op=N`` (microlite's kernel for operator N
computes a wrong output, as on the espml virtual board), ``psram=BYTES`` (its PSRAM, which becomes
the GC heap: default 2 MiB, the MICROLITE_S3_SPIRAM build's; 0 for MICROLITE_S3, whose heap is
half the internal RAM; see toolkit.micropython.heap) and ``id=NAME`` (one board shared by every
port opened with that name in this process, as a physical board is). A URL without ``id`` names
one board too, shared by every port opened with that same URL: a port that closes leaves the board
running (and its agent serving), as closing a USB port does to a physical board. Opening a port
waits until the board has booted to its REPL (the WASI MicroPython takes seconds to start on a
busy machine), as a native-USB board's port appears only once it has booted.
"""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from serial.serialutil import SerialException

from toolkit.boards import get_board
from toolkit.model.reader import TENSOR_TYPES, TensorInfo
from toolkit.micropython.heap import DEFAULT_PSRAM_BYTES, gc_heap_bytes
from toolkit.micropython.wasm import Guest, GuestConfig, Mount
from toolkit.virtual.chip import FaultPlan, LoadFailed, SimulatedChip
from toolkit.virtual.link import PacedPipe

VBOARD_SRC = Path(__file__).resolve().parent / "vboard_src"
# MICROPY_HW_BOARD_NAME of MicroPython's ESP32_GENERIC_S3 board (its SPIRAM_OCT variant for the R8 modules)
BOARD_NAMES = {"esp32s3": "Generic ESP32S3 module", "esp32s3-r8": "Generic ESP32S3 module with Octal-SPIRAM"}
DEFAULT_FS_BYTES = 0x5F0000  # the vfs partition of MicroPython's ESP32_GENERIC_S3 8 MiB layout
BOOT_TIMEOUT_S = 120.0  # how long opening a port waits for the interpreter to reach its REPL
_SHARED: dict[str, VirtualMicroPythonBoard] = {}
_SHARED_LOCK = threading.Lock()


@dataclass(frozen=True)
class MicroPythonOptions:
    board: str = "esp32s3"
    baud: int | None = None  # None: native USB, not paced
    latency_us: int = 0
    fs_bytes: int = DEFAULT_FS_BYTES
    fs_dir: str | None = None  # None: a temporary folder that lives as long as the board object
    tflm: bool = True  # the firmware has the microlite module
    corrupt_op: int | None = None  # operator N's output wrong (toolkit.virtual.op_fault)
    psram_bytes: int = DEFAULT_PSRAM_BYTES  # 0: a build without PSRAM (its GC heap is internal RAM)


class TflmStandIn:
    """The host side of the stand-in ``microlite``: one SimulatedChip per interpreter built."""

    def __init__(self, board_name: str, corrupt_op: int | None = None) -> None:
        self.board = get_board(board_name)
        self.corrupt_op = corrupt_op
        self.chip: SimulatedChip | None = None

    def load(self, model_b64: str, arena_bytes: int) -> dict:
        """Build the interpreter in the tensor area microlite allocated (the agent's arena + 16)."""
        chip = SimulatedChip(dataclasses.replace(self.board, arena_bytes=int(arena_bytes)), realtime=False,
                             faults=FaultPlan(corrupt_op=self.corrupt_op))
        try:
            chip.load(base64.b64decode(model_b64))
        except LoadFailed as exc:
            raise RuntimeError(f"{exc.code}: {exc.why}") from None
        self.chip = chip
        model = chip.loaded.model
        return {"inputs": [[t.nbytes, _type_code(t)] for t in model.inputs],
                "outputs": [[t.nbytes, _type_code(t)] for t in model.outputs],
                "set_value_us": self.board.micropython_set_value_cycles / self.board.cpu_mhz}

    def invoke(self, inputs_b64: list[str]) -> dict | None:
        """Outputs and Invoke() time; None when Invoke() fails (microlite's invoke() then returns 1)."""
        chip = self.chip
        if chip is None or chip.loaded is None:
            raise RuntimeError("no interpreter")
        for buf, data in zip(chip.loaded.inputs, inputs_b64):
            ctypes.memmove(buf, base64.b64decode(data), len(buf))
        result = chip.invoke()
        if result is None:
            return None
        return {"latency_us": result[0],
                "outputs": [base64.b64encode(buf.raw).decode() for buf in chip.loaded.outputs]}


def _type_code(tensor: TensorInfo) -> int:
    return next(code for code, (name, _) in TENSOR_TYPES.items() if name == tensor.dtype)


class VirtualMicroPythonBoard:
    """Power it on, then bytes written to ``to_device`` reach MicroPython's stdin; its stdout
    arrives on ``to_host``. ``set_lines`` models the auto-reset circuit (EN on RTS without DTR)."""

    def __init__(self, options: MicroPythonOptions | None = None,
                 pipes: tuple[PacedPipe, PacedPipe] | None = None) -> None:
        """``pipes``: the link of a virtual ESP32-S3 flashed with a MicroPython image (to_device,
        to_host); by default the board has its own."""
        self.options = options or MicroPythonOptions()
        self._tmp = None if self.options.fs_dir else tempfile.TemporaryDirectory(prefix="espml-mpy-fs-")
        self.fs_dir = Path(self.options.fs_dir or self._tmp.name)
        self.fs_dir.mkdir(parents=True, exist_ok=True)
        link = (self.options.baud, self.options.latency_us / 1e6)
        self.to_device, self.to_host = pipes or (PacedPipe(*link), PacedPipe(*link))
        self.tflm = TflmStandIn(self.options.board, self.options.corrupt_op)
        self.guest: Guest | None = None
        self.boots = 0
        self._in_reset = False
        self._lock = threading.RLock()
        self._feeder: threading.Thread | None = None
        self._stop = threading.Event()
        self.booted = threading.Event()  # set by the guest once its REPL is up (vboard.run)
        self.crashes: list[str] = []  # why the modelled chip panicked, each time

    @property
    def running(self) -> bool:
        return self.guest is not None and self.guest.running

    def power_on(self) -> None:
        with self._lock:
            if self.guest is not None:
                return
            opts = self.options
            heap = gc_heap_bytes(opts.psram_bytes)
            mcu = self.tflm.board.chip.replace("-", "")  # MICROPY_HW_MCU_NAME: "ESP32S3"
            code = ("import sys\nsys.path.insert(0, '/firmware')\nimport vboard\n"
                    f"vboard.run('/flash', {opts.fs_bytes}, {opts.tflm}, {mcu!r}, {heap}, "
                    f"{BOARD_NAMES.get(opts.board, mcu + ' module')!r})\n")
            functions = {"tflm_load": self.tflm.load, "tflm_invoke": self.tflm.invoke, "booted": self.booted.set,
                         "crash": self._crash}
            config = GuestConfig(code, [Mount(VBOARD_SRC, "/firmware", writable=False), Mount(self.fs_dir, "/flash")],
                                 functions)
            self.to_device.clear()
            self.booted.clear()
            self.guest = Guest(config, self.to_host.write)
            self.guest.start()
            self.boots += 1
            self._stop.clear()
            self._feeder = threading.Thread(target=self._feed, args=(self.guest,), name="vdev-micropython", daemon=True)
            self._feeder.start()

    def power_off(self) -> None:
        """Power is cut: the interpreter stops wherever it was; the filesystem keeps what was written."""
        with self._lock:
            self._stop.set()
            if self._feeder is not None:
                self._feeder.join(timeout=2)
            if self.guest is not None:
                self.guest.stop()
            self.guest = self._feeder = None

    def _crash(self, why: str) -> None:
        """The chip panics (a null pointer in the real microlite) and resets, as an ESP32-S3 does."""
        self.to_host.write(b"Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\r\n"
                           b"Rebooting...\r\nESP-ROM:esp32s3-20210327\r\nrst:0xc (RTC_SW_CPU_RST),boot:0x8\r\n")
        self.crashes.append(why)
        threading.Thread(target=self.power_cycle, name="vdev-micropython-reset", daemon=True).start()

    def wait_booted(self, timeout: float = BOOT_TIMEOUT_S) -> None:
        """Return once the interpreter has reached its REPL; SerialException if it does not."""
        guest = self.guest
        deadline = time.monotonic() + timeout
        while not self.booted.wait(0.05):
            if guest is None or not guest.running or time.monotonic() > deadline:
                why = (guest.error if guest is not None else None) or f"no REPL within {timeout:g} s"
                raise SerialException(f"the virtual MicroPython board did not boot: {why}")

    def power_cycle(self) -> None:
        self.power_off()
        self.power_on()

    def set_lines(self, dtr: bool, rts: bool) -> None:
        """EN is low only for RTS without DTR; the chip boots when it rises again."""
        in_reset = rts and not dtr
        if in_reset and not self._in_reset:
            self.power_off()
        elif self._in_reset and not in_reset:
            self.power_on()
        self._in_reset = in_reset

    def _feed(self, guest: Guest) -> None:
        while not self._stop.is_set():
            data = self.to_device.read_available(0.05)
            if data:
                try:
                    guest.write(data)
                except OSError:
                    return


def is_micropython_url(url: str) -> bool:
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    return query.get("firmware") == "micropython"


def parse_url(url: str) -> tuple[MicroPythonOptions, str | None]:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.pop("firmware", None)
    shared_id = query.pop("id", None)
    kwargs: dict = {"board": parts.netloc or "esp32s3"}
    try:
        for key in ("baud", "latency_us", "fs_bytes", "corrupt_op"):
            if key in query:
                kwargs[key] = int(query.pop(key))
        if "psram" in query:
            kwargs["psram_bytes"] = int(query.pop("psram"))
    except ValueError:
        raise SerialException(f"vdev option values must be numbers: {parts.query}") from None
    if "fs_dir" in query:
        kwargs["fs_dir"] = query.pop("fs_dir")
    if "tflm" in query:
        kwargs["tflm"] = query.pop("tflm") not in ("0", "false", "no")
    if query:
        raise SerialException(f"unknown vdev option(s) for a MicroPython board: {', '.join(sorted(query))}")
    return MicroPythonOptions(**kwargs), shared_id


def board_for_url(url: str) -> VirtualMicroPythonBoard:
    """The board a ``vdev://...?firmware=micropython`` URL names (its ``id``, else the URL itself),
    powered on and booted to its REPL."""
    options, shared_id = parse_url(url)
    key = f"id:{shared_id}" if shared_id is not None else f"url:{url}"
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = VirtualMicroPythonBoard(options)
        board = _SHARED[key]
    board.power_on()
    board.wait_booted()
    return board
