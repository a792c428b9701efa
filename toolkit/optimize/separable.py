"""Operation replacement: a standard k x k convolution becomes depthwise k x k + pointwise 1 x 1.

Initialised with the best separable approximation of the original kernel: for each input
channel, the rank-1 SVD of its (out x kk) slice gives the depthwise filter and the pointwise
column. Exact when the kernel is separable per channel; otherwise fine-tuning recovers the rest.
Replaced only where it saves multiply-accumulates and the layer has at least ``min_channels`` inputs.
"""

from __future__ import annotations

import numpy as np

from toolkit.optimize.graph import finish, trace
from toolkit.optimize.lowrank import _replace


def separable(layer):
    import torch
    from torch import nn

    out_ch, in_ch, kh, kw = layer.weight.shape
    depthwise = nn.Conv2d(in_ch, in_ch, (kh, kw), layer.stride, layer.padding, layer.dilation, groups=in_ch, bias=False)
    pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=True)
    with torch.no_grad():
        weight = layer.weight.detach()
        for channel in range(in_ch):
            u, s, vh = torch.linalg.svd(weight[:, channel].reshape(out_ch, kh * kw), full_matrices=False)
            scale = torch.sqrt(s[0])
            depthwise.weight[channel, 0] = (vh[0] * scale).reshape(kh, kw)
            pointwise.weight[:, channel, 0, 0] = u[:, 0] * scale
        pointwise.bias.copy_(layer.bias if layer.bias is not None else torch.zeros(out_ch))
    return nn.Sequential(depthwise, pointwise)


def make_separable(model, sample: np.ndarray, min_channels: int = 8, notes: list[str] | None = None):
    from torch import nn

    graph = trace(model, sample)
    done = []
    for name, layer in list(graph.named_modules()):
        if not isinstance(layer, nn.Conv2d) or layer.groups != 1 or layer.kernel_size == (1, 1):
            continue
        out_ch, in_ch, kh, kw = layer.weight.shape
        if in_ch < min_channels or in_ch * (kh * kw + out_ch) >= in_ch * out_ch * kh * kw:
            continue
        _replace(graph, name, separable(layer))
        done.append(name)
    if notes is not None:
        notes.append(f"{len(done)} standard convolution(s) made depthwise-separable" +
                     (f": {', '.join(done)}" if done else f" (none with {min_channels}+ input channels and k>1)"))
    return finish(graph)
