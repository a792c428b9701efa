"""What TFLite-Micro's signal-library kernels (signal/micro/kernels/*.cc) take from the arena.

Each kernel's Init allocates its parameter structure and, for some, state sized from its
flexbuffer options (read as the kernel reads them: ``toolkit/model/flexbuffer.py``); Prepare
allocates state sized from the input's shape; SignalRfft alone requests a scratch buffer. Every allocation goes through AllocatePersistentBuffer (16-byte aligned, as
``toolkit/model/tail.py`` replays). Structure sizes per runtime come from
``toolkit/model/signal_structs.py``; the formulas follow the sources:

- circular buffer (signal/src/circular_buffer.cc): sizeof(CircularBuffer) + 2 * 2 * capacity;
- KissFFT v130 real FFT (tools/kiss_fftr.c, kiss_fft.c), n = fft_length / 2 (0 bytes when
  fft_length is odd: kiss_fftr_alloc refuses it and leaves the size at 0):
  sizeof(kiss_fftr_state) + sizeof(kiss_fft_state) + cpx * (n - 1) + cpx * (n * 3 / 2);
  the float IRFFT adds its IrfftFloatState (signal/src/irfft_float.cc).

A kernel whose options or shapes are outside what it handles (an unknown ``T``, a size option
missing or negative, an FFT length or frame step that is not positive, an empty input) is not
modelled: ``signal_buffers`` returns None and the arena figure is then a lower bound.
"""

from __future__ import annotations

from toolkit.model.flexbuffer import FlexbufferOptions
from toolkit.model.graph import TYPE_SIZES, GraphOp, Subgraph
from toolkit.model.signal_structs import STRUCTS

PREFIX = "CUSTOM:"
# schema TensorType codes the FFT kernels' ``T`` option takes
FFT_TYPES = {0: "FLOAT32", 2: "INT32", 7: "INT16"}
OVERLAP_ADD_TYPES = {0: "FLOAT32", 7: "INT16"}
NO_STATE = frozenset({"SignalFftAutoScale", "SignalFilterBankSquareRoot"})  # no Init: nothing persistent
CODES = NO_STATE | set(STRUCTS["host"]["params"]) | set(STRUCTS["host"]["typed_params"])


def is_signal(op: GraphOp) -> bool:
    """A custom op of the signal library."""
    return op.kind.startswith(PREFIX) and op.kind[len(PREFIX):] in CODES


def _option(op: GraphOp, index: int) -> int | None:
    """FlexbufferWrapper::ElementAsInt32(index) over the op's options (None: outside them)."""
    options = FlexbufferOptions.parse(op.custom_options)
    return options.element_as_int32(index) if options is not None else None


def _type(op: GraphOp, types: dict[int, str]) -> str | None:
    """The tensor type the ``T`` option names, of those the kernel takes."""
    options = FlexbufferOptions.parse(op.custom_options)
    return types.get(options.key_as_int32("T")) if options is not None else None


def _shape(graph: Subgraph, op: GraphOp) -> tuple[int, ...] | None:
    tensor = graph.tensor(op.inputs[0]) if op.inputs else None
    return tensor.shape if tensor is not None and tensor.shape and all(d > 0 for d in tensor.shape) else None


def _elements(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def kiss_fftr_bytes(structs: dict, dtype: str, fft_length: int) -> int:
    """kiss_fftr_alloc's memneeded for a real FFT of ``fft_length`` points in ``dtype``."""
    if fft_length % 2:
        return 0
    fftr_state, fft_state, cpx = structs["kiss"][dtype]
    n = fft_length // 2
    return fftr_state + fft_state + cpx * (n - 1) + cpx * (n * 3 // 2)


def _circular(structs: dict, capacity: int) -> int:
    return structs["CircularBuffer"] + 2 * 2 * capacity


def signal_buffers(graph: Subgraph, op: GraphOp, runtime: str) -> list[int] | None:
    """Bytes of each persistent buffer the kernel's Init, then Prepare, allocates; None when the op
    is not modelled (see the module docstring)."""
    code = op.kind[len(PREFIX):]
    structs = STRUCTS[runtime]
    pointer = structs["pointer"]
    if code in NO_STATE:
        return []
    if code in ("SignalEnergy", "SignalFilterBankLog", "SignalPCAN", "SignalWindow"):
        return [structs["params"][code]]
    if code in ("SignalRfft", "SignalIrfft", "SignalOverlapAdd"):
        dtype = _type(op, OVERLAP_ADD_TYPES if code == "SignalOverlapAdd" else FFT_TYPES)
        if dtype is None:
            return None  # the kernel's Init returns nullptr and its Prepare would crash
        if code == "SignalOverlapAdd":
            shape = _shape(graph, op)
            if shape is None or len(shape) < 2:
                return None
            outer = _elements(shape) // (shape[-1] * shape[-2])
            return ([structs["typed_params"][code][dtype], pointer * outer]
                    + [shape[-1] * TYPE_SIZES[dtype]] * outer)
        fft_length = _option(op, 1)
        if fft_length is None or fft_length <= 0:
            return None
        state = kiss_fftr_bytes(structs, dtype, fft_length)
        if code == "SignalRfft":
            return [structs["typed_params"][code][dtype], state]
        return [structs["params"][code], state + (structs["IrfftFloatState"] if dtype == "FLOAT32" else 0)]
    if code in ("SignalFilterBank", "SignalFilterBankSpectralSubtraction"):
        channels = _option(op, 0 if code == "SignalFilterBank" else 4)
        if channels is None or channels < 0:
            return None
        return [structs["params"][code], (8 * (channels + 1)) if code == "SignalFilterBank" else 4 * channels]
    if code == "SignalStacker":
        values = [_option(op, i) for i in range(3)]
        if None in values or min(values) < 0:
            return None
        channels, left, right = values
        return [structs["params"][code], _circular(structs, channels * (left + right + 1))]
    if code in ("SignalDelay", "SignalFramer"):
        shape = _shape(graph, op)
        if shape is None:
            return None
        outer = _elements(shape) // shape[-1]
        if code == "SignalDelay":
            delay = _option(op, 0)
            if delay is None or delay < 0:
                return None
            capacity = shape[-1] + delay
        else:
            size, step = _option(op, 0), _option(op, 1)
            if size is None or step is None or size <= 0 or step <= 0:
                return None
            capacity = (size + step - 1) // step * step
        return [structs["params"][code], pointer * outer, pointer * outer] + [_circular(structs, capacity)] * outer
    return None


def signal_scratch(op: GraphOp) -> list[int]:
    """Bytes of each scratch buffer the kernel's Prepare requests: SignalRfft's fft_length of T."""
    if op.kind != PREFIX + "SignalRfft":
        return []
    dtype, fft_length = _type(op, FFT_TYPES), _option(op, 1)
    return [fft_length * TYPE_SIZES[dtype]] if dtype is not None and fft_length is not None and fft_length > 0 else []


def unmodelled_custom_ops(graphs: tuple[Subgraph, ...]) -> tuple[str, ...]:
    """Codes of the custom ops whose arena use is not modelled (any outside the signal library, and
    signal ops with options or shapes their kernels do not handle), in first-use order."""
    return tuple(dict.fromkeys(op.kind[len(PREFIX):] for graph in graphs for op in graph.ops
                               if op.kind.startswith(PREFIX)
                               and (not is_signal(op) or signal_buffers(graph, op, "host") is None)))
