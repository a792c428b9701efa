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

    def estimate_basis(self, kind: str) -> str:
        return self.cost_basis.get(kind, "assumed")

    def op_cycles(self, work: OpWork, esp_nn: bool = True) -> int:
        """Float ops are costed as the plain C (reference) int8 kernels: not calibrated for float."""
        esp_nn = esp_nn and not work.float_kernel
        cost = self.kernel_cost(work)
        units = {"mac": work.macs, "input": work.input_elements}.get(
            cost.unit, work.output_elements * max(1, work.kernel_elements))
        per_unit = self.cycles_per_unit(work, cost, esp_nn)
        reference = 0.0 if esp_nn else work.output_elements * (
            cost.ansi_c_per_output + cost.ansi_c_per_tap * max(1, work.kernel_elements))
        weight_fetch = work.weight_bytes * self.flash_cycles_per_weight_byte
        return int(round(self.op_overhead_cycles + units * per_unit + reference + weight_fetch))

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
