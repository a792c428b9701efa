"""How sure inspect's latency estimate is, per op kind: measured, modelled, extrapolated or assumed,
in --json (per op and per kind) and in the verdict's text."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.boards import OpWork, get_board
from toolkit.cli import main
from toolkit.model.synth import ModelBuilder

TAGS = {"measured", "modelled", "extrapolated", "assumed"}


def recurrent_model(steps: int = 10, features: int = 8, units: int = 16) -> bytes:
    """LSTM -> RESHAPE -> SVDF -> FULLY_CONNECTED -> SOFTMAX: kinds of every confidence."""
    b = ModelBuilder(2)
    x = b.input((1, steps, features))
    y = b.reshape(b.lstm(x, units), (1, steps * units))
    return b.build([x], [b.softmax(b.fully_connected(b.svdf(y, 8), 4))])


def inspect_json(tmp_path: Path, data: bytes, *flags: str) -> dict:
    model, out = tmp_path / "m.tflite", tmp_path / "m.json"
    model.write_bytes(data)
    assert main(["inspect", str(model), "--json", str(out), *flags]) == 0
    return json.loads(out.read_text())


def test_every_op_kind_has_a_confidence_tag_in_inspect_json(tmp_path: Path, capsys) -> None:
    data = inspect_json(tmp_path, recurrent_model())
    kinds = data["latency_confidence"]
    assert set(kinds) == set(data["ops"]) and all(entry["confidence"] in TAGS for entry in kinds.values())
    assert all(op["confidence"] in TAGS and op["confidence_reasons"] for op in data["per_op"])
    assert {kind: entry["confidence"] for kind, entry in kinds.items()} == {
        "UNIDIRECTIONAL_SEQUENCE_LSTM": "modelled", "RESHAPE": "assumed", "SVDF": "modelled",
        "FULLY_CONNECTED": "measured", "SOFTMAX": "assumed"}
    assert sum(entry["ops"] for entry in kinds.values()) == len(data["ops"])
    out = capsys.readouterr().out
    lstm_row = next(line for line in out.splitlines() if line.split()[:2] == ["0", "UNIDIRECTIONAL_SEQUENCE_LSTM"])
    assert lstm_row.split()[-1] == "modelled"  # the op table's estimate column carries the tag per op
    text = " ".join(out.split())
    assert ("latency estimate per op kind: measured for FULLY_CONNECTED; modelled for UNIDIRECTIONAL_SEQUENCE_LSTM, "
            "SVDF; assumed for RESHAPE, SOFTMAX") in text
    # without ESP-NN the fully-connected kernel is TFLM's reference one, host-timed: modelled
    plain = inspect_json(tmp_path, recurrent_model(), "--no-esp-nn")["latency_confidence"]
    assert plain["FULLY_CONNECTED"]["confidence"] == "modelled"


def test_an_lstm_outside_its_calibration_is_flagged_extrapolated(tmp_path: Path, capsys) -> None:
    inside = inspect_json(tmp_path, recurrent_model(features=40, units=32))["latency_confidence"]
    assert inside["UNIDIRECTIONAL_SEQUENCE_LSTM"]["confidence"] == "modelled"
    capsys.readouterr()
    lstm = inspect_json(tmp_path, recurrent_model(features=400, units=4))["latency_confidence"][
        "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert lstm["confidence"] == "extrapolated"
    assert [r for r in lstm["reasons"] if r.startswith("400 features, outside the 8-320 features")]
    text = " ".join(capsys.readouterr().out.split())
    assert "extrapolated for UNIDIRECTIONAL_SEQUENCE_LSTM" in text
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM's" in text and "ms is extrapolated, a rough figure: 400 features" in text


def test_an_lstm_whose_weights_outgrow_the_flash_cache_is_flagged_extrapolated(tmp_path: Path) -> None:
    # a speech LSTM's shape (257 spectrum bins, 128 units): its 197 KB of gate weights are read every step
    lstm = inspect_json(tmp_path, recurrent_model(steps=4, features=257, units=128))["latency_confidence"][
        "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert lstm["confidence"] == "extrapolated"
    assert any("exceed the 32 KB flash cache" in r for r in lstm["reasons"])


def test_a_float_op_is_assumed_whatever_its_kind() -> None:
    board = get_board("esp32s3")
    conv = OpWork("CONV_2D", macs=1000, output_elements=10, input_channels=8)
    assert board.confidence(conv).tag == "measured"
    floating = board.confidence(OpWork("CONV_2D", macs=1000, output_elements=10, input_channels=8, float_kernel=True))
    assert floating.tag == "assumed" and "float32" in floating.reasons[0]
