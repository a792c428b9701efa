"""The LSTM's latency model: TFLite-Micro's kernel loops over time steps, and each step pays for its
gates' matmuls (input and recurrent weights), their elementwise work per unit and a fixed cost."""

from __future__ import annotations

from functools import cache

import pytest

from toolkit.boards import get_board
from toolkit.model import load_model
from toolkit.model.inspect import inspect_model
from toolkit.model.synth import ModelBuilder


@cache
def lstm_cycles(steps: int, features: int, units: int, esp_nn: bool = True) -> int:
    """inspect's cycles for one int8 LSTM over [1, steps, features] with ``units`` hidden units."""
    b = ModelBuilder(0)
    x = b.input((1, steps, features))
    report = inspect_model(load_model(b.build([x], [b.lstm(x, units)])), get_board("esp32s3"), esp_nn=esp_nn)
    (op,) = report.ops
    assert op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    return op.cycles


def step_cycles(features: int, units: int) -> int:
    """What one more time step costs: the step's share, with the per-op overhead and weight fetch cancelled."""
    return lstm_cycles(9, features, units) - lstm_cycles(8, features, units)


def macs_per_step(features: int, units: int) -> int:
    return 4 * units * (features + units)  # four gates, each an input and a recurrent matmul


def per_mac() -> float:
    """The matmul's cycles per MAC, from two LSTMs that differ only in their input features."""
    return (step_cycles(40, 16) - step_cycles(8, 16)) / (macs_per_step(40, 16) - macs_per_step(8, 16))


def not_matmul(features: int, units: int) -> float:
    """A step's cycles beyond its matmuls: the gates' elementwise work and the step's fixed calls."""
    return step_cycles(features, units) - macs_per_step(features, units) * per_mac()


def test_lstm_cost_is_linear_in_steps_with_a_fixed_cost_per_step() -> None:
    costs = [lstm_cycles(steps, 8, 16) for steps in (1, 2, 4, 8, 16)]
    per_step = (costs[-1] - costs[0]) / 15
    for steps, cycles in zip((1, 2, 4, 8, 16), costs):
        assert cycles - costs[0] == pytest.approx((steps - 1) * per_step, abs=2)
    # a step of a 1-feature, 1-unit LSTM does 8 MACs, yet pays for its calls and gate arithmetic
    assert step_cycles(1, 1) > 20 * macs_per_step(1, 1) * per_mac()


def fc_plain_c_per_mac() -> float:
    """Cycles per MAC of a plain-C FULLY_CONNECTED, from two that differ only in depth."""
    def cycles(depth: int) -> int:
        b = ModelBuilder(0)
        x = b.input((1, depth))
        return inspect_model(load_model(b.build([x], [b.fully_connected(x, 64)])), get_board("esp32s3"),
                             esp_nn=False).ops[0].cycles
    return (cycles(256) - cycles(128)) / (64 * 128)


def test_lstm_matmul_part_scales_with_input_plus_hidden_size() -> None:
    for features, units in ((8, 64), (128, 16), (257, 128)):
        grown = step_cycles(features + 32, units) - step_cycles(features, units)
        assert grown == pytest.approx((macs_per_step(features + 32, units) - macs_per_step(features, units))
                                      * per_mac(), abs=2)
    # what is not matmul does not depend on the input features
    assert not_matmul(257, 16) == pytest.approx(not_matmul(8, 16), abs=2)
    # the gates' matmuls are TFLM's reference fully-connected kernel (lstm_eval.cc), timed apart from the
    # elementwise work: about the plain-C FULLY_CONNECTED's cycles per MAC, calibrated separately
    assert 0.7 <= per_mac() / fc_plain_c_per_mac() <= 1.5


def test_lstm_elementwise_work_scales_with_units() -> None:
    rest = {units: not_matmul(8, units) for units in (4, 8, 16, 32)}
    assert rest[8] > rest[4] > 0
    assert rest[32] - rest[16] == pytest.approx(2 * (rest[16] - rest[8]), abs=4)
    assert rest[16] - rest[8] == pytest.approx(2 * (rest[8] - rest[4]), abs=4)

