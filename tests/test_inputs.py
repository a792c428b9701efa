from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from toolkit.errors import InputDataError
from toolkit.harness.inputs import dequantize, load_inputs, read_png, to_tensor
from toolkit.model.reader import TensorInfo

INT8_IN = TensorInfo(0, "in", (1, 4, 4, 3), "int8", (0.5,), (-3,))


def _filter_row(kind: int, row: np.ndarray, prev: np.ndarray, bpp: int) -> bytes:
    r, p = row.astype(np.int32), prev.astype(np.int32)
    left = np.concatenate([np.zeros(bpp, np.int32), r[:-bpp]])
    upleft = np.concatenate([np.zeros(bpp, np.int32), p[:-bpp]])
    if kind == 0:
        out = r
    elif kind == 1:
        out = r - left
    elif kind == 2:
        out = r - p
    elif kind == 3:
        out = r - (left + p) // 2
    else:
        pa, pb, pc = (np.abs(left + p - upleft - v) for v in (left, p, upleft))
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, p, upleft))
        out = r - pred
    return bytes([kind]) + (out & 0xFF).astype(np.uint8).tobytes()


def write_png(path: Path, image: np.ndarray) -> None:
    """A small PNG writer that uses every filter type in turn, to exercise the reader."""
    height, width, channels = image.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = image.reshape(height, width * channels)
    raw = b"".join(_filter_row(y % 5, rows[y], rows[y - 1] if y else np.zeros_like(rows[0]), channels)
                   for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_reader_handles_every_filter(tmp_path: Path, channels: int) -> None:
    image = np.random.default_rng(channels).integers(0, 256, (11, 7, channels), dtype=np.uint8)
    write_png(tmp_path / "x.png", image)
    assert np.array_equal(read_png(tmp_path / "x.png"), image)


def test_folder_of_mixed_files(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", np.full((4, 4, 3), 10, np.uint8))
    np.save(tmp_path / "b.npy", np.ones((4, 4, 3), np.float32))
    (tmp_path / "c.raw").write_bytes(bytes(48))
    (tmp_path / "notes.txt").write_text("ignored")
    samples = load_inputs(tmp_path, INT8_IN)
    assert len(samples) == 3
    assert to_tensor(samples[0], INT8_IN).flat[0] == 17  # 10 / 0.5 - 3
    assert to_tensor(samples[2], INT8_IN).dtype == np.int8


def test_quantisation_rounds_clips_and_round_trips() -> None:
    x = np.array([-100.0, -1.0, 0.0, 0.26, 1000.0] + [0.0] * 43, np.float32).reshape(1, 4, 4, 3)
    q = to_tensor(x, INT8_IN)
    assert q.flat[:5].tolist() == [-128, -5, -3, -2, 127]
    assert np.allclose(dequantize(q, INT8_IN).flat[1:3], [-1.0, 0.0])


def test_int8_data_passes_unchanged() -> None:
    x = np.arange(48, dtype=np.int8).reshape(4, 4, 3)
    assert np.array_equal(to_tensor(x, INT8_IN).reshape(-1), x.reshape(-1))


@pytest.mark.parametrize("make, message", [
    (lambda p: (p / "x.raw").write_bytes(bytes(5)), "is 5 bytes"),
    (lambda p: (p / "x.png").write_bytes(b"nope"), "not a PNG"),
    (lambda p: (p / "x.npy").write_bytes(b"nope"), "cannot read"),
    (lambda p: None, "no .npy, .png or .raw files"),
])
def test_bad_inputs(tmp_path: Path, make, message: str) -> None:
    make(tmp_path)
    with pytest.raises(InputDataError, match=message):
        load_inputs(tmp_path, INT8_IN)


def test_batch_file_splits_into_samples(tmp_path: Path) -> None:
    np.save(tmp_path / "batch.npy", np.zeros((5, 4, 4, 3), np.float32))
    assert len(load_inputs(tmp_path / "batch.npy", INT8_IN)) == 5
    with pytest.raises(InputDataError, match="not found"):
        load_inputs(tmp_path / "missing.npy", INT8_IN)
