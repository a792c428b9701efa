"""Read a .tflite flatbuffer without TensorFlow, using the schema tflite-micro ships."""

from __future__ import annotations

import functools

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.errors import ModelError

TFLITE_IDENTIFIER = b"TFL3"
SUPPORTED_SCHEMA_VERSION = 3

# TensorType enum values of the TFLite schema, to numpy dtypes and names.
TENSOR_TYPES: dict[int, tuple[str, np.dtype | None]] = {
    0: ("float32", np.dtype(np.float32)),
    1: ("float16", np.dtype(np.float16)),
    2: ("int32", np.dtype(np.int32)),
    3: ("uint8", np.dtype(np.uint8)),
    4: ("int64", np.dtype(np.int64)),
    5: ("string", None),
    6: ("bool", np.dtype(np.bool_)),
    7: ("int16", np.dtype(np.int16)),
    9: ("int8", np.dtype(np.int8)),
    10: ("float64", np.dtype(np.float64)),
    15: ("uint32", np.dtype(np.uint32)),
    16: ("uint16", np.dtype(np.uint16)),
    17: ("int4", None),
    18: ("bfloat16", None),
}


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


@functools.cache
def builtin_names() -> dict[int, str]:
    """TFLite builtin operator codes and their schema names."""
    ops = _schema().BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    buffer_bytes: int = 0  # bytes of constant data stored in the model (weights), 0 for activations
    variable: bool = False

    @property
    def numpy_dtype(self) -> np.dtype:
        dtype = TENSOR_TYPES.get(self._type_code, (None, None))[1]
        return dtype if dtype is not None else np.dtype(np.uint8)

    @property
    def _type_code(self) -> int:
        return next((code for code, (name, _) in TENSOR_TYPES.items() if name == self.dtype), -1)

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.elements * self.numpy_dtype.itemsize

    @property
    def is_constant(self) -> bool:
        return self.buffer_bytes > 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class OpInfo:
    index: int
    kind: str  # builtin name, or "CUSTOM:<code>"
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TFLiteModel:
    data: bytes
    sha256: str
    schema_version: int
    tensors: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    subgraph_count: int
    description: str = ""

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def op_names(self) -> list[str]:
        return [op.kind for op in self.ops]

    @property
    def weight_bytes(self) -> int:
        return sum(t.buffer_bytes for t in self.tensors)


MAX_MODEL_BYTES = 32 * 2**20  # the largest ESP32-S3 flash: nothing larger is read, let alone parsed


def read_model_bytes(path: str | Path) -> bytes:
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file not found: {path}", "check the path")
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a .tflite file", "give the path of the .tflite file")
    too_large = ModelError(f"{path} is larger than {MAX_MODEL_BYTES // 2**20} MB: no ESP32-S3's flash holds such a "
                           "model", "give the .tflite file")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise too_large
    try:
        with path.open("rb") as handle:  # a device or a pipe says size 0: read no more than a model can be
            data = handle.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
    if len(data) > MAX_MODEL_BYTES:
        raise too_large
    return data


def load_model(source: str | Path | bytes) -> TFLiteModel:
    """Parse a TFLite model from a path or bytes; raise ModelError with a hint on bad input."""
    data = source if isinstance(source, (bytes, bytearray)) else read_model_bytes(source)
    label = "model" if isinstance(source, (bytes, bytearray)) else str(source)
    return parse_model(bytes(data), label)


def parse_model(data: bytes, label: str = "model") -> TFLiteModel:
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise ModelError(f"{label} is not a TFLite flatbuffer (no 'TFL3' identifier)",
                         "give a .tflite file written by the TFLite converter")
    try:
        shared = _copied_bytes(data, 2 * len(data)) > 2 * len(data)
        raw = None if shared else _schema().ModelT.InitFromPackedBuf(data, 0)
    except Exception:  # the generated parser raises many kinds on truncated input
        raise ModelError(f"{label} is truncated or corrupt", "re-export or re-download the model") from None
    if shared:
        raise ModelError(f"{label} is corrupt: it refers to the same tables over and over (unpacking it would "
                         "take minutes and gigabytes)", "give a .tflite file written by the TFLite converter")
    if raw.version != SUPPORTED_SCHEMA_VERSION:
        raise ModelError(f"{label} uses TFLite schema version {raw.version}, expected {SUPPORTED_SCHEMA_VERSION}",
                         "convert it again with a current TFLite converter")
    if not raw.subgraphs:
        raise ModelError(f"{label} has no subgraph", "the file holds no graph to run; re-export the model")
    try:
        model = _build(data, raw)
    except (IndexError, TypeError, AttributeError):
        raise ModelError(f"{label} is truncated or corrupt", "re-export or re-download the model") from None
    _check_ops(model, label)
    return model


def _copied_bytes(data: bytes, limit: int) -> int:
    """About how many bytes unpacking the model copies: 4 per table reference and per vector element,
    1 per string byte, each counted as often as it is referenced; stops counting past ``limit``.
    A file that stores everything once (as converters write them) totals at most its own size;
    a few KB that refer to one table or string thousands of times total far more."""
    model = _schema().Model.GetRootAs(data, 0)

    def name(text) -> int:
        return len(text) if text else 0

    total = name(model.Description()) + 4 * (model.BuffersLength() + model.MetadataLength() + model.SubgraphsLength()
                                              + model.OperatorCodesLength() + model.SignatureDefsLength())
    if total > limit:
        return total
    total += sum(name(model.Metadata(i).Name()) for i in range(model.MetadataLength()))
    total += sum(name(model.OperatorCodes(i).CustomCode()) for i in range(model.OperatorCodesLength()))
    for i in range(model.SignatureDefsLength()):
        if total > limit:
            return total
        signature = model.SignatureDefs(i)
        total += name(signature.SignatureKey()) + 4 * (signature.InputsLength() + signature.OutputsLength())
        if total <= limit:
            total += sum(name(signature.Inputs(j).Name()) for j in range(signature.InputsLength()))
            total += sum(name(signature.Outputs(j).Name()) for j in range(signature.OutputsLength()))
    for i in range(model.SubgraphsLength()):
        if total > limit:
            return total
        graph = model.Subgraphs(i)
        total += name(graph.Name()) + 4 * (graph.TensorsLength() + graph.OperatorsLength() + graph.InputsLength()
                                            + graph.OutputsLength())
        for j in range(graph.OperatorsLength()):
            if total > limit:
                return total
            op = graph.Operators(j)
            total += 4 * (op.InputsLength() + op.OutputsLength() + op.IntermediatesLength())
        for j in range(graph.TensorsLength()):
            if total > limit:
                return total
            tensor = graph.Tensors(j)
            total += name(tensor.Name()) + 4 * (tensor.ShapeLength() + tensor.ShapeSignatureLength()
                                                 + tensor.VariantTensorsLength())
            quant, sparsity = tensor.Quantization(), tensor.Sparsity()
            if quant is not None:
                total += 4 * (quant.ScaleLength() + quant.ZeroPointLength() + quant.MinLength() + quant.MaxLength())
            if sparsity is not None:
                total += 4 * (sparsity.DimMetadataLength() + sparsity.TraversalOrderLength()
                              + sparsity.BlockMapLength())
    return total


# Ops whose shapes the cost model and the arena plan read. TFLite-Micro's kernels refuse them at
# Prepare unless input and weights are present (not -1), the weights have at least this rank (a
# convolution filter is OHWI) and there is an output with at least one dimension.
_WEIGHTS_RANK = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 1}


def _check_ops(model: TFLiteModel, label: str) -> None:
    tensors = model.tensors
    for op in model.ops:
        if any(not -1 <= i < len(tensors) for i in op.inputs) or any(not 0 <= i < len(tensors) for i in op.outputs):
            raise ModelError(f"{label}: operator {op.index} ({op.kind}) refers to a tensor the graph does not have",
                             "the file is corrupt; re-export or re-download the model")
        rank = _WEIGHTS_RANK.get(op.kind)
        if rank is not None and not (len(op.inputs) >= 2 and min(op.inputs[:2]) >= 0 and op.outputs
                                     and len(tensors[op.inputs[1]].shape) >= rank
                                     and len(tensors[op.outputs[0]].shape) >= 1):
            raise ModelError(f"{label}: operator {op.index} ({op.kind}) lacks its input, its weights "
                             f"(at least {rank}-D) or its output", "the file is corrupt; re-export the model")


def _build(data: bytes, raw) -> TFLiteModel:
    names = builtin_names()
    graph = raw.subgraphs[0]
    buffers = raw.buffers or []
    tensors = tuple(_tensor_info(i, t, buffers) for i, t in enumerate(graph.tensors or []))
    for tensor in tensors:
        if any(d < 0 for d in tensor.shape[1:]):
            raise ModelError(f"tensor '{tensor.name}' has a dynamic shape {list(tensor.shape)}",
                             "export the model with fixed input shapes (batch 1)")
    op_codes = raw.operatorCodes or []
    ops = []
    for i, op in enumerate(graph.operators or []):
        code = op_codes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        kind = names.get(builtin, f"BUILTIN_{builtin}")
        if kind == "CUSTOM":
            custom = (code.customCode.decode(errors="replace") if isinstance(code.customCode, bytes)
                      else str(code.customCode))
            kind = f"CUSTOM:{custom}"
        ops.append(OpInfo(i, kind, _ints(op.inputs), _ints(op.outputs), _options(op.builtinOptions)))
    description = raw.description.decode(errors="replace") if isinstance(raw.description, bytes) else ""
    return TFLiteModel(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        schema_version=raw.version,
        tensors=tensors,
        ops=tuple(ops),
        inputs=tuple(_at(tensors, i) for i in _ints(graph.inputs)),
        outputs=tuple(_at(tensors, i) for i in _ints(graph.outputs)),
        subgraph_count=len(raw.subgraphs),
        description=description,
    )


def _at(items: tuple, index: int):
    """items[index] for an index the file gives: a negative one is as corrupt as one too large."""
    if index < 0:
        raise IndexError(index)
    return items[index]


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in (values if values is not None else []))


def _tensor_info(index: int, tensor, buffers) -> TensorInfo:
    dtype_name = TENSOR_TYPES.get(tensor.type, (f"type{tensor.type}", None))[0]
    shape = _ints(tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape)
    if tensor.shapeSignature is not None and len(tensor.shapeSignature) and tensor.shapeSignature[0] == -1:
        shape = (1,) + _ints(tensor.shape)[1:]  # a dynamic batch runs as batch 1
    quant = tensor.quantization
    scale = tuple(float(s) for s in (quant.scale if quant is not None and quant.scale is not None else []))
    zero = _ints(quant.zeroPoint if quant is not None and quant.zeroPoint is not None else [])
    qdim = int(quant.quantizedDimension) if quant is not None else 0
    buffer = buffers[tensor.buffer] if 0 < tensor.buffer < len(buffers) else None
    buffer_bytes = len(buffer.data) if buffer is not None and buffer.data is not None else 0
    if buffer is not None and not buffer_bytes and getattr(buffer, "size", 0):
        buffer_bytes = int(buffer.size)  # data stored past the flatbuffer (models over 2 GB)
    name = tensor.name.decode(errors="replace") if isinstance(tensor.name, bytes) else str(tensor.name)
    return TensorInfo(index, name, shape, dtype_name, scale, zero, qdim, buffer_bytes, bool(tensor.isVariable))


def _options(options) -> dict:
    if options is None:
        return {}
    return {k: v for k, v in vars(options).items() if isinstance(v, (int, float, bool))}
