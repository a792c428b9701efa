"""Test inputs for a .tflite model: files become the model's input tensors, through its preprocessing.

- Images (.png of any colour type and depth, .bmp, .jpg, .pgm/.ppm) go through the model's
  preprocessing (toolkit.tensors.preprocess): recorded next to the model, or given.
- ``.npy`` floats are the model's input values; in the model's layout, or channels-first
  (as torch takes them) and transposed here. 8/16-bit integer pixels go through the
  preprocessing when one is known; data of the tensor's own type is already quantised.
- ``.raw`` files: 8-bit pixels (grey, or RGB interleaved) in the model's input size when a
  preprocessing is known, else the tensor's own bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.errors import InputDataError
from toolkit.model.reader import TensorInfo, TFLiteModel
from toolkit.tensors.images import IMAGE_SUFFIXES, read_image
from toolkit.tensors.layout import channels_last
from toolkit.tensors.preprocess import Preprocess
from toolkit.tensors.quant import quantize

SUFFIXES = (".npy", ".raw") + IMAGE_SUFFIXES
PIXEL_DTYPES = (np.uint8, np.uint16)
NO_PREPROCESS_HINT = ("give --preprocess 'scale=1/255' (or a .json), or optimise/convert the model with espml, "
                      "which records it next to the .tflite")


def model_inputs(inputs: str | Path, model: TFLiteModel, model_path: str | Path | None = None,
                 preprocess: Preprocess | str | None = None) -> list[np.ndarray]:
    """Raw inputs -> the model's input tensors, quantised. The preprocessing is ``preprocess`` (a
    Preprocess, a .json path or an inline spec) or, without it, the one recorded next to ``model_path``."""
    tensor = model.inputs[0]
    return [quantize(sample, tensor) for sample in load_inputs(inputs, tensor, find_preprocess(model_path, preprocess))]


def find_preprocess(model_path: str | Path | None, given: Preprocess | str | None = None) -> Preprocess | None:
    if isinstance(given, Preprocess):
        return given
    if given:
        return Preprocess.parse(given)
    return Preprocess.beside(model_path) if model_path else None


def load_inputs(path: str | Path, tensor: TensorInfo, preprocess: Preprocess | None = None) -> list[np.ndarray]:
    """Samples from a folder of input files or one .npy batch, each in the tensor's shape: float model
    values (to quantise) or data of the tensor's type."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"inputs not found: {path}", "give a folder of image/.npy/.raw files or one .npy file")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputDataError(f"no image, .npy or .raw files in {path}", "put one input per file in that folder")
        return [_load_file(p, tensor, preprocess) for p in files]
    if path.suffix.lower() == ".npy":
        array = _load_npy(path)
        single = _fitted(array, tensor, preprocess)
        if single is not None:
            return [single]
        batch = [_fitted(a, tensor, preprocess) for a in array] if array.ndim >= 1 else [None]
        if batch and all(b is not None for b in batch):
            return batch
        raise InputDataError(f"{path.name} has shape {list(array.shape)}; the model's input is "
                             f"{list(tensor.shape)}", "give one sample or a batch of samples of that shape")
    return [_load_file(path, tensor, preprocess)]


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputDataError(f"cannot read {path.name} as .npy: {exc}", "save inputs with numpy.save") from None


def _load_file(path: Path, tensor: TensorInfo, preprocess: Preprocess | None) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        if preprocess is None:
            raise InputDataError(f"{path.name} is an image, and no preprocessing is known for this model",
                                 NO_PREPROCESS_HINT)
        return _shaped(_from_pixels(read_image(path), tensor, preprocess), tensor, path.name)
    if suffix == ".raw":
        return _load_raw(path, tensor, preprocess)
    array = _load_npy(path)
    fitted = _fitted(array, tensor, preprocess)
    if fitted is None:
        raise InputDataError(f"{path.name} has shape {list(array.shape)}; the model's input is {list(tensor.shape)}",
                             "resize or reshape the input to the model's input shape")
    return fitted


def _load_raw(path: Path, tensor: TensorInfo, preprocess: Preprocess | None) -> np.ndarray:
    raw = path.read_bytes()
    if preprocess is None:
        if len(raw) != tensor.nbytes:
            raise InputDataError(f"{path.name} is {len(raw)} bytes; the model's input is {tensor.nbytes} bytes",
                                 f"write raw {tensor.dtype} data of shape {list(tensor.shape)}")
        return np.frombuffer(raw, dtype=tensor.numpy_dtype).reshape(tensor.shape)
    height, width = preprocess.frame_size(tensor.shape)
    expected = height * width * preprocess.channels
    if len(raw) != expected:
        raise InputDataError(f"{path.name} is {len(raw)} bytes; an 8-bit {'grey' if preprocess.channels == 1 else 'RGB'} frame of "
                             f"{height}x{width} is {expected}", "write 8-bit pixels row by row, RGB interleaved")
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, preprocess.channels)
    return _shaped(_from_pixels(pixels, tensor, preprocess), tensor, path.name)


def _from_pixels(pixels: np.ndarray, tensor: TensorInfo, preprocess: Preprocess) -> np.ndarray:
    return preprocess.to_input(pixels, preprocess.frame_size(tensor.shape))


def _fitted(array: np.ndarray, tensor: TensorInfo, preprocess: Preprocess | None) -> np.ndarray | None:
    """One sample in the tensor's shape, or None when ``array`` is not one sample for it."""
    if preprocess is not None and array.dtype in PIXEL_DTYPES and array.dtype != tensor.numpy_dtype \
            and array.ndim in (2, 3) and (array.ndim == 2 or array.shape[2] in (1, 3)):
        pixels = array.astype(np.float32) / (257.0 if array.dtype == np.uint16 else 1.0)
        return _fitted(_from_pixels(pixels, tensor, preprocess), tensor, None)
    if _matches(array.shape, tensor.shape):
        return array.reshape(tensor.shape)
    if array.ndim in (3, 4):  # channels-first, as torch has it
        transposed = channels_last(array if array.ndim == 4 else array[None])
        if _matches(transposed.shape, tensor.shape):
            return transposed.reshape(tensor.shape)
    return None


def _shaped(array: np.ndarray, tensor: TensorInfo, name: str) -> np.ndarray:
    if not _matches(array.shape, tensor.shape):
        raise InputDataError(f"{name} gives an input of shape {list(array.shape)}; the model's input is "
                             f"{list(tensor.shape)}", "check the preprocessing's colour and the model's input")
    return array.reshape(tensor.shape)


def _matches(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """Shapes match when they agree once dimensions of size 1 are dropped."""
    return [d for d in shape if d != 1] == [d for d in expected if d != 1] and int(np.prod(shape)) == int(np.prod(expected))
