"""The host <-> firmware wire protocol (spec: docs/protocol.md)."""

from toolkit.protocol.frame import (
    FLAG_RESPONSE,
    FRAME_OVERHEAD,
    PROTOCOL_VERSION,
    Frame,
    FrameDecoder,
    Garbage,
    crc32,
    decode_raw,
    encode_frame,
    wire_size,
)
from toolkit.protocol.messages import (
    NO_SLOT,
    ErrorCode,
    ErrorPayload,
    Info,
    InfoFlag,
    InvokeResult,
    LogRecord,
    Metrics,
    ModelBegin,
    ModelData,
    MsgType,
    OutputRequest,
    ProfileResult,
    SlotAnswer,
    TensorChunk,
    printable,
)

__all__ = [
    "FLAG_RESPONSE", "FRAME_OVERHEAD", "PROTOCOL_VERSION", "Frame", "FrameDecoder", "Garbage", "crc32",
    "decode_raw", "encode_frame", "wire_size", "NO_SLOT", "ErrorCode", "ErrorPayload", "Info", "InfoFlag",
    "InvokeResult", "LogRecord", "Metrics", "ModelBegin", "ModelData", "MsgType", "OutputRequest",
    "ProfileResult", "SlotAnswer", "TensorChunk", "printable",
]
