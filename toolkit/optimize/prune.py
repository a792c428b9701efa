"""Structured pruning: remove whole output channels (filters, neurons) and everything fed by them.

Channels are followed through the graph from each Conv2d/Linear that makes them: through
activations, pooling, BatchNorm and depthwise convolutions (which carry channels one to one and
are pruned with them), through global pooling and flatten (a channel becomes a block of
features), into residual additions (every producer feeding one addition keeps the same channels:
the inverted residuals of MobileNetV2) and concatenations (an offset: SqueezeNet's fire modules),
down to the Conv2d/Linear layers that consume them. A producer whose channels reach the model's
output, or an operation this walk does not know, is left alone, and the notes say which.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import numpy as np

from toolkit.optimize.graph import finish, module, shape, trace

CHANNEL_PRESERVING_MODULES = ("ReLU", "ReLU6", "Hardtanh", "LeakyReLU", "Hardswish", "Sigmoid", "Tanh", "SiLU",
                              "GELU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Dropout", "Identity",
                              "BatchNorm2d", "BatchNorm1d")
CHANNEL_PRESERVING_FUNCTIONS = ("relu", "relu6", "hardtanh", "leaky_relu", "hardswish", "sigmoid", "tanh", "silu",
                                "gelu", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "dropout", "contiguous")
ESP_NN_CHANNEL_MULTIPLE = 8  # ESP-NN's fast convolution paths want channel counts in multiples of 8


@dataclass
class Consumer:
    node: object
    offset: int  # where the producer's channel 0 lands in the consumer's input
    block: int  # input features per channel (H*W after a flatten, else 1)


@dataclass
class Group:
    producers: list = field(default_factory=list)
    followers: list = field(default_factory=list)  # BatchNorm / depthwise conv nodes pruned alongside
    consumers: list = field(default_factory=list)
    blocked_by: list = field(default_factory=list)  # why not: the output, or an operation the walk cannot see through

    @property
    def prunable(self) -> bool:
        return not self.blocked_by

    @property
    def channels(self) -> int:
        return _out_channels(self.producers[0]._module)


def _out_channels(mod) -> int:
    return mod.out_channels if hasattr(mod, "out_channels") else mod.out_features


def _kind(graph, node) -> str:
    from torch import nn

    mod = module(graph, node)
    if isinstance(mod, nn.Conv2d):
        if mod.groups == 1:
            return "conv"
        return "depthwise" if mod.groups == mod.in_channels == mod.out_channels else "unknown"
    if isinstance(mod, nn.Linear):
        return "linear"
    if isinstance(mod, nn.Flatten) or _name(node) == "flatten" or _flattening_view(node):
        return "flatten"
    if mod is not None and type(mod).__name__ in CHANNEL_PRESERVING_MODULES:
        return "follow_bn" if "BatchNorm" in type(mod).__name__ else "preserve"
    if node.op in ("call_function", "call_method"):
        name = _name(node)
        if name in ("size", "dim") or (name == "getattr" and node.args[1:2] == ("shape",)):
            return "metadata"  # x.shape, x.size(0): reads no values
        if name in CHANNEL_PRESERVING_FUNCTIONS:
            return "preserve"
        if node.target in (operator.add, operator.iadd) or name in ("add", "add_"):
            return "add"
        if name == "cat":
            return "cat"
        if name == "mean" and _spatial_mean(node):
            return "preserve"
    if node.op == "output":
        return "output"
    return "unknown"


def _flattening_view(node) -> bool:
    """x.view(n, -1) / x.reshape(...) to (batch, features): a flatten written by hand."""
    if _name(node) not in ("view", "reshape") or not node.args:
        return False
    before, after = shape(node.args[0]), shape(node)
    return len(after) == 2 and len(before) > 2 and after[0] == before[0]


def _spatial_mean(node) -> bool:
    """x.mean((2, 3)) and the like: global pooling that keeps dimension 1 (the channels)."""
    dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    dims = (dims,) if isinstance(dims, int) else dims
    rank = len(shape(node.args[0]))
    return bool(dims) and rank > 2 and all(d % rank >= 2 for d in dims)


def _name(node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", "")


def _walk(graph, node, offset: int, block: int, group: Group, merges: dict, source) -> None:
    for user in node.users:
        kind = _kind(graph, user)
        if kind == "metadata":
            continue
        if kind in ("preserve", "follow_bn", "depthwise"):
            if kind != "preserve" and user not in group.followers:
                group.followers.append(user)
            _walk(graph, user, offset, block, group, merges, source)
        elif kind == "flatten":
            spatial = math.prod(shape(node)[2:]) if len(shape(node)) > 2 else 1
            _walk(graph, user, offset * spatial, block * spatial, group, merges, source)
        elif kind == "add":
            merges.setdefault(user, set()).add(source)
            _walk(graph, user, offset, block, group, merges, source)
        elif kind == "cat" and user.kwargs.get("dim", user.args[1] if len(user.args) > 1 else 0) == 1:
            before = 0
            for other in user.args[0]:
                if other is node:
                    break
                before += shape(other)[1]
            _walk(graph, user, offset + before, block, group, merges, source)
        elif kind in ("conv", "linear"):
            group.consumers.append(Consumer(user, offset, block))
        else:  # the output, or an operation we cannot see through
            group.blocked_by.append("the model's output" if kind == "output" else f"{user.name} ({_name(user) or user.op})")


def find_groups(graph) -> list[Group]:
    """Producers whose output channels must be pruned together, with who follows and consumes them."""
    per_source: dict = {}
    merges: dict = {}
    for node in graph.graph.nodes:
        if _kind(graph, node) in ("conv", "linear"):
            node._module = module(graph, node)
            group = Group([node])
            _walk(graph, node, 0, 1, group, merges, node)
            per_source[node] = group
    # Union the producers that meet at an addition.
    parent = {node: node for node in per_source}

    def root(node):
        while parent[node] is not node:
            node = parent[node]
        return node

    for sources in merges.values():
        sources = list(sources)
        for other in sources[1:]:
            parent[root(other)] = root(sources[0])
    merged: dict = {}
    for node, group in per_source.items():
        target = merged.setdefault(root(node), Group())
        target.producers += group.producers
        target.followers += [f for f in group.followers if f not in target.followers]
        target.consumers += group.consumers
        target.blocked_by += group.blocked_by
    return [g for g in merged.values() if g.producers]


def channel_scores(group: Group):
    """L1 norm of each output channel's weights, summed over the group's producers."""
    total = None
    for node in group.producers:
        weight = node._module.weight.detach()
        score = weight.abs().reshape(weight.shape[0], -1).sum(1)
        score = score / (score.mean() + 1e-12)  # producers of different sizes count alike
        total = score if total is None else total + score
    return total


def channels_to_keep(channels: int, ratio: float) -> int:
    keep = max(1, channels - int(channels * ratio))
    if channels >= 2 * ESP_NN_CHANNEL_MULTIPLE:
        keep = min(channels, -(-keep // ESP_NN_CHANNEL_MULTIPLE) * ESP_NN_CHANNEL_MULTIPLE)
    return keep


def prune(model, sample: np.ndarray, ratio: float, layers: set[str] | None = None, notes: list[str] | None = None):
    """Return a pruned copy: each prunable group loses about ``ratio`` of its channels (L1 ranking).
    ``layers`` limits pruning to the groups that contain one of these producer modules; what was
    pruned and what could not be goes into ``notes``."""
    import torch

    graph = trace(model, sample)
    masks: dict = {}  # consumer node -> boolean mask over its input features
    groups = find_groups(graph)
    done, blocked = [], []
    for group in groups:
        names = "+".join(p.target for p in group.producers)
        if not group.prunable:
            blocked.append(f"{names} (reaches {', '.join(dict.fromkeys(group.blocked_by))})")
            continue
        if len({_out_channels(p._module) for p in group.producers}) != 1:
            blocked.append(f"{names} (producers of different widths)")
            continue
        if layers is not None and not layers & {p.target for p in group.producers}:
            continue
        channels = group.channels
        keep_count = channels_to_keep(channels, ratio)
        if keep_count >= channels:
            continue
        done.append(f"{names} {channels}->{keep_count}")
        keep = torch.sort(torch.topk(channel_scores(group), keep_count).indices).values
        for node in group.producers:
            _slice_outputs(node._module, keep)
        for node in group.followers:
            _slice_follower(module(graph, node), keep)
        for consumer in group.consumers:
            mod = module(graph, consumer.node)
            width = mod.in_channels if hasattr(mod, "in_channels") else mod.in_features
            mask = masks.setdefault(consumer.node, torch.ones(width, dtype=torch.bool))
            dropped = torch.ones(channels, dtype=torch.bool)
            dropped[keep] = False
            for channel in torch.nonzero(dropped).flatten().tolist():
                start = consumer.offset + channel * consumer.block
                mask[start:start + consumer.block] = False
    for node, mask in masks.items():
        _slice_inputs(module(graph, node), mask)
    if notes is not None:
        notes.append(f"{len(done)} of {len(groups)} channel groups pruned" + (f": {', '.join(done)}" if done else ""))
        if blocked:
            notes.append("not prunable: " + "; ".join(blocked))
    return finish(graph)


def _slice_outputs(mod, keep) -> None:
    import torch

    mod.weight = torch.nn.Parameter(mod.weight.detach()[keep].clone())
    if mod.bias is not None:
        mod.bias = torch.nn.Parameter(mod.bias.detach()[keep].clone())
    if hasattr(mod, "out_channels"):
        mod.out_channels = len(keep)
    else:
        mod.out_features = len(keep)


def _slice_follower(mod, keep) -> None:
    import torch

    if hasattr(mod, "running_mean"):  # BatchNorm, with or without affine parameters and statistics
        for name in ("weight", "bias"):
            if getattr(mod, name) is not None:
                setattr(mod, name, torch.nn.Parameter(getattr(mod, name).detach()[keep].clone()))
        for name in ("running_mean", "running_var"):
            if getattr(mod, name) is not None:
                setattr(mod, name, getattr(mod, name)[keep].clone())
        mod.num_features = len(keep)
    else:  # depthwise conv: one filter per channel
        _slice_outputs(mod, keep)
        mod.in_channels = mod.groups = len(keep)


def _slice_inputs(mod, mask) -> None:
    import torch

    mod.weight = torch.nn.Parameter(mod.weight.detach()[:, mask].clone())
    if hasattr(mod, "in_channels"):
        mod.in_channels = int(mask.sum())
    else:
        mod.in_features = int(mask.sum())
