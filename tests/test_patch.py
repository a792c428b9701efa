"""Patch-based execution of a model's first stage (``espml plan --patch``): the band rewrite
must compute every output pixel as the whole-tensor model does, in the host TFLite-Micro."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit.boards.firmware import firmware_ops
from toolkit.cli import main
from toolkit.errors import ModelError
from toolkit.model import load_model
from toolkit.model.arena import plan_head
from toolkit.model.band_layout import band_view_offsets, view_lower_bound
from toolkit.model.bands import band_steps, find_stage, split_rows
from toolkit.model.patch import band_rewrite
from toolkit.model.offline_plan import plan_model
from toolkit.model.patch_plan import patch_model
from toolkit.model.rewrite import rewrite_model
from toolkit.model.synth import ModelBuilder
from toolkit.model.tflm import HostInterpreter, recorded_arena
from toolkit.model.views import tensor_views

from vision_models import image_inputs, mobilenet_v1, stage_model

ARENA = 4 * 1024 * 1024


def tflm_outputs(data: bytes, input_sets: list[list[np.ndarray]]) -> list[np.ndarray]:
    interpreter = HostInterpreter(data, ARENA)
    return [interpreter.run(inputs)[0] for inputs in input_sets]


@pytest.mark.parametrize("bands", [2, 3, 4])
@pytest.mark.parametrize("depth", [1, 3, 7])
def test_banded_stage_is_bit_identical_pixel_by_pixel(depth: int, bands: int) -> None:
    data = stage_model()
    stage = find_stage(load_model(data))
    assert len(stage.layers) == 7 and "model output" in stage.stop
    patched = band_rewrite(data, stage.layers[:depth], bands)
    inputs = image_inputs(data, 3)
    for original, banded in zip(tflm_outputs(data, inputs), tflm_outputs(patched, inputs)):
        assert original.shape == banded.shape and np.array_equal(original, banded)


def test_bands_run_valid_convolutions_and_only_registered_ops() -> None:
    data = stage_model()
    patched = load_model(band_rewrite(data, find_stage(load_model(data)).layers, 4))
    assert set(patched.op_names) <= firmware_ops()
    assert {"STRIDED_SLICE", "PAD", "CONCATENATION"} <= set(patched.op_names)
    windows = [op for op in patched.ops if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D")]
    assert len(windows) == 4 * 6 and all(op.options["padding"] == 1 for op in windows)  # VALID


def test_mobilenet_stage_after_the_split_point_is_unchanged() -> None:
    """Banding the first layers of a whole MobileNet leaves its classifier's outputs identical."""
    data = mobilenet_v1(48, 1)
    stage = find_stage(load_model(data))
    patched = band_rewrite(data, stage.layers[:5], 3)
    inputs = image_inputs(data, 2)
    assert all(np.array_equal(a, b) for a, b in zip(tflm_outputs(data, inputs), tflm_outputs(patched, inputs)))
    assert len(load_model(patched).ops) > len(load_model(data).ops)


def test_band_rows_cover_the_output_once_with_halos_and_border_padding() -> None:
    layers = find_stage(load_model(stage_model())).layers[:3]
    height = layers[-1].out_shape[0]
    bands = split_rows(height, 3)
    assert bands[0][0] == 0 and bands[-1][1] == height and all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    first, middle, last = (band_steps(layers, rows) for rows in bands)
    assert first[0].pad_top == 1 and middle[0].pad_top == 0 and middle[0].pad_bottom == 0
    assert last[0].pad_bottom == 1 and last[0].rows[1] == layers[0].in_shape[0]
    assert middle[0].rows[0] < first[0].rows[1]  # the halo: neighbouring bands read common rows


def test_a_dilated_convolution_ends_the_stage() -> None:
    stage = find_stage(load_model(stage_model(dilation=2)))
    assert len(stage.layers) == 2 and "dilated" in stage.stop


def test_plan_patch_writes_a_smaller_identical_model(tmp_path) -> None:
    """`espml plan --patch`: TFLM records less arena than the unpatched model's own plan, below the
    layer-wise lower bound, with identical outputs, and the figures in --json."""
    source, out, report = tmp_path / "m.tflite", tmp_path / "p.tflite", tmp_path / "p.json"
    source.write_bytes(mobilenet_v1(64, 1))
    np.save(tmp_path / "x.npy", np.random.default_rng(2).uniform(-0.5, 0.5, (3, 64, 64, 1)).astype(np.float32))
    assert main(["plan", str(source), "-o", str(out), "--patch", "--inputs", str(tmp_path / "x.npy"),
                 "--json", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert figures["checked_inputs"] == 3 + 6  # the model's inputs, then random and extreme ones
    recorded = recorded_arena(out.read_bytes(), ARENA)
    assert figures["patched_total_bytes"] == recorded.total < figures["plain_total_bytes"]
    assert figures["patched_arena_bytes"] == recorded.head < figures["lower_bound_bytes"]
    assert figures["outputs_identical"]
    assert figures["patched_board_arena_bytes"] < figures["plain_board_arena_bytes"]
    assert 0 < figures["extra_macs_pct"] <= 15 and figures["bands"] >= 2
    inputs = image_inputs(source.read_bytes(), 2)
    assert all(np.array_equal(a, b) for a, b in zip(tflm_outputs(source.read_bytes(), inputs),
                                                    tflm_outputs(out.read_bytes(), inputs)))


def test_plan_inputs_need_patch(tmp_path, capsys) -> None:
    source = tmp_path / "m.tflite"
    source.write_bytes(stage_model())
    assert main(["plan", str(source), "-o", str(tmp_path / "p.tflite"), "--inputs", "x.npy"]) == 1
    assert "go with --patch" in capsys.readouterr().err


def test_plan_patch_refuses_a_dilated_first_convolution_in_one_line(tmp_path, capsys) -> None:
    b = ModelBuilder(0)
    x = b.input((1, 32, 32, 1))
    y = b.conv2d(x, 8, 3)
    b.operators[-1].builtinOptions.dilationHFactor = 2
    source, out = tmp_path / "d.tflite", tmp_path / "p.tflite"
    source.write_bytes(b.build([x], [b.conv2d(b.depthwise_conv2d(y, 3, stride=2), 8, 1)]))
    assert main(["plan", str(source), "-o", str(out), "--patch"]) == 2
    err = capsys.readouterr().err.strip()
    assert "dilated" in err and len(err.splitlines()) == 1 and not out.exists()


def test_patch_keeps_to_the_mac_budget() -> None:
    """A tight budget picks a shallower or coarser split: fewer extra MACs, no less arena."""
    data = mobilenet_v1(64, 1)
    loose, tight = patch_model(data, objective="head"), patch_model(data, max_extra_macs_pct=0.5, objective="head")
    assert tight.extra_macs_pct <= 0.5 < loose.extra_macs_pct
    assert tight.patched_head_bytes >= loose.patched_head_bytes


def test_the_whole_arena_objective_counts_tflm_structures_per_band() -> None:
    """Every band's operators add TFLM nodes, tensors and quantisation data to the arena's tail: the
    default objective gives up some head for fewer bands when that needs less RAM in all."""
    data = mobilenet_v1(96, 1)
    head, whole = patch_model(data, objective="head"), patch_model(data)
    assert head.patched_head_bytes <= whole.patched_head_bytes
    assert whole.patched_board_bytes < head.patched_board_bytes < head.plain_board_bytes


def test_slices_and_band_outputs_share_their_tensors_bytes() -> None:
    """The plan puts each band's slice inside the image and each band's output where it lands in the
    joined map (alive together, same bytes); TFLM runs it, records the head the replica plans, and a
    plan moving a band output off its place is refused as an overlap."""
    data = mobilenet_v1(64, 1)
    stage = find_stage(load_model(data)).layers[:8]
    banded = band_rewrite(data, stage, 4, slices_first=True)
    offsets = band_view_offsets(banded)
    views = tensor_views(banded)
    assert len(views) == 4 + 4 and all(offsets[t] - offsets[views[t][0]] == views[t][1] for t in views)
    planned = rewrite_model(banded, offsets=offsets)
    head = plan_head(load_model(planned))
    assert recorded_arena(planned, ARENA).head == head.size <= view_lower_bound(banded) * 1.05
    inputs = image_inputs(data, 2)
    assert all(np.array_equal(a, b) for a, b in zip(tflm_outputs(data, inputs), tflm_outputs(planned, inputs)))
    joined = next(root for root, _ in views.values() if root != load_model(banded).inputs[0].index)
    moved = list(offsets)
    band = next(t for t, (root, at) in views.items() if root == joined and at > 0)
    moved[band] += 16
    with pytest.raises(ModelError, match="overlaps"):
        plan_head(load_model(rewrite_model(banded, offsets=tuple(moved))))


def test_packing_around_pinned_buffers() -> None:
    """Pinned buffers keep their offsets; the others go around them, as low as the bound allows."""
    from toolkit.model.packing import pack

    # (size, first, last): 0 is pinned at 32 during scopes 0-1; 1 and 2 are alive then too.
    sizes, firsts, lasts = [32, 32, 32, 64], [0, 0, 1, 2], [1, 1, 1, 3]
    packed = pack(sizes, firsts, lasts, fixed={0: 32})
    assert packed.offsets[0] == 32 and packed.offsets[1] == 0 and packed.offsets[2] == 64
    assert packed.offsets[3] == 0 and packed.size == 96


def test_virtual_board_runs_the_patched_model_unchanged(tmp_path) -> None:
    """Flashed into the virtual board, the patched model gives the host TFLM's outputs (which equal
    the original's) and TFLM on the board reports less arena than for the unpatched plan."""
    source, patched_path = tmp_path / "m.tflite", tmp_path / "p.tflite"
    data = mobilenet_v1(64, 1)
    source.write_bytes(plan_model(data).data)
    patched = patch_model(data)
    patched_path.write_bytes(patched.data)
    inputs = np.stack([x[0][0] for x in image_inputs(data, 3)]).astype(np.float32)
    scale, zero = load_model(data).inputs[0].scale[0], load_model(data).inputs[0].zero_point[0]
    np.save(tmp_path / "x.npy", (inputs - zero) * scale)  # float values that quantise back to these integers
    arenas = {}
    for name, path in (("original", source), ("patched", patched_path)):
        out = tmp_path / f"{name}.json"
        assert main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(path), "--inputs",
                     str(tmp_path / "x.npy"), "--n", "5", "--json", str(out), "--db", str(tmp_path / "r.sqlite")]) == 0
        summary = json.loads(out.read_text())
        assert summary["outputs_match_reference"] and summary["simulated"]
        arenas[name] = summary["arena_used_bytes"]
    assert arenas["patched"] < arenas["original"], arenas


def test_the_latency_estimate_counts_the_recompute() -> None:
    from toolkit.boards import get_board
    from toolkit.model.inspect import inspect_model

    data = mobilenet_v1(64, 1)
    patched = patch_model(data, objective="head")
    before, after = (inspect_model(load_model(d), get_board("esp32s3")) for d in (data, patched.data))
    assert after.macs - before.macs == patched.extra_macs > 0
    assert after.estimated_latency_ms > before.estimated_latency_ms


def test_inspect_plan_shows_the_lower_bound_the_patched_arena_and_extra_macs(tmp_path, capsys) -> None:
    path, report = tmp_path / "m.tflite", tmp_path / "i.json"
    path.write_bytes(mobilenet_v1(64, 1))
    assert main(["inspect", str(path), "--plan", "--json", str(report)]) == 0
    patch = json.loads(report.read_text())["arena_patch"]
    assert patch["patched_arena_bytes"] < patch["lower_bound_bytes"] and 0 < patch["extra_macs_pct"] <= 15
    assert patch["patched_board_arena_bytes"] < patch["plain_board_arena_bytes"]
    assert "espml plan --patch: operators" in capsys.readouterr().out.replace("\n", " ")


def test_inspect_plan_says_why_a_model_cannot_be_patched(tmp_path, reference_model_path) -> None:
    report = tmp_path / "i.json"
    assert main(["inspect", str(reference_model_path), "--plan", "--json", str(report)]) == 0
    patch = json.loads(report.read_text())["arena_patch"]
    assert patch["refused"] and "patched_arena_bytes" not in patch


def test_a_model_that_needed_psram_runs_in_internal_ram_on_the_virtual_board(tmp_path, capsys) -> None:
    """MobileNetV1 0.25 on a 160x160 grey image needs more arena than the firmware's 160 KB of
    internal RAM (the board refuses it); banded, it loads and runs, outputs equal to the host's."""
    source, patched_path = tmp_path / "m.tflite", tmp_path / "p.tflite"
    data = mobilenet_v1(160, 1)
    source.write_bytes(data)
    patched = patch_model(data)
    patched_path.write_bytes(patched.data)
    assert patched.plain_board_bytes > 160 * 1024 > patched.patched_board_bytes
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(-0.5, 0.5, (2, 160, 160, 1)).astype(np.float32))
    common = ["--port", "vdev://esp32s3?realtime=0", "--inputs", str(tmp_path / "x.npy"), "--n", "2",
              "--db", str(tmp_path / "r.sqlite")]
    assert main(["bench", "--model", str(source), *common]) != 0
    assert "ARENA_TOO_SMALL" in capsys.readouterr().err
    out = tmp_path / "p.json"
    assert main(["bench", "--model", str(patched_path), "--json", str(out), *common]) == 0
    summary = json.loads(out.read_text())
    assert summary["outputs_match_reference"] and summary["arena_used_bytes"] <= 160 * 1024


def test_optimize_patch_stage_keeps_a_smaller_identical_model() -> None:
    """`--stages ...,quantize,plan,patch`: the stage bands the quantised model (not the planned one)
    and keeps it when the whole arena is smaller and the held-out outputs are identical."""
    from toolkit.model.tail import plan_tail
    from toolkit.optimize.pipeline import Result, parse_order, patch_stage

    assert parse_order("fold,quantize,plan,patch")[-1] == "patch"
    data = mobilenet_v1(64, 1)
    planned = plan_model(data).data
    result = Result(rows=[{"stage": "plan", "status": "applied"}], tflite=planned, int8_tflite=data)
    eval_x = np.random.default_rng(1).uniform(-0.5, 0.5, (3, 1, 64, 64)).astype(np.float32)
    row = patch_stage(result, eval_x)
    assert row["status"] == "applied" and result.tflite != planned
    board = plan_head(load_model(result.tflite)).size + plan_tail(load_model(result.tflite), 4)
    assert board < plan_head(load_model(planned)).size + plan_tail(load_model(planned), 4)


def test_optimize_patch_stage_leaves_a_model_it_cannot_patch(reference_model_path) -> None:
    from toolkit.optimize.pipeline import Result, patch_stage

    data = reference_model_path.read_bytes()
    result = Result(rows=[{"stage": "quantize", "status": "applied"}], tflite=data, int8_tflite=data)
    row = patch_stage(result, np.zeros((1, 1, 8, 8), np.float32))
    assert row["status"] == "nothing to change" and row["notes"] and result.tflite == data
