from __future__ import annotations

import math

import pytest

from toolkit.errors import ProtocolError
from toolkit.protocol import (
    ErrorPayload,
    Info,
    InvokeResult,
    LogRecord,
    Metrics,
    ModelBegin,
    ModelData,
    OutputRequest,
    ProfileResult,
    SlotAnswer,
    TensorChunk,
)

EXAMPLES = [
    Info(1, 15, 240, 4096, 1, 1234, bytes(range(32)), 163840, 98304, 0, "espml-fw", "0.1.0", "esp32s3",
         (3, 25)),
    TensorChunk(0, 4087, 27648, b"\x00\x01\xff" * 10),
    OutputRequest(1, 10, 4087),
    InvokeResult(28168, 2**40 + 5),
    ProfileResult(9959, 300, ((3, 713), (9, 1214), (255, 4_000_000_000))),
    ModelBegin(53936, bytes(32)),
    ModelData(8184, b"abc"),
    SlotAnswer(1),
    ErrorPayload(4, "no model loaded"),
    LogRecord(2, "hello"),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_payload_round_trip(message) -> None:
    assert type(message).unpack(message.pack()) == message


def test_metrics_round_trip_keeps_nan_for_missing_sensor() -> None:
    metrics = Metrics(1, 2, 3, 4, 5, float("nan"), float("nan"), 3.25)
    back = Metrics.unpack(metrics.pack())
    assert math.isnan(back.current_mean_ma) and back.bus_voltage_v == 3.25 and back.heap_free_min_bytes == 3


@pytest.mark.parametrize("cls", [Info, TensorChunk, InvokeResult, Metrics, ModelBegin, OutputRequest])
def test_short_payload_is_a_protocol_error(cls) -> None:
    with pytest.raises(ProtocolError, match="too short"):
        cls.unpack(b"\x01\x02")


def test_error_payload_names_known_codes() -> None:
    assert ErrorPayload(7, "x").name == "ARENA_TOO_SMALL"
    assert ErrorPayload(999, "x").name == "CODE_999"
