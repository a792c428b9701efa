"""ESP32-S3 boards. Every constant says where it comes from.

Kernel costs are cycles per unit derived from ESP-NN's published kernel table for the ESP32-S3
at 240 MHz (esp-nn README, "Kernelwise performance for s8 versions": ticks for ANSI C and for
the optimised kernel on stated shapes), divided by the work those shapes do:
- CONV_2D 1x1, 64->64 ch, 10x10: 409,600 MACs; 4,663,012 / 428,675 ticks -> 11.4 / 1.05 per MAC.
- CONV_2D 1x1, 16->16 ch, 8x8: 16,384 MACs; 32,433 ticks optimised -> 1.98 per MAC.
- CONV_2D 3x3, 3->64 ch, 10x10: 110,592 MACs; 2,115,418 / 1,020,923 -> 19.1 / 9.2 per MAC
  (few input channels leave the vector unit idle).
- DEPTHWISE_CONV_2D 3x3, 16 ch, 18x18: 36,864 MACs; 1,190,062 / 203,278 -> 32.3 / 5.5 per MAC.
- FULLY_CONNECTED: 7.8x speedup (FACTS.md); ANSI C taken as the 1x1 conv figure, 11.4 per MAC.
- AVERAGE_POOL_2D 3x3, 16x16x16: 28,224 window elements; 541,462 / 160,580 -> 19.2 / 5.7.
- MAX_POOL_2D same shape: 485,714 / 76,747 -> 17.2 / 2.7.
- ADD 1615 elements: 320,397 / 87,119 -> 198 / 54 per element; MUL 125,958 / 44,239 -> 78 / 27.
- SOFTMAX: 1.4x speedup (FACTS.md) on an assumed 150 cycles per element for ANSI C.
Current (ESP32-S3 datasheet, 240 MHz, modem sleep, peripheral clocks on, as USB-serial needs):
idle 47.6 mA, one core busy 65.9 mA, one core with 128-bit data access 87.9 mA; flash access
adds about 10 mA (weights are read from the memory-mapped model partition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit.boards.base import Board, KernelCost, OpWork

ESP32S3_KERNEL_COSTS: dict[str, KernelCost] = {
    "CONV_2D": KernelCost("mac", 11.4, 1.05, True),
    "DEPTHWISE_CONV_2D": KernelCost("mac", 32.3, 5.5, True),
    "FULLY_CONNECTED": KernelCost("mac", 11.4, 11.4 / 7.8, True),
    "AVERAGE_POOL_2D": KernelCost("element", 19.2, 5.7, True),
    "MAX_POOL_2D": KernelCost("element", 17.2, 2.7, True),
    "ADD": KernelCost("element", 198.0, 54.0, True),
    "MUL": KernelCost("element", 78.0, 27.0, True),
    "SOFTMAX": KernelCost("element", 150.0, 150.0 / 1.4, False),
    "RESHAPE": KernelCost("element", 0.5, 0.5, False),
    "QUANTIZE": KernelCost("element", 12.0, 12.0, False),
    "DEQUANTIZE": KernelCost("element", 12.0, 12.0, False),
    "LOGISTIC": KernelCost("element", 60.0, 60.0, False),
    "TANH": KernelCost("element", 60.0, 60.0, False),
    "RELU": KernelCost("element", 4.0, 4.0, False),
    "RELU6": KernelCost("element", 4.0, 4.0, False),
    "CONCATENATION": KernelCost("element", 2.0, 2.0, False),
    "PAD": KernelCost("element", 2.0, 2.0, False),
    "TRANSPOSE": KernelCost("element", 6.0, 6.0, False),
    "MEAN": KernelCost("element", 20.0, 20.0, False),
}


@dataclass(frozen=True)
class Esp32S3Board(Board):
    name: str = "esp32s3"
    chip: str = "ESP32-S3"
    cpu_mhz: int = 240
    flash_bytes: int = 8 * 1024 * 1024
    sram_bytes: int = 512 * 1024
    psram_bytes: int = 0
    arena_bytes: int = 160 * 1024  # internal RAM, allocated once at boot by the firmware
    heap_after_boot_bytes: int = 96 * 1024
    supply_volts: float = 3.3
    op_overhead_cycles: int = 1200  # TFLM's per-op dispatch and quantisation parameter set-up
    flash_cycles_per_weight_byte: float = 0.75  # QPI 80 MHz through the 32 KB cache, mostly hits
    kernel_costs: dict[str, KernelCost] = field(default_factory=lambda: dict(ESP32S3_KERNEL_COSTS))
    idle_current_ma: float = 47.6
    busy_current_ma: float = 65.9
    simd_current_ma: float = 87.9
    flash_access_extra_ma: float = 10.0

    def cycles_per_unit(self, work: OpWork, cost: KernelCost, esp_nn: bool) -> float:
        if not esp_nn or work.kind != "CONV_2D":
            return super().cycles_per_unit(work, cost, esp_nn)
        # ESP-NN's fast convolution paths want input channels in multiples of 8.
        if work.input_channels % 8:
            return 9.2
        return 1.05 if work.input_channels >= 32 else 1.98


@dataclass(frozen=True)
class Esp32S3R8Board(Esp32S3Board):
    """ESP32-S3 with 8 MB octal PSRAM (N16R8 modules): the arena moves to PSRAM."""

    name: str = "esp32s3-r8"
    flash_bytes: int = 16 * 1024 * 1024
    psram_bytes: int = 8 * 1024 * 1024
    arena_bytes: int = 2 * 1024 * 1024
