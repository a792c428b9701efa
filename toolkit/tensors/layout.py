"""NCHW (torch) <-> NHWC (TFLite after onnx2tf). Batches only: give one sample as ``x[None]``."""

from __future__ import annotations

import numpy as np


def channels_last(batch: np.ndarray) -> np.ndarray:
    """NCHW -> NHWC for a 4-D batch; other ranks are no images and pass unchanged."""
    return np.transpose(batch, (0, 2, 3, 1)) if batch.ndim == 4 else batch


def channels_first(batch: np.ndarray) -> np.ndarray:
    """NHWC -> NCHW for a 4-D batch; other ranks pass unchanged."""
    return np.transpose(batch, (0, 3, 1, 2)) if batch.ndim == 4 else batch
