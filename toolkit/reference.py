"""The reference CNN and its data: scikit-learn's bundled handwritten digits (8x8, no download).

Fixed: three Conv/BN/ReLU blocks (32, 64, 64 channels, 3x3, one 2x2 pooling) and a two-layer
head (128 hidden), about 190k parameters; a fixed seed and a fixed stratified split. The
optimisation issue measures its compression against this model, so do not change it.
The network families (toolkit.families) train on the same digits upscaled (``upscale=2``: 16x16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.tensors.preprocess import Preprocess

SEED = 0
HELD_OUT_FRACTION = 0.2
EPOCHS = 40
BATCH = 64
LEARNING_RATE = 2e-3


@dataclass(frozen=True)
class DigitsSplit:
    train_x: np.ndarray  # (N, 1, 8 * upscale, 8 * upscale) float32 in [0, 1]
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def digits_preprocess(upscale: int = 1) -> Preprocess:
    """How an 8x8 grey digit image (pixels 0..255) becomes the models' input: upscaled by
    repeating pixels (nearest), divided by 255; channels-first, as torch takes it."""
    return Preprocess(colour="grey", size=(8 * upscale, 8 * upscale), resize="nearest", layout="NCHW")


def load_digits_split(upscale: int = 1) -> DigitsSplit:
    """The fixed split; ``upscale`` > 1 repeats each pixel (what digits_preprocess(upscale) does to an image)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    x = x.repeat(upscale, axis=2).repeat(upscale, axis=3)
    y = digits.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=HELD_OUT_FRACTION, random_state=SEED, stratify=y)
    return DigitsSplit(train_x, train_y, test_x, test_y)


def build_reference_cnn():
    from torch import nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 32), *block(32, 64), nn.MaxPool2d(2), *block(64, 64),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10),
    )


def build_residual_cnn():
    """A second architecture for the optimisation sequence: residual additions around depthwise-
    separable blocks (MobileNet style), global average pooling, one linear classifier."""
    import torch
    from torch import nn

    def conv_bn(cin: int, cout: int, kernel: int, groups: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout))

    class SeparableBlock(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.depthwise = conv_bn(channels, channels, 3, groups=channels)
            self.pointwise = conv_bn(channels, channels, 1)

        def forward(self, x):
            return self.pointwise(torch.relu(self.depthwise(x)))

    class ResidualCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = conv_bn(1, 32, 3)
            self.block1 = SeparableBlock(32)
            self.pool = nn.MaxPool2d(2)
            self.expand = conv_bn(32, 64, 1)
            self.block2 = SeparableBlock(64)
            self.block3 = SeparableBlock(64)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

        def forward(self, x):
            x = torch.relu(self.stem(x))
            x = torch.relu(x + self.block1(x))
            x = torch.relu(self.expand(self.pool(x)))
            x = torch.relu(x + self.block2(x))
            x = torch.relu(x + self.block3(x))
            return self.head(x)

    return ResidualCNN()


def train(model, split: DigitsSplit, epochs: int = EPOCHS, seed: int = SEED):
    """Plain Adam training with a fixed seed; deterministic on one thread."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(split.train_x), torch.from_numpy(split.train_y)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(BATCH):
            optimiser.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optimiser.step()
        schedule.step()
    return model.eval()


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        predicted = model.eval()(torch.from_numpy(x)).argmax(1).numpy()
    return float(np.mean(predicted == y))


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def trained_reference_cnn():
    """The demo's trained reference CNN, as a factory for ``espml optimize --model toolkit.reference:trained_reference_cnn``."""
    return trained_reference()[0]


def trained_reference(factory=None, upscale: int = 1, epochs: int = EPOCHS, cache: bool = True):
    """Train the reference CNN (or another architecture) from scratch, seeded, on one thread; with
    ``cache``, the weights an earlier identical training kept (toolkit.training_cache) instead."""
    import torch

    from toolkit.training_cache import cached_training

    factory = factory or build_reference_cnn
    split = load_digits_split(upscale)

    def seeded_training():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(SEED)
            return train(factory(), split, epochs)
        finally:
            torch.set_num_threads(threads)

    model = cached_training(factory, upscale, epochs, seeded_training) if cache else seeded_training()
    return model, split
