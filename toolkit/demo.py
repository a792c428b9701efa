"""`espml demo`: the reference model from training, optimisation and conversion, flashed with
esptool into the virtual board, to figures measured there."""

from __future__ import annotations

import json
from importlib import resources
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.boards import get_board
from toolkit.demo_cache import Build, build_key, load_build, save_build
from toolkit.flash import flash
from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.model import load_model
from toolkit.reference import digits_preprocess
from toolkit.tensors import Preprocess, channels_last

log = logging.getLogger(__name__)

BUNDLED = resources.files("toolkit.demo_data")  # fixtures/reference, shipped with the package
DEMO_PORT = "vdev://esp32s3?baud=921600&id=demo"  # one board for flashing and benchmarking
CALIBRATION_SAMPLES = 200
DEMO_LABEL = "espml demo"  # what the demo's runs are for, in the store and the report


@dataclass
class DemoResult:
    model_source: str
    stages: list[dict] = field(default_factory=list)
    bench: dict = field(default_factory=dict)
    model_path: str = ""
    flashed: dict = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


class PhaseClock:
    """Wall time per phase of the demo: each ``enter`` ends the phase before it."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._current: str | None = None
        self._since = time.perf_counter()

    def enter(self, name: str | None) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.phases[self._current] = self.phases.get(self._current, 0.0) + now - self._since
        self._current, self._since = name, now

    def stage_lines(self, line: str) -> None:
        """The optimisation sequence's progress lines ("prune at 0.5: ...") start with the stage's name."""
        self.enter(f"optimize {line.split(':', 1)[0].split()[0]}")


def conversion_available() -> bool:
    from toolkit.convert.pipeline import installed

    return all(installed(name) for name in ("torch", "tensorflow", "onnx2tf", "sklearn"))


DEMO_BUDGET_POINTS = 0.5
REUSED = "trained, optimised and converted by an earlier run in this work folder (same code and library versions; --fresh to redo)"


def build_model(work: Path, stages: list[dict], clock: PhaseClock, fresh: bool) -> tuple[bytes, Preprocess]:
    """Train the reference CNN (``fresh``: even when an identical training was kept), run the
    optimisation sequence and int8 conversion on it."""
    clock.enter("train")
    from toolkit.optimize.pipeline import FOLD_FIRST_ORDER, Data, Sequence
    from toolkit.reference import trained_reference

    model, split = trained_reference(cache=not fresh)
    data = Data(split.train_x, split.train_y, split.test_x, split.test_y, split.train_x[:CALIBRATION_SAMPLES],
                digits_preprocess())
    clock.enter("optimize")
    sequence = Sequence(model, data, budget_points=DEMO_BUDGET_POINTS, progress=clock.stage_lines)
    result = sequence.run(list(FOLD_FIRST_ORDER), work / "optimize")
    stages += result.rows
    return result.tflite, result.preprocess


def built_or_reused(work: Path, stages: list[dict], clock: PhaseClock, fresh: bool) -> tuple[bytes, Preprocess, str]:
    """The demo's model from an earlier run when nothing that makes it has changed, else built now."""
    from toolkit.optimize.pipeline import FOLD_FIRST_ORDER

    key = build_key(list(FOLD_FIRST_ORDER), DEMO_BUDGET_POINTS)
    kept = None if fresh else load_build(work / "build", key)
    if kept:
        stages += kept.stages
        return kept.tflite, kept.preprocess, REUSED
    tflite, preprocess = build_model(work, stages, clock, fresh)
    save_build(work / "build", key, Build(tflite, preprocess, stages))
    return tflite, preprocess, "trained, optimised and converted now"


def run_demo(work: Path, db: Path, n: int | None = None, retrain: bool = True, port: str = DEMO_PORT,
             progress=None, fresh: bool = False) -> DemoResult:
    work.mkdir(parents=True, exist_ok=True)
    stages: list[dict] = []
    clock = PhaseClock()
    if retrain and conversion_available():
        from toolkit.reference import load_digits_split

        tflite, preprocess, source = built_or_reused(work, stages, clock, fresh)
        split = load_digits_split()
        test_x, test_y = split.test_x, split.test_y
    else:
        tflite = BUNDLED.joinpath("digits_cnn_int8.tflite").read_bytes()
        preprocess = digits_preprocess().with_layout("NHWC")  # how the bundled model was made
        with BUNDLED.joinpath("heldout_x.npy").open("rb") as x, BUNDLED.joinpath("heldout_y.npy").open("rb") as y:
            test_x, test_y = np.load(x), np.load(y)
        facts = json.loads(BUNDLED.joinpath("reference.json").read_text())
        stages.append({"stage": "bundled int8", "status": "not optimised", "parameters": facts["parameters"],
                       "tflite_bytes": len(tflite), "accuracy": facts["parity"]["int8_accuracy"],
                       "agreement": facts["parity"]["top1_agreement"]})
        source = "bundled fixture (install the 'convert' extra to train and convert it here)"
    model_path = work / "digits_cnn_int8.tflite"
    model_path.write_bytes(tflite)
    preprocess.save_beside(model_path)  # so `espml bench --model` on it reads images as the demo does
    model = load_model(tflite)
    clock.enter("flash")
    written = flash(port, get_board("esp32s3"), model)  # esptool, through the board's reset circuit
    flashed = {"slot": written.model_slot, "sequence": written.model_sequence, "seconds": written.seconds,
               "wire_bytes": written.wire_bytes_estimate}
    samples = list(channels_last(test_x)[:, None])  # the int8 model takes NHWC
    count = len(samples) if n is None else n
    store = ResultsStore(db)
    clock.enter("bench")
    try:
        with Session.open(port) as session:
            plan = BenchPlan(count, warmup=1, labels=[int(y) for y in test_y], model_name=model_path.name,
                             label=DEMO_LABEL)  # the report names the run as it names a bench run of the file
            summary = run_bench(session, model, samples, plan, store, port, progress)
    finally:
        store.close()
    clock.enter(None)
    return DemoResult(source, stages, summary, str(model_path), flashed, {k: round(v, 2) for k, v in clock.phases.items()})
