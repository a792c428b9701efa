"""The models a HIL suite runs: the bundled reference model with its labelled held-out digits,
every ``.tflite`` in ``ESPML_REAL_MODELS``, or the entries of a suite file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.harness.inputs import model_inputs
from toolkit.model import load_model
from toolkit.model.reader import TFLiteModel
from toolkit.tensors import channels_last

RANDOM_SAMPLES = 8


@dataclass(frozen=True)
class SuiteModel:
    name: str
    source: str  # a path, or "bundled"
    inputs: str | None = None  # a folder or .npy of inputs; None: generated from the model's input tensor
    labels: str | None = None  # a .npy of class labels, one per input
    board: str | None = None  # only on boards of this kind

    def load(self) -> TFLiteModel:
        if self.source == "bundled":
            return load_model(resources.files("toolkit.demo_data").joinpath("digits_cnn_int8.tflite").read_bytes())
        return load_model(self.source)

    def samples(self, model: TFLiteModel) -> tuple[list[np.ndarray], list[int] | None]:
        """Inputs and their labels, when the suite has them. Files go through the model's recorded
        preprocessing (MODEL.preprocess.json beside it)."""
        if self.source == "bundled":
            data = resources.files("toolkit.demo_data")
            with data.joinpath("heldout_x.npy").open("rb") as x, data.joinpath("heldout_y.npy").open("rb") as y:
                images, labels = np.load(x), np.load(y)
            return list(channels_last(images)[:, None]), [int(v) for v in labels]
        labels = [int(v) for v in np.load(self.labels)] if self.labels else None
        if self.inputs:
            return model_inputs(self.inputs, model, self.source), labels
        tensor = model.inputs[0]
        rng = np.random.default_rng(int(model.sha256[:8], 16))
        if np.issubdtype(tensor.numpy_dtype, np.integer):
            info = np.iinfo(tensor.numpy_dtype)
            return [rng.integers(info.min, info.max + 1, tensor.shape, dtype=tensor.numpy_dtype)
                    for _ in range(RANDOM_SAMPLES)], None
        return [rng.standard_normal(tensor.shape).astype(tensor.numpy_dtype) for _ in range(RANDOM_SAMPLES)], None


def suite_models(suite_file: str | None = None) -> list[SuiteModel]:
    """A suite file (JSON list of {"model", "inputs", "labels", "board"}, paths relative to it)
    when given, else the reference model and the models in ESPML_REAL_MODELS."""
    if suite_file:
        return _from_file(Path(suite_file))
    return [SuiteModel("digits_cnn_int8", "bundled")] + [SuiteModel(path.stem, str(path)) for path in real_models()]


def real_models() -> list[Path]:
    """The ``.tflite`` files in the folder ESPML_REAL_MODELS names (none when it is unset)."""
    folder = os.environ.get("ESPML_REAL_MODELS")
    if not folder or not Path(folder).is_dir():
        return []
    return sorted(Path(folder).glob("*.tflite"))


def _from_file(path: Path) -> list[SuiteModel]:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ToolkitError(f"cannot read the suite file {path}: {exc}",
                           'a JSON list of {"model": ..., "inputs": ..., "labels": ..., "board": ...}') from None

    def resolve(value: str | None) -> str | None:
        return None if value is None else str((path.parent / value).resolve())

    return [SuiteModel(Path(e["model"]).stem, resolve(e["model"]), resolve(e.get("inputs")), resolve(e.get("labels")),
                       e.get("board")) for e in entries]
