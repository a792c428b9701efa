"""Getting the user's model and data: a Python factory plus weights, and arrays or the bundled digits."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np

from toolkit.convert.pipeline import inference_mode
from toolkit.errors import InputDataError, ModelError
from toolkit.optimize.pipeline import Data
from toolkit.tensors.images import IMAGE_SUFFIXES, read_image
from toolkit.tensors.preprocess import Preprocess

SAMPLE_SUFFIXES = (".npy",) + IMAGE_SUFFIXES

HELD_OUT_FRACTION = 0.2
CALIBRATION_SAMPLES = 200


def load_factory_model(spec: str, weights: str | None = None):
    """``package.module:factory`` -> the module it returns, with ``weights`` (a state_dict) loaded."""
    import torch

    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise ModelError(f"'{spec}' is not MODULE:FACTORY", "e.g. --model toolkit.reference:build_reference_cnn")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except ImportError as exc:
        raise ModelError(f"cannot import {module_name}: {exc}", "check the module path (run from its folder)") from None
    except AttributeError:
        raise ModelError(f"{module_name} has no '{factory_name}'", "give the name of a function returning the model") from None
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module", "return the model")
    if weights:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot read weights {weights}: {str(exc).splitlines()[0]}",
                             "give a state_dict saved with torch.save(model.state_dict(), PATH)") from None
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"the weights do not match {spec}: {str(exc).splitlines()[1].strip()}",
                             "use the weights saved from this same architecture") from None
    return model.eval()


def load_model_file(path: str):
    """A TorchScript file (torch.jit.save) or an ExportedProgram (.pt2, torch.export.save)."""
    import torch

    try:
        if path.endswith(".pt2"):
            return torch.export.load(path).module()
        return torch.jit.load(path, map_location="cpu").eval()
    except Exception as exc:  # torch raises many kinds for unreadable files
        raise ModelError(f"cannot load {path} as TorchScript or an ExportedProgram: {str(exc).splitlines()[0][:120]}",
                         "save it with torch.jit.save or torch.export.save, or give MODULE:FACTORY") from None


def load_model(spec: str, weights: str | None = None):
    """MODULE:FACTORY (with optional weights), or the path of a TorchScript or .pt2 file."""
    if Path(spec).is_file():
        if weights:
            raise ModelError("--weights goes with MODULE:FACTORY", "a TorchScript or .pt2 file carries its weights")
        return load_model_file(spec)
    return load_factory_model(spec, weights)


def split(x: np.ndarray, y: np.ndarray | None, preprocess: Preprocess | None = None, seed: int = 0) -> Data:
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * (1 - HELD_OUT_FRACTION))
    train, held = order[:cut], order[cut:]
    return Data(x[train], None if y is None else y[train], x[held], None if y is None else y[held],
                x[train][:CALIBRATION_SAMPLES], preprocess)


def folder_preprocess(first_image: Path, given: Preprocess | None) -> Preprocess:
    """The given preprocessing (for torch: channels-first), or pixels / 255 in the first image's colour and size."""
    if given is not None:
        return given.with_layout("NCHW")
    pixels = read_image(first_image)
    return Preprocess(colour="grey" if pixels.shape[2] == 1 else "rgb", size=pixels.shape[:2], layout="NCHW")


def load_folder(folder: Path, preprocess: Preprocess | None = None) -> tuple[np.ndarray, np.ndarray | None, Preprocess | None]:
    """Samples from a folder: one subfolder per class (labels in sorted order), or a flat folder.
    Images go through ``preprocess`` (default: pixels / 255), which is returned to be recorded."""
    def files(where: Path) -> list[Path]:
        return sorted(p for p in where.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)

    classes = sorted(d for d in folder.iterdir() if d.is_dir())
    pairs = [(f, label) for label, d in enumerate(classes) for f in files(d)] if classes else \
        [(f, None) for f in files(folder)]
    if not pairs:
        raise InputDataError(f"no .npy or image samples in {folder}", "one sample per file, one subfolder per class")
    images = [f for f, _ in pairs if f.suffix.lower() in IMAGE_SUFFIXES]
    spec = folder_preprocess(images[0], preprocess) if images else preprocess
    try:
        x = np.stack([spec.to_input(read_image(f)) if f.suffix.lower() in IMAGE_SUFFIXES
                      else np.load(f).astype(np.float32) for f, _ in pairs])
    except ValueError:
        raise InputDataError(f"the samples in {folder} differ in shape", "give samples of one shape") from None
    return x, (np.array([label for _, label in pairs], dtype=np.int64) if classes else None), spec


def load_data(source: str, labels: str | None = None, preprocess: Preprocess | str | None = None) -> Data:
    """``digits`` (the bundled set, its fixed split), a folder of samples, or an .npy array of inputs.
    ``preprocess`` (or its inline spec / .json) says how image files become inputs, and is recorded
    with the int8 model."""
    preprocess = Preprocess.parse(preprocess) if isinstance(preprocess, str) else preprocess
    if source == "digits":
        from toolkit.reference import digits_preprocess, load_digits_split

        s = load_digits_split()
        return Data(s.train_x, s.train_y, s.test_x, s.test_y, s.train_x[:CALIBRATION_SAMPLES], digits_preprocess())
    path = Path(source)
    if path.is_dir():
        x, y, spec = load_folder(path, preprocess)
        return split(x, y, spec)
    if not path.is_file() or path.suffix != ".npy":
        raise InputDataError(f"data not found or not .npy: {source}",
                             "give 'digits', a folder of samples, or an .npy array of inputs")
    x = np.load(path).astype(np.float32)
    y = np.load(labels).astype(np.int64) if labels else None
    if y is not None and len(y) != len(x):
        raise InputDataError(f"{len(x)} inputs but {len(y)} labels", "give one label per input")
    return split(x, y, preprocess.with_layout("NCHW") if preprocess else None)


def check_runs(model, data: Data) -> None:
    import torch

    try:
        with torch.no_grad():
            inference_mode(model)(torch.from_numpy(data.eval_x[:1].astype(np.float32)))
    except Exception as exc:  # torch raises many kinds on a shape mismatch
        raise InputDataError(f"the model cannot run on inputs of shape {list(data.eval_x.shape[1:])}: "
                             f"{str(exc).splitlines()[0]}", "give data in the model's input layout (NCHW)") from None
