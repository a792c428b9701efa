"""Will a model fit the board and its firmware, will it run, and how fast: all on the host."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from toolkit.boards import Board
from toolkit.boards.base import CONFIDENCE_ORDER
from toolkit.boards.firmware import ESP_NN_COMPONENTS, firmware_ops
from toolkit.image.model_image import image_size
from toolkit.model.arena import plan_head
from toolkit.model.offline_plan import ArenaPlan, plan_model
from toolkit.model.graph import read_subgraphs
from toolkit.model.patch_plan import PatchEstimate, estimate_patch
from toolkit.model.reader import TFLiteModel
from toolkit.model.signal_tail import unmodelled_custom_ops
from toolkit.model.tail import plan_tail
from toolkit.model.tflm_structs import STRUCTS
from toolkit.model.work import computes_in_float, op_work

RESOLVER_FLASH_SOURCE = (
    "estimate: each registered kernel's sources from esp-tflite-micro 1.3.4 (its Register_* file and *_common.cc) "
    "compiled at -O2 with function sections for 32-bit x86 (no Xtensa compiler here) and linked from Register_*, "
    "text + rodata + data (toolkit/model/gen_tflm_structs.py); TFLM's shared code and ESP-NN's own functions "
    "are not included, and ops that share a source file (MAXIMUM/MINIMUM, the pools, RELU/RELU6) count it twice")


@dataclass(frozen=True)
class ResolverFlash:
    """Flash the firmware's op resolver costs: the code of every kernel it registers."""

    per_op: dict[str, int]  # registered op -> bytes of kernel code and constants
    model_ops: tuple[str, ...]  # the registered ops this model uses
    unmeasured: tuple[str, ...] = ()  # registered ops with no code figure (the signal library's): not counted

    @property
    def total_bytes(self) -> int:
        return sum(self.per_op.values())

    @property
    def model_ops_bytes(self) -> int:
        """What a resolver of only this model's ops would cost."""
        return sum(self.per_op[op] for op in self.model_ops)

    def to_json(self) -> dict:
        return {"bytes": self.total_bytes, "model_ops_bytes": self.model_ops_bytes, "per_op": self.per_op,
                "unmeasured_ops": list(self.unmeasured), "source": RESOLVER_FLASH_SOURCE}


def resolver_flash(model: TFLiteModel, registered: frozenset[str]) -> ResolverFlash:
    code = STRUCTS["esp32s3"]["kernel_code"]
    per_op = {op: code[op] for op in sorted(registered) if op in code}
    unmeasured = tuple(op for op in sorted(registered) if op not in code)
    return ResolverFlash(per_op, tuple(dict.fromkeys(op for op in model.op_names if op in per_op)), unmeasured)


@dataclass(frozen=True)
class OpReport:
    index: int
    kind: str
    output_shape: list[int]
    macs: int
    weight_bytes: int
    cycles: int
    estimated_us: float
    supported: bool
    options: dict = field(default_factory=dict)
    computes_in_float: bool = False  # runs TFLM's reference float kernel: no ESP-NN, plain C cost
    estimate_basis: str = "assumed"  # how the op kind's cost was found (published, host-timed, assumed)
    confidence: str = "assumed"  # how sure the estimate is: measured, modelled, extrapolated, assumed
    confidence_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    op: str
    reason: str
    hint: str


@dataclass(frozen=True)
class Budget:
    name: str
    used: int
    available: int

    @property
    def fits(self) -> bool:
        return self.used <= self.available

    @property
    def margin(self) -> int:
        return self.available - self.used


@dataclass
class InspectReport:
    board: str
    model_sha256: str
    model_bytes: int
    esp_nn: bool
    pointer_size: int
    inputs: list[dict]
    outputs: list[dict]
    parameters: int
    ops: list[OpReport]
    arena_head_bytes: int
    arena_tail_bytes: int
    peak_op: int
    live_at_peak: list[str]
    peak_scratch_bytes: int
    flash_bytes: int
    budgets: list[Budget]
    resolver: ResolverFlash
    tensors: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    offline_plan: bool = False  # the model carries an offline memory plan, which the head honours
    arena_plan: ArenaPlan | None = None  # what 'espml plan' would make of it (inspect --plan)
    arena_patch: PatchEstimate | None = None  # what 'espml plan --patch' would make of it (inspect --plan)
    int8_latency_ms: float = 0.0  # the same graph's estimate were every op int8 with ESP-NN (what float costs)
    # registered custom ops (the signal library) whose kernels' arena use is not modelled (options or
    # shapes their kernels do not handle): the arena figure is then a lower bound, and says so
    arena_uncounted_ops: tuple[str, ...] = ()

    @property
    def arena_bytes(self) -> int:
        return self.arena_head_bytes + self.arena_tail_bytes

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def estimated_latency_ms(self) -> float:
        return sum(op.estimated_us for op in self.ops) / 1000

    @property
    def fits(self) -> bool:
        return all(b.fits for b in self.budgets) and not self.problems

    @property
    def float_ops(self) -> list[OpReport]:
        return [op for op in self.ops if op.computes_in_float]

    def latency_confidence(self) -> dict[str, dict]:
        """Per op kind: the least sure of its ops' confidence tags, with the reasons and how many ops."""
        kinds: dict[str, dict] = {}
        for op in self.ops:
            entry = kinds.setdefault(op.kind, {"confidence": op.confidence, "basis": op.estimate_basis, "ops": 0,
                                               "estimated_ms": 0.0, "reasons": []})
            entry["ops"] += 1
            entry["estimated_ms"] += op.estimated_us / 1000
            if CONFIDENCE_ORDER.index(op.confidence) > CONFIDENCE_ORDER.index(entry["confidence"]):
                entry["confidence"], entry["reasons"] = op.confidence, []
            if op.confidence == entry["confidence"]:
                entry["reasons"] += [r for r in op.confidence_reasons if r not in entry["reasons"]]
        return kinds

    def to_json(self) -> dict:
        from toolkit.model.verdict import verdict

        return {
            "board": self.board,
            "model_sha256": self.model_sha256,
            "model_bytes": self.model_bytes,
            "ops": [op.kind for op in self.ops],
            "arena_bytes": self.arena_bytes,
            "arena_head_bytes": self.arena_head_bytes,
            "arena_tail_bytes": self.arena_tail_bytes,
            "arena_exact": not self.arena_uncounted_ops,
            "arena_uncounted_ops": list(self.arena_uncounted_ops),
            "pointer_size": self.pointer_size,
            "flash_bytes": self.flash_bytes,
            "macs": self.macs,
            "parameters": self.parameters,
            "estimated_latency_ms": self.estimated_latency_ms,
            "esp_nn": self.esp_nn,
            # the firmware components the ESP-NN estimates assume (None: plain C kernels)
            "esp_nn_components": dict(ESP_NN_COMPONENTS) if self.esp_nn else None,
            "fits": self.fits,
            "unsupported_ops": list(dict.fromkeys(p.op for p in self.problems)),
            "problems": [asdict(p) for p in self.problems],
            "budgets": [{"name": b.name, "used": b.used, "available": b.available, "fits": b.fits,
                         "margin": b.margin} for b in self.budgets],
            "peak": {"op": self.peak_op, "live_tensors": self.live_at_peak, "scratch_bytes": self.peak_scratch_bytes},
            "inputs": self.inputs,
            "outputs": self.outputs,
            "per_op": [asdict(op) for op in self.ops],
            "tensors": self.tensors,
            "resolver_flash_bytes": self.resolver.total_bytes,
            "resolver_flash": self.resolver.to_json(),
            "arena_offline_plan": self.offline_plan,
            "verdict": verdict(self).to_json(),
            "float_ops": len(self.float_ops),
            "latency_confidence": self.latency_confidence(),
            **({"arena_plan": self.arena_plan.to_json()} if self.arena_plan is not None else {}),
            **({"arena_patch": self.arena_patch.to_json()} if self.arena_patch is not None else {}),
        }


def _tensor_json(tensor) -> dict:
    return {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype,
            "layout": "NHWC" if len(tensor.shape) == 4 else "-",
            "scale": list(tensor.scale), "zero_point": list(tensor.zero_point)}


def _tensor_facts(tensor) -> dict:
    quantisation = (f"per-channel ({len(tensor.scale)}, axis {tensor.quantized_dimension})" if tensor.per_channel
                    else "per-tensor" if tensor.scale else "none")
    return {"index": tensor.index, "name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype,
            "quantisation": quantisation, "bytes": tensor.nbytes, "constant": tensor.is_constant}


def find_problems(model: TFLiteModel, registered: frozenset[str]) -> list[Problem]:
    """Ops the firmware cannot run: Flex, custom, unregistered, or float inside an int8 model."""
    problems = []
    quantised = any(t.dtype in ("int8", "uint8", "int16") and not t.is_constant for t in model.tensors)
    for op in model.ops:
        if op.kind.startswith("CUSTOM:Flex"):
            problems.append(Problem(op.kind[7:], "a TensorFlow (Flex) op; TFLite-Micro cannot run it",
                                    "convert with builtin int8 ops only (TFLITE_BUILTINS_INT8)"))
        elif op.kind.startswith("CUSTOM:") and op.kind not in registered:
            problems.append(Problem(op.kind[7:], "a custom op with no kernel in the firmware",
                                    "replace it with builtin ops, or add a kernel and register it"))
        elif op.kind.startswith("CUSTOM:"):
            continue  # registered custom ops (the signal library) compute in integers; no float check
        elif op.kind not in registered:
            problems.append(Problem(op.kind, "not registered by the espml firmware",
                                    "add it to device/ops.txt and rebuild the firmware, or replace it"))
        elif quantised and computes_in_float(model, op):
            problems.append(Problem(op.kind, "computes in float32 inside an int8 model (slow, needs float kernels)",
                                    "quantise the whole graph: full-integer conversion with a representative dataset"))
    return problems


def inspect_model(model: TFLiteModel, board: Board, esp_nn: bool = True, pointer_size: int = 4,
                  plan: bool = False) -> InspectReport:
    """``plan``: also work out the offline arena plan 'espml plan' would write (``arena_plan``) and
    what 'espml plan --patch' would (``arena_patch``)."""
    registered = firmware_ops()
    head = plan_head(model)
    tail = plan_tail(model, pointer_size)
    ops, int8_us = [], 0.0
    for op in model.ops:
        work = op_work(model, op)
        estimate, confidence = board.estimate(work, esp_nn), board.confidence(work, esp_nn)
        int8_us += board.estimate(replace(work, float_kernel=False), True).microseconds
        out_shape = list(model.tensors[op.outputs[0]].shape) if op.outputs else []
        ops.append(OpReport(op.index, op.kind, out_shape, work.macs, work.weight_bytes, estimate.cycles,
                            estimate.microseconds, op.kind in registered, dict(op.options), work.float_kernel,
                            board.estimate_basis(op.kind, esp_nn), confidence.tag, list(confidence.reasons)))
    flash = image_size(model.size)
    budgets = [
        Budget("model image vs model slot (flash)", flash, board.model_slot_bytes),
        Budget("tensor arena vs firmware arena (RAM)", head.size + tail, board.arena_bytes),
    ]
    names = [model.tensors[i].name for i in head.live_at_peak]
    arena_plan = plan_model(model.data, replan=True) if plan else None
    return InspectReport(
        board=board.name, model_sha256=model.sha256, model_bytes=model.size, esp_nn=esp_nn,
        pointer_size=pointer_size, inputs=[_tensor_json(t) for t in model.inputs],
        outputs=[_tensor_json(t) for t in model.outputs],
        parameters=sum(t.elements for t in model.tensors if t.is_constant),
        ops=ops, arena_head_bytes=head.size, arena_tail_bytes=tail, peak_op=head.peak_op,
        live_at_peak=names, peak_scratch_bytes=head.scratch_at_peak, flash_bytes=flash, budgets=budgets,
        tensors=[_tensor_facts(t) for t in model.tensors],
        problems=find_problems(model, registered), resolver=resolver_flash(model, registered),
        arena_uncounted_ops=tuple(code for code in unmodelled_custom_ops(read_subgraphs(model.data))
                                  if f"CUSTOM:{code}" in registered),
        offline_plan=head.offline, arena_plan=arena_plan,
        arena_patch=estimate_patch(model.data, arena_plan) if plan else None,
        int8_latency_ms=int8_us / 1000,
    )
