"""Locating the first op whose output differs between a board and the host (espml bench --locate),
probe models, and the virtual board's corrupt_op fault that gives it something to find."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import serial

from conftest import REFERENCE_MODEL, real_model_params
from toolkit.cli import main
from toolkit.errors import DeviceTimeout
from toolkit.harness import Session, ensure_model
from toolkit.harness.locate import LocateError, ProtocolLoader, locate
from toolkit.model import load_model
from toolkit.model.arena import plan_head
from toolkit.model.offline_plan import offline_offsets
from toolkit.model.plan_metadata import read_offline_offsets
from toolkit.model.probe import live_after, probe_at, split_at, with_outputs
from toolkit.model.reader import parse_model
from toolkit.model.rewrite import rewrite_model
from toolkit.model.tail import plan_tail
from toolkit.model.tflm import HostInterpreter
from toolkit.virtual.op_fault import CorruptOp

ARENA = 16 * 2**20
HELDOUT = Path(REFERENCE_MODEL).parent / "heldout_nhwc"


def _input(model, seed: int = 0) -> np.ndarray:
    t = model.inputs[0]
    info = np.iinfo(t.numpy_dtype)
    return np.random.default_rng(seed).integers(info.min, info.max, size=t.shape, endpoint=True).astype(t.numpy_dtype)


def _intermediates(model) -> list[int]:
    return sorted({t for cut in live_after(model) for t in cut} - {t.index for t in model.inputs})


def _prefix_values(model, x: np.ndarray) -> dict[int, np.ndarray]:
    """Every intermediate tensor's value, each from a model cut right after the op that makes it."""
    values = {}
    for n in range(len(model.ops)):
        split = split_at(model, n)
        values.update(zip(split.prefix_outputs, HostInterpreter(split.prefix, ARENA).run([x], len(split.prefix_outputs))))
    return values


def _need(model) -> int:
    return plan_head(model).size + plan_tail(model, 4)


# --- probe models -------------------------------------------------------------------------------
def test_probe_keeps_outputs_first_and_shows_each_intermediate_value() -> None:
    model = load_model(REFERENCE_MODEL)
    x = _input(model)
    probe = parse_model(with_outputs(model.data, _intermediates(model)))
    assert [op.kind for op in probe.ops] == [op.kind for op in model.ops]
    assert probe.outputs[0].index == model.outputs[0].index and len(probe.outputs) == len(model.ops)
    results = HostInterpreter(probe.data, ARENA).run([x], len(probe.outputs))
    assert np.array_equal(results[0], HostInterpreter(model.data, ARENA).run([x])[0])
    expected = _prefix_values(model, x)
    for tensor, value in zip(probe.outputs, results):
        assert np.array_equal(value, expected[tensor.index]), tensor.name


def test_probe_drops_the_offline_plan_that_would_overwrite_exposed_tensors() -> None:
    model = load_model(REFERENCE_MODEL)
    offsets, _, _ = offline_offsets(model.data)
    planned = rewrite_model(model.data, offsets=offsets)  # tensors share memory once their readers have run
    assert read_offline_offsets(planned) is not None
    probe = with_outputs(planned, _intermediates(model))
    assert read_offline_offsets(probe) is None
    x = _input(model, 1)
    expected = _prefix_values(model, x)
    probe_model = parse_model(probe)
    for tensor, value in zip(probe_model.outputs, HostInterpreter(probe, ARENA).run([x], len(probe_model.outputs))):
        assert np.array_equal(value, expected[tensor.index]), tensor.name


# --- the virtual board's fault -------------------------------------------------------------------
def test_corrupt_op_changes_every_value_of_that_op_and_the_model_output() -> None:
    model = load_model(REFERENCE_MODEL)
    x = _input(model, 2)
    probe = parse_model(with_outputs(model.data, _intermediates(model)))
    clean = dict(zip([t.index for t in probe.outputs], HostInterpreter(probe.data, ARENA).run([x], len(probe.outputs))))
    for n, op in enumerate(model.ops):
        faulty = dict(zip([t.index for t in probe.outputs], CorruptOp(probe, n).run([x])))
        for earlier in model.ops[:n]:
            assert all(np.array_equal(faulty[t], clean[t]) for t in earlier.outputs), (n, earlier.index)
        assert all(np.all(faulty[t] != clean[t]) for t in op.outputs), n
        assert not np.array_equal(faulty[model.outputs[0].index], clean[model.outputs[0].index]), n


def test_corrupt_op_past_the_last_op_leaves_the_board_correct(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert main(["bench", "--port", "vdev://esp32s3?realtime=0&corrupt_op=8", "--model", str(REFERENCE_MODEL),
                 "--inputs", str(HELDOUT), "--n", "2", "--json", str(out), "--db", str(tmp_path / "r.sqlite")]) == 0
    assert json.loads(out.read_text())["outputs_match_reference"]


def test_corrupt_op_must_count_from_zero() -> None:
    with pytest.raises(serial.SerialException, match="corrupt_op"):
        serial.serial_for_url("vdev://esp32s3?corrupt_op=-1")


# --- locate on the virtual board -----------------------------------------------------------------
def revealing_inputs(model):
    """Inputs to try in turn: a saturated softmax can hide a wrong op on one input and not another."""
    t = model.inputs[0]
    zero = int(t.zero_point[0]) if len(t.zero_point) else 0
    yield _input(model, 3)
    for seed in range(4):  # small values around the zero point: a real signal's range, not full scale
        noise = np.random.default_rng(seed).integers(-12, 12, size=t.shape, endpoint=True)
        info = np.iinfo(t.numpy_dtype)
        yield np.clip(zero + noise, info.min, info.max).astype(t.numpy_dtype)


def _locate_on_vdev(model, n: int, options: str = ""):
    with Session.open(f"vdev://esp32s3?realtime=0&corrupt_op={n}{options}", timeout=5) as session:
        ensure_model(session, model)
        for x in revealing_inputs(model):
            try:
                report = locate(session, model, [x])
                break
            except LocateError as exc:
                if "agree on this input" not in exc.message:
                    raise
        else:
            pytest.fail(f"op {n}'s corrupted output never reached the model's outputs on any input tried")
        assert session.hello().model_sha256.hex() == model.sha256  # the model in charge is back
    return report


@pytest.mark.parametrize("n", range(8))
def test_locate_names_the_corrupted_op_of_the_reference_model(n: int) -> None:
    model = load_model(REFERENCE_MODEL)
    report = _locate_on_vdev(model, n)
    assert report.op.index == n and report.op.kind == model.ops[n].kind
    assert all(d.differing == d.elements for d in report.op.outputs) and report.op.outputs
    assert all(i["state"] in ("agrees", "constant") for i in report.op.inputs)
    assert report.probe_uploads <= math.ceil(math.log2(len(model.ops))) + 2 and report.restore_uploads == 1
    assert [near["index"] for near in report.neighbours] == [i for i in (n - 1, n + 1) if 0 <= i < len(model.ops)]
    assert all(near["outputs_differ"] is (near["index"] > n) for near in report.neighbours)


@pytest.mark.parametrize("path", real_model_params())
def test_locate_names_every_op_of_a_real_model(path: Path) -> None:
    model = load_model(path)
    for n in range(len(model.ops)):
        report = _locate_on_vdev(model, n)
        assert report.op.index == n, (path.name, n)
        assert report.probe_uploads <= math.ceil(math.log2(len(model.ops))) + 2


def test_locate_bisects_when_the_whole_probe_exceeds_the_arena() -> None:
    model = load_model(REFERENCE_MODEL)
    everything = parse_model(with_outputs(model.data, _intermediates(model)))
    arena = 12000
    assert _need(model) < arena < _need(everything)
    for n in (0, 4, 7):
        report = _locate_on_vdev(model, n, f"&arena_bytes={arena}")
        assert report.op.index == n and report.probe_uploads >= 2
        assert report.probe_uploads <= math.ceil(math.log2(len(model.ops))) + 2
        for probe in report.probes:
            assert _need(parse_model(probe_at(model, probe["cuts"])[0])) <= arena


def test_a_probe_larger_than_the_boards_arena_is_refused_before_upload() -> None:
    """Probes cut short need no more arena than their model (checked for every cut in the bisection
    test's models), so the board's own figure is what a probe is held to, here with a model."""
    model = load_model(REFERENCE_MODEL)
    with Session.open("vdev://esp32s3?realtime=0&arena_bytes=4000", timeout=5) as session:
        why = ProtocolLoader().why_unfit(session, model)
        assert why is not None and f"{_need(model):,} B" in why and "4,000 B" in why
    with Session.open("vdev://esp32s3?realtime=0", timeout=5) as session:
        assert ProtocolLoader().why_unfit(session, model) is None


def test_the_model_is_restored_when_the_board_resets_mid_locate() -> None:
    model = load_model(REFERENCE_MODEL)
    # INVOKE 1 is locate's check on the model in charge, 2 runs the first probe: the board resets
    with Session.open("vdev://esp32s3?realtime=0&corrupt_op=2&reset_after=1", timeout=5) as session:
        ensure_model(session, model)
        with pytest.raises(DeviceTimeout):
            locate(session, model, [_input(model)])
        assert session.hello().model_sha256.hex() == model.sha256


def test_an_input_that_agrees_has_nothing_to_locate() -> None:
    model = load_model(REFERENCE_MODEL)
    with Session.open("vdev://esp32s3?realtime=0", timeout=5) as session:
        ensure_model(session, model)
        with pytest.raises(LocateError, match="agree on this input"):
            locate(session, model, [_input(model)])


# --- the command line ----------------------------------------------------------------------------
def test_bench_locate_reports_the_op_in_json_and_text(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.json"
    code = main(["bench", "--port", "vdev://esp32s3?realtime=0&corrupt_op=5", "--model", str(REFERENCE_MODEL),
                 "--inputs", str(HELDOUT), "--n", "3", "--locate", "--json", str(out), "--db", str(tmp_path / "r.sqlite")])
    assert code == 7
    found = json.loads(out.read_text())["locate"]
    assert found["op"]["index"] == 5 and found["op"]["kind"] == "RESHAPE" and found["sample"] == 0
    assert "first differing op (input sample 0): op 5 RESHAPE" in " ".join(capsys.readouterr().out.split())


def test_bench_locate_on_matching_outputs_adds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(REFERENCE_MODEL), "--inputs",
                 str(HELDOUT), "--n", "2", "--locate", "--json", str(out), "--db", str(tmp_path / "r.sqlite")]) == 0
    assert "locate" not in json.loads(out.read_text())


def test_bench_locate_failure_keeps_the_run_and_says_so_in_one_line(tmp_path: Path, capsys) -> None:
    # 1 warm-up, 2 measured, locate's check: the board resets while it runs the first probe
    url = "vdev://esp32s3?realtime=0&corrupt_op=2&reset_after=4&id=locate-reset"
    code = main(["bench", "--port", url, "--model", str(REFERENCE_MODEL), "--inputs", str(HELDOUT), "--n", "2",
                 "--locate", "--db", str(tmp_path / "r.sqlite")])
    err = capsys.readouterr().err
    assert code != 0 and "locating the differing op failed" in err and "inferences are kept" in err
    assert "Traceback" not in err
    with Session.open(url, timeout=5) as session:
        assert session.hello().model_sha256.hex() == load_model(REFERENCE_MODEL).sha256


def test_locate_on_a_micropython_board_goes_through_its_filesystem(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    url = "vdev://esp32s3?firmware=micropython&id=locate-mp&corrupt_op=6"
    code = main(["bench", "--target", "micropython", "--port", url, "--model", str(REFERENCE_MODEL), "--inputs",
                 str(HELDOUT), "--n", "2", "--locate", "--json", str(out), "--db", str(tmp_path / "r.sqlite")])
    assert code == 7
    found = json.loads(out.read_text())["locate"]
    assert found["op"]["index"] == 6 and found["probe_uploads"] == 1 and found["restore_uploads"] == 1
    from toolkit.micropython.deploy import probe, raw_repl

    with raw_repl(url) as transport:
        assert probe(transport).model_sha256 == load_model(REFERENCE_MODEL).sha256

