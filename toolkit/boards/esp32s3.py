"""ESP32-S3 boards. Every constant says where it comes from.

ESP-NN kernel costs are cycles per unit derived from ESP-NN's published kernel table for the
ESP32-S3 at 240 MHz (esp-nn README, "Kernelwise performance for s8 versions": ticks for the
optimised kernel on stated shapes; figures of the README these constants were first taken from,
the current one lists faster kernels, e.g. 331,008 ticks for the 64-channel 1x1 convolution),
divided by the work those shapes do:
- CONV_2D 1x1, 64->64 ch, 10x10: 409,600 MACs; 428,675 ticks -> 1.05 per MAC.
- CONV_2D 1x1, 16->16 ch, 8x8: 16,384 MACs; 32,433 ticks -> 1.98 per MAC.
- CONV_2D 3x3, 3->64 ch, 10x10: 110,592 MACs; 1,020,923 ticks -> 9.2 per MAC (few input channels
  leave the vector unit idle).
- DEPTHWISE_CONV_2D 3x3, 16 ch, 18x18: 36,864 MACs; 203,278 ticks -> 5.5 per MAC.
- FULLY_CONNECTED: 7.8x faster than ESP-NN's ANSI C (FACTS.md), 11.4 / 7.8 per MAC.
- AVERAGE_POOL_2D 3x3, 16x16x16: 28,224 window elements; 160,580 ticks -> 5.7; MAX_POOL_2D 2.7.
- ADD 1615 elements: 87,119 ticks -> 54 per element; MUL 44,239 -> 27.
- SOFTMAX: 1.4x speedup (FACTS.md) over the plain C figure below.
Checked against the published person-detection timing (54 ms with ESP-NN, bench/latency_model.py).

Plain C costs (a build without ESP-NN runs TFLite-Micro's reference kernels, not ESP-NN's ANSI C)
are the reference kernels timed on the host (the tflite-micro package runs the same code),
fitted per term and scaled to ESP32-S3 cycles so that the person-detection model takes the
published 2300 ms (esp-tflite-micro v1.3.4 README; ESP-NN README): `python bench/latency_model.py
--calibrate`, median of 7 rounds. Convolutions pay per MAC, per output element and per output
element and kernel tap; the others per unit. Ops with no ESP-NN kernel in esp-tflite-micro 1.3.4
(SUB, HARD_SWISH, LEAKY_RELU, MEAN, ...) cost the same in both builds. HARD_SWISH is the
exception to the host timing (923 cycles per element that way, which alone would exceed the
published MobileNetV3 time with ESP-NN): ESP-NN's ANSI C port of TFLM's reference hard-swish on
the ESP32-P4, 703,970 ticks for 12,544 elements = 56.1 per element (ESP-NN README; the ESP32-S3
table has no hard-swish row). MobileNetV3 Small is the held-out check (26000 ms plain C, 1434 ms
with ESP-NN and the arena in PSRAM, ESP-NN README); SUB, LEAKY_RELU and MEAN are host-timed only,
as is SVDF (64 filters, memory 16), timed whole and scaled the same way.
UNIDIRECTIONAL_SEQUENCE_LSTM runs TFLite-Micro's reference code in both builds (esp-tflite-micro has
no ESP-NN LSTM: lstm_eval.cc calls reference_integer_ops::FullyConnected, Logistic, Tanh and
MulElementwise). Its kernel loops over time steps; each step runs, per gate (4), an input and a
recurrent fully-connected product (int8 x int8 -> int16), an add and a sigmoid or tanh on int16;
then two muls, an add and a clip for the cell and a tanh and a mul for the hidden state. So its cost
is steps x (MACs per step x per_mac + units x per_unit_step + per_step), the three terms fitted on
14 builder LSTMs (1-32 steps, 8-320 features, 4-256 units) timed on the host and scaled by person
detection as above (`bench/latency_model.py --calibrate --kind UNIDIRECTIONAL_SEQUENCE_LSTM
--rounds 7`; the figures below are the quietest of three runs on a loaded 2-core host, which gave
per MAC 49.5-51.0, per unit and step 5033-5637, per step 6382-11426; worst error on the fitted
shapes 5-23%, on four held-out LSTMs within 13%). They replace one per-MAC figure (101) timed on a
single 16-unit LSTM, which charged a large LSTM's every MAC with a small one's elementwise work
(1.9 times the new figure for a 257-feature, 128-unit LSTM; within 10% of it for the 16-unit one).
The host has no flash: an LSTM whose weights exceed the flash cache (read again every step) is
estimated without the misses and tagged extrapolated, as is one outside the fitted shapes.
Current (ESP32-S3 datasheet, 240 MHz, modem sleep, peripheral clocks on, as USB-serial needs):
idle 47.6 mA, one core busy 65.9 mA, one core with 128-bit data access 87.9 mA; flash access
adds about 10 mA (weights are read from the memory-mapped model partition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit.boards.base import Board, CalibrationRange, KernelCost, OpWork

ESP32S3_KERNEL_COSTS: dict[str, KernelCost] = {
    # kind: unit, plain C per unit, ESP-NN per unit, SIMD, plain C per output, plain C per output x tap
    "CONV_2D": KernelCost("mac", 42.0, 1.05, True, 648.0, 154.0),
    "DEPTHWISE_CONV_2D": KernelCost("mac", 129.0, 5.5, True, 703.0),
    "FULLY_CONNECTED": KernelCost("mac", 42.4, 11.4 / 7.8, True),
    "AVERAGE_POOL_2D": KernelCost("element", 68.6, 5.7, True),
    "MAX_POOL_2D": KernelCost("element", 74.0, 2.7, True),
    "ADD": KernelCost("element", 575.0, 54.0, True),
    "MUL": KernelCost("element", 271.0, 27.0, True),
    "SUB": KernelCost("element", 564.0, 564.0, False),
    "HARD_SWISH": KernelCost("element", 56.1, 56.1, False),
    "LEAKY_RELU": KernelCost("element", 266.0, 266.0, False),
    "MEAN": KernelCost("input", 508.0, 508.0, False),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": KernelCost("mac", 51.0, 51.0, False, per_step=11426.0, per_unit_step=5033.0),
    "SVDF": KernelCost("mac", 52.0, 52.0, False),
    # not calibrated: assumed figures, the same code in both builds unless an ESP-NN kernel exists
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
}


# How sure each figure above is: calibrated against Espressif's published timings, timed on the host
# (TFLM's reference kernels) and scaled, or assumed. Kinds not in the table are assumed.
ESP32S3_COST_BASIS: dict[str, str] = {
    **dict.fromkeys(("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
                     "MUL", "HARD_SWISH"), "published"),
    **dict.fromkeys(("SUB", "LEAKY_RELU", "MEAN", "SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM"), "host-timed"),
}
# Without ESP-NN the calibrated kinds run the reference kernels, whose constants are host-timed
# (HARD_SWISH's figure is ESP-NN's ANSI C port, published, in both builds).
ESP32S3_PLAIN_C_COST_BASIS: dict[str, str] = dict.fromkeys(
    ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "MUL"), "host-timed")
# The shapes the recurrent fits saw (bench/latency_model.py LSTM_SHAPES); steps need no range: the
# kernel's cost is a loop over them.
ESP32S3_CALIBRATION_RANGES: dict[str, CalibrationRange] = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": CalibrationRange(units=(4, 256), features=(8, 320),
                                                     source="14 LSTMs timed on the host"),
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
    cost_basis: dict[str, str] = field(default_factory=lambda: dict(ESP32S3_COST_BASIS))
    plain_c_cost_basis: dict[str, str] = field(default_factory=lambda: dict(ESP32S3_PLAIN_C_COST_BASIS))
    calibration_ranges: dict[str, CalibrationRange] = field(default_factory=lambda: dict(ESP32S3_CALIBRATION_RANGES))
    flash_cache_bytes: int = 32 * 1024  # data cache before the mapped model partition (IDF default; 64 KB selectable)
    idle_current_ma: float = 47.6
    busy_current_ma: float = 65.9
    simd_current_ma: float = 87.9
    flash_access_extra_ma: float = 10.0
    # Assumed, not measured on a board: the agent's loop step `for k, v in enumerate(values):
    # tensor.setValue(k, v)` is about a dozen bytecodes (a 2-tuple allocated by enumerate, unpack,
    # stores, a method lookup on a native type, the call) plus microlite's C setValue (argument
    # conversion, type switch, store): 1,200 cycles, 5 us at 240 MHz.
    micropython_set_value_cycles: float = 1200.0

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
