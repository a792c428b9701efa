"""The espml firmware's own code running on the virtual board: device/core through the host port.

Python supplies what the chip would (``SimulatedChip``: inference, timing, current, memory,
faults) and the flash; every protocol answer, slot choice and upload step is the C firmware's.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass

from toolkit.virtual import host_port
from toolkit.virtual.chip import LoadFailed, SimulatedChip
from toolkit.virtual.flash import FlashMemory
from toolkit.virtual import port_types as pt
from toolkit.virtual.usb_link import WRITE_TIMEOUT_MS, UsbTx

log = logging.getLogger(__name__)

_LOAD_ERRORS = {"MODEL_INVALID": pt.ERR_MODEL_INVALID, "ARENA_TOO_SMALL": pt.ERR_ARENA_TOO_SMALL}


class FirmwareFault(Exception):
    """The firmware did something that would crash a real chip."""


@dataclass(frozen=True)
class FirmwareImage:
    """What the app image on flash says about itself (esp_app_desc_t)."""

    name: str
    version: str


class HostFirmware:
    """One boot of the firmware: construct, ``boot()``, then ``receive()`` bytes from the host."""

    def __init__(self, chip: SimulatedChip, flash: FlashMemory, slot_offsets: tuple[int, int], slot_size: int,
                 image: FirmwareImage, usb: UsbTx) -> None:
        self._lib = host_port.library()
        self.chip = chip
        self.flash = flash
        self.image = image
        self.usb = usb
        self._errors: list[BaseException] = []
        self._model_address: int | None = None
        board = chip.board
        self._strings = [board.name.encode(), image.name.encode(), image.version.encode()]  # kept alive for C
        self._callbacks = {
            "write": pt.WriteFn(lambda ctx, data, length: None),  # replaced by the link below
            "model_load": pt.LoadFn(self._guard(self._load, pt.ERR_MODEL_INVALID)),
            "model_unload": pt.VoidFn(self._guard(self._unload, None)),
            "tensor": pt.TensorFn(self._guard(self._tensor, None)),
            "invoke": pt.InvokeFn(self._guard(self._invoke, pt.ERR_INVOKE_FAILED)),
            "marker": pt.MarkerFn(self._guard(lambda ctx, high: chip.set_marker(bool(high)), None)),
            "profile": pt.ProfileFn(self._guard(self._profile, pt.ERR_INVOKE_FAILED)),
            "arena_used": pt.U32Fn(self._guard(lambda ctx: chip.arena_used(), 0)),
            "memory": pt.MemoryFn(self._guard(self._memory, None)),
            "current_start": pt.VoidFn(lambda ctx: None),  # the current model needs no window
            "current_end": pt.CurrentEndFn(self._guard(self._current_end, 0)),
            "restart": pt.VoidFn(self._guard(self._restart, None)),
        }
        self.port = pt.Port(
            board=self._strings[0], cpu_mhz=board.cpu_mhz, simulated=1, firmware_name=self._strings[1],
            firmware_version=self._strings[2], slot_size=slot_size, arena_size=board.arena_bytes,
            has_current_sensor=1, **self._callbacks)
        offsets = (ctypes.c_uint32 * 2)(*slot_offsets)
        self._host = self._lib.espml_host_device_new(ctypes.byref(self.port), flash.handle, offsets)
        if not self._host:
            raise ValueError("model slots lie outside the flash")
        self._core = self._lib.espml_host_device_core(self._host)
        self._link = (pt.SendFn(self._guard(self._send, 1)), pt.IntFn(self._guard(lambda ctx: int(usb.attached), 1)),
                      pt.VoidFn(self._guard(lambda ctx: usb.flush(), None)))
        self._lib.espml_host_device_set_link(self._host, *self._link, WRITE_TIMEOUT_MS)

    def close(self) -> None:
        if self._host:
            self._lib.espml_host_device_free(self._host)
            self._host = self._core = None

    # --- driving it ---------------------------------------------------------------------------
    def boot(self) -> None:
        self._lib.espml_device_boot(self._core)
        self._raise_callback_errors()

    def receive(self, data: bytes) -> None:
        if self.chip.hung:
            return
        self._lib.espml_host_device_host_spoke(self._host)
        self._lib.espml_device_feed(self._core, data, len(data))
        self._raise_callback_errors()

    def log(self, level: int, text: str) -> None:
        """A log line from the chip's side (a driver, ESP-IDF): the firmware sends it as a LOG frame."""
        self._lib.espml_host_device_log(self._host, level, text.encode())

    def debug_write(self, text: str) -> None:
        """Raw text as TFLite-Micro's DebugLog writes it; the firmware sends it as LOG frames."""
        raw = text.encode()
        self._lib.espml_device_debug_write(self._core, raw, len(raw))

    def poll_link(self) -> None:
        """The reader's periodic look at the line (a host attached or left)."""
        self._lib.espml_host_device_poll(self._host)

    @property
    def link_counts(self) -> dict[str, int]:
        counts = (ctypes.c_uint32 * 3)()
        self._lib.espml_host_device_link_counts(self._host, counts)
        return dict(zip(("sent", "dropped", "flushes"), counts))

    @property
    def reset_requested(self) -> bool:
        return self.chip.reset_requested

    # --- callbacks from the C firmware --------------------------------------------------------
    def _guard(self, function: Callable, failed):
        """A Python error must not unwind through C: keep it, return `failed`, raise it afterwards."""
        def call(*args):
            try:
                return function(*args)
            except Exception as exc:  # noqa: BLE001 - re-raised by _raise_callback_errors
                self._errors.append(exc)
                return failed
        return call

    def _raise_callback_errors(self) -> None:
        if self._errors:
            first, self._errors = self._errors[0], []
            raise first

    def _send(self, ctx, data, length: int, timeout_ms: int) -> int:
        if self.chip.hung or self.chip.reset_requested or not self.flash.powered:
            return 1  # a chip without power, hung, or resetting sends nothing
        return int(self.usb.send(ctypes.string_at(data, length), self.chip.take_answer_delay(), timeout_ms / 1000))

    def _check_mapped(self) -> None:
        """The model lives in flash: reading it through a released mapping faults on a chip."""
        if self._model_address and not self._lib.espml_host_device_mapped(self._host, self._model_address):
            raise FirmwareFault("the firmware used a model whose flash mapping it had released")

    def _load(self, ctx, model, size: int, why, why_size: int) -> int:
        self._model_address = ctypes.cast(model, ctypes.c_void_p).value
        self._check_mapped()
        try:
            self.chip.load(ctypes.string_at(model, size))
        except LoadFailed as failure:
            text = failure.why.encode()[:why_size - 1] + b"\0"
            ctypes.memmove(why, text, len(text))
            return _LOAD_ERRORS[failure.code]
        return pt.OK

    def _unload(self, ctx) -> None:
        self.chip.unload()
        self._model_address = None

    def _tensor(self, ctx, output: int, index: int, size) -> int | None:
        buffer = self.chip.tensor(bool(output), index)
        if buffer is None:
            return None
        size[0] = len(buffer)
        return ctypes.addressof(buffer)

    def _invoke(self, ctx, latency_us, cycles) -> int:
        self._check_mapped()
        result = self.chip.invoke()
        if result is None:
            return pt.ERR_INVOKE_FAILED
        latency_us[0], cycles[0] = result
        return pt.OK

    def _profile(self, ctx, ops, max_ops: int, op_count, latency_us) -> int:
        result = self._invoke(ctx, latency_us, (ctypes.c_uint64 * 1)())
        if result != pt.OK:
            return result
        times = self.chip.op_times()
        op_count[0] = len(times)
        for i, (code, time_us) in enumerate(times[:max_ops]):
            ops[i] = pt.OpTime(code, time_us)
        return pt.OK

    def _memory(self, ctx, memory) -> None:
        figures = self.chip.memory()
        memory[0] = pt.Memory(*figures)

    def _current_end(self, ctx, current) -> int:
        current[0] = pt.Current(*self.chip.current())
        return 1

    def _restart(self, ctx) -> None:
        self.chip.reset_requested = True
