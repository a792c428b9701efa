"""The GC heap of an ESP32-S3 board running tensorflow-micropython-examples' MicroPython, and
whether a model plus its tensor area fit in it (modelled figures, for inspect and the virtual board).

Where the heap comes from (MicroPython's ports/esp32/main.c of the releases those builds pin, and
their board definitions): the MICROLITE_S3_SPIRAM builds enable SPIRAM with
``CONFIG_SPIRAM_USE_CAPS_ALLOC`` (ports/esp32/boards/sdkconfig.spiram_sx), so the whole PSRAM
(``esp_spiram_get_size()``) becomes the GC heap; without PSRAM (MICROLITE_S3) the heap is
``MIN(heap_caps_get_largest_free_block(MALLOC_CAP_8BIT), heap_caps_get_total_size(MALLOC_CAP_8BIT) / 2)``
of internal RAM. The internal 8-bit heap ESP-IDF leaves at that point is not published for these
builds: INTERNAL_HEAP_BYTES is an assumption (512 KiB SRAM less IRAM code, caches, ROM data, the
IDF and BLE stacks), so the no-PSRAM figure is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.boards import Board
from toolkit.model.reader import TFLiteModel

DEFAULT_PSRAM_BYTES = 2 * 1024 * 1024  # the quad-SPIRAM (N8R2) modules MICROLITE_S3_SPIRAM is built for
INTERNAL_HEAP_BYTES = 336 * 1024  # assumed heap_caps_get_total_size(MALLOC_CAP_8BIT) when mp_task starts
ALIGNMENT_SLACK = 16  # microlite allocates tensor_area_len + 16
MICROLITE_TYPES = ("float32", "int8", "uint8")  # what tensor.getValue/setValue handle


def gc_heap_bytes(psram_bytes: int) -> int:
    """The MicroPython GC heap of an ESP32-S3 with this much PSRAM (modelled)."""
    return psram_bytes if psram_bytes else INTERNAL_HEAP_BYTES // 2


def board_psram(board: Board) -> int:
    """The PSRAM a MicroPython build for this board kind uses: its own, else the SPIRAM build's."""
    return board.psram_bytes or DEFAULT_PSRAM_BYTES


@dataclass(frozen=True)
class HeapFit:
    heap_bytes: int
    model_bytes: int  # the agent reads the model file into one bytearray
    tensor_area_bytes: int  # arena + 16, allocated by microlite
    io_bytes: int  # the agent's copies of the inputs and outputs

    @property
    def needed_bytes(self) -> int:
        return self.model_bytes + self.tensor_area_bytes + self.io_bytes

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.heap_bytes

    def to_json(self) -> dict:
        return {"heap_bytes": self.heap_bytes, "model_bytes": self.model_bytes,
                "tensor_area_bytes": self.tensor_area_bytes, "io_bytes": self.io_bytes,
                "needed_bytes": self.needed_bytes, "fits": self.fits, "simulated": True}


def heap_fit(model: TFLiteModel, heap_bytes: int, arena_bytes: int) -> HeapFit:
    io_bytes = sum(t.nbytes for t in (*model.inputs, *model.outputs))
    return HeapFit(heap_bytes, len(model.data), arena_bytes + ALIGNMENT_SLACK, io_bytes)


def unsupported_io(model: TFLiteModel) -> list[str]:
    """The model's inputs and outputs microlite cannot read or write, as 'input 0 is int16'."""
    return [f"{kind} {i} is {t.dtype}" for kind, tensors in (("input", model.inputs), ("output", model.outputs))
            for i, t in enumerate(tensors) if t.dtype not in MICROLITE_TYPES]


@dataclass(frozen=True)
class MicroPythonCheck:
    """Will the agent run a model on a MicroPython board: microlite's tensor types, then the GC heap."""

    unsupported: list[str]
    with_psram: HeapFit
    without_psram: HeapFit

    @property
    def fits(self) -> bool:
        return not self.unsupported and self.with_psram.fits

    def lines(self) -> list[str]:
        if self.unsupported:
            return [f"refused on MicroPython: {', '.join(self.unsupported)}; microlite reads and writes "
                    f"{', '.join(MICROLITE_TYPES)} tensors only"]
        return [f"MicroPython GC heap ({label}, modelled): model {fit.model_bytes:,} B + tensor area "
                f"{fit.tensor_area_bytes:,} B + inputs/outputs {fit.io_bytes:,} B = {fit.needed_bytes:,} B of "
                f"{fit.heap_bytes:,} B: {'fits' if fit.fits else 'does not fit'}"
                for label, fit in (("with PSRAM", self.with_psram),
                                   ("without PSRAM, internal heap assumed", self.without_psram))]

    def to_json(self) -> dict:
        return {"fits": self.fits, "unsupported_io": self.unsupported, "heap_with_psram": self.with_psram.to_json(),
                "heap_without_psram": self.without_psram.to_json()}


def check_micropython(model: TFLiteModel, board: Board, arena_bytes: int) -> MicroPythonCheck:
    return MicroPythonCheck(unsupported_io(model), heap_fit(model, gc_heap_bytes(board_psram(board)), arena_bytes),
                            heap_fit(model, gc_heap_bytes(0), arena_bytes))
