"""The host arena plan against what the TFLite-Micro interpreter records on this (64-bit) host."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.model import load_model
from toolkit.model.arena import greedy_plan, plan_head
from toolkit.model.tail import plan_tail
from toolkit.model.tflm import HostInterpreter

from conftest import REFERENCE_MODEL, real_model_params
from generated_models import GENERATED_SEEDS, random_model

RECORDING_ARENA = 4 * 1024 * 1024


def check_against_tflm(data: bytes) -> None:
    model = load_model(data)
    recorded = HostInterpreter(data, RECORDING_ARENA).arena
    head = plan_head(model)
    assert head.size == recorded.head
    total = head.size + plan_tail(model, pointer_size=8)
    assert abs(total - recorded.total) <= 0.01 * recorded.total, (total, recorded)


@pytest.mark.parametrize("seed", GENERATED_SEEDS)
def test_generated_models(seed: int) -> None:
    check_against_tflm(random_model(seed))


def test_reference_model() -> None:
    check_against_tflm(REFERENCE_MODEL.read_bytes())


@pytest.mark.real_models
@pytest.mark.parametrize("path", real_model_params())
def test_real_models(path: Path) -> None:
    check_against_tflm(path.read_bytes())


def test_greedy_planner_reuses_gaps_and_orders_equal_sizes_as_tflm() -> None:
    # (key, size, first, last): a and b overlap; c lives after a and fits where a was.
    offsets = greedy_plan([("a", 64, 0, 1), ("b", 32, 1, 2), ("c", 48, 2, 3)])
    assert offsets == {"a": 0, "b": 64, "c": 0}
    # Equal sizes: the later request is placed first (TFLM fills its sort array from the end).
    offsets = greedy_plan([("x", 16, 0, 1), ("y", 16, 0, 1)])
    assert offsets == {"y": 0, "x": 16}


def test_tail_is_smaller_for_the_32_bit_target() -> None:
    model = load_model(REFERENCE_MODEL.read_bytes())
    assert plan_tail(model, 4) < plan_tail(model, 8)
    with pytest.raises(ValueError):
        plan_tail(model, 2)


def test_too_small_arenas_never_reach_tflm_in_process() -> None:
    """TFLM segfaults for this model around 4.9 KB; the planner refuses such arenas first."""
    from toolkit.model.tflm import ArenaTooSmall

    data = REFERENCE_MODEL.read_bytes()
    for size in (1000, 4900, 9000):
        with pytest.raises(ArenaTooSmall, match="too small"):
            HostInterpreter(data, size)


def test_arenas_near_the_estimate_are_probed_in_a_child() -> None:
    from toolkit.model.tflm import ArenaTooSmall

    data = REFERENCE_MODEL.read_bytes()
    exact = HostInterpreter(data, RECORDING_ARENA).arena.total
    assert HostInterpreter(data, exact).arena.total == exact  # within the margin: the child says it fits
    with pytest.raises(ArenaTooSmall):
        HostInterpreter(data, exact - 16)
