"""torch -> ONNX -> onnx2tf -> SavedModel -> full-integer int8 .tflite, fully offline."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.errors import ConversionError, MissingExtraError
from toolkit.tensors.layout import channels_last
from toolkit.tensors.preprocess import Preprocess

log = logging.getLogger(__name__)

# onnx2tf downloads this sample file whenever a model has one 4-D, 3-channel input, even when no
# calibration is asked of it; it looks in the working directory first, so we put one there.
ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
ONNX_OPSET = 17


@dataclass(frozen=True)
class ConversionResult:
    tflite: bytes
    onnx_path: Path
    input_layout: str  # "NHWC" when onnx2tf transposed a 4-D NCHW input, else "as-is"
    preprocess: Preprocess | None  # how pixels become the int8 model's input (image models), in its layout

    def save(self, path: str | Path) -> Path:
        """Write the .tflite and, for an image model, its preprocessing beside it."""
        path = Path(path)
        path.write_bytes(self.tflite)
        if self.preprocess is not None:
            self.preprocess.save_beside(path)
        return path


def installed(name: str) -> bool:
    """Whether a package can be imported, found without importing it (a broken install counts as missing)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_convert_extra() -> None:
    for name in ("torch", "tensorflow", "onnx2tf", "onnx"):
        if not installed(name):
            raise MissingExtraError(f"conversion needs the 'convert' extra ({name} is missing)",
                                    "pip install 'espml[convert]'")


def has_train_mode(model) -> bool:
    """Switch ``model`` to eval mode; False for a module from torch.export, which has no such switch."""
    try:
        model.eval()
        return True
    except NotImplementedError:
        return False


def inference_mode(model):
    """``model``, in eval mode where it has one."""
    has_train_mode(model)
    return model


def export_onnx(model, sample: np.ndarray, path: Path) -> Path:
    """Export a torch module (eval mode, batch 1) to ONNX with fixed shapes."""
    import torch

    example = torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32))
    legacy = has_train_mode(model)  # a module from torch.export goes through dynamo
    try:
        if legacy:
            torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=ONNX_OPSET,
                              input_names=["input"], output_names=["output"])
        else:
            torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False,
                              input_names=["input"], output_names=["output"])
    except Exception as exc:  # torch raises many kinds for unexportable modules
        raise ConversionError(f"ONNX export failed: {exc}", "check that the model runs on a batch of one") from None
    return path


@contextlib.contextmanager
def captured_output(log_path: Path) -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 (TensorFlow's C++ logs too) to a file."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def _offline_workdir(folder: Path) -> Iterator[None]:
    """Run inside ``folder`` with onnx2tf's sample file present, so it never reaches the network."""
    previous = Path.cwd()
    sample = folder / ONNX2TF_SAMPLE_FILE
    if not sample.exists():
        np.save(sample, np.zeros((20, 128, 128, 3), dtype=np.float32))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def onnx_to_saved_model(onnx_path: Path, out_dir: Path) -> Path:
    """Run onnx2tf on a copy of the ONNX file (it rewrites its input) into a float SavedModel."""
    import onnx2tf

    work = out_dir / "onnx2tf"
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "model.onnx"
    shutil.copyfile(onnx_path, copy)
    saved = work / "saved_model"
    with _offline_workdir(work):
        try:
            onnx2tf.convert(input_onnx_file_path=str(copy), output_folder_path=str(saved),
                            non_verbose=True, output_signaturedefs=True, disable_model_save=False)
        except SystemExit as exc:
            raise ConversionError(f"onnx2tf stopped (exit {exc.code})", "read the conversion log") from None
        except Exception as exc:
            raise ConversionError(f"onnx2tf failed: {exc}", "simplify the model or check its ops") from None
    if not (saved / "saved_model.pb").exists():
        raise ConversionError("onnx2tf wrote no SavedModel", "read the conversion log")
    return saved


def quantize_saved_model(saved: Path, calibration: np.ndarray) -> bytes:
    """Full-integer int8 quantisation: builtin int8 ops only, int8 input and output."""
    import tensorflow as tf

    data = calibration.astype(np.float32)

    def representative():
        for sample in data:
            yield [sample[None, ...]]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        return bytes(converter.convert())
    except Exception as exc:
        raise ConversionError(f"int8 quantisation failed: {str(exc).splitlines()[0]}",
                              "the model uses an op with no int8 builtin kernel; replace it") from None


def float_tflite(saved: Path) -> bytes:
    """The unoptimised float32 TFLite of a SavedModel (the size baseline)."""
    import tensorflow as tf

    return bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())


def convert(model, calibration: np.ndarray, out_dir: str | Path | None = None, keep_float: bool = False,
            preprocess: Preprocess | None = None) -> tuple[ConversionResult, bytes | None]:
    """Convert a torch module to int8 TFLite. ``calibration`` is float data in the module's layout (NCHW).
    ``preprocess``: how pixels became that data (default for 4-D inputs: pixels / 255 in the data's
    colour and size); the result carries it in the int8 model's layout."""
    require_convert_extra()
    if calibration.ndim < 2 or len(calibration) == 0:
        raise ConversionError("calibration data must be a batch of samples", "give an array of shape (N, ...)")
    # Absolute: onnx2tf runs in its own working directory (see _offline_workdir).
    base = Path(out_dir).resolve() if out_dir else Path(tempfile.mkdtemp(prefix="espml-convert-"))
    base.mkdir(parents=True, exist_ok=True)
    log_path = base / "conversion.log"
    nhwc = calibration.ndim == 4
    try:
        with captured_output(log_path):
            onnx_path = export_onnx(model, calibration, base / "model.onnx")
            saved = onnx_to_saved_model(onnx_path, base)
            tflite = quantize_saved_model(saved, channels_last(calibration))
            float_bytes = float_tflite(saved) if keep_float else None
    except ConversionError as exc:
        raise ConversionError(exc.message, f"{exc.hint}; the converters' output is in {log_path}") from None
    log.info("conversion log: %s", log_path)
    recorded = preprocess or default_preprocess(calibration)
    recorded = recorded.with_layout("NHWC") if recorded and nhwc else recorded
    return ConversionResult(tflite, onnx_path, "NHWC" if nhwc else "as-is", recorded), float_bytes


def default_preprocess(data: np.ndarray) -> Preprocess | None:
    """Pixels / 255 for NCHW image data with 1 or 3 channels, at the data's size; None for other data."""
    if data.ndim != 4 or data.shape[1] not in (1, 3):
        return None
    channels, height, width = data.shape[1:4]
    return Preprocess(colour="grey" if channels == 1 else "rgb", size=(height, width), layout="NCHW")
