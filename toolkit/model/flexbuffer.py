"""A custom op's flexbuffer options read the way TFLite-Micro's kernels read them.

The signal kernels use ``FlexbufferWrapper`` (tensorflow/lite/micro/flatbuffer_utils.cc): the
root taken as a vector (a map's values, in key order) and element ``i`` read as the raw
little-endian integer of the vector's byte width, whatever its type; the FFT kernels also look
``T`` up by key (``flexbuffers::Map::operator[]``: a missing key reads as 0). This reader does
the same over the bytes, without trusting them: anything outside the buffer, or a value whose
conversion it does not follow (a float ``T``, say), reads as None.
"""

from __future__ import annotations

from dataclasses import dataclass

# flexbuffers::Type codes (flexbuffers.h)
NULL, INT, UINT, INDIRECT_INT, INDIRECT_UINT, MAP, VECTOR, BOOL = 0, 1, 2, 6, 7, 9, 10, 26


def _read(data: bytes, at: int, width: int, signed: bool) -> int | None:
    if at < 0 or at + width > len(data) or width not in (1, 2, 4, 8):
        return None
    return int.from_bytes(data[at:at + width], "little", signed=signed)


def _int32(value: int) -> int:
    """static_cast<int32_t> of an int64."""
    return (value + 2**31) % 2**32 - 2**31


@dataclass(frozen=True)
class FlexbufferOptions:
    """The root vector of a flexbuffer: where its elements start, their width, how many, whether a map."""

    data: bytes
    start: int
    width: int
    size: int
    is_map: bool

    @classmethod
    def parse(cls, data: bytes) -> FlexbufferOptions | None:
        """The root vector or map of ``data``, or None when it has none inside the buffer."""
        if len(data) < 3:
            return None
        root_width, packed = data[-1], data[-2]
        kind, width = packed >> 2, 1 << (packed & 3)
        at = len(data) - 2 - root_width
        offset = _read(data, at, root_width, False)
        if kind not in (MAP, VECTOR) or offset is None:
            return None
        start = at - offset
        size = _read(data, start - width, width, False)
        if size is None or start + size * width > len(data):
            return None
        return cls(data, start, width, size, kind == MAP)

    def element_as_int32(self, index: int) -> int | None:
        """FlexbufferWrapper::ElementAsInt32: the raw element, truncated to int32; None past the end."""
        if index >= self.size:
            return None
        value = _read(self.data, self.start + index * self.width, self.width, True)
        return None if value is None else _int32(value)

    def key_as_int32(self, key: str) -> int | None:
        """``GetRoot().AsMap()[key].AsInt32()``: 0 for a missing key or a root that is not a map (an
        empty map, a null value); None for a value that is not an integer. The keys are searched in
        turn, which finds what flexbuffers' binary search does in the sorted maps it writes."""
        if not self.is_map:
            return 0
        keys_at = _read(self.data, self.start - 3 * self.width, self.width, False)
        keys_width = _read(self.data, self.start - 2 * self.width, self.width, False)
        if keys_at is None or keys_width is None:
            return None
        keys = self.start - 3 * self.width - keys_at
        wanted = key.encode() + b"\0"
        for i in range(self.size):
            offset = _read(self.data, keys + i * keys_width, keys_width, False)
            if offset is None:
                return None
            name_at = keys + i * keys_width - offset
            if name_at >= 0 and self.data[name_at:name_at + len(wanted)] == wanted:
                return self._value_as_int32(i)
        return 0

    def _value_as_int32(self, index: int) -> int | None:
        """Reference::AsInt64 of element ``index`` for the integer types (inline or indirect)."""
        types_at = self.start + self.size * self.width + index
        if types_at >= len(self.data):
            return None
        kind, width = self.data[types_at] >> 2, 1 << (self.data[types_at] & 3)
        at = self.start + index * self.width
        if kind in (INT, UINT, BOOL, NULL):
            value = 0 if kind == NULL else _read(self.data, at, self.width, kind == INT)
        elif kind in (INDIRECT_INT, INDIRECT_UINT):
            offset = _read(self.data, at, self.width, False)
            value = None if offset is None else _read(self.data, at - offset, width, kind == INDIRECT_INT)
        else:
            return None
        return None if value is None else _int32(value)
