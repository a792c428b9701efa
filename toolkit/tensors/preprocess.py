"""One preprocessing definition per model: how pixels become the model's input values.

    value = (pixel * scale - mean[c]) / std[c]        pixel on the 0..255 scale, per channel c

after converting the image to the model's colour (grey, rgb or bgr) and resizing it to the
model's input size. ``espml optimize`` and ``convert`` record it next to the .tflite as
``<model>.preprocess.json``; ``bench``, the HIL suite and anything else reading inputs for that
model find it there. Foreign models get one explicitly: a .json file or an inline spec such as
``scale=1/255,mean=0.5,std=0.5,colour=rgb``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from toolkit.errors import InputDataError
from toolkit.tensors.layout import channels_first

FORMAT_KEY = "espml_preprocess"
FORMAT_VERSION = 1
COLOURS = ("grey", "rgb", "bgr")
LAYOUTS = ("NHWC", "NCHW")
RESIZE = ("bilinear", "nearest")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as Pillow's "L"
MAX_VALUE = 1e6  # largest model input value a pixel may become: beyond it no int8 quantisation holds meaning
INLINE_HINT = "e.g. --preprocess 'scale=1/255,mean=0.5,std=0.5,colour=rgb,size=96x96' or a .json file"


@dataclass(frozen=True)
class Preprocess:
    colour: str = "grey"  # the channels the model takes
    size: tuple[int, int] | None = None  # (H, W) the model takes; None: whatever the model's input says
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)  # one value, or one per channel
    std: tuple[float, ...] = (1.0,)
    resize: str | None = None  # None: images must already be the model's size and colour count
    layout: str = "NHWC"  # of the model input it feeds

    def __post_init__(self) -> None:
        problems = [f"colour {self.colour!r} is not one of {', '.join(COLOURS)}"] if self.colour not in COLOURS else []
        if self.layout not in LAYOUTS:
            problems.append(f"layout {self.layout!r} is not NHWC or NCHW")
        if self.resize is not None and self.resize not in RESIZE:
            problems.append(f"resize {self.resize!r} is not bilinear, nearest or none")
        for name in ("mean", "std"):
            if len(getattr(self, name)) not in (1, self.channels):
                problems.append(f"{name} has {len(getattr(self, name))} values for {self.channels} channel(s)")
        problems += self._number_problems()
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            problems.append(f"size {self.size} is not HxW")
        elif self.size is not None and self.size[0] * self.size[1] * self.channels > max_input_bytes():
            problems.append(f"size {self.size[0]}x{self.size[1]} is {self.size[0] * self.size[1] * self.channels:,} "
                            f"values, more than any board's input can hold ({max_input_bytes():,} bytes of arena)")
        if problems:
            raise InputDataError(f"bad preprocessing: {'; '.join(problems)}", INLINE_HINT)

    def _number_problems(self) -> list[str]:
        numbers = (self.scale, *self.mean, *self.std)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
            return [f"scale, mean and std must be finite numbers (scale {self.scale}, mean {list(self.mean)}, "
                    f"std {list(self.std)})"]
        if any(s == 0 for s in self.std) or self.scale == 0:
            return ["scale and std must not be zero"]
        if not {len(self.mean), len(self.std)} <= {1, self.channels}:
            return []  # the counts are wrong (said in __post_init__): no value range to work out
        means = self.mean * (self.channels // len(self.mean))
        stds = self.std * (self.channels // len(self.std))
        largest = max(max(abs(m), abs(255 * self.scale - m)) / abs(s) for m, s in zip(means, stds))
        if largest > MAX_VALUE:
            return [f"pixels would become values up to {largest:.3g}, beyond {MAX_VALUE:g}: check scale, mean and std"]
        return []

    @property
    def channels(self) -> int:
        return 1 if self.colour == "grey" else 3

    # --- applying it -------------------------------------------------------------------------

    def to_input(self, pixels: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """(H, W[, C]) pixels on the 0..255 scale -> the model's input values for one sample, in
        ``self.layout`` without the batch dimension (HWC or CHW), at ``size`` (default: ``self.size``).
        Pixels of another size or colour count are resized and converted only when ``self.resize``
        says how; otherwise they are refused, naming both shapes."""
        pixels = np.asarray(pixels, dtype=np.float32)
        pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
            raise InputDataError(f"pixels of shape {list(pixels.shape)} are no grey or RGB image",
                                 "give (H, W), (H, W, 1) or (H, W, 3) pixels")
        target = tuple(size or self.size or pixels.shape[:2])
        colours = pixels.shape[2] if self.channels == 3 else _colours(pixels)
        if self.resize is None and (tuple(pixels.shape[:2]) != target or colours != self.channels):
            raise InputDataError(f"an image of {pixels.shape[0]}x{pixels.shape[1]}x{colours} for a model "
                                 f"input of {target[0]}x{target[1]}x{self.channels}, and the preprocessing does not "
                                 "say to resize", "give images of the model's size and colour, or add resize=bilinear "
                                 "to the preprocessing (--preprocess or MODEL.preprocess.json)")
        image = self._colour(pixels)
        if tuple(image.shape[:2]) != target:
            image = self._resized(image, target)
        values = (image * self.scale - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        values = values.astype(np.float32)
        return channels_first(values[None])[0] if self.layout == "NCHW" else values

    def _colour(self, pixels: np.ndarray) -> np.ndarray:
        grey = pixels.shape[2] == 1
        if self.colour == "grey":
            return pixels if grey else (pixels @ LUMA)[:, :, None]
        rgb = np.repeat(pixels, 3, axis=2) if grey else pixels
        return rgb[:, :, ::-1] if self.colour == "bgr" else rgb

    def _resized(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        from PIL import Image

        method = Image.Resampling.BILINEAR if self.resize == "bilinear" else Image.Resampling.NEAREST
        planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, c])).resize((size[1], size[0]), method))
                  for c in range(image.shape[2])]
        return np.stack(planes, axis=2).astype(np.float32)

    def frame_size(self, tensor_shape: tuple[int, ...]) -> tuple[int, int]:
        """(H, W) of the model's input: ``self.size``, else read from a 4-D tensor shape in ``self.layout``."""
        if self.size is not None:
            return tuple(self.size)
        if len(tensor_shape) != 4:
            raise InputDataError(f"the model's input {list(tensor_shape)} is not an image",
                                 "give .npy inputs in the model's input shape")
        return tuple(tensor_shape[1:3]) if self.layout == "NHWC" else tuple(tensor_shape[2:4])

    # --- reading and writing it --------------------------------------------------------------

    def to_json(self) -> dict:
        data = {FORMAT_KEY: FORMAT_VERSION, **asdict(self)}
        data["size"] = list(self.size) if self.size else None
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_json(cls, data: dict, source: str) -> Preprocess:
        if not isinstance(data, dict) or data.get(FORMAT_KEY) != FORMAT_VERSION:
            raise InputDataError(f"{source} is not an espml preprocessing (version {FORMAT_VERSION})",
                                 f'a JSON object with "{FORMAT_KEY}": {FORMAT_VERSION}; {INLINE_HINT}')
        fields = {k: v for k, v in data.items() if k != FORMAT_KEY}
        unknown = set(fields) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputDataError(f"{source}: unknown preprocessing key(s) {', '.join(sorted(unknown))}",
                                 f"keys: {', '.join(cls.__dataclass_fields__)}")
        try:
            return cls(**_typed(fields))
        except (TypeError, ValueError) as exc:
            raise InputDataError(f"{source}: {exc}", INLINE_HINT) from None

    @classmethod
    def parse(cls, text: str) -> Preprocess:
        """A .json file, or inline ``key=value`` pairs separated by commas (lists with ':', sizes as HxW)."""
        path = Path(text)
        if text.endswith(".json") or path.is_file():
            return cls.read(path)
        fields: dict = {}
        for pair in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = pair.partition("=")
            key = "colour" if key.strip() == "color" else key.strip()
            if not sep or key not in cls.__dataclass_fields__:
                raise InputDataError(f"cannot read the preprocessing {pair!r}", INLINE_HINT)
            fields[key] = value.strip()
        try:
            return cls(**_typed(fields))
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise InputDataError(f"cannot read the preprocessing {text!r}: {exc}", INLINE_HINT) from None

    @classmethod
    def read(cls, path: Path) -> Preprocess:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise InputDataError(f"cannot read {path}: {exc.strerror}", INLINE_HINT) from None
        except ValueError as exc:
            raise InputDataError(f"{path} is not JSON: {exc}", INLINE_HINT) from None
        return cls.from_json(data, str(path))

    def save_beside(self, model_path: str | Path) -> Path:
        path = sidecar(model_path)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def beside(cls, model_path: str | Path) -> Preprocess | None:
        """The preprocessing recorded next to a model file, or None."""
        path = sidecar(model_path)
        return cls.read(path) if path.is_file() else None

    def describe(self) -> str:
        size = f", {self.size[0]}x{self.size[1]}" if self.size else ""
        return (f"{self.colour}{size} ({self.resize or 'no resize'}), (pixel * {self.scale:.6g} - mean {list(self.mean)}) / std "
                f"{list(self.std)}, {self.layout}")

    def with_layout(self, layout: str) -> Preprocess:
        return replace(self, layout=layout)


def _colours(pixels: np.ndarray) -> int:
    """1 for grey pixels (an RGB image whose channels are all equal, such as a grey palette, is grey), else 3."""
    if pixels.shape[2] == 1 or (np.array_equal(pixels[:, :, 0], pixels[:, :, 1])
                                and np.array_equal(pixels[:, :, 1], pixels[:, :, 2])):
        return 1
    return 3


def max_input_bytes() -> int:
    """The largest tensor arena of any board: no model input is larger."""
    from toolkit.boards import BOARDS

    return max(board().arena_bytes for board in BOARDS.values())


def sidecar(model_path: str | Path) -> Path:
    """model.tflite -> model.preprocess.json, in the same folder."""
    return Path(model_path).with_suffix(".preprocess.json")


def _typed(fields: dict) -> dict:
    """Values from JSON or inline text in the types the dataclass holds."""
    out = dict(fields)
    if "scale" in out:
        out["scale"] = _number(out["scale"])
    for key in ("mean", "std"):
        if key in out:
            value = out[key]
            items = value.split(":") if isinstance(value, str) else value if isinstance(value, list) else [value]
            out[key] = tuple(_number(v) for v in items)
    if out.get("size") is not None:
        value = out["size"]
        out["size"] = tuple(_whole(v) for v in (value.lower().split("x") if isinstance(value, str) else value))
    if "layout" in out:
        out["layout"] = str(out["layout"]).upper()
    if isinstance(out.get("resize"), str) and out["resize"].lower() in ("none", ""):
        out["resize"] = None
    return out


def _whole(value) -> int:
    """A whole number from JSON or text (no bool, no fraction, no infinity)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or \
            (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _number(value) -> float:
    """A number, or in text a fraction of two numbers such as 1/127.5."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{value!r} is not a number")
    if not isinstance(value, str):
        return float(value)
    numerator, slash, denominator = value.partition("/")
    if not slash:
        return float(value)
    if float(denominator) == 0:
        raise ValueError(f"{value} divides by zero")
    return float(numerator) / float(denominator)
