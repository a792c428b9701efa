"""Offline arena plans (`espml plan`): checked against the host TFLite-Micro, which must accept the
planned model, record the smaller arena and compute bit-identical outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.errors import ModelError
from toolkit.model import load_model
from toolkit.model.arena import plan_head
from toolkit.model.graph import read_subgraphs
from toolkit.model.offline_plan import plan_model
from toolkit.model.plan_metadata import ONLINE, encode_offline_offsets, read_offline_offsets
from toolkit.model.rewrite import DATA_ALIGNMENT, rewrite_model
from toolkit.model.tflm import HostInterpreter, recorded_arena

from branchy_models import BRANCHY_MODELS, sample_inputs
from conftest import real_model_params
from stateful_models import STATEFUL_MODELS

ARENA = 4 * 1024 * 1024


def tflm_outputs(data: bytes, input_sets: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Every output of every inference, in order (stateful models carry state between them)."""
    count = len(load_model(data).outputs)
    interpreter = HostInterpreter(data, ARENA)
    return [out for inputs in input_sets for out in interpreter.run(inputs, count)]


def check_planned(data: bytes) -> tuple:
    """Plan the model; TFLM must record the predicted head, no more than its own, and the same outputs."""
    plan = plan_model(data)
    original, planned = recorded_arena(data, ARENA), recorded_arena(plan.data, ARENA)
    assert original.head == plan.greedy_head_bytes
    assert planned.head == plan.planned_head_bytes <= original.head
    assert plan_head(load_model(plan.data)).size == planned.head  # inspect honours the plan as TFLM does
    inputs = sample_inputs(load_model(data), 3)
    for a, b in zip(tflm_outputs(data, inputs), tflm_outputs(plan.data, inputs), strict=True):
        assert np.array_equal(a, b)
    return plan, original, planned


@pytest.mark.parametrize("name", sorted(BRANCHY_MODELS))
def test_branchy_graphs_need_less_arena_in_tflm_with_identical_outputs(name: str) -> None:
    plan, original, planned = check_planned(BRANCHY_MODELS[name]())
    assert planned.head <= plan.lower_bound_bytes * 1.01
    assert plan.lower_bound_bytes <= plan.original_lower_bound_bytes


def test_breadth_first_branches_are_reordered_to_half_the_arena() -> None:
    plan, original, planned = check_planned(BRANCHY_MODELS["inception"]())
    assert plan.reordered and plan.order_exact and plan.packing_optimal
    assert planned.head * 2 <= original.head


@pytest.mark.parametrize("name", sorted(STATEFUL_MODELS))
def test_stateful_scratch_and_multi_subgraph_models(name: str) -> None:
    """SVDF state (variables stay TFLM's), scratch buffers placed by TFLM around the plan, IF subgraphs."""
    plan, _, _ = check_planned(STATEFUL_MODELS[name]())
    if len(read_subgraphs(plan.data)) > 1:
        assert not plan.reordered


@pytest.mark.real_models
@pytest.mark.parametrize("path", real_model_params())
def test_real_models(path: Path) -> None:
    plan, _, planned = check_planned(path.read_bytes())
    assert planned.head <= plan.lower_bound_bytes * 1.01


@pytest.mark.real_models
@pytest.mark.parametrize("path", [p for p in real_model_params() if p.values[0] is None
                                  or p.values[0].stem == "mlc_vww_96_int8"])
def test_visual_wake_words_needs_a_fifth_less_than_tflms_plan(path: Path) -> None:
    plan, original, planned = check_planned(path.read_bytes())
    assert planned.head <= 0.8 * original.head
    assert planned.head == plan.lower_bound_bytes


def test_the_plan_is_written_as_tflm_reads_it() -> None:
    data = BRANCHY_MODELS["residual"]()
    plan = plan_model(data, reorder=False)
    offsets = read_offline_offsets(plan.data)
    graph = read_subgraphs(plan.data)[0]
    assert len(offsets) == len(graph.tensors)
    for tensor in graph.tensors:
        planned = not (tensor.constant or tensor.variable or tensor.nbytes == 0)
        assert (offsets[tensor.index] != ONLINE) == planned
        assert offsets[tensor.index] % 16 == 0 or offsets[tensor.index] == ONLINE
    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    model = schema.Model.GetRootAs(plan.data, 0)
    for i in range(model.BuffersLength()):
        if model.Buffers(i).DataLength():
            assert model.Buffers(i)._tab.Vector(model.Buffers(i)._tab.Offset(4)) % DATA_ALIGNMENT == 0


def test_a_planned_model_is_refused_unless_replanned() -> None:
    once = plan_model(BRANCHY_MODELS["inception"]()).data
    with pytest.raises(ModelError, match="already carries an offline memory plan"):
        plan_model(once)
    again = plan_model(once, replan=True)
    assert recorded_arena(again.data, ARENA).head == again.planned_head_bytes
    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    before, after = schema.Model.GetRootAs(once, 0), schema.Model.GetRootAs(again.data, 0)
    assert (after.BuffersLength(), after.MetadataLength()) == (before.BuffersLength(), before.MetadataLength())


def test_a_plan_with_the_wrong_tensor_count_is_refused_by_tflm_and_by_inspect() -> None:
    from tflite_micro import runtime

    data = BRANCHY_MODELS["inception"]()
    offsets = read_offline_offsets(plan_model(data).data)
    short = rewrite_model(data, offsets=offsets[:-1])
    with pytest.raises(RuntimeError):
        runtime.Interpreter.from_bytes(short, arena_size=ARENA)
    with pytest.raises(ModelError, match="TFLite-Micro refuses"):
        plan_head(load_model(short))


def test_an_overlapping_plan_corrupts_tflm_outputs_and_inspect_refuses_it() -> None:
    """The identity check can fail: TFLM trusts a plan, so tensors alive together at one offset
    give wrong outputs. inspect names the clash instead."""
    data = BRANCHY_MODELS["residual"]()
    offsets = [0 if o != ONLINE else ONLINE for o in read_offline_offsets(plan_model(data).data)]
    clashing = rewrite_model(data, offsets=tuple(offsets))
    from tflite_micro import runtime

    inputs = sample_inputs(load_model(data), 2)
    interpreter = runtime.Interpreter.from_bytes(clashing, arena_size=ARENA)  # HostInterpreter would refuse it
    bad = []
    for x in inputs:
        interpreter.set_input(x[0], 0)
        interpreter.invoke()
        bad.append(np.array(interpreter.get_output(0), copy=True))
    assert not all(np.array_equal(a, b) for a, b in zip(tflm_outputs(data, inputs), bad, strict=True))
    with pytest.raises(ModelError, match="overlaps"):
        plan_head(load_model(clashing))


def with_plan_payload(data: bytes, payload: bytes) -> bytes:
    """The model with an offline plan entry whose buffer holds exactly ``payload``."""
    import flatbuffers

    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    planned = rewrite_model(data, offsets=(ONLINE,) * sum(len(g.tensors) for g in read_subgraphs(data)))
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(planned, 0))
    model.buffers[model.metadata[-1].buffer].data = np.frombuffer(payload, dtype=np.uint8)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("case, message", [("short header", "not a header"), ("negative offset", "before the arena"),
                                           ("truncated offsets", "announces")])
def test_malformed_plans_are_one_line_errors(case: str, message: str) -> None:
    data = BRANCHY_MODELS["inception"]()
    count = len(read_subgraphs(data)[0].tensors)
    payload = {"short header": b"\x01\x00\x00\x00\x00\x00\x00\x00",
               "negative offset": encode_offline_offsets([-5] + [ONLINE] * (count - 1)),
               "truncated offsets": encode_offline_offsets([ONLINE] * count)[:-8]}[case]
    with pytest.raises(ModelError, match=message):
        plan_head(load_model(with_plan_payload(data, payload)))


def test_cli_plan_and_inspect_plan(tmp_path: Path, capsys) -> None:
    source, out, report = tmp_path / "m.tflite", tmp_path / "planned.tflite", tmp_path / "plan.json"
    source.write_bytes(BRANCHY_MODELS["residual"]())
    assert main(["plan", str(source), "-o", str(out), "--json", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert figures["planned_head_bytes"] < figures["greedy_head_bytes"]
    assert recorded_arena(out.read_bytes(), ARENA).head == figures["planned_head_bytes"]
    said = "".join(capsys.readouterr().out.split())
    assert "lowerbound" in said and f"wrote{out}" in said
    inspected = tmp_path / "inspect.json"
    assert main(["inspect", str(out), "--plan", "--json", str(inspected)]) == 0
    facts = json.loads(inspected.read_text())
    assert facts["arena_offline_plan"] and facts["arena_head_bytes"] == figures["planned_head_bytes"]
    assert facts["arena_plan"]["planned_head_bytes"] == figures["planned_head_bytes"]
    capsys.readouterr()
    assert main(["plan", str(out), "-o", str(tmp_path / "twice.tflite")]) == 2
    assert main(["plan", str(tmp_path / "missing.tflite"), "-o", str(tmp_path / "x.tflite")]) == 2
    source.write_bytes(source.read_bytes()[:300])
    assert main(["plan", str(source), "-o", str(tmp_path / "x.tflite")]) == 2
    err = capsys.readouterr().err
    assert "already carries" in err and "not found" in err and "corrupt" in err and "Traceback" not in err


def test_cli_plan_that_finds_nothing_says_it_copied(tmp_path: Path, capsys) -> None:
    from conftest import REFERENCE_MODEL

    out = tmp_path / "same.tflite"
    assert main(["plan", str(REFERENCE_MODEL), "-o", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "no plan written" in said and "unchanged" in said and "wrote" not in said
    assert out.read_bytes() == REFERENCE_MODEL.read_bytes()


def test_benchmark_script_reports_the_goals(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    out = tmp_path / "arena_plan.json"
    env = {k: v for k, v in os.environ.items() if k != "ESPML_REAL_MODELS"}
    script = Path(__file__).resolve().parent.parent / "bench" / "arena_plan.py"
    result = subprocess.run([sys.executable, str(script), "--inputs", "1", "--json", str(out)], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["all_within_1pct_of_bound"] and figures["all_outputs_identical"]
    assert figures["mean_saving_pct"] > 0 and len(figures["models"]) == len(BRANCHY_MODELS)
    assert {"greedy_head_bytes", "planned_head_bytes", "lower_bound_bytes", "outputs_identical"} <= set(figures["models"][0])


def test_a_model_with_data_after_its_flatbuffer_is_refused_not_corrupted() -> None:
    """Buffers stored by offset past the flatbuffer (the converter's layout for models over 2 GB)
    would point at bytes a repacked flatbuffer no longer has."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAs(BRANCHY_MODELS["inception"](), 0))
    weights = next(b for b in model.buffers if b.data is not None and len(b.data))
    weights.offset, weights.size, weights.data = 1 << 20, len(weights.data), None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(ModelError, match="data after its flatbuffer"):
        rewrite_model(bytes(builder.Output()), offsets=None)
