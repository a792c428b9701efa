"""Conversion torch -> ONNX -> onnx2tf -> int8 TFLite (slow: needs the 'convert' extra)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")
pytest.importorskip("onnx2tf")


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a network connection (loopback included)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"conversion tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def small_rgb_cnn():
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)).eval()


def test_rgb_model_converts_offline_to_full_int8(tmp_path, no_network) -> None:
    """A 4-D 3-channel input is what makes onnx2tf download its sample file: it must not."""
    from toolkit.convert import convert
    from toolkit.convert.parity import check_parity
    from toolkit.model import load_model

    rng = np.random.default_rng(0)
    data = rng.random((64, 3, 16, 16), dtype=np.float32)
    model = small_rgb_cnn()
    result, float_bytes = convert(model, data[:48], tmp_path, keep_float=True)
    tflite = load_model(result.tflite)
    assert tflite.inputs[0].shape == (1, 16, 16, 3) and result.input_layout == "NHWC"
    assert tflite.inputs[0].dtype == "int8" and tflite.outputs[0].dtype == "int8"
    assert not any(k.startswith(("CUSTOM", "FLEX")) for k in tflite.op_names)
    float_ops = [t for t in tflite.tensors if t.dtype == "float32"]
    assert not float_ops, f"float tensors left in an int8 model: {[t.name for t in float_ops]}"
    assert float_bytes and len(float_bytes) > len(result.tflite)
    parity = check_parity(model, result.tflite, data[48:])
    assert parity.top1_agreement >= 0.8  # random weights on random data: margins are thin


def test_reference_cnn_parity(tmp_path, no_network) -> None:
    from toolkit.convert import convert
    from toolkit.convert.parity import check_parity
    from toolkit.reference import trained_reference

    model, split = trained_reference()
    result, _ = convert(model, split.train_x[:200], tmp_path)
    parity = check_parity(model, result.tflite, split.test_x, split.test_y)
    assert parity.float_accuracy >= 0.97
    assert parity.top1_agreement >= 0.99
    assert parity.int8_accuracy >= parity.float_accuracy - 0.01


def test_unexportable_model_is_a_conversion_error(tmp_path) -> None:
    from toolkit.convert import convert
    from toolkit.errors import ConversionError

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(ConversionError, match="ONNX export failed"):
        convert(Broken(), np.zeros((4, 1, 8, 8), np.float32), tmp_path)


@pytest.mark.parametrize("family", ["mobilenet_v2", "squeezenet"])
def test_families_convert_to_int8_with_parity(tmp_path, no_network, family) -> None:
    """Inverted residuals (ReLU6, depthwise, additions) and fire modules (concatenations) stay
    full-integer, and the int8 model agrees with the float one on the held-out digits."""
    from toolkit.convert import convert
    from toolkit.convert.parity import check_parity
    from toolkit.families import FAMILIES
    from toolkit.model import load_model
    from toolkit.reference import digits_preprocess, trained_reference
    from toolkit.tensors import Preprocess

    model, split = trained_reference(FAMILIES[family], upscale=2, epochs=4)
    result, _ = convert(model, split.train_x[:200], tmp_path, preprocess=digits_preprocess(2))
    tflite = load_model(result.tflite)
    assert tflite.inputs[0].shape == (1, 16, 16, 1) and tflite.inputs[0].dtype == "int8"
    assert not [t.name for t in tflite.tensors if t.dtype == "float32"]
    parity = check_parity(model, result.tflite, split.test_x, split.test_y)
    assert parity.top1_agreement >= 0.97 and parity.int8_accuracy >= parity.float_accuracy - 0.02
    saved = result.save(tmp_path / "m.tflite")
    assert Preprocess.beside(saved) == Preprocess(colour="grey", size=(16, 16), resize="nearest", layout="NHWC")


def test_conversion_records_a_default_preprocessing_for_image_data_only(tmp_path, no_network) -> None:
    from toolkit.convert import convert
    from toolkit.tensors import Preprocess

    data = np.random.default_rng(0).random((16, 3, 8, 8), dtype=np.float32)
    result, _ = convert(small_rgb_cnn(), data, tmp_path / "image")
    assert result.preprocess == Preprocess(colour="rgb", size=(8, 8), layout="NHWC")
    flat = torch.nn.Sequential(torch.nn.Linear(6, 4)).eval()
    result, _ = convert(flat, np.random.default_rng(0).random((16, 6), dtype=np.float32), tmp_path / "flat")
    assert result.preprocess is None and result.input_layout == "as-is"
    result.save(tmp_path / "flat.tflite")
    assert not (tmp_path / "flat.preprocess.json").exists()
