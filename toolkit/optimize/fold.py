"""Graph clean-up: fold BatchNorm into the Conv2d/Linear before it, drop Dropout and Identity.

The arithmetic is torch's own (torch.nn.utils.fusion). A BatchNorm without affine parameters
folds too; one without running statistics (track_running_stats=False normalises with the batch's
own statistics) or after anything but a Conv2d/Linear that feeds only it is left, and the notes say why.
"""

from __future__ import annotations

import numpy as np

from toolkit.optimize.graph import bypass, finish, module, trace


def fold_batchnorm_into(layer, bn) -> None:
    """Replace ``layer``'s weight and bias by those of layer followed by ``bn`` (eval mode)."""
    import torch
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

    gamma = bn.weight if bn.weight is not None else torch.ones_like(bn.running_mean)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        if isinstance(layer, nn.Linear):
            weight, bias = fuse_linear_bn_weights(layer.weight, layer.bias, bn.running_mean, bn.running_var,
                                                  bn.eps, gamma, beta)
        else:
            weight, bias = fuse_conv_bn_weights(layer.weight, layer.bias, bn.running_mean, bn.running_var,
                                                bn.eps, gamma, beta)
    layer.weight, layer.bias = weight, bias


def clean_up(model, sample: np.ndarray, notes: list[str] | None = None):
    """Return a GraphModule with every foldable BatchNorm folded and no Dropout or Identity;
    what was done and what was left go into ``notes``."""
    from torch import nn

    graph = trace(model, sample)
    folded = removed = 0
    left: list[str] = []
    for node in list(graph.graph.nodes):
        mod = module(graph, node)
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            bypass(graph, node)
            removed += 1
        elif isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            why = _why_not_foldable(graph, node, mod)
            if why:
                left.append(f"{node.target} ({why})")
                continue
            fold_batchnorm_into(module(graph, node.args[0]), mod)
            bypass(graph, node)
            folded += 1
    if notes is not None:
        notes.append(f"{folded} BatchNorm folded, {removed} dropout/identity removed")
        if left:
            notes.append("left: " + ", ".join(left))
    return finish(graph)


def _why_not_foldable(graph, node, bn) -> str:
    from torch import nn

    if bn.running_mean is None:
        return "no running statistics"
    source = node.args[0]
    layer = module(graph, source)
    if not isinstance(layer, (nn.Conv2d, nn.Linear)):
        return "not after a Conv2d/Linear"
    if len(source.users) != 1:
        return f"{source.target} also feeds other layers"
    return ""
