"""What a model costs and how well it does: parameters, MACs, float bytes, accuracy, agreement."""

from __future__ import annotations

import numpy as np

from toolkit.convert.pipeline import inference_mode


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def float_bytes(model) -> int:
    """Bytes of float32 weights and buffers (what a float32 export stores)."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    return 4 * sum(t.numel() for t in tensors)


def macs(model, sample: np.ndarray) -> int:
    """Multiply-accumulates of one inference, counted by hooks on every Conv2d and Linear."""
    import torch
    from torch import nn

    total = 0

    def conv_hook(module, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() // output.shape[0] * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module, inputs, output):
        nonlocal total
        total += output.numel() // output.shape[0] * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            inference_mode(model)(torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32)))
    finally:
        for handle in handles:
            handle.remove()
    return total


def predictions(model, data: np.ndarray, batch: int = 256) -> np.ndarray:
    """Top-1 class per sample; one sample at a time for models fixed to batch 1 (torch.export)."""
    import torch

    def run(size: int) -> np.ndarray:
        out = []
        with torch.no_grad():
            inference_mode(model)
            for start in range(0, len(data), size):
                chunk = np.ascontiguousarray(data[start:start + size], dtype=np.float32)
                out.append(model(torch.from_numpy(chunk)))
        return torch.cat(out).argmax(1).numpy()

    try:
        return run(batch)
    except (AssertionError, RuntimeError):
        return run(1)


def accuracy(model, data: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predictions(model, data) == labels))
