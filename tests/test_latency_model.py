"""The latency model against published ESP32-S3 timings (bench/latency_model.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.boards import get_board
from toolkit.model import load_model
from toolkit.model.inspect import inspect_model

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from latency_model import LSTM_SHAPES, PUBLISHED, person_detection  # noqa: E402


@pytest.mark.parametrize("esp_nn, published", [(True, PUBLISHED["person_detection"]["esp_nn_ms"]),
                                               (False, PUBLISHED["person_detection"]["plain_c_ms"])])
def test_person_detection_estimate_is_close_to_the_published_figure(esp_nn: bool, published: float) -> None:
    estimate = inspect_model(load_model(person_detection()), get_board("esp32s3"), esp_nn=esp_nn).estimated_latency_ms
    assert 0.9 <= estimate / published <= 1.1


def test_plain_c_is_about_forty_times_slower_than_esp_nn() -> None:
    model = load_model(person_detection())
    board = get_board("esp32s3")
    plain_c = inspect_model(model, board, esp_nn=False).estimated_latency_ms
    ratio = plain_c / inspect_model(model, board).estimated_latency_ms
    assert 30 <= ratio <= 55  # published: 2300 ms / 54 ms = 43


def test_latency_model_script_json(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "latency_model.py"), "--no-tensorflow", "--json",
                             str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["models"]
    assert rows[0]["model"] == "person_detection"
    for path in ("esp_nn", "plain_c"):
        figures = rows[0][path]
        assert figures["ratio"] == pytest.approx(figures["estimate_ms"] / figures["published_ms"])


def test_lstm_calibration_range_is_the_span_of_the_shapes_the_bench_fits() -> None:
    span = get_board("esp32s3").calibration_ranges["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert span.features == (min(s[1] for s in LSTM_SHAPES), max(s[1] for s in LSTM_SHAPES))
    assert span.units == (min(s[2] for s in LSTM_SHAPES), max(s[2] for s in LSTM_SHAPES))
    assert str(len(LSTM_SHAPES)) in span.source


def test_the_lstm_fit_recovers_per_mac_per_unit_step_and_per_step_terms() -> None:
    from latency_model import _fit, lstm

    from toolkit.model.work import model_work

    works = [model_work(load_model(lstm(*shape)))[0] for shape in LSTM_SHAPES]
    truth = {"per_mac": 0.5, "per_unit_step": 50.0, "per_step": 120.0}
    rows = [((truth["per_mac"] * w.macs + truth["per_unit_step"] * w.output_elements + truth["per_step"] * w.steps)
             * 1e-9, w) for w in works]
    fitted, worst = _fit("UNIDIRECTIONAL_SEQUENCE_LSTM", rows)
    assert fitted == pytest.approx(truth, rel=1e-6) and worst < 1e-6
