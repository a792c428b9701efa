from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ModelError
from toolkit.model import load_model, model_work, total_macs

from conftest import real_model_params


def test_reference_model_facts(reference_model_path: Path) -> None:
    model = load_model(reference_model_path)
    assert model.op_names[:3] == ["CONV_2D", "CONV_2D", "MAX_POOL_2D"]
    (inp,) = model.inputs
    assert inp.shape == (1, 8, 8, 1) and inp.dtype == "int8" and len(inp.scale) == 1
    assert model.outputs[0].shape == (1, 10)
    # conv 8x8x32x9 + conv 8x8x64x32x9 + conv 4x4x64x64x9 + fc 1024x128 + fc 128x10, counted by hand
    assert total_macs(model) == 8 * 8 * 32 * 9 + 8 * 8 * 64 * 32 * 9 + 4 * 4 * 64 * 64 * 9 + 1024 * 128 + 128 * 10


def test_per_channel_quantised_weights_are_seen(reference_model_path: Path) -> None:
    model = load_model(reference_model_path)
    conv = model.ops[1]
    weights = model.tensors[conv.inputs[1]]
    assert weights.per_channel and len(weights.scale) == 64 and weights.buffer_bytes == 64 * 3 * 3 * 32


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"not a model at all", "not a TFLite flatbuffer"),
    (lambda d: b"", "not a TFLite flatbuffer"),
    (lambda d: d[:200], "truncated or corrupt"),
])
def test_bad_model_bytes(reference_model_path: Path, mutate, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(mutate(reference_model_path.read_bytes()))


def _rewrite(data: bytes, change) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    change(model)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_wrong_schema_version(reference_model_path: Path) -> None:
    data = _rewrite(reference_model_path.read_bytes(), lambda m: setattr(m, "version", 2))
    with pytest.raises(ModelError, match="schema version 2"):
        load_model(data)


def test_no_subgraph(reference_model_path: Path) -> None:
    data = _rewrite(reference_model_path.read_bytes(), lambda m: setattr(m, "subgraphs", []))
    with pytest.raises(ModelError, match="no subgraph"):
        load_model(data)


def test_dynamic_shape(reference_model_path: Path) -> None:
    import numpy as np

    def make_dynamic(model) -> None:
        tensor = model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]]
        tensor.shapeSignature = np.array([1, -1, 8, 1], dtype=np.int32)

    with pytest.raises(ModelError, match="dynamic shape"):
        load_model(_rewrite(reference_model_path.read_bytes(), make_dynamic))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope.tflite")
    with pytest.raises(ModelError, match="is a folder"):
        load_model(tmp_path)


@pytest.mark.real_models
@pytest.mark.parametrize("path", real_model_params())
def test_real_models_parse(path: Path) -> None:
    model = load_model(path)
    assert model.ops and model.inputs and model.outputs
    assert all(w.macs >= 0 for w in model_work(model))
