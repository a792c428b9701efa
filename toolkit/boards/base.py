"""What a board variant declares: memory, clock, and the latency and current models."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OpWork:
    """The work one operator does, in the terms the cost model needs."""

    kind: str  # TFLite builtin name, e.g. "CONV_2D"
    macs: int = 0
    output_elements: int = 0
    input_elements: int = 0
    weight_bytes: int = 0
    input_channels: int = 0
    kernel_elements: int = 1  # kernel height x width
    float_kernel: bool = False  # float32 arithmetic: TFLM's reference kernel whatever the build (ESP-NN is int8)
    steps: int = 0  # recurrent kernels: iterations of the kernel's time loop (time steps, times the batch
    # unless time-major)
    units: int = 0  # recurrent kernels: the state size (hidden units)


@dataclass(frozen=True)
class KernelCost:
    """Cycles per unit of work for one op kind: plain C kernels and ESP-NN kernels.

    ``unit`` says what is counted: "mac" (multiply-accumulates), "input" (input elements) or
    "element" (output elements times kernel size for pooling, output elements otherwise). The
    plain C (reference) kernels also pay per output element (requantisation, bias, store) and per
    output element and kernel tap (index arithmetic and bounds checks): ``ansi_c_per_output``,
    ``ansi_c_per_tap``.
    """

    unit: str
    ansi_c: float
    esp_nn: float
    simd: bool  # the ESP-NN kernel runs the 128-bit vector unit (draws more current)
    ansi_c_per_output: float = 0.0
    ansi_c_per_tap: float = 0.0
    # recurrent kernels (TFLM's reference code in both builds): cycles per time step (the fixed cost
    # of one step's calls) and per output element (one unit in one step: the gates' elementwise work)
    per_step: float = 0.0
    per_unit_step: float = 0.0


@dataclass(frozen=True)
class CalibrationRange:
    """The shapes a kind's constants were fitted on: outside them its estimate is extrapolated."""

    units: tuple[int, int]
    features: tuple[int, int]
    source: str  # where the fit was made


@dataclass(frozen=True)
class Confidence:
    """How sure an op's latency estimate is: measured, modelled, extrapolated or assumed, and why."""

    tag: str
    reasons: tuple[str, ...]


# how each cost basis translates into a confidence tag (kinds with no basis are "assumed")
CONFIDENCE_OF_BASIS = {
    "published": ("measured", "calibrated against Espressif's published ESP32-S3 timings"),
    "host-timed": ("modelled", "TFLite-Micro's reference kernel timed on the host, scaled to the chip by the "
                               "published person-detection time"),
}
ASSUMED = ("assumed", "an assumed figure, not calibrated")
# worst last: a kind whose ops differ takes the least sure tag among them
CONFIDENCE_ORDER = ("measured", "modelled", "extrapolated", "assumed")


@dataclass(frozen=True)
class OpEstimate:
    kind: str
    cycles: int
    microseconds: float
    current_ma: float


@dataclass(frozen=True)
class Board:
    """One board variant. Subclasses fill in the figures; methods turn work into time and current."""

    name: str
    chip: str
    cpu_mhz: int
    flash_bytes: int
    sram_bytes: int
    psram_bytes: int
    arena_bytes: int  # tensor arena the firmware allocates
    heap_after_boot_bytes: int  # internal heap left once firmware and arena are up
    supply_volts: float
    op_overhead_cycles: int
    flash_cycles_per_weight_byte: float
    model_slot_bytes: int = 1024 * 1024  # each of the two model partitions (A and B)
    kernel_costs: dict[str, KernelCost] = field(default_factory=dict)
    cost_basis: dict[str, str] = field(default_factory=dict)  # kind -> how its cost was found; else "assumed"
    plain_c_cost_basis: dict[str, str] = field(default_factory=dict)  # the same for a build without ESP-NN
    calibration_ranges: dict[str, CalibrationRange] = field(default_factory=dict)
    flash_cache_bytes: int = 0  # the cache in front of memory-mapped flash (0: not modelled)
    default_cost: KernelCost = KernelCost("element", 12.0, 12.0, False)
    idle_current_ma: float = 0.0
    busy_current_ma: float = 0.0
    simd_current_ma: float = 0.0
    flash_access_extra_ma: float = 0.0
    # MicroPython boards: one step of a loop that copies an input element into a microlite tensor
    # (iterate, unpack, call tensor.setValue in C), in CPU cycles
    micropython_set_value_cycles: float = 0.0

    def kernel_cost(self, work: OpWork) -> KernelCost:
        return self.kernel_costs.get(work.kind, self.default_cost)

    def estimate_basis(self, kind: str, esp_nn: bool = True) -> str:
        if not esp_nn and kind in self.plain_c_cost_basis:
            return self.plain_c_cost_basis[kind]
        return self.cost_basis.get(kind, "assumed")

    def confidence(self, work: OpWork, esp_nn: bool = True) -> Confidence:
        """How sure the op's estimate is, from its kind's cost basis and its shape against the calibration."""
        if work.float_kernel:
            return Confidence("assumed", ("float32 arithmetic, costed as the int8 reference kernel: "
                                          "not calibrated for float",))
        tag, why = CONFIDENCE_OF_BASIS.get(self.estimate_basis(work.kind, esp_nn), ASSUMED)
        outside = self.outside_calibration(work)
        return Confidence("extrapolated", outside) if outside else Confidence(tag, (why,))

    def outside_calibration(self, work: OpWork) -> tuple[str, ...]:
        """Why the op's shape lies outside the range its kind was calibrated on (empty: inside or no range)."""
        span = self.calibration_ranges.get(work.kind)
        if span is None:
            return ()
        reasons = [f"{value} {name}, outside the {low}-{high} {name} it was calibrated on ({span.source})"
                   for name, value, (low, high) in (("units", work.units, span.units),
                                                    ("features", work.input_channels, span.features))
                   if not low <= value <= high]
        if work.steps and self.flash_cache_bytes and work.weight_bytes > self.flash_cache_bytes:
            reasons.append(f"its {work.weight_bytes:,} B of weights exceed the {self.flash_cache_bytes // 1024} KB "
                           "flash cache and are read again every step: the host timing has no flash, "
                           "so cache misses are not in the estimate")
        return tuple(reasons)

    def op_cycles(self, work: OpWork, esp_nn: bool = True) -> int:
        """Float ops are costed as the plain C (reference) int8 kernels: not calibrated for float."""
        esp_nn = esp_nn and not work.float_kernel
        cost = self.kernel_cost(work)
        units = {"mac": work.macs, "input": work.input_elements}.get(
            cost.unit, work.output_elements * max(1, work.kernel_elements))
        per_unit = self.cycles_per_unit(work, cost, esp_nn)
        reference = 0.0 if esp_nn else work.output_elements * (
            cost.ansi_c_per_output + cost.ansi_c_per_tap * max(1, work.kernel_elements))
        recurrent = work.steps * cost.per_step + work.output_elements * cost.per_unit_step if work.steps else 0.0
        weight_fetch = work.weight_bytes * self.flash_cycles_per_weight_byte
        return int(round(self.op_overhead_cycles + units * per_unit + reference + recurrent + weight_fetch))

    def cycles_per_unit(self, work: OpWork, cost: KernelCost, esp_nn: bool) -> float:
        """Hook for channel-dependent efficiency; the base uses the table as it is."""
        return cost.esp_nn if esp_nn else cost.ansi_c

    def op_current_ma(self, work: OpWork, esp_nn: bool = True) -> float:
        esp_nn = esp_nn and not work.float_kernel
        cost = self.kernel_cost(work)
        core = self.simd_current_ma if (esp_nn and cost.simd) else self.busy_current_ma
        return core + (self.flash_access_extra_ma if work.weight_bytes else 0.0)

    def estimate(self, work: OpWork, esp_nn: bool = True) -> OpEstimate:
        cycles = self.op_cycles(work, esp_nn)
        return OpEstimate(work.kind, cycles, cycles / self.cpu_mhz, self.op_current_ma(work, esp_nn))
