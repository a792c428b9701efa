from __future__ import annotations

import numpy as np

from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
from toolkit.model import load_model
from toolkit.model.synth import ModelBuilder


def every_op_model() -> bytes:
    b = ModelBuilder(seed=3)
    x = b.input((1, 12, 12, 4))
    y = b.conv2d(x, 8, 3, stride=2)
    z = b.add(y, b.depthwise_conv2d(y, 3))
    z = b.avg_pool(b.max_pool(z, 2), 3)
    return b.build([x], [b.softmax(b.fully_connected(b.reshape(z, (1, -1)), 6, relu=True))])


def test_synthetic_model_parses_and_runs_equal_on_the_virtual_board(tmp_path) -> None:
    model = load_model(every_op_model())
    assert model.op_names == ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE",
                              "FULLY_CONNECTED", "SOFTMAX"]
    rng = np.random.default_rng(0)
    samples = [rng.integers(-128, 128, (1, 12, 12, 4), dtype=np.int8) for _ in range(4)]
    with Session.open("vdev://esp32s3?realtime=0") as session:
        summary = run_bench(session, model, samples, BenchPlan(4), ResultsStore(tmp_path / "r.sqlite"), "vdev")
    assert summary["outputs_match_reference"]


def test_synthetic_lstm_runs_equal_on_the_virtual_board(tmp_path) -> None:
    from stateful_models import lstm_model

    model = load_model(lstm_model())
    assert model.op_names[0] == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    rng = np.random.default_rng(1)
    samples = [rng.integers(-128, 128, (1, 12, 10), dtype=np.int8) for _ in range(3)]
    with Session.open("vdev://esp32s3?realtime=0") as session:
        summary = run_bench(session, model, samples, BenchPlan(3), ResultsStore(tmp_path / "r.sqlite"), "vdev")
    assert summary["outputs_match_reference"]
