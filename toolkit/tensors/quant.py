"""Affine quantisation with a tensor's scale and zero point (per-tensor, as TFLite inputs and outputs are)."""

from __future__ import annotations

import numpy as np

from toolkit.errors import InputDataError
from toolkit.model.reader import TensorInfo


def quantize(array: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Shape ``array`` as the tensor; quantise floats (and integers of another type) with its scale.
    Data already of the tensor's type passes unchanged."""
    dtype = tensor.numpy_dtype
    shaped = np.asarray(array).reshape(tensor.shape)
    if shaped.dtype == dtype:
        return shaped
    if np.issubdtype(dtype, np.floating):
        return shaped.astype(dtype)
    if not tensor.scale:
        raise InputDataError(f"input is {shaped.dtype} but the model's input is {tensor.dtype} with no "
                             "quantisation parameters", f"give {tensor.dtype} data")
    info = np.iinfo(dtype)
    quantised = np.round(shaped.astype(np.float64) / tensor.scale[0] + tensor.zero_point[0])
    return np.clip(quantised, info.min, info.max).astype(dtype)


def dequantize(array: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    if not tensor.scale or np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    return ((array.astype(np.float32) - tensor.zero_point[0]) * tensor.scale[0]).astype(np.float32)
