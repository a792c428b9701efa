"""TFLite-Micro's offline memory plan: the ``OfflineMemoryAllocation`` metadata of a model.

Format (tflite-micro ``micro/docs/memory_management.md``, read by
``AllocationInfoBuilder::GetOfflinePlannedOffsets`` in ``micro_allocation_info.cc``): a model
metadata entry of that name points at a buffer of little-endian 32-bit integers

    [version, subgraph, n, offset of tensor 0, ..., offset of tensor n-1]

with one offset per tensor of every subgraph, subgraphs concatenated in order. An offset is a
byte offset from the start of the arena's non-persistent (head) section; -1 leaves the tensor
to TFLM's greedy planner, which then places it (and every scratch buffer) around the fixed
ones. TFLM ignores the first two words, refuses a model whose ``n`` differs from its tensor
count, and trusts the offsets: it checks neither overlaps nor bounds. When several entries
carry the name, the last one counts.
"""

from __future__ import annotations

import struct

import numpy as np

from toolkit.errors import ModelError

OFFLINE_PLAN_NAME = "OfflineMemoryAllocation"
ONLINE = -1  # kOnlinePlannedBuffer: TFLM's greedy planner places the tensor
PLAN_VERSION = 1  # what tflite-micro's own tests write; TFLM does not read it
HEADER_WORDS = 3


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def plan_buffer_index(data: bytes) -> int | None:
    """The buffer index of the model's (last) offline plan entry, or None without one."""
    model = _schema().Model.GetRootAs(data, 0)
    found = None
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() is not None and entry.Name().decode(errors="replace") == OFFLINE_PLAN_NAME:
            found = entry.Buffer()
    return found


def read_offline_offsets(data: bytes) -> tuple[int, ...] | None:
    """The offset of every tensor (all subgraphs, in order) from the model's offline plan, or None
    without one; ModelError for a plan TFLite-Micro would refuse or misread."""
    index = plan_buffer_index(data)
    if index is None:
        return None
    hint = "re-plan the original model with 'espml plan', or remove the OfflineMemoryAllocation metadata"
    model = _schema().Model.GetRootAs(data, 0)
    if not 0 <= index < model.BuffersLength():
        raise ModelError(f"the model's offline memory plan names buffer {index}, which the model does not have", hint)
    raw = model.Buffers(index).DataAsNumpy()
    raw = raw.tobytes() if isinstance(raw, np.ndarray) else b""
    if len(raw) < 4 * HEADER_WORDS or len(raw) % 4:
        raise ModelError(f"the model's offline memory plan is {len(raw)} bytes, not a header and 32-bit offsets", hint)
    count = struct.unpack_from("<i", raw, 8)[0]
    tensors = sum(model.Subgraphs(g).TensorsLength() for g in range(model.SubgraphsLength()))
    if count != tensors:
        raise ModelError(f"the model's offline memory plan has {count} offsets for {tensors} tensors: "
                         "TFLite-Micro refuses to allocate it", hint)
    if len(raw) < 4 * (HEADER_WORDS + count):
        raise ModelError(f"the model's offline memory plan announces {count} offsets but holds "
                         f"{len(raw) // 4 - HEADER_WORDS}", hint)
    offsets = struct.unpack_from(f"<{count}i", raw, 4 * HEADER_WORDS)
    bad = next((i for i, offset in enumerate(offsets) if offset < ONLINE), None)
    if bad is not None:
        raise ModelError(f"the model's offline memory plan puts tensor {bad} at offset {offsets[bad]}, before the "
                         "arena's head: TFLite-Micro would write outside its arena", hint)
    return offsets


def encode_offline_offsets(offsets: tuple[int, ...] | list[int]) -> bytes:
    """The metadata buffer for these per-tensor offsets (ONLINE for TFLM's own placement)."""
    return struct.pack(f"<{HEADER_WORDS + len(offsets)}i", PLAN_VERSION, 0, len(offsets), *offsets)
