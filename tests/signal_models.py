"""Models of every op kind of TFLite-Micro's signal library, built with the project's builder: the
shapes, types and flexbuffer options each kernel's Prepare accepts (signal/micro/kernels/*.cc),
with state that grows with options and shapes (several channels, outer dimensions, each FFT
type), and a keyword-spotting front end chaining ten of them as TFLM's audio preprocessor does.
The kernels read options by index in key order; flexbuffers sorts the keys."""

from __future__ import annotations

from typing import Callable

import numpy as np
from flatbuffers import flexbuffers

from toolkit.model.synth import ModelBuilder

FLOAT32, INT32, BOOL, INT16, UINT64, UINT32 = 0, 2, 6, 7, 12, 15  # TensorType codes (FACTS.md)


def custom_op(b: ModelBuilder, code: str, inputs: list[int], outputs: list[int], options: dict) -> None:
    """A custom operator with flexbuffer-map options."""
    b._op("CUSTOM", inputs, outputs)
    b.custom_codes[len(b.op_codes) - 1] = code
    op = b.operators[-1]
    op.customOptions = np.frombuffer(flexbuffers.Dumps(options), dtype=np.uint8)
    op.customOptionsFormat = b.s.CustomOptionsFormat.FLEXBUFFERS


def _t(b: ModelBuilder, shape: tuple[int, ...], dtype: int, data: np.ndarray | None = None) -> int:
    return b._tensor(shape, dtype, 1.0, 0, data)


def one_op(code: str, ins: list[tuple], outs: list[tuple], options: dict) -> Callable[[], bytes]:
    """A one-op model: ``ins`` and ``outs`` are (shape, type[, constant data]); non-constant inputs
    are the model's inputs."""
    def build() -> bytes:
        b = ModelBuilder()
        inputs = [_t(b, *spec) for spec in ins]
        outputs = [_t(b, *spec) for spec in outs]
        custom_op(b, code, inputs, outputs, options)
        return b.build([i for i, spec in zip(inputs, ins) if len(spec) == 2], outputs, f"espml {code}")
    return build


def _fft(code: str, dtype: int, length: int, batch: int = 1) -> Callable[[], bytes]:
    real, complex_ = (batch, length), (batch, 2 * (length // 2 + 1))
    ins, outs = (real, complex_) if code == "SignalRfft" else (complex_, real)
    return one_op(code, [(ins, dtype)], [(outs, dtype)], {"T": dtype, "fft_length": length})


def _filter_bank(channels: int, bins: int = 33) -> Callable[[], bytes]:
    weights = np.full(bins, 2048, np.int16)
    starts = np.arange(channels + 1, dtype=np.int16)
    return one_op("SignalFilterBank",
                [((bins,), UINT32), ((bins,), INT16, weights), ((bins,), INT16, weights),
                 ((channels + 1,), INT16, starts), ((channels + 1,), INT16, starts),
                 ((channels + 1,), INT16, np.ones(channels + 1, np.int16))],
                [((channels,), UINT64)], {"num_channels": channels})


SPECTRAL_SUBTRACTION = {"alternate_one_minus_smoothing": 0, "alternate_smoothing": 0, "clamping": False,
                        "min_signal_remaining": 655, "one_minus_smoothing": 15729, "smoothing": 655,
                        "smoothing_bits": 10, "spectral_subtraction_bits": 14}


def front_end(samples: int = 512, channels: int = 40) -> bytes:
    """int16 audio -> Window -> FftAutoScale -> Rfft -> Energy -> FilterBank -> FilterBankSquareRoot
    -> FilterBankSpectralSubtraction -> PCAN -> FilterBankLog -> Stacker: the KWS front end."""
    b = ModelBuilder()
    bins = samples // 2 + 1
    audio = _t(b, (samples,), INT16)
    window = _t(b, (samples,), INT16, (np.hanning(samples) * 4096).astype(np.int16))
    windowed, scaled, scale = _t(b, (samples,), INT16), _t(b, (samples,), INT16), _t(b, (), INT32)
    spectrum, energy = _t(b, (2 * bins,), INT16), _t(b, (bins,), UINT32)
    custom_op(b, "SignalWindow", [audio, window], [windowed], {"shift": 12})
    custom_op(b, "SignalFftAutoScale", [windowed], [scaled, scale], {})
    custom_op(b, "SignalRfft", [scaled], [spectrum], {"T": INT16, "fft_length": samples})
    custom_op(b, "SignalEnergy", [spectrum], [energy], {"end_index": bins, "start_index": 0})
    weights = np.full(bins, 2048, np.int16)
    starts = (np.arange(channels + 1) * (bins // (channels + 1))).astype(np.int16)
    bank_inputs = [energy] + [_t(b, (len(d),), INT16, d) for d in
                              (weights, weights, starts, starts, np.full(channels + 1, bins // (channels + 1),
                                                                          np.int16))]
    bank, root = _t(b, (channels,), UINT64), _t(b, (channels,), UINT32)
    custom_op(b, "SignalFilterBank", bank_inputs, [bank], {"num_channels": channels})
    custom_op(b, "SignalFilterBankSquareRoot", [bank, scale], [root], {})
    cleaned, noise = _t(b, (channels,), UINT32), _t(b, (channels,), UINT32)
    custom_op(b, "SignalFilterBankSpectralSubtraction", [root], [cleaned, noise],
              dict(SPECTRAL_SUBTRACTION, num_channels=channels))
    gain = _t(b, (125,), INT16, np.arange(125, dtype=np.int16))
    pcan, logs = _t(b, (channels,), UINT32), _t(b, (channels,), INT16)
    custom_op(b, "SignalPCAN", [cleaned, noise, gain], [pcan], {"snr_shift": 6})
    custom_op(b, "SignalFilterBankLog", [pcan], [logs], {"input_correction_bits": 3, "output_scale": 64})
    stacked, valid = _t(b, (3 * channels,), INT16), _t(b, (), BOOL)
    custom_op(b, "SignalStacker", [logs], [stacked, valid], {"num_channels": channels, "stacker_left_context": 1,
                                                             "stacker_right_context": 1, "stacker_step": 1})
    return b.build([audio], [stacked, valid], "espml KWS front end (10 signal ops)")


SIGNAL_MODELS: dict[str, Callable[[], bytes]] = {
    "delay": one_op("SignalDelay", [((3, 16), INT16)], [((3, 16), INT16)], {"delay_length": 5}),
    "energy": one_op("SignalEnergy", [((66,), INT16)], [((33,), UINT32)], {"end_index": 33, "start_index": 0}),
    "fft_auto_scale": one_op("SignalFftAutoScale", [((64,), INT16)], [((64,), INT16), ((), INT32)], {}),
    "filter_bank": _filter_bank(8),
    "filter_bank_40": _filter_bank(40, 257),
    "filter_bank_log": one_op("SignalFilterBankLog", [((8,), UINT32)], [((8,), INT16)],
                            {"input_correction_bits": 3, "output_scale": 64}),
    "filter_bank_spectral_subtraction": one_op(
        "SignalFilterBankSpectralSubtraction", [((24,), UINT32)], [((24,), UINT32), ((24,), UINT32)],
        dict(SPECTRAL_SUBTRACTION, num_channels=24)),
    "filter_bank_square_root": one_op("SignalFilterBankSquareRoot",
                                    [((8,), UINT64), ((), INT32, np.array(3, np.int32))], [((8,), UINT32)], {}),
    "framer": one_op("SignalFramer", [((2, 160), INT16)], [((2, 2, 100), INT16), ((), BOOL)],
                   {"frame_size": 100, "frame_step": 80, "prefill": True}),
    "irfft_int16": _fft("SignalIrfft", INT16, 64, batch=2),
    "irfft_int32": _fft("SignalIrfft", INT32, 128),
    "irfft_float": _fft("SignalIrfft", FLOAT32, 256),
    "overlap_add_int16": one_op("SignalOverlapAdd", [((2, 3, 32), INT16)], [((2, 48), INT16)],
                              {"T": INT16, "frame_step": 16}),
    "overlap_add_float": one_op("SignalOverlapAdd", [((3, 64), FLOAT32)], [((96,), FLOAT32)],
                              {"T": FLOAT32, "frame_step": 32}),
    "pcan": one_op("SignalPCAN", [((8,), UINT32), ((8,), UINT32), ((125,), INT16, np.arange(125, dtype=np.int16))],
                 [((8,), UINT32)], {"snr_shift": 6}),
    "rfft_int16": _fft("SignalRfft", INT16, 512),
    "rfft_int32": _fft("SignalRfft", INT32, 64, batch=3),
    "rfft_float": _fft("SignalRfft", FLOAT32, 256),
    "rfft_odd_length": _fft("SignalRfft", INT16, 63),
    "stacker": one_op("SignalStacker", [((8,), INT16)], [((40,), INT16), ((), BOOL)],
                    {"num_channels": 8, "stacker_left_context": 3, "stacker_right_context": 1, "stacker_step": 2}),
    "window": one_op("SignalWindow", [((64,), INT16), ((64,), INT16, np.ones(64, np.int16))], [((64,), INT16)],
                   {"shift": 12}),
    "front_end": front_end,
}
