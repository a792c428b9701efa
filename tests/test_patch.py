"""Patch-based execution of a model's first stage (``espml plan --patch``): the band rewrite
must compute every output pixel as the whole-tensor model does, in the host TFLite-Micro."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.boards.firmware import firmware_ops
from toolkit.model import load_model
from toolkit.model.bands import band_steps, find_stage, split_rows
from toolkit.model.patch import band_rewrite
from toolkit.model.tflm import HostInterpreter

from vision_models import image_inputs, mobilenet_v1, stage_model

ARENA = 4 * 1024 * 1024


def tflm_outputs(data: bytes, input_sets: list[list[np.ndarray]]) -> list[np.ndarray]:
    interpreter = HostInterpreter(data, ARENA)
    return [interpreter.run(inputs)[0] for inputs in input_sets]


@pytest.mark.parametrize("bands", [2, 3, 4])
@pytest.mark.parametrize("depth", [1, 3, 7])
def test_banded_stage_is_bit_identical_pixel_by_pixel(depth: int, bands: int) -> None:
    data = stage_model()
    stage = find_stage(load_model(data))
    assert len(stage.layers) == 7 and "model output" in stage.stop
    patched = band_rewrite(data, stage.layers[:depth], bands)
    inputs = image_inputs(data, 3)
    for original, banded in zip(tflm_outputs(data, inputs), tflm_outputs(patched, inputs)):
        assert original.shape == banded.shape and np.array_equal(original, banded)


def test_bands_run_valid_convolutions_and_only_registered_ops() -> None:
    data = stage_model()
    patched = load_model(band_rewrite(data, find_stage(load_model(data)).layers, 4))
    assert set(patched.op_names) <= firmware_ops()
    assert {"STRIDED_SLICE", "PAD", "CONCATENATION"} <= set(patched.op_names)
    windows = [op for op in patched.ops if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D")]
    assert len(windows) == 4 * 6 and all(op.options["padding"] == 1 for op in windows)  # VALID


def test_mobilenet_stage_after_the_split_point_is_unchanged() -> None:
    """Banding the first layers of a whole MobileNet leaves its classifier's outputs identical."""
    data = mobilenet_v1(48, 1)
    stage = find_stage(load_model(data))
    patched = band_rewrite(data, stage.layers[:5], 3)
    inputs = image_inputs(data, 2)
    assert all(np.array_equal(a, b) for a, b in zip(tflm_outputs(data, inputs), tflm_outputs(patched, inputs)))
    assert len(load_model(patched).ops) > len(load_model(data).ops)


def test_band_rows_cover_the_output_once_with_halos_and_border_padding() -> None:
    layers = find_stage(load_model(stage_model())).layers[:3]
    height = layers[-1].out_shape[0]
    bands = split_rows(height, 3)
    assert bands[0][0] == 0 and bands[-1][1] == height and all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    first, middle, last = (band_steps(layers, rows) for rows in bands)
    assert first[0].pad_top == 1 and middle[0].pad_top == 0 and middle[0].pad_bottom == 0
    assert last[0].pad_bottom == 1 and last[0].rows[1] == layers[0].in_shape[0]
    assert middle[0].rows[0] < first[0].rows[1]  # the halo: neighbouring bands read common rows


def test_a_dilated_convolution_ends_the_stage() -> None:
    stage = find_stage(load_model(stage_model(dilation=2)))
    assert len(stage.layers) == 2 and "dilated" in stage.stop
