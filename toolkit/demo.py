"""`espml demo`: the reference model from training to figures measured on the virtual board."""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.model import load_model

log = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reference"
DEMO_PORT = "vdev://esp32s3?baud=921600"
CALIBRATION_SAMPLES = 200


@dataclass
class DemoResult:
    model_source: str
    stages: list[dict] = field(default_factory=list)
    bench: dict = field(default_factory=dict)
    model_path: str = ""


def conversion_available() -> bool:
    return all(importlib.util.find_spec(name) for name in ("torch", "tensorflow", "onnx2tf", "sklearn"))


def build_model(work: Path, stages: list[dict]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Train and convert the reference CNN; return the int8 model and the held-out data."""
    from toolkit.convert import convert
    from toolkit.convert.parity import check_parity
    from toolkit.reference import accuracy, parameter_count, trained_reference

    model, split = trained_reference()
    stages.append({"stage": "train", "parameters": parameter_count(model),
                   "heldout_accuracy": accuracy(model, split.test_x, split.test_y)})
    result, _ = convert(model, split.train_x[:CALIBRATION_SAMPLES], work / "convert")
    parity = check_parity(model, result.tflite, split.test_x, split.test_y)
    stages.append({"stage": "convert int8", "tflite_bytes": len(result.tflite),
                   "heldout_accuracy": parity.int8_accuracy, "top1_agreement": parity.top1_agreement,
                   "max_abs_error": parity.max_abs_error})
    return result.tflite, split.test_x, split.test_y


def run_demo(work: Path, db: Path, n: int | None = None, retrain: bool = True, port: str = DEMO_PORT,
             progress=None) -> DemoResult:
    work.mkdir(parents=True, exist_ok=True)
    stages: list[dict] = []
    if retrain and conversion_available():
        tflite, test_x, test_y = build_model(work, stages)
        source = "trained and converted now"
    else:
        tflite = (FIXTURES / "digits_cnn_int8.tflite").read_bytes()
        test_x, test_y = np.load(FIXTURES / "heldout_x.npy"), np.load(FIXTURES / "heldout_y.npy")
        facts = json.loads((FIXTURES / "reference.json").read_text())
        stages.append({"stage": "bundled int8 model", "tflite_bytes": len(tflite),
                       "heldout_accuracy": facts["parity"]["int8_accuracy"]})
        source = "bundled fixture (install the 'convert' extra to train and convert it here)"
    model_path = work / "digits_cnn_int8.tflite"
    model_path.write_bytes(tflite)
    model = load_model(tflite)
    samples = [x.transpose(1, 2, 0)[None] for x in test_x]  # the int8 model takes NHWC
    count = len(samples) if n is None else n
    store = ResultsStore(db)
    try:
        with Session.open(port) as session:
            summary = run_bench(session, model, samples, BenchPlan(count, warmup=1, labels=[int(y) for y in test_y]),
                                store, port, progress)
    finally:
        store.close()
    return DemoResult(source, stages, summary, str(model_path))
