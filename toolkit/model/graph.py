"""Every subgraph of a .tflite model as TFLite-Micro's allocator sees it.

The reader (``toolkit/model/reader.py``) describes the main subgraph for reports; the arena
planner needs more: all subgraphs (control-flow ops such as WHILE and IF call them), each
operator's intermediates and called subgraphs, and tensor sizes computed as TFLM computes them
(``BytesRequiredForTensor``: the flatbuffer ``shape``, ``TfLiteTypeSizeOf``). This module reads
those facts with the schema's table accessors, which copy nothing, from a model the reader has
already checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from toolkit.errors import ModelError

# TfLiteTypeSizeOf (tensorflow/lite/micro/memory_helpers.cc) by schema TensorType name; a type
# it does not list (STRING, VARIANT) has no size: TFLM refuses such a tensor.
TYPE_SIZES: dict[str, int] = {
    "FLOAT16": 2, "BFLOAT16": 2, "FLOAT32": 4, "FLOAT64": 8, "INT16": 2, "INT32": 4, "UINT32": 4, "UINT8": 1,
    "UINT16": 2, "INT8": 1, "INT64": 8, "UINT64": 8, "BOOL": 1, "RESOURCE": 4, "COMPLEX64": 8, "COMPLEX128": 16,
    "INT4": 1,
}
# Control-flow ops and the option fields naming the subgraphs they call, in the order TFLM's
# AllocationInfoBuilder visits them (MarkSubgraphLifetimesIfNecessary).
CALLS = {"IF": ("IfOptions", ("ThenSubgraphIndex", "ElseSubgraphIndex")),
         "WHILE": ("WhileOptions", ("CondSubgraphIndex", "BodySubgraphIndex")),
         "CALL_ONCE": ("CallOnceOptions", ("InitSubgraphIndex",))}


@dataclass(frozen=True)
class GraphTensor:
    index: int
    shape: tuple[int, ...]
    dtype: str  # schema TensorType name, e.g. "INT8"
    nbytes: int  # TFLM's byte length; 0 for a type TFLM cannot size
    constant: bool  # data in the flatbuffer (TFLM points at it, plans nothing)
    variable: bool
    channels: int  # quantisation scales (0: not quantised)


@dataclass(frozen=True)
class GraphOp:
    index: int
    kind: str  # builtin name, or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # -1 for an omitted optional input
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    calls: tuple[int, ...]  # subgraphs a control-flow op runs, in TFLM's visiting order
    options: dict  # the builtin options the planner reads
    custom_options: bytes = b""  # a custom op's options as the flatbuffer holds them (a flexbuffer)


@dataclass(frozen=True)
class Subgraph:
    index: int
    tensors: tuple[GraphTensor, ...]
    ops: tuple[GraphOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def tensor(self, index: int) -> GraphTensor | None:
        """The tensor at ``index``, or None for an omitted input (-1)."""
        return self.tensors[index] if 0 <= index < len(self.tensors) else None


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


@lru_cache(maxsize=1)
def _names() -> tuple[dict[int, str], dict[int, str]]:
    s = _schema()
    types = {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_")}
    ops = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    return types, ops


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values) if not isinstance(values, int) else ()


def _options(s, op, kind: str) -> tuple[dict, tuple[int, ...]]:
    """The scalar builtin options the planner reads, and the subgraphs a control-flow op calls."""
    table = op.BuiltinOptions()
    if table is None:
        return {}, ()
    wanted = {"SVDF": "SVDFOptions", "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions"}
    name, fields = CALLS.get(kind, (wanted.get(kind), ()))
    if name is None:
        return {}, ()
    options = getattr(s, name)()
    options.Init(table.Bytes, table.Pos)
    values = {attr: getattr(options, attr)() for attr in dir(options)
              if attr[0].isupper() and not attr.startswith(("GetRootAs", "Init")) and "BufferHas" not in attr}
    return values, tuple(int(values[field]) for field in fields)


def _tensor(model, index: int, tensor, types: dict[int, str]) -> GraphTensor:
    dtype = types.get(tensor.Type(), f"UNKNOWN({tensor.Type()})")
    shape = _ints(tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    elements = 1
    for dim in shape:
        elements *= dim
    buffer = tensor.Buffer()
    constant = 0 < buffer < model.BuffersLength() and model.Buffers(buffer).DataLength() > 0
    quant = tensor.Quantization()
    channels = quant.ScaleLength() if quant is not None and quant.ZeroPointLength() else 0
    size = TYPE_SIZES.get(dtype, 0)
    return GraphTensor(index, shape, dtype, max(0, elements) * size, constant, bool(tensor.IsVariable()), channels)


@lru_cache(maxsize=4)
def read_subgraphs(data: bytes) -> tuple[Subgraph, ...]:
    """All subgraphs of a model the reader accepted; ModelError when one refers outside itself."""
    s = _schema()
    types, op_names = _names()
    try:
        model = s.Model.GetRootAs(data, 0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            kind = op_names.get(builtin, f"BUILTIN_{builtin}")
            if kind == "CUSTOM":
                kind = "CUSTOM:" + (code.CustomCode() or b"").decode(errors="replace")
            codes.append(kind)
        graphs = []
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            tensors = tuple(_tensor(model, i, graph.Tensors(i), types) for i in range(graph.TensorsLength()))
            ops = []
            for i in range(graph.OperatorsLength()):
                op = graph.Operators(i)
                kind = codes[op.OpcodeIndex()]
                options, calls = _options(s, op, kind)
                custom = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
                ops.append(GraphOp(i, kind, _ints(op.InputsAsNumpy()), _ints(op.OutputsAsNumpy()),
                                   _ints(op.IntermediatesAsNumpy()), calls, options, custom))
            graphs.append(Subgraph(g, tensors, tuple(ops), _ints(graph.InputsAsNumpy()),
                                   _ints(graph.OutputsAsNumpy())))
    except (IndexError, TypeError, AttributeError, ValueError, struct.error) as exc:
        raise ModelError(f"the model's subgraphs are corrupt ({type(exc).__name__})",
                         "re-export or re-download the model") from None
    _check(graphs)
    return tuple(graphs)


def _check(graphs: list[Subgraph]) -> None:
    for graph in graphs:
        count = len(graph.tensors)
        for op in graph.ops:
            used = op.inputs + op.outputs + op.intermediates
            if any(not -1 <= i < count for i in used) or any(i < 0 for i in op.outputs + op.intermediates):
                raise ModelError(f"subgraph {graph.index}: operator {op.index} ({op.kind}) refers to a tensor the "
                                 "subgraph does not have", "the file is corrupt; re-export or re-download the model")
            if any(not 0 <= c < len(graphs) for c in op.calls):
                raise ModelError(f"subgraph {graph.index}: operator {op.index} ({op.kind}) calls a subgraph the "
                                 "model does not have", "the file is corrupt; re-export or re-download the model")
        if any(not 0 <= i < count for i in graph.inputs + graph.outputs):
            raise ModelError(f"subgraph {graph.index} names an input or output it does not have",
                             "the file is corrupt; re-export or re-download the model")
