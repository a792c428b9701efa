"""TFLite-Micro's persistent allocations (the arena "tail"), replayed allocation by allocation.

TFLM takes persistent memory from the end of the arena downwards, each request aligned down to
its alignment (SingleArenaBufferAllocator::AllocatePersistentBuffer), so the tail is the sum of
the requests plus the padding their order leaves. The replay follows MicroInterpreter's order:

1. the allocator's own objects (arena allocator, greedy planner, micro allocator);
2. StartModelAllocation: the builtin-data allocator, SubgraphAllocations per subgraph, then per
   subgraph one TfLiteEvalTensor per tensor and one NodeAndRegistration per operator;
3. the flatbuffer parser's builtin parameters, operator by operator (their own alignment);
4. each kernel's Init allocation (OpData), 16-byte aligned as every kernel buffer is;
5. each kernel's Prepare allocations (``prepare_buffers``); the signal library's custom ops
   (``toolkit/model/signal_tail.py``) take their Init and Prepare state here, which gives the
   same total: every kernel allocation has the same 16-byte alignment;
6. FinishModelAllocation: the scratch-buffer handles, then each variable tensor's buffer;
7. the interpreter's input and output TfLiteTensors, with their quantisation (scale pointer and
   a copy of the zero points).

Structure sizes come from ``toolkit/model/tflm_structs.py``, compiled from the sources: ``host``
(pointer size 8) is the tflite-micro Python package (checked against its allocation recording:
total within 1%), ``esp32s3`` (pointer size 4) is esp-tflite-micro 1.3.4 with ESP-NN, an
estimate (nothing on this host can measure it).
"""

from __future__ import annotations

from toolkit.model.arena import ARENA_ALIGNMENT, align_up, scratch_requests
from toolkit.model.graph import GraphOp, Subgraph, read_subgraphs
from toolkit.model.reader import TFLiteModel
from toolkit.model.signal_tail import is_signal, signal_buffers
from toolkit.model.tflm_structs import STRUCTS

RUNTIMES = {8: "host", 4: "esp32s3"}
ALLOCATOR_OBJECTS = {"host": ("RecordingSingleArenaBufferAllocator", "GreedyMemoryPlanner", "RecordingMicroAllocator"),
                     "esp32s3": ("SingleArenaBufferAllocator", "GreedyMemoryPlanner", "MicroAllocator")}
# Kernels whose Prepare moves an output's dims into the arena (CreateWritableTensorDimsWithCopy,
# tensorflow/lite/micro/kernels/kernel_util.cc): a TfLiteIntArray of the output's rank.
DIMS_COPY = frozenset({"GATHER", "GATHER_ND", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "EMBEDDING_LOOKUP", "L2_POOL_2D"})
INT16_LUT_BYTES = 2 * 513  # softmax_common.cc: two int16 tables of LUTSize<int16_t>() entries
QUANTISED_DIMENSION = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0}


def runtime_for(pointer_size: int) -> str:
    if pointer_size not in RUNTIMES:
        raise ValueError("pointer size must be 4 (ESP32-S3) or 8 (a 64-bit host)")
    return RUNTIMES[pointer_size]


def int_array_bytes(count: int) -> int:
    """TfLiteIntArrayGetSizeInBytes: the size field and ``count`` ints."""
    return 4 + 4 * count


def prepare_buffers(graph: Subgraph, op: GraphOp, runtime: str) -> list[int]:
    """Bytes of each persistent buffer the kernel's Prepare allocates (16-byte aligned each); for a
    signal op, its Init's too (none when it is not modelled: the tail is then a lower bound)."""
    kind = op.kind
    if is_signal(op):
        return signal_buffers(graph, op, runtime) or []
    first = graph.tensor(op.inputs[0]) if op.inputs else None
    if kind in QUANTISED_DIMENSION and len(op.inputs) > 1 and graph.tensor(op.inputs[1]) is not None:
        # conv_common.cc, depthwise_conv_common.cc, transpose_conv.cc: multiplier and shift per channel
        weights = graph.tensor(op.inputs[1])
        channels = weights.shape[QUANTISED_DIMENSION[kind]] if len(weights.shape) == 4 else 0
        return [4 * channels, 4 * channels]
    if kind == "FULLY_CONNECTED" and first is not None and first.dtype != "FLOAT32" and len(op.inputs) > 1:
        # fully_connected_common.cc: per-channel multiplier and shift when the weights have several scales
        weights = graph.tensor(op.inputs[1])
        return [4 * weights.channels] * 2 if weights is not None and weights.channels > 1 else []
    if kind == "SOFTMAX" and first is not None and first.dtype == "INT16":
        return [INT16_LUT_BYTES // 2, INT16_LUT_BYTES // 2]
    if kind == "RESHAPE" and op.outputs and -1 in graph.tensors[op.outputs[0]].shape:
        return [int_array_bytes(len(graph.tensors[op.outputs[0]].shape))]  # reshape_common.cc: the stretch dim
    if kind in DIMS_COPY and op.outputs:
        return [int_array_bytes(len(graph.tensors[op.outputs[0]].shape))]
    return []


class _Tail:
    """The tail pointer of TFLM's arena allocator, counted as bytes used from the arena's end."""

    def __init__(self) -> None:
        self.used = 0

    def allocate(self, size: int, alignment: int = ARENA_ALIGNMENT) -> None:
        self.used = align_up(self.used + size, alignment)


def plan_tail(model: TFLiteModel, pointer_size: int = 4) -> int:
    """Persistent bytes TFLM allocates for the model: 8 for the 64-bit host, 4 for the ESP32-S3."""
    structs = STRUCTS[runtime_for(pointer_size)]
    core, params, opdata = structs["core"], structs["params"], structs["opdata"]
    graphs = read_subgraphs(model.data)
    main = graphs[0]
    tail = _Tail()
    for name in ALLOCATOR_OBJECTS[runtime_for(pointer_size)]:
        tail.allocate(*core[name])
    tail.allocate(2 * pointer_size, pointer_size)  # MicroBuiltinDataAllocator: vtable and allocator pointer
    size, alignment = core["SubgraphAllocations"]
    tail.allocate(size * len(graphs), alignment)
    for graph in graphs:
        tail.allocate(core["TfLiteEvalTensor"][0] * len(graph.tensors), core["TfLiteEvalTensor"][1])
    for graph in graphs:
        tail.allocate(core["NodeAndRegistration"][0] * len(graph.ops), core["NodeAndRegistration"][1])
    ops = [(graph, op) for graph in graphs for op in graph.ops]
    for _, op in ops:
        if op.kind in params:
            tail.allocate(*params[op.kind])
    for _, op in ops:
        if op.kind in opdata:
            tail.allocate(opdata[op.kind])
    for graph, op in ops:
        for size in prepare_buffers(graph, op, runtime_for(pointer_size)):
            tail.allocate(size)
    scratch = sum(len(scratch_requests(graph, op)) for graph, op in ops)
    if scratch:
        tail.allocate(scratch * core["ScratchBufferHandle"][0], core["ScratchBufferHandle"][1])
    for graph in graphs:
        for tensor in graph.tensors:
            if tensor.variable:
                tail.allocate(tensor.nbytes)
    for indices in (main.inputs, main.outputs):
        tail.allocate(pointer_size * len(indices))
        for index in indices:
            tail.allocate(*core["TfLiteTensor"])
            if main.tensors[index].channels:
                tail.allocate(*core["TfLiteAffineQuantization"])
                tail.allocate(int_array_bytes(main.tensors[index].channels), 4)
    return tail.used
