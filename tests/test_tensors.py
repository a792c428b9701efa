"""toolkit.tensors: layout, quantisation, the preprocessing definition and image files (light core)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.errors import InputDataError
from toolkit.model.reader import TensorInfo
from toolkit.tensors import Preprocess, channels_first, channels_last, dequantize, quantize
from toolkit.tensors.images import read_image
from toolkit.tensors.preprocess import sidecar

INT8_IN = TensorInfo(0, "in", (1, 4, 4, 3), "int8", (0.5,), (-3,))


def test_layout_round_trips_batches_and_leaves_other_ranks() -> None:
    batch = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    assert channels_last(batch).shape == (2, 4, 5, 3)
    assert channels_last(batch)[1, 2, 3, 0] == batch[1, 0, 2, 3]
    assert np.array_equal(channels_first(channels_last(batch)), batch)
    flat = np.zeros((7, 10))
    assert channels_last(flat) is flat and channels_first(flat) is flat


def test_quantisation_rounds_clips_and_round_trips() -> None:
    x = np.array([-100.0, -1.0, 0.0, 0.26, 1000.0] + [0.0] * 43, np.float32).reshape(1, 4, 4, 3)
    q = quantize(x, INT8_IN)
    assert q.flat[:5].tolist() == [-128, -5, -3, -2, 127]
    assert np.allclose(dequantize(q, INT8_IN).flat[1:3], [-1.0, 0.0])


def test_data_of_the_tensors_type_passes_unchanged() -> None:
    x = np.arange(48, dtype=np.int8).reshape(4, 4, 3)
    assert np.array_equal(quantize(x, INT8_IN).reshape(-1), x.reshape(-1))


def test_preprocessing_arithmetic_colour_and_layout() -> None:
    pixels = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.float32)  # (2, 2, 3)
    spec = Preprocess(colour="rgb", scale=1 / 255, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5))
    out = spec.to_input(pixels)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    assert np.allclose(out[0, 0], [1.0, -2.0, -1.0]) and np.allclose(out[1, 1], [1.0, 2.0, 1.0])
    bgr = Preprocess(colour="bgr").to_input(pixels)
    assert np.allclose(bgr[0, 0], [0, 0, 1])
    grey = Preprocess(colour="grey", scale=1.0, resize="bilinear").to_input(pixels)  # colour -> grey: asked for
    assert grey.shape == (2, 2, 1) and np.isclose(grey[0, 0, 0], 0.299 * 255, atol=1e-3)
    nchw = Preprocess(colour="rgb", layout="NCHW").to_input(pixels)
    assert nchw.shape == (3, 2, 2) and np.allclose(nchw[:, 0, 0], [1, 0, 0])
    assert Preprocess(colour="rgb", resize="nearest").to_input(pixels[:, :, :1]).shape == (2, 2, 3)  # grey image, colour model


def test_resizing_to_the_model_size() -> None:
    pixels = np.arange(16, dtype=np.float32).reshape(4, 4)
    nearest = Preprocess(resize="nearest", scale=1.0).to_input(pixels, (8, 8))
    assert nearest.shape == (8, 8, 1) and np.array_equal(nearest[::2, ::2, 0], pixels)
    assert Preprocess(size=(2, 2), scale=1.0, resize="bilinear").to_input(pixels).shape == (2, 2, 1)


def test_inline_spec_json_file_and_sidecar(tmp_path: Path) -> None:
    spec = Preprocess.parse("scale=1/127.5, mean=1, std=1, color=rgb, size=96x64, resize=nearest")
    assert spec == Preprocess(colour="rgb", size=(96, 64), scale=1 / 127.5, mean=(1.0,), std=(1.0,), resize="nearest")
    model = tmp_path / "model_int8.tflite"
    written = spec.save_beside(model)
    assert written == sidecar(model) == tmp_path / "model_int8.preprocess.json"
    assert Preprocess.beside(model) == spec == Preprocess.parse(str(written))
    assert json.loads(written.read_text())["espml_preprocess"] == 1
    assert Preprocess.beside(tmp_path / "other.tflite") is None


@pytest.mark.parametrize("text, needle", [
    ("scale=1/255,gamma=2", "cannot read the preprocessing 'gamma=2'"),
    ("colour=purple", "colour 'purple'"),
    ("colour=rgb,mean=0.1:0.2", "mean has 2 values for 3 channel(s)"),
    ("std=0", "must not be zero"),
    ("scale=abc", "cannot read the preprocessing"),
    ("size=12", "is not HxW"),
])
def test_bad_inline_specs_are_one_line_errors_with_a_hint(text: str, needle: str) -> None:
    with pytest.raises(InputDataError) as caught:
        Preprocess.parse(text)
    assert needle in caught.value.message and "\n" not in caught.value.message and caught.value.hint


def test_bad_spec_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"scale": 2}')
    with pytest.raises(InputDataError, match="not an espml preprocessing"):
        Preprocess.parse(str(tmp_path / "a.json"))
    (tmp_path / "b.json").write_text('{"espml_preprocess": 1, "scael": 2}')
    with pytest.raises(InputDataError, match="unknown preprocessing key"):
        Preprocess.parse(str(tmp_path / "b.json"))
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(InputDataError, match="not JSON"):
        Preprocess.parse(str(tmp_path / "c.json"))
    with pytest.raises(InputDataError, match="cannot read"):
        Preprocess.parse(str(tmp_path / "missing.json"))


# --- image files ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, channels", [("L", 1), ("LA", 1), ("RGB", 3), ("RGBA", 3)])
def test_png_colour_types(tmp_path: Path, mode: str, channels: int) -> None:
    rng = np.random.default_rng(0)
    bands = len(mode)
    array = rng.integers(0, 256, (5, 7, bands), dtype=np.uint8)
    Image.fromarray(array[:, :, 0] if bands == 1 else array, mode).save(tmp_path / "x.png")
    pixels = read_image(tmp_path / "x.png")
    assert pixels.shape == (5, 7, channels) and pixels.dtype == np.float32
    assert np.array_equal(pixels, array[:, :, :channels].astype(np.float32))


def test_palette_png_is_expanded(tmp_path: Path) -> None:
    image = Image.new("P", (3, 2))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putdata([0, 1, 0, 1, 1, 0])
    image.save(tmp_path / "p.png")
    pixels = read_image(tmp_path / "p.png")
    assert pixels.shape == (2, 3, 3) and pixels[0, 0].tolist() == [10, 20, 30] and pixels[0, 1].tolist() == [200, 100, 50]


def test_sixteen_bit_png_lands_on_the_8_bit_scale(tmp_path: Path) -> None:
    array = np.array([[0, 257, 65535]], dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "d.png")
    assert read_image(tmp_path / "d.png")[0, :, 0].tolist() == [0.0, 1.0, 255.0]


def test_bmp_like_tflite_micro_test_images(tmp_path: Path) -> None:
    array = np.random.default_rng(1).integers(0, 256, (6, 4, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "x.bmp")
    assert np.array_equal(read_image(tmp_path / "x.bmp"), array.astype(np.float32))


def test_a_png_with_a_bad_chunk_crc_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "x.png")
    data = bytearray((tmp_path / "x.png").read_bytes())
    ihdr_end = 8 + 8 + 13  # signature, IHDR length/type, IHDR body: then its CRC
    data[ihdr_end] ^= 0xFF
    (tmp_path / "x.png").write_bytes(bytes(data))
    with pytest.raises(InputDataError, match="cannot read x.png as an image"):
        read_image(tmp_path / "x.png")


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"nope")
    with pytest.raises(InputDataError, match="cannot read x.png as an image") as caught:
        read_image(tmp_path / "x.png")
    assert "\n" not in caught.value.message


def test_corrupt_image_data_is_refused(tmp_path: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    (tmp_path / "z.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"garbage")
                                     + chunk(b"IEND", b""))
    with pytest.raises(InputDataError, match="cannot read z.png"):
        read_image(tmp_path / "z.png")
