"""Low-rank factorisation: a Linear or Conv2d becomes two smaller layers from its truncated SVD.

Linear(in, out)      -> Linear(in, r, no bias) then Linear(r, out)
Conv2d(in, out, kxk) -> Conv2d(in, r, kxk, same stride/padding, no bias) then Conv2d(r, out, 1x1)
(a pointwise 1x1 convolution, where MobileNets keep most weights, becomes two thinner 1x1s)
The rank r is the smallest that keeps ``energy`` of the squared singular values; a layer is
only replaced when the pair has fewer parameters. At full rank the pair computes the same function.
"""

from __future__ import annotations

import numpy as np

from toolkit.optimize.graph import finish, trace


def choose_rank(singular_values, energy: float) -> int:
    squares = (singular_values ** 2).cpu().numpy()
    cumulative = np.cumsum(squares) / squares.sum()
    return int(np.searchsorted(cumulative, energy - 1e-12) + 1)


def factorise_linear(layer, energy: float):
    import torch
    from torch import nn

    u, s, vh = torch.linalg.svd(layer.weight.detach(), full_matrices=False)
    rank = choose_rank(s, energy)
    if rank * (layer.in_features + layer.out_features) >= layer.in_features * layer.out_features:
        return None
    first, second = nn.Linear(layer.in_features, rank, bias=False), nn.Linear(rank, layer.out_features)
    with torch.no_grad():
        first.weight.copy_(vh[:rank])
        second.weight.copy_(u[:, :rank] * s[:rank])
        if layer.bias is not None:
            second.bias.copy_(layer.bias)
        else:
            second.bias.zero_()
    return nn.Sequential(first, second)


def factorise_conv(layer, energy: float):
    import torch
    from torch import nn

    if layer.groups != 1:
        return None
    out_ch, in_ch, kh, kw = layer.weight.shape
    u, s, vh = torch.linalg.svd(layer.weight.detach().reshape(out_ch, -1), full_matrices=False)
    rank = choose_rank(s, energy)
    if rank * (in_ch * kh * kw + out_ch) >= out_ch * in_ch * kh * kw:
        return None
    first = nn.Conv2d(in_ch, rank, (kh, kw), layer.stride, layer.padding, layer.dilation, bias=False)
    second = nn.Conv2d(rank, out_ch, 1, bias=True)
    with torch.no_grad():
        first.weight.copy_(vh[:rank].reshape(rank, in_ch, kh, kw))
        second.weight.copy_((u[:, :rank] * s[:rank]).reshape(out_ch, rank, 1, 1))
        if layer.bias is not None:
            second.bias.copy_(layer.bias)
        else:
            second.bias.zero_()
    return nn.Sequential(first, second)


def factorise(model, sample: np.ndarray, energy: float, skip_output: bool = True, notes: list[str] | None = None):
    """Return a copy with every Linear/Conv2d that gets smaller replaced by its factorised pair."""
    from torch import nn

    graph = trace(model, sample)
    # the classifier's last layer is small and sets the logits: leave it whole
    output_layers = {_output_layer(graph)} - {None} if skip_output else set()
    candidates, done = 0, []
    for name, layer in list(graph.named_modules()):
        if name in output_layers:
            continue
        if isinstance(layer, nn.Linear):
            replacement = factorise_linear(layer, energy)
        elif isinstance(layer, nn.Conv2d) and layer.groups == 1:
            replacement = factorise_conv(layer, energy)
        else:
            continue
        candidates += 1
        if replacement is not None:
            _replace(graph, name, replacement)
            done.append(f"{name} rank {replacement[0].weight.shape[0]}")
    if notes is not None:
        notes.append(f"{len(done)} of {candidates} conv/linear layers factorised" + (f": {', '.join(done)}" if done else
                     " (none gets smaller at this energy)") + (f"; output layer {', '.join(output_layers)} kept whole"
                                                             if output_layers else ""))
    return finish(graph)


def _output_layer(graph) -> str | None:
    """The Conv2d/Linear that makes the output, found back through one-input nodes (pooling, flatten)."""
    from torch import nn

    node = next(n for n in graph.graph.nodes if n.op == "output").args[0]
    while hasattr(node, "op") and node.op != "placeholder":
        if node.op == "call_module" and isinstance(graph.get_submodule(node.target), (nn.Conv2d, nn.Linear)):
            return node.target
        inputs = node.all_input_nodes
        if len(inputs) != 1:
            return None
        node = inputs[0]
    return None


def _replace(root, name: str, new) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
