"""inspect's arena for models of TFLite-Micro's signal library: every op kind's persistent state and
scratch counted, equal to what the host TFLM interpreter records (issue 18 item 7)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from signal_models import INT16, SIGNAL_MODELS, SPECTRAL_SUBTRACTION, UINT32, custom_op, one_op
from toolkit.boards import get_board
from toolkit.boards.firmware import firmware_ops
from toolkit.model.graph import read_subgraphs
from toolkit.model.inspect import inspect_model
from toolkit.model.reader import load_model
from toolkit.model.synth import ModelBuilder
from toolkit.model.tflm import recorded_arena
from toolkit.virtual.chip import LoadFailed, SimulatedChip

RECORDING_ARENA = 1 << 20


@pytest.mark.parametrize("name", sorted(SIGNAL_MODELS))
def test_inspect_arena_equals_the_host_tflm_recording(name: str) -> None:
    """Head, tail and total at 8-byte pointers are TFLM's own figures, and inspect calls them exact."""
    data = SIGNAL_MODELS[name]()
    report = inspect_model(load_model(data), get_board("esp32s3"), pointer_size=8)
    recorded = recorded_arena(data, RECORDING_ARENA)
    assert (report.arena_head_bytes, report.arena_tail_bytes) == (recorded.head, recorded.tail)
    facts = report.to_json()
    assert facts["arena_exact"] is True and facts["arena_uncounted_ops"] == []
    assert not any("lower bound" in line for line in facts["verdict"]["reasons"])


def test_every_signal_op_kind_is_covered() -> None:
    kinds = {op.kind for build in SIGNAL_MODELS.values() for op in read_subgraphs(build())[0].ops}
    assert kinds == {op for op in firmware_ops() if op.startswith("CUSTOM:Signal")}


@pytest.mark.parametrize("name", ["front_end", "framer", "irfft_float"])
def test_a_board_with_exactly_inspects_arena_loads_the_model_and_one_with_16_bytes_less_does_not(name: str) -> None:
    """The 32-bit figure: the virtual board hands the host TFLM its arena plus the tail's 64-bit
    overhead, so inspect's ESP32-S3 arena must be exactly what the model needs there."""
    data = SIGNAL_MODELS[name]()
    board = get_board("esp32s3")
    need = inspect_model(load_model(data), board).arena_bytes
    chip = SimulatedChip(dataclasses.replace(board, arena_bytes=need), realtime=False)
    chip.load(data)
    assert chip.loaded is not None and chip.loaded.arena_bytes == need
    short = SimulatedChip(dataclasses.replace(board, arena_bytes=need - 16), realtime=False)
    with pytest.raises(LoadFailed) as failed:
        short.load(data)
    assert failed.value.code == "ARENA_TOO_SMALL"


def _rfft(options: dict) -> bytes:
    b = ModelBuilder()
    audio = b._tensor((64,), INT16, 1.0, 0)
    spectrum = b._tensor((66,), INT16, 1.0, 0)
    custom_op(b, "SignalRfft", [audio], [spectrum], options)
    window = b._tensor((66,), INT16, 1.0, 0, np.ones(66, np.int16))
    out = b._tensor((66,), INT16, 1.0, 0)
    custom_op(b, "SignalWindow", [spectrum, window], [out], {"shift": 0})
    return b.build([audio], [out], "espml rfft with options its kernel does not take")


@pytest.mark.parametrize("options", [{"T": 9, "fft_length": 64}, {"T": 7.0, "fft_length": 64}, {"T": 7}])
def test_a_signal_op_with_options_its_kernel_does_not_take_keeps_the_lower_bound(options: dict) -> None:
    """An int8 FFT (its Init returns nullptr), a float type code (a conversion the planner does not
    follow), a missing length (the kernel reads past its options): not modelled, so only that op is
    named and the figure says it is a lower bound."""
    facts = inspect_model(load_model(_rfft(options)), get_board("esp32s3")).to_json()
    assert facts["arena_exact"] is False and facts["arena_uncounted_ops"] == ["SignalRfft"]
    assert any("lower bound" in line and "SignalRfft" in line for line in facts["verdict"]["reasons"])


def test_options_are_read_by_position_as_the_kernel_reads_them() -> None:
    """filter_bank_spectral_subtraction.cc takes num_channels as the 5th value in key order: with
    the first key left out, it takes one_minus_smoothing (15729) and sizes its noise estimate
    by that. The planner must count what the kernel allocates, not what the key says."""
    options = {key: value for key, value in SPECTRAL_SUBTRACTION.items() if key != "alternate_one_minus_smoothing"}
    data = one_op("SignalFilterBankSpectralSubtraction", [((24,), UINT32)], [((24,), UINT32), ((24,), UINT32)],
                dict(options, num_channels=24))()
    report = inspect_model(load_model(data), get_board("esp32s3"), pointer_size=8)
    recorded = recorded_arena(data, RECORDING_ARENA)
    assert recorded.tail > 4 * options["one_minus_smoothing"]
    assert (report.arena_head_bytes, report.arena_tail_bytes) == (recorded.head, recorded.tail)
