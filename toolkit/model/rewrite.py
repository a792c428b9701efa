"""Write a .tflite model again with its main subgraph's operators in another order and/or an
offline memory plan, everything else kept (through the schema's object API).

Buffer data is written 16-byte aligned (the converter's own alignment; kernels may read weights
with vector loads), so a rewritten model is never less aligned than its source.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from toolkit.errors import ModelError
from toolkit.model.plan_metadata import OFFLINE_PLAN_NAME, encode_offline_offsets, plan_buffer_index

DATA_ALIGNMENT = 16


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _aligned_buffer_class():
    s = _schema()

    class AlignedBufferT(s.BufferT):
        """A Buffer whose data vector starts on a DATA_ALIGNMENT boundary."""

        def Pack(self, builder: flatbuffers.Builder) -> int:
            data = None
            if self.data is not None and len(self.data):
                payload = np.asarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(payload), DATA_ALIGNMENT)
                builder.head -= len(payload)
                builder.Bytes[builder.head:builder.head + len(payload)] = payload
                data = builder.EndVector()
            s.BufferStart(builder)
            if data is not None:
                s.BufferAddData(builder, data)
            s.BufferAddOffset(builder, self.offset)
            s.BufferAddSize(builder, self.size)
            return s.BufferEnd(builder)

    return AlignedBufferT


def rewrite_model(data: bytes, order: tuple[int, ...] | None = None, offsets: tuple[int, ...] | None = None) -> bytes:
    """The model with subgraph 0's operators in ``order`` (original indices) and ``offsets`` as its
    offline plan (replacing the plan it has, in that plan's buffer)."""
    s = _schema()
    model = unpack_model(data)
    if order is not None:
        main = model.subgraphs[0]
        main.operators = [main.operators[i] for i in order]
    if offsets is not None:
        payload = np.frombuffer(encode_offline_offsets(offsets), dtype=np.uint8)
        index = plan_buffer_index(data)
        if index is None:
            model.buffers.append(s.BufferT())
            index = len(model.buffers) - 1
            entry = s.MetadataT()
            entry.name, entry.buffer = OFFLINE_PLAN_NAME.encode(), index
            model.metadata = (model.metadata or []) + [entry]
        model.buffers[index].data = payload
    return pack_model(model, len(data))


def unpack_model(data: bytes):
    """The model as the schema's object API (``ModelT``), refusing what cannot be packed again."""
    s = _schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
    _refuse_data_past_the_flatbuffer(model)
    return model


def pack_model(model, size_hint: int) -> bytes:
    """A ``ModelT`` as .tflite bytes, every buffer's data DATA_ALIGNMENT-aligned."""
    aligned = _aligned_buffer_class()
    for i, buffer in enumerate(model.buffers):
        copy = aligned()
        copy.data, copy.offset, copy.size = buffer.data, buffer.offset, buffer.size
        model.buffers[i] = copy
    builder = flatbuffers.Builder(size_hint + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _refuse_data_past_the_flatbuffer(model) -> None:
    """Models over 2 GB keep buffers (and large custom options) after the flatbuffer, by offset:
    packing the flatbuffer again would leave them pointing at bytes it no longer has."""
    if any(buffer.offset > 1 for buffer in model.buffers or []) or any(
            op.largeCustomOptionsSize for graph in model.subgraphs or [] for op in graph.operators or []):
        raise ModelError("this model keeps data after its flatbuffer (buffer offsets), which espml plan cannot rewrite",
                         "plan the model as the converter writes it without --large-model layout")
