"""Test inputs: load them from files and make them the model's input tensor, quantised as needed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from toolkit.errors import InputDataError
from toolkit.model.reader import TensorInfo

SUFFIXES = (".npy", ".png", ".raw")


def load_inputs(path: str | Path, tensor: TensorInfo) -> list[np.ndarray]:
    """Load samples from a folder of .npy/.png/.raw files or one .npy batch; return raw arrays."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"inputs not found: {path}", "give a folder of .npy/.png/.raw files or one .npy file")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputDataError(f"no .npy, .png or .raw files in {path}", "put one input per file in that folder")
        return [_load_file(p, tensor) for p in files]
    if path.suffix.lower() == ".npy":
        array = _load_npy(path)
        if _matches(array.shape, tensor.shape):
            return [array]
        if array.ndim >= 1 and _matches(array.shape[1:], tensor.shape):
            return list(array)
        raise InputDataError(f"{path.name} has shape {list(array.shape)}; the model's input is "
                             f"{list(tensor.shape)}", "give one sample or a batch of samples of that shape")
    return [_load_file(path, tensor)]


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputDataError(f"cannot read {path.name} as .npy: {exc}", "save inputs with numpy.save") from None


def _load_file(path: Path, tensor: TensorInfo) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = _load_npy(path)
    elif suffix == ".png":
        array = read_png(path)
    else:
        raw = path.read_bytes()
        if len(raw) != tensor.nbytes:
            raise InputDataError(f"{path.name} is {len(raw)} bytes; the model's input is {tensor.nbytes} bytes",
                                 f"write raw {tensor.dtype} data of shape {list(tensor.shape)}")
        array = np.frombuffer(raw, dtype=tensor.numpy_dtype).reshape(tensor.shape)
    if not _matches(array.shape, tensor.shape):
        raise InputDataError(f"{path.name} has shape {list(array.shape)}; the model's input is {list(tensor.shape)}",
                             "resize or reshape the input to the model's input shape")
    return array


def _matches(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """Shapes match when they agree once dimensions of size 1 are dropped."""
    return [d for d in shape if d != 1] == [d for d in expected if d != 1] and int(np.prod(shape)) == int(np.prod(expected))


def to_tensor(array: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Shape ``array`` as the tensor; quantise floats (and integers of another type) with its scale."""
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


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced grey, grey+alpha, RGB or RGBA PNG to (H, W, C) uint8."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise InputDataError(f"{path.name} is not a PNG file", "convert it to an 8-bit PNG or .npy")
    pos, idat, header = 8, bytearray(), None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise InputDataError(f"{path.name} has no PNG header", "re-save the image")
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise InputDataError(f"{path.name}: only 8-bit non-interlaced grey/RGB(A) PNGs are read",
                             "re-save it as an 8-bit PNG or give .npy inputs")
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error:
        raise InputDataError(f"{path.name} has corrupt image data", "re-save the image") from None
    return _unfilter(raw, width, height, channels).reshape(height, width, channels)


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 0xFF
        else:
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                left = cur[x - bpp] if x >= bpp else 0
                up, upleft = prev[x], (prev[x - bpp] if x >= bpp else 0)
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up) // 2
                else:
                    p = left + up - upleft
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out
