"""The host arena plan against what the TFLite-Micro interpreter records on this (64-bit) host: feed-forward
CNNs, stateful and recurrent models (SVDF, LSTM, GRU), kernels' scratch buffers and more than one subgraph."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ModelError
from toolkit.model import load_model
from toolkit.model.arena import greedy_plan, plan_head
from toolkit.model.graph import read_subgraphs
from toolkit.model.synth import ModelBuilder
from toolkit.model.tail import plan_tail
from toolkit.model.tflm import HostInterpreter

import tf_models
from conftest import REFERENCE_MODEL, real_model_params
from generated_models import GENERATED_SEEDS, random_model
from stateful_models import STATEFUL_MODELS

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


@pytest.mark.parametrize("name", sorted(STATEFUL_MODELS))
def test_stateful_and_control_flow_models(name: str) -> None:
    """SVDF state and scratch, the reduce ops' scratch, the newly registered op kinds, IF over two subgraphs."""
    check_against_tflm(STATEFUL_MODELS[name]())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(tf_models.KINDS))
def test_tensorflow_built_models(tensorflow_models_dir: Path | None, name: str) -> None:
    """Keras LSTM / GRU / conv1d wake-word shapes, int8 and float, as TFLiteConverter writes them."""
    if tensorflow_models_dir is None:
        pytest.skip("needs TensorFlow with tf_keras (the convert extra)")
    check_against_tflm((tensorflow_models_dir / f"{name}.tflite").read_bytes())


def test_scratch_buffers_and_state_are_planned() -> None:
    """An SVDF's state lives in the tail, its two int32 scratch buffers in the head, alive at its op."""
    data = STATEFUL_MODELS["svdf"]()
    model = load_model(data)
    plan = plan_head(model)
    scratch = [b for b in plan.buffers if b.tensor < 0]
    assert [(b.op, b.size) for b in scratch[:2]] == [(0, 4 * 32), (0, 4 * 16)]
    assert all(b.first == b.last == b.op + 1 for b in scratch)
    state = [t for t in read_subgraphs(data)[0].tensors if t.variable]
    assert state and all(t.index not in {b.tensor for b in plan.buffers} for t in state)


def test_called_subgraphs_are_planned_inside_their_op() -> None:
    data = STATEFUL_MODELS["if"]()
    plan = plan_head(load_model(data))
    if_op = next(op for op in read_subgraphs(data)[0].ops if op.kind == "IF")
    inner = [b for b in plan.buffers if b.subgraph > 0]
    outer = [b for b in plan.buffers if b.subgraph == 0 and b.first <= if_op.index + 1 <= b.last]
    assert inner and min(b.first for b in inner) > if_op.index + 1 and outer
    assert all(b.last >= max(i.last for i in inner) for b in outer if b.tensor in if_op.inputs)


def test_a_subgraph_calling_itself_is_an_error() -> None:
    b = ModelBuilder(0)
    x = b.input((1, 4))
    data = b.build([x], [b.if_(b.condition(), x, 0, 0)])
    with pytest.raises(ModelError, match="deeper"):
        plan_head(load_model(data))


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
    # Buffers of subgraphs nobody calls keep the lifetime (-1, -1): they stack only among themselves.
    offsets = greedy_plan([("u", 32, -1, -1), ("v", 16, -1, -1), ("w", 64, 0, 2)])
    assert offsets == {"w": 0, "u": 0, "v": 32}


def test_tail_is_smaller_for_the_32_bit_target() -> None:
    model = load_model(REFERENCE_MODEL.read_bytes())
    assert plan_tail(model, 4) < plan_tail(model, 8)
    svdf = load_model(STATEFUL_MODELS["svdf"]())
    state = sum(t.nbytes for t in read_subgraphs(svdf.data)[0].tensors if t.variable)
    assert plan_tail(svdf, 4) > state  # the variable state is persistent on the board too
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
