"""What the virtual ESP32-S3 supplies to the firmware's host port in place of silicon: TFLite-Micro
inference (the ``tflite-micro`` package's interpreter), Invoke() time and current from the board's
cost and current models, heap and stack figures, and modelled faults. All of it is simulated.
"""

from __future__ import annotations

import ctypes
import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from toolkit.boards import Board
from toolkit.errors import ModelError
from toolkit.model import load_model, model_work
from toolkit.model.arena import plan_head
from toolkit.model.reader import TFLiteModel, builtin_names
from toolkit.model.tail import plan_tail
from toolkit.model.tflm import ArenaTooSmall, HostInterpreter
from toolkit.virtual.supply import SupplyLine
from toolkit.virtual.op_fault import CorruptOp

OP_CODE_OTHER = 0xFF  # espml_port.h: a custom op, or one the schema lacks
TASK_STACK_BYTES = 8192
TASK_STACK_BASE_USE = 2600  # protocol task frames before TFLM's Invoke() call chain
INVOKE_STACK_USE = 900  # TFLM's Invoke() and one kernel's frames


@dataclass
class FaultPlan:
    """Faults to model: stop answering, or reset, after this many INVOKEs (None: never)."""

    hang_after_invokes: int | None = None
    reset_after_invokes: int | None = None
    reset_every: int | None = None  # reset during the N-th INVOKE after each boot (brown-outs)
    slow: float = 1.0  # Invoke() takes this many times the cost model's time (a slower build, say)
    corrupt_outputs: bool = False  # flip a bit of every output (a broken kernel, say)
    corrupt_op: int | None = None  # operator N's output wrong, the rest run on it (op_fault.py); None: no op
    draw: float = 1.0  # each op draws this many times the current model's current above idle (a hungrier board)


@dataclass
class LoadedModel:
    model: TFLiteModel
    interpreter: HostInterpreter
    arena_bytes: int  # what the 32-bit board would use: the host's recording less the pointer overhead
    cycles: int
    latency_us: int
    current_mean_ma: float
    current_peak_ma: float
    op_times: list[tuple[int, int]]  # (builtin code, Invoke() time in us) per op, in order
    op_steps: tuple[list[float], list[float]] = ([], [])  # each op's time (us, unrounded) and current (mA)
    inputs: list[ctypes.Array] = field(default_factory=list)
    outputs: list[ctypes.Array] = field(default_factory=list)
    faulty: CorruptOp | None = None  # runs in place of ``interpreter`` when an op is made to fail


class LoadFailed(Exception):
    def __init__(self, code: str, why: str) -> None:
        super().__init__(why)
        self.code, self.why = code, why


class SimulatedChip:
    """The chip side of one boot of a virtual board."""

    def __init__(self, board: Board, esp_nn: bool = True, realtime: bool = True, faults: FaultPlan | None = None,
                 supply: SupplyLine | None = None) -> None:
        self.board = board
        self.supply = supply  # where each Invoke() window is drawn, for meters beside the board
        self.marker_high = False  # the firmware's marker GPIO (espml_port_t.marker), as the core drives it
        self.esp_nn = esp_nn
        self.realtime = realtime
        self.faults = faults or FaultPlan()
        self.loaded: LoadedModel | None = None
        self.invokes = 0
        self.hung = False  # stopped answering: a modelled fault
        self.answer_delay_s = 0.0
        self.reset_requested = False

    # --- inference ----------------------------------------------------------------------------
    def load(self, data: bytes) -> None:
        """Build the interpreter, or raise LoadFailed("MODEL_INVALID" | "ARENA_TOO_SMALL", why)."""
        self.loaded = None
        try:
            model = load_model(data)
        except ModelError as exc:
            raise LoadFailed("MODEL_INVALID", exc.message) from None
        # The host's TFLM has 8-byte pointers: give it the board's arena plus the extra its tail
        # needs over the 32-bit target, so "too small" means too small on the board.
        pointer_overhead = plan_tail(model, 8) - plan_tail(model, 4)
        try:
            interpreter = HostInterpreter(model.data, self.board.arena_bytes + pointer_overhead)
        except ArenaTooSmall:
            need = plan_head(model).size + plan_tail(model, 4)
            raise LoadFailed("ARENA_TOO_SMALL", f"model needs about {need} bytes of tensor arena, "
                                                f"the firmware has {self.board.arena_bytes}") from None
        except ModelError as exc:
            raise LoadFailed("MODEL_INVALID", exc.message) from None
        faulty = None
        if self.faults.corrupt_op is not None and self.faults.corrupt_op < len(model.ops):
            try:
                faulty = CorruptOp(model, self.faults.corrupt_op)
            except ModelError as exc:
                raise LoadFailed("MODEL_INVALID", f"corrupt_op cannot split this model: {exc.message}") from None
        estimates = [self._drawn(self.board.estimate(work, self.esp_nn)) for work in model_work(model)]
        cycles = sum(e.cycles for e in estimates)
        mean = sum(e.cycles * e.current_ma for e in estimates) / cycles if cycles else self.board.idle_current_ma
        peak = max((e.current_ma for e in estimates), default=self.board.idle_current_ma)
        cycles = round(cycles * self.faults.slow)
        codes = {name: code for code, name in builtin_names().items()}
        op_times = [(codes.get(e.kind, OP_CODE_OTHER), round(e.cycles * self.faults.slow / self.board.cpu_mhz))
                    for e in estimates]
        self.loaded = LoadedModel(
            model, interpreter, interpreter.arena.total - pointer_overhead, cycles, round(cycles / self.board.cpu_mhz),
            mean, peak, op_times, ([e.cycles * self.faults.slow / self.board.cpu_mhz for e in estimates],
                                   [e.current_ma for e in estimates]), [ctypes.create_string_buffer(t.nbytes) for t in model.inputs],
            [ctypes.create_string_buffer(t.nbytes) for t in model.outputs], faulty)

    def _drawn(self, estimate):
        """The estimate with its current above idle scaled by the ``draw`` fault."""
        if self.faults.draw == 1.0:
            return estimate
        idle = self.board.idle_current_ma
        return dataclasses.replace(estimate, current_ma=idle + (estimate.current_ma - idle) * self.faults.draw)

    def unload(self) -> None:
        self.loaded = None

    def tensor(self, output: bool, index: int) -> ctypes.Array | None:
        if self.loaded is None:
            return None
        tensors = self.loaded.outputs if output else self.loaded.inputs
        return tensors[index] if index < len(tensors) else None

    def set_marker(self, high: bool) -> None:
        self.marker_high = high

    def invoke(self) -> tuple[int, int] | None:
        """Run the model: (latency_us, cycles), or None when Invoke() fails."""
        loaded = self.loaded
        faults = self.faults
        if faults.hang_after_invokes is not None and self.invokes >= faults.hang_after_invokes:
            self.hung = True
        if faults.reset_after_invokes is not None and self.invokes >= faults.reset_after_invokes:
            faults.reset_after_invokes = None
            self.reset_requested = True
        if faults.reset_every and self.invokes + 1 >= faults.reset_every:
            self.reset_requested = True  # during the reset_every-th inference since boot
        if self.hung or self.reset_requested:
            return 0, 0  # nobody hears the answer
        started = time.monotonic()
        if self.supply is not None:
            self.supply.invoke(started, *loaded.op_steps, marked=self.marker_high)
        arrays = [np.frombuffer(buf.raw, dtype=t.numpy_dtype).reshape(t.shape)
                  for buf, t in zip(loaded.inputs, loaded.model.inputs)]
        try:
            if loaded.faulty is not None:
                results = loaded.faulty.run(arrays)
            else:
                results = loaded.interpreter.run(arrays, len(loaded.model.outputs))
        except RuntimeError:
            return None
        for buf, array in zip(loaded.outputs, results):
            ctypes.memmove(buf, array.tobytes(), len(buf))
            if self.faults.corrupt_outputs:
                buf[0] = bytes([buf.raw[0] ^ 0x01])
        self.invokes += 1
        if self.realtime:  # the answer leaves when the chip would have finished, without blocking the board
            self.answer_delay_s = max(0.0, loaded.latency_us / 1e6 - (time.monotonic() - started))
        return loaded.latency_us, loaded.cycles

    def op_times(self) -> list[tuple[int, int]]:
        """Per-op times of the last Invoke(), from the cost model (simulated, as every figure here)."""
        return self.loaded.op_times if self.loaded else []

    def take_answer_delay(self) -> float:
        """How long the next bytes the firmware sends wait for Invoke() to have finished."""
        delay, self.answer_delay_s = self.answer_delay_s, 0.0
        return delay

    # --- chip figures -------------------------------------------------------------------------
    def arena_used(self) -> int:
        return self.loaded.arena_bytes if self.loaded else 0

    def memory(self) -> tuple[int, int, int, int]:
        """Heap free, its minimum, PSRAM free and the protocol task's stack high-water mark."""
        heap = self.board.heap_after_boot_bytes
        stack_use = TASK_STACK_BASE_USE + (INVOKE_STACK_USE if self.invokes else 0)
        return heap, heap, self.board.psram_bytes, TASK_STACK_BYTES - stack_use

    def current(self) -> tuple[float, float, float]:
        """Mean and peak supply current over the last Invoke() and the bus voltage."""
        if self.loaded is None:
            idle = self.board.idle_current_ma
            return idle, idle, self.board.supply_volts
        return self.loaded.current_mean_ma, self.loaded.current_peak_ma, self.board.supply_volts
