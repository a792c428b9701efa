"""The optimisation stages: each keeps the function it must; the budget; the report; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from toolkit.cli import main  # noqa: E402
from toolkit.families import FAMILIES, build_mobilenet_v2, build_squeezenet  # noqa: E402
from toolkit.optimize.fold import clean_up  # noqa: E402
from toolkit.optimize.graph import trace  # noqa: E402
from toolkit.optimize.lowrank import factorise, factorise_conv, factorise_linear  # noqa: E402
from toolkit.optimize.measure import macs, parameters  # noqa: E402
from toolkit.optimize.pipeline import DEFAULT_ORDER, STAGES, Data, Sequence, parse_order  # noqa: E402
from toolkit.optimize.prune import find_groups, prune  # noqa: E402
from toolkit.optimize.separable import separable  # noqa: E402
from toolkit.reference import build_reference_cnn, build_residual_cnn  # noqa: E402

X = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
X16 = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)  # the families' input (digits upscaled)


def randomise_batchnorm(model) -> None:
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def outputs(model, x=X):
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x))


@pytest.mark.parametrize("factory", [build_reference_cnn, build_residual_cnn])
def test_batchnorm_folding_is_exact(factory) -> None:
    torch.manual_seed(0)
    model = factory()
    randomise_batchnorm(model)
    folded = clean_up(model, X)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in folded.modules())
    assert torch.allclose(outputs(model), outputs(folded), atol=1e-4)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


@pytest.mark.parametrize("name", list(FAMILIES))
def test_batchnorm_folding_is_exact_on_the_families(name: str) -> None:
    torch.manual_seed(0)
    model = FAMILIES[name]()
    randomise_batchnorm(model)
    notes: list[str] = []
    folded = clean_up(model, X16, notes)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(outputs(model, X16), outputs(folded, X16), atol=1e-4)
    count = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert notes[0].startswith(f"{count} BatchNorm folded")


def test_batchnorm_without_affine_parameters_folds() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8, affine=False), nn.ReLU(), nn.Flatten(), nn.Linear(288, 4))
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
    folded = clean_up(model, X)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(outputs(model), outputs(folded), atol=1e-5)


def test_batchnorm_that_cannot_fold_is_left_and_named() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8, track_running_stats=False), nn.ReLU(),
                          nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(288, 4))
    notes: list[str] = []
    folded = clean_up(model, X, notes)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == 2
    assert notes == ["0 BatchNorm folded, 0 dropout/identity removed",
                     "left: 1 (no running statistics), 3 (not after a Conv2d/Linear)"]
    assert torch.allclose(outputs(model), outputs(folded), atol=1e-5)


def test_cli_optimize_bad_batchnorm_model_is_no_traceback(tmp_path: Path, capsys) -> None:
    (tmp_path / "affine_free.py").write_text(
        "from torch import nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8, affine=False), nn.ReLU(), nn.Flatten(),"
        " nn.Linear(288, 10))\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        # no quantize: the structural stages only, on the bundled digits
        code = main(["optimize", "--model", "affine_free:build", "--stages", "fold", "--out", str(tmp_path / "out")])
    finally:
        sys.path.remove(str(tmp_path))
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["rows"][1]["notes"][0].startswith("1 BatchNorm folded")


def test_linear_batchnorm1d_folds_too() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    randomise_batchnorm(model)
    assert torch.allclose(outputs(model), outputs(clean_up(model, X)), atol=1e-5)


def zero_channels(model, names: list[str], channels: list[int]) -> None:
    """Make some output channels exactly zero (weights and bias), as pruning would cost nothing."""
    with torch.no_grad():
        for name in names:
            layer = model.get_submodule(name)
            layer.weight[channels] = 0
            if layer.bias is not None:
                layer.bias[channels] = 0


def test_pruning_zero_channels_keeps_the_function() -> None:
    torch.manual_seed(0)
    model = clean_up(build_reference_cnn(), X)
    zero_channels(model, ["0"], list(range(16)))  # half of the first conv's 32 channels
    pruned = prune(model, X, ratio=0.5, layers={"0"})
    assert pruned.get_submodule("0").out_channels == 16 and pruned.get_submodule("3").in_channels == 16
    assert torch.allclose(outputs(model), outputs(pruned), atol=1e-5)
    assert torch.equal(outputs(prune(model, X, ratio=0.0)), outputs(model))


def test_residual_producers_are_pruned_together() -> None:
    torch.manual_seed(0)
    model = clean_up(build_residual_cnn(), X)
    groups = {tuple(sorted(p.target for p in g.producers)) for g in find_groups(trace(model, X))}
    assert ("block1.pointwise.0", "stem.0") in groups
    assert ("block2.pointwise.0", "block3.pointwise.0", "expand.0") in groups
    zero_channels(model, ["stem.0", "block1.pointwise.0"], list(range(16)))
    with torch.no_grad():
        model.get_submodule("block1.depthwise.0").weight[:16] = 0
    pruned = prune(model, X, ratio=0.5, layers={"stem.0"})
    assert pruned.get_submodule("stem.0").out_channels == pruned.get_submodule("block1.pointwise.0").out_channels == 16
    assert pruned.get_submodule("block1.depthwise.0").groups == 16
    assert torch.allclose(outputs(model), outputs(pruned), atol=1e-5)
    pruned_more = prune(model, X, ratio=0.75)  # shapes stay consistent whatever is cut
    assert outputs(pruned_more).shape == (16, 10)


def test_inverted_residuals_prune_together_and_keep_the_function() -> None:
    """MobileNetV2: the projections meeting at an addition share channels; the expansion's channels
    go through its depthwise convolution to the projection."""
    torch.manual_seed(0)
    model = clean_up(build_mobilenet_v2(), X16)
    groups = {tuple(sorted(p.target for p in g.producers)): g for g in find_groups(trace(model, X16))}
    assert ("3.project.0", "4.project.0") in groups  # 16 -> 24 (stride 2), then 24 -> 24 with its addition
    expand = groups[("4.expand.0.0",)]
    assert [f.target for f in expand.followers] == ["4.depthwise.0.0"] and expand.prunable
    zero_channels(model, ["4.expand.0.0"], list(range(48)))  # half of its 96 channels do nothing
    notes: list[str] = []
    pruned = prune(model, X16, ratio=0.5, layers={"4.expand.0.0"}, notes=notes)
    assert pruned.get_submodule("4.expand.0.0").out_channels == 48
    assert pruned.get_submodule("4.depthwise.0.0").groups == 48 == pruned.get_submodule("4.project.0").in_channels
    assert torch.allclose(outputs(model, X16), outputs(pruned, X16), atol=1e-5)
    assert notes[0] == "1 of 11 channel groups pruned: 4.expand.0.0 96->48"
    assert "12 (reaches the model's output)" in notes[1]


def test_fire_concatenations_prune_with_offsets_and_keep_the_function() -> None:
    """SqueezeNet: both expand convolutions feed one concatenation; the next squeeze takes the
    1x1 expand's channels at offset 0 and the 3x3's after them."""
    torch.manual_seed(0)
    model = clean_up(build_squeezenet(), X16)
    zero_channels(model, ["3.expand3x3.0"], list(range(16, 32)))  # the second half of the 3x3 expand
    pruned = prune(model, X16, ratio=0.5, layers={"3.expand3x3.0"})
    assert pruned.get_submodule("3.expand3x3.0").out_channels == 16
    assert pruned.get_submodule("3.expand1x1.0").out_channels == 32
    assert pruned.get_submodule("4.squeeze.0").in_channels == 48
    assert torch.allclose(outputs(model, X16), outputs(pruned, X16), atol=1e-5)
    everything = prune(model, X16, ratio=0.5)
    assert outputs(everything, X16).shape == (8, 10) and macs(everything, X16) < macs(model, X16) / 2


def test_a_hand_written_flatten_and_global_mean_are_seen_through() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
            self.fc1, self.fc2 = nn.Linear(16 * 64, 10), nn.Linear(16, 10)

        def forward(self, x):
            x = torch.relu(self.a(x))
            y = torch.relu(self.b(x))
            return self.fc1(x.view(x.shape[0], -1)) + self.fc2(y.mean((2, 3)))

    torch.manual_seed(0)
    pruned = prune(Net().eval(), X, ratio=0.5)
    assert pruned.get_submodule("a").out_channels == 8 and pruned.get_submodule("fc1").in_features == 8 * 64
    assert pruned.get_submodule("b").out_channels == 8 and pruned.get_submodule("fc2").in_features == 8


def test_lowrank_factorises_pointwise_convolutions() -> None:
    torch.manual_seed(0)
    model = clean_up(build_mobilenet_v2(), X16)
    with torch.no_grad():  # make one projection exactly rank 4
        layer = model.get_submodule("7.project.0")
        layer.weight.copy_((torch.randn(64, 4) @ torch.randn(4, 128)).reshape(64, 128, 1, 1))
    notes: list[str] = []
    factored = factorise(model, X16, energy=1.0, notes=notes)
    pair = factored.get_submodule("7.project.0")
    assert isinstance(pair, nn.Sequential) and pair[0].kernel_size == (1, 1) and pair[0].out_channels == 4
    assert torch.allclose(outputs(model, X16), outputs(factored, X16), atol=1e-4)
    assert "7.project.0 rank 4" in notes[0] and "output layer 12 kept whole" in notes[0]


def test_pruning_sees_through_layers_an_earlier_stage_replaced() -> None:
    """separable and lowrank put a Sequential where a layer was; prune must see its two layers."""
    from toolkit.optimize.separable import make_separable

    torch.manual_seed(0)
    replaced = make_separable(clean_up(build_reference_cnn(), X), X)
    notes: list[str] = []
    pruned = prune(replaced, X, ratio=0.5, notes=notes)
    assert notes[0].startswith("4 of 5 channel groups pruned: 0 32->16, 3.1 64->32")
    assert pruned.get_submodule("3.0").groups == 16 and pruned.get_submodule("3.1").in_channels == 16
    assert outputs(pruned).shape == (16, 10)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_default_order_fine_tunes_with_batchnorm_then_folds_it_all(name: str) -> None:
    """Folding comes last by default: the stages before it keep BatchNorm (so their fine-tuning
    trains a normalised network), and it still folds every BatchNorm they left, exactly."""
    assert DEFAULT_ORDER[-3:] == ("fold", "quantize", "plan")
    torch.manual_seed(0)
    model = FAMILIES[name]().eval()
    randomise_batchnorm(model)
    batchnorms = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    for key in DEFAULT_ORDER[:-3]:
        model = STAGES[key].apply(model, X16, STAGES[key].strengths[0], [])
        assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == batchnorms, key
    folded = clean_up(model, X16)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(outputs(model, X16), outputs(folded, X16), atol=1e-4)


def test_convert_no_longer_imports_optimize() -> None:
    """The convert <-> optimize cycle is gone: convert stands alone, optimize uses it."""
    import subprocess
    import sys

    code = "import sys, toolkit.convert.parity; print(any(m.startswith('toolkit.optimize') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert result.stdout.strip() == "False", result.stderr


def test_factorisation_at_full_rank_is_exact() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(64, 48)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(48, 4) @ torch.randn(4, 64))  # rank 4
    pair = factorise_linear(linear, energy=1.0)
    assert pair[0].out_features == 4
    x = torch.randn(5, 64)
    assert torch.allclose(linear(x), pair(x), atol=1e-4)
    conv = nn.Conv2d(16, 32, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_((torch.randn(32, 3) @ torch.randn(3, 16 * 9)).reshape(32, 16, 3, 3))
    pair = factorise_conv(conv, energy=1.0)
    image = torch.randn(2, 16, 8, 8)
    assert pair[0].out_channels == 3 and torch.allclose(conv(image), pair(image), atol=1e-4)


def test_factorise_skips_the_output_layer_and_layers_it_would_grow() -> None:
    torch.manual_seed(0)
    model = clean_up(build_reference_cnn(), X)
    factored = factorise(model, X, energy=1.0)
    assert parameters(factored) == parameters(model)  # full rank never saves parameters here
    assert isinstance(factorise(model, X, 0.5).get_submodule("14"), nn.Linear)


def test_separable_replacement_is_exact_for_separable_kernels() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, padding=1)
    with torch.no_grad():
        per_channel = torch.einsum("oi,ik->oik", torch.randn(16, 8), torch.randn(8, 9))
        conv.weight.copy_(per_channel.reshape(16, 8, 3, 3))
    image = torch.randn(2, 8, 6, 6)
    assert torch.allclose(conv(image), separable(conv)(image), atol=1e-4)


def test_reported_parameters_and_macs_match_hand_counts() -> None:
    model = build_reference_cnn()
    by_hand = (9 * 32 + 2 * 32) + (32 * 9 * 64 + 2 * 64) + (64 * 9 * 64 + 2 * 64) + (1024 * 128 + 128) + (128 * 10 + 10)
    assert parameters(model) == by_hand
    assert macs(model, X) == 8 * 8 * 32 * 9 + 8 * 8 * 64 * 32 * 9 + 4 * 4 * 64 * 64 * 9 + 1024 * 128 + 128 * 10


def small_data(n: int = 120) -> Data:
    from toolkit.reference import load_digits_split

    s = load_digits_split()
    return Data(s.train_x[:n], s.train_y[:n], s.test_x[:60], s.test_y[:60], s.train_x[:32])


def test_budget_rolls_back_a_stage_that_costs_too_much() -> None:
    torch.manual_seed(0)
    model = build_reference_cnn().eval()
    no_training = lambda m: m  # noqa: E731 - pruning an untrained net without fine-tuning changes predictions
    result = Sequence(model, small_data(), budget_points=-1.0, finetune=no_training).run(["fold", "prune"])
    rows = {row["stage"]: row for row in result.rows}
    assert rows["prune"]["status"] == "rolled back"
    assert rows["prune"]["parameters"] == rows["fold"]["parameters"]
    assert "all over the -1.0 budget" in rows["prune"]["notes"][0]
    generous = Sequence(model, small_data(), budget_points=100.0, finetune=no_training).run(["fold", "prune"])
    assert generous.rows[-1]["status"] == "applied" and generous.rows[-1]["strength"] == 0.75
    assert generous.rows[-1]["notes"][0].startswith("4 of 5 channel groups pruned")


def test_stage_order_is_checked() -> None:
    from toolkit.errors import ToolkitError

    assert parse_order("prune, fold,quantize") == ["prune", "fold", "quantize"]
    with pytest.raises(ToolkitError, match="unknown stage"):
        parse_order("fold,squash")
    with pytest.raises(ToolkitError, match="quantize must come after"):
        parse_order("quantize,fold")
    with pytest.raises(ToolkitError, match="plan works on the int8 model"):
        parse_order("fold,plan,quantize")
    assert parse_order("fold,quantize,plan")[-1] == "plan"


def test_the_cli_default_order_is_the_pipelines() -> None:
    from toolkit.cli import build_parser

    args = build_parser().parse_args(["optimize", "--model", "m:f"])
    assert tuple(parse_order(args.stages)) == DEFAULT_ORDER


@pytest.mark.parametrize("args, needle", [
    (["--model", "toolkit.reference:no_such_factory"], "has no 'no_such_factory'"),
    (["--model", "no_such_module_xyz:f"], "cannot import"),
    (["--model", "toolkit.reference"], "is not MODULE:FACTORY"),
])
def test_cli_bad_models(args: list[str], needle: str, capsys) -> None:
    assert main(["optimize", *args]) == 2
    assert needle in capsys.readouterr().err


def test_cli_weights_that_do_not_match(tmp_path: Path, capsys) -> None:
    torch.save(build_residual_cnn().state_dict(), tmp_path / "w.pt")
    assert main(["optimize", "--model", "toolkit.reference:build_reference_cnn", "--weights", str(tmp_path / "w.pt")]) == 2
    assert "do not match" in capsys.readouterr().err


def test_cli_data_of_the_wrong_shape(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.zeros((20, 3, 5, 5), np.float32))
    assert main(["optimize", "--model", "toolkit.reference:build_reference_cnn", "--data", str(tmp_path / "x.npy")]) == 2
    assert "cannot run on inputs of shape [3, 5, 5]" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_writes_model_report_and_onnx(tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnx2tf")
    torch.manual_seed(0)
    from toolkit.reference import load_digits_split, train

    model = train(build_reference_cnn(), load_digits_split(), epochs=3)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    out = tmp_path / "out"
    assert main(["optimize", "--model", "toolkit.reference:build_reference_cnn", "--weights", str(tmp_path / "w.pt"),
                 "--stages", "fold,prune,quantize,plan", "--budget", "2", "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert "optimise: prune at 0.75:" in said.err and "optimise: quantize:" in said.err  # progress off a terminal
    table = said.out.split("optimisation of")[1].split("BatchNorm folded before pruning")[0]
    assert all(len(line) <= 80 for line in table.splitlines()) and "…" not in table
    assert "params" in table and "agree %" in table
    report = json.loads((out / "report.json").read_text())
    assert [r["stage"] for r in report["rows"]] == ["original", "fold", "prune", "quantize", "plan"]
    from toolkit.model import load_model as load_tflite
    from toolkit.model.arena import plan_head
    from toolkit.model.plan_metadata import read_offline_offsets

    quantized, planned = report["rows"][-2:]
    written = (out / "model_int8.tflite").read_bytes()
    assert plan_head(load_tflite(written)).size == planned["arena_head_bytes"] <= quantized["arena_head_bytes"]
    assert (read_offline_offsets(written) is not None) == (planned["status"] == "applied")
    assert report["final_tflite_bytes"] == (out / "model_int8.tflite").stat().st_size
    assert Path(report["onnx"]).exists() and (out / "report.md").read_text().startswith("| stage")
    assert "- prune: " in (out / "report.md").read_text()
    from toolkit.tensors import Preprocess

    recorded = Preprocess.beside(out / "model_int8.tflite")  # the digits' preprocessing, in the int8 model's layout
    assert recorded == Preprocess(colour="grey", size=(8, 8), resize="nearest", layout="NHWC")
    assert report["preprocess"] == recorded.to_json()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["torchscript", "exported"])
def test_saved_model_files_are_quantised_and_structural_stages_say_why_not(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("onnx2tf")
    from toolkit.optimize.load import load_model

    torch.manual_seed(0)
    model = build_reference_cnn().eval()
    example = torch.from_numpy(X[:1])
    path = tmp_path / ("m.ts" if kind == "torchscript" else "m.pt2")
    if kind == "torchscript":
        torch.jit.trace(model, example).save(str(path))
    else:
        torch.export.save(torch.export.export(model, (example,)), str(path))
    loaded = load_model(str(path))
    result = Sequence(loaded, small_data(), budget_points=100).run(["fold", "prune", "quantize"], tmp_path / "out")
    statuses = {row["stage"]: row["status"] for row in result.rows}
    assert statuses["fold"].startswith(("not applicable", "nothing to change"))
    assert statuses["quantize"] == "applied" and result.tflite


def test_unreadable_model_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "junk.pt2").write_bytes(b"not a model")
    assert main(["optimize", "--model", str(tmp_path / "junk.pt2")]) == 2
    assert "cannot load" in capsys.readouterr().err


def test_data_from_a_folder_of_class_subfolders(tmp_path: Path) -> None:
    from toolkit.optimize.load import load_data
    from toolkit.reference import load_digits_split

    s = load_digits_split()
    for i in range(60):
        folder = tmp_path / f"class_{s.test_y[i]}"
        folder.mkdir(exist_ok=True)
        np.save(folder / f"{i:03d}.npy", s.test_x[i])
    data = load_data(str(tmp_path))
    assert len(data.train_x) + len(data.eval_x) == 60 and data.train_x.shape[1:] == (1, 8, 8)
    names = sorted(d.name for d in tmp_path.iterdir())
    label_of = {name: index for index, name in enumerate(names)}
    assert set(data.eval_y) <= set(label_of.values())
    (tmp_path / "empty").mkdir()
    from toolkit.errors import InputDataError

    with pytest.raises(InputDataError, match="no .npy or image samples"):
        load_data(str(tmp_path / "empty"))


@pytest.mark.slow
def test_pngs_optimised_then_benchmarked_are_the_same_tensors(tmp_path: Path) -> None:
    """The issue's case: a folder of PNGs through `optimize` and then `bench`. bench reads the
    preprocessing recorded next to the model, so the board sees what the model was trained and
    quantised for; raw 0..255 pixels, what bench used to send, saturate the int8 input."""
    pytest.importorskip("onnx2tf")
    from PIL import Image

    from toolkit.reference import load_digits_split, train

    split = load_digits_split()
    for i, (image, label) in enumerate(zip(split.test_x[:200], split.test_y[:200])):
        folder = tmp_path / "pngs" / f"digit_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image[0] * 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    torch.manual_seed(0)
    torch.save(train(build_reference_cnn(), split, epochs=8).state_dict(), tmp_path / "w.pt")
    out = tmp_path / "out"
    assert main(["optimize", "--model", "toolkit.reference:build_reference_cnn", "--weights", str(tmp_path / "w.pt"),
                 "--data", str(tmp_path / "pngs"), "--stages", "fold,quantize", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["preprocess"]["size"] == [8, 8] and report["preprocess"]["layout"] == "NHWC"
    int8_accuracy = report["rows"][-1]["accuracy"]
    assert int8_accuracy >= 0.9
    seven = tmp_path / "pngs" / "digit_7"
    assert main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(out / "model_int8.tflite"),
                 "--inputs", str(seven), "--n", "5", "--db", str(tmp_path / "r.sqlite"),
                 "--json", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["outputs_match_reference"]
    from toolkit.harness.inputs import model_inputs
    from toolkit.model import load_model
    from toolkit.model.tflm import HostInterpreter
    from toolkit.tensors import quantize
    from toolkit.tensors.images import read_image

    model = load_model(out / "model_int8.tflite")
    interpreter = HostInterpreter(model.data, 1 << 20)

    def sevens(tensors) -> float:
        return float(np.mean([interpreter.run([t])[0].argmax() == 7 for t in tensors]))

    tensors = model_inputs(seven, model, out / "model_int8.tflite")
    assert sevens(tensors) >= 0.9
    raw = [quantize(read_image(f), model.inputs[0]) for f in sorted(seven.iterdir())]  # what bench used to send
    saturated = np.isin(np.concatenate([r.ravel() for r in raw]), (-128, 127)).mean()
    assert saturated == 1.0 and np.isin(np.concatenate([t.ravel() for t in tensors]), (-128, 127)).mean() < 0.9
