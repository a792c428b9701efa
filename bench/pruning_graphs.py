"""Our channel-dependency walk (toolkit.optimize.prune) against torch-pruning's DependencyGraph, on
the same networks: the families of bench/compression.py and small graphs with the constructs
that trip dependency analysis (channel split, grouped convolution, data-dependent control flow,
a hand-written flatten). Each prunes 50% of the channels (multiples of 8, the output layer kept);
the table gives the MACs left, or why it failed. Needs torch-pruning (not a dependency of espml).

    python bench/pruning_graphs.py [--json FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.families import FAMILIES  # noqa: E402
from toolkit.optimize.measure import macs  # noqa: E402
from toolkit.optimize.prune import prune  # noqa: E402
from toolkit.reference import build_reference_cnn, build_residual_cnn  # noqa: E402

RATIO = 0.5


def tricky_graphs() -> dict:
    import torch
    from torch import nn

    def head(width: int) -> nn.Sequential:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

    class ChannelSplit(nn.Module):  # ShuffleNetV2's unit: half the channels pass, half go through a branch
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 16, 3, padding=1)
            self.branch = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                                        nn.Conv2d(8, 8, 1))
            self.head = head(16)

        def forward(self, x):
            a, b = self.stem(x).chunk(2, dim=1)
            return self.head(torch.cat([a, self.branch(b)], 1))

    class Grouped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.g, self.head = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1, groups=4), head(32)

        def forward(self, x):
            return self.head(torch.relu(self.g(torch.relu(self.a(x)))))

    class DataDependent(nn.Module):  # Python control flow on a tensor's value: torch.fx cannot trace it
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.head = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1), head(16)

        def forward(self, x):
            x = torch.relu(self.a(x))
            if x.mean() > 0:
                x = torch.relu(self.b(x))
            return self.head(x)

    class HandFlatten(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.fc = nn.Conv2d(1, 16, 3, padding=1, stride=2), nn.Linear(16 * 4 * 4, 10)

        def forward(self, x):
            x = torch.relu(self.a(x))
            return self.fc(x.view(x.shape[0], -1))

    return {"channel split + concat (ShuffleNet unit)": ChannelSplit, "grouped conv (groups=4)": Grouped,
            "data-dependent control flow": DataDependent, "x.view(n, -1) as flatten": HandFlatten}


def ours(model, x: np.ndarray):
    import torch

    pruned = prune(model, x, RATIO)
    with torch.no_grad():
        out = pruned(torch.from_numpy(x))
    return pruned, out


def torch_pruning(model, x: np.ndarray):
    import torch
    import torch_pruning as tp
    from torch import nn

    model = copy.deepcopy(model)
    output_layer = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    tp.pruner.MagnitudePruner(model, torch.from_numpy(x[:1]), importance=tp.importance.MagnitudeImportance(p=1),
                              pruning_ratio=RATIO, ignored_layers=[output_layer], round_to=8).step()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return model, out


def attempt(method, model, x: np.ndarray, expected_shape) -> dict:
    try:
        pruned, out = method(model, x)
    except Exception as exc:  # either tool may raise anything on a graph it cannot handle
        return {"ok": False, "why": f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"}
    if tuple(out.shape) != tuple(expected_shape):
        return {"ok": False, "why": f"output shape {tuple(out.shape)}"}
    return {"ok": True, "macs": macs(pruned, x)}


def compare() -> list[dict]:
    import torch

    x8 = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    x16 = np.random.default_rng(0).random((4, 1, 16, 16), dtype=np.float32)
    cases = [("plain CNN", build_reference_cnn, x8), ("residual CNN", build_residual_cnn, x8)]
    cases += [(name, factory, x16) for name, factory in FAMILIES.items()]
    cases += [(name, factory, x8) for name, factory in tricky_graphs().items()]
    rows = []
    for name, factory, x in cases:
        torch.manual_seed(0)
        model = factory().eval()
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).shape
        rows.append({"graph": name, "macs_before": macs(model, x), "ours": attempt(ours, model, x, expected),
                     "torch_pruning": attempt(torch_pruning, model, x, expected)})
    return rows


def cell(result: dict, before: int) -> str:
    if not result["ok"]:
        return f"fails ({result['why']})"
    return "not pruned" if result["macs"] == before else f"{result['macs']:,} MACs ({result['macs'] / before:.0%})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    rows = compare()
    print(f"| graph | MACs | ours ({RATIO:.0%}) | torch-pruning ({RATIO:.0%}) |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['graph']} | {row['macs_before']:,} | {cell(row['ours'], row['macs_before'])} | "
              f"{cell(row['torch_pruning'], row['macs_before'])} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
