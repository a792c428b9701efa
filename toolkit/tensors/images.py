"""Image files (PNG of any colour type and depth, BMP, JPEG, PGM/PPM) as pixel arrays, read by Pillow.

Pixels come back as float32 (H, W, C) on the 8-bit scale (0..255) whatever the file's depth, so one
preprocessing serves 8- and 16-bit images alike: a 16-bit value v becomes v / 257.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.errors import InputDataError

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".pgm", ".ppm")
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
EIGHT_BIT_MODES = ("L", "LA", "RGB", "RGBA")


def read_image(path: Path) -> np.ndarray:
    """Decode ``path`` to (H, W, C) float32 pixels on the 0..255 scale; alpha is dropped, a palette expanded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()  # decodes, checking PNG chunk CRCs and zlib streams
            pixels = _pixels(image)
    except (UnidentifiedImageError, SyntaxError, OSError, ValueError) as exc:
        raise InputDataError(f"cannot read {path.name} as an image: {str(exc).splitlines()[0] if str(exc) else 'corrupt'}",
                             "re-save it as PNG or BMP, or give .npy inputs") from None
    return pixels


def _pixels(image) -> np.ndarray:
    if image.mode in SIXTEEN_BIT_MODES:
        return (np.asarray(image, dtype=np.float32) / 257.0)[:, :, None]
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in EIGHT_BIT_MODES:  # 1-bit, CMYK, YCbCr, ...
        image = image.convert("L" if image.mode == "1" else "RGB")
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] in (2, 4):  # grey + alpha, RGB + alpha
        array = array[:, :, :-1]
    return array
