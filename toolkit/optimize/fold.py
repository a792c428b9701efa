"""Graph clean-up: fold BatchNorm into the Conv2d/Linear before it, drop Dropout and Identity."""

from __future__ import annotations

import numpy as np

from toolkit.optimize.graph import bypass, finish, module, trace


def fold_batchnorm_into(layer, bn) -> None:
    """w' = w * g / sqrt(var + eps) per output channel; b' = (b - mean) * g / sqrt(var + eps) + beta."""
    import torch

    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        layer.weight.mul_(scale.reshape(shape))
        bias = layer.bias if layer.bias is not None else torch.zeros_like(bn.running_mean)
        new_bias = (bias - bn.running_mean) * scale + bn.bias
        if layer.bias is None:
            layer.bias = torch.nn.Parameter(new_bias)
        else:
            layer.bias.copy_(new_bias)


def clean_up(model, sample: np.ndarray):
    """Return a GraphModule with every foldable BatchNorm folded and no Dropout or Identity."""
    from torch import nn

    graph = trace(model, sample)
    for node in list(graph.graph.nodes):
        mod = module(graph, node)
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            bypass(graph, node)
        elif isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            source = node.args[0]
            layer = module(graph, source)
            if isinstance(layer, (nn.Conv2d, nn.Linear)) and len(source.users) == 1:
                fold_batchnorm_into(layer, mod)
                bypass(graph, node)
    return finish(graph)
