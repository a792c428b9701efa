"""Test inputs for a .tflite model: files through the model's preprocessing to its input tensor."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.errors import InputDataError
from toolkit.harness.inputs import load_inputs, model_inputs
from toolkit.model import load_model
from toolkit.model.reader import TensorInfo
from toolkit.tensors import Preprocess, channels_last, quantize

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"
INT8_IN = TensorInfo(0, "in", (1, 4, 4, 3), "int8", (0.5,), (-3,))
PIXEL_SCALED = TensorInfo(0, "in", (1, 4, 4, 3), "int8", (1 / 255,), (-128,))  # an input that takes pixels / 255
RGB = Preprocess(colour="rgb")


def save_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array.squeeze(2) if array.shape[2] == 1 else array).save(path)


def test_images_go_through_the_preprocessing_not_straight_into_the_quantiser(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", np.full((4, 4, 3), 10, np.uint8))
    [sample] = load_inputs(tmp_path, PIXEL_SCALED, RGB)
    assert np.allclose(sample, 10 / 255)
    assert quantize(sample, PIXEL_SCALED).flat[0] == -118  # 10/255 / (1/255) - 128; raw 10 would saturate at 127


def test_an_image_without_a_preprocessing_is_refused_with_a_hint(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputDataError, match="no preprocessing is known") as caught:
        load_inputs(tmp_path, INT8_IN)
    assert "--preprocess" in caught.value.hint


def test_the_same_png_is_the_same_tensor_for_bench_and_optimize(tmp_path: Path) -> None:
    """bench (recorded preprocessing next to the model) and optimize (a folder of images) agree."""
    from toolkit.optimize.load import load_folder

    model_path = tmp_path / "digits_cnn_int8.tflite"
    shutil.copyfile(REFERENCE_MODEL, model_path)
    Preprocess(colour="grey", size=(8, 8)).save_beside(model_path)
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 1), dtype=np.uint8)
    (tmp_path / "images").mkdir()
    save_png(tmp_path / "images" / "x.png", pixels)
    model = load_model(model_path)
    [bench_tensor] = model_inputs(tmp_path / "images", model, model_path)
    x, _, spec = load_folder(tmp_path / "images")
    assert x.shape == (1, 1, 8, 8) and spec.layout == "NCHW"
    optimize_tensor = quantize(channels_last(x), model.inputs[0])
    assert np.array_equal(bench_tensor, optimize_tensor)
    assert np.array_equal(bench_tensor, quantize(pixels[None] / 255.0, model.inputs[0]))


def test_an_explicit_preprocessing_wins_over_the_recorded_one(tmp_path: Path) -> None:
    model_path = tmp_path / "m.tflite"
    shutil.copyfile(REFERENCE_MODEL, model_path)
    Preprocess(colour="grey", scale=1 / 255).save_beside(model_path)
    save_png(tmp_path / "x.png", np.full((8, 8, 1), 255, np.uint8))
    model = load_model(model_path)
    recorded = model_inputs(tmp_path / "x.png", model, model_path)[0]
    halved = model_inputs(tmp_path / "x.png", model, model_path, "scale=1/510")[0]
    assert recorded.mean() > halved.mean()


def test_images_of_another_size_and_colour_are_fitted_when_the_preprocessing_says_to_resize(tmp_path: Path) -> None:
    save_png(tmp_path / "big.png", np.full((8, 8, 1), 51, np.uint8))  # grey, twice the size
    [sample] = load_inputs(tmp_path, PIXEL_SCALED, Preprocess(colour="rgb", resize="bilinear"))
    assert sample.shape == (1, 4, 4, 3) and np.allclose(sample, 51 / 255)


@pytest.mark.parametrize("shape", [(8, 8, 3), (4, 4, 1), (49, 10, 3)], ids=["size", "colour", "both"])
def test_an_image_of_another_size_or_colour_is_refused_without_resize(tmp_path: Path, shape) -> None:
    """A 96x96 photo is no keyword-spotting spectrogram: without resize, shapes must agree."""
    pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    save_png(tmp_path / "other.png", pixels)
    with pytest.raises(InputDataError, match=f"image of {shape[0]}x{shape[1]}x{shape[2]} for a model input of 4x4x3"):
        load_inputs(tmp_path, PIXEL_SCALED, RGB)


def test_raw_files_are_pixels_with_a_preprocessing_and_tensor_bytes_without(tmp_path: Path) -> None:
    (tmp_path / "frame.raw").write_bytes(bytes([51]) * 48)
    [pixels] = load_inputs(tmp_path, PIXEL_SCALED, RGB)
    assert np.allclose(pixels, 0.2)
    [tensor] = load_inputs(tmp_path, PIXEL_SCALED)
    assert tensor.dtype == np.int8 and tensor.flat[0] == 51
    (tmp_path / "frame.raw").write_bytes(bytes(47))
    with pytest.raises(InputDataError, match="8-bit RGB frame of 4x4 is 48"):
        load_inputs(tmp_path, PIXEL_SCALED, RGB)


def test_npy_pixels_floats_channels_first_and_quantised_data(tmp_path: Path) -> None:
    np.save(tmp_path / "a_pixels.npy", np.full((4, 4, 3), 102, np.uint8))
    chw = np.zeros((3, 4, 4), np.float32)
    chw[1] = 0.5  # the green plane, as torch holds it
    np.save(tmp_path / "b_chw.npy", chw)
    np.save(tmp_path / "c_int8.npy", np.arange(48, dtype=np.int8).reshape(1, 4, 4, 3))
    a, b, c = load_inputs(tmp_path, PIXEL_SCALED, RGB)
    assert np.allclose(a, 0.4)
    assert b.shape == (1, 4, 4, 3) and np.allclose(b[0, :, :, 1], 0.5) and np.allclose(b[0, :, :, 0], 0)
    assert c.dtype == np.int8 and np.array_equal(quantize(c, PIXEL_SCALED).reshape(-1), np.arange(48))


def test_folder_of_mixed_files(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", np.full((4, 4, 3), 10, np.uint8))
    Image.fromarray(np.full((4, 4, 3), 10, np.uint8)).save(tmp_path / "b.bmp")
    np.save(tmp_path / "c.npy", np.ones((4, 4, 3), np.float32))
    (tmp_path / "d.raw").write_bytes(bytes(48))
    (tmp_path / "notes.txt").write_text("ignored")
    samples = load_inputs(tmp_path, INT8_IN, RGB)
    assert len(samples) == 4
    assert np.array_equal(samples[0], samples[1])  # the PNG and the BMP of the same pixels


@pytest.mark.parametrize("make, message", [
    (lambda p: (p / "x.raw").write_bytes(bytes(5)), "is 5 bytes"),
    (lambda p: (p / "x.png").write_bytes(b"nope"), "cannot read x.png as an image"),
    (lambda p: (p / "x.npy").write_bytes(b"nope"), "cannot read"),
    (lambda p: np.save(p / "x.npy", np.zeros((5, 5), np.float32)), "has shape [5, 5]"),
    (lambda p: None, "no image, .npy or .raw files"),
])
def test_bad_inputs(tmp_path: Path, make, message: str) -> None:
    make(tmp_path)
    with pytest.raises(InputDataError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        load_inputs(tmp_path, INT8_IN, RGB if "png" in message else None)
    assert "\n" not in caught.value.message


def test_batch_file_splits_into_samples(tmp_path: Path) -> None:
    np.save(tmp_path / "batch.npy", np.zeros((5, 4, 4, 3), np.float32))
    assert len(load_inputs(tmp_path / "batch.npy", INT8_IN)) == 5
    np.save(tmp_path / "batch_nchw.npy", np.zeros((5, 3, 4, 4), np.float32))
    assert [s.shape for s in load_inputs(tmp_path / "batch_nchw.npy", INT8_IN)] == [(1, 4, 4, 3)] * 5
    with pytest.raises(InputDataError, match="not found"):
        load_inputs(tmp_path / "missing.npy", INT8_IN)


def test_a_bad_preprocessing_given_on_the_command_line(tmp_path: Path, capsys) -> None:
    from toolkit.cli import main

    save_png(tmp_path / "x.png", np.zeros((8, 8, 1), np.uint8))
    code = main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(REFERENCE_MODEL),
                 "--inputs", str(tmp_path), "--preprocess", "colour=purple"])
    err = capsys.readouterr().err
    assert code == 2 and "colour 'purple'" in err and len(err.strip().splitlines()) == 1
