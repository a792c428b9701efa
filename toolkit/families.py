"""The network families the optimisation sequence is evaluated on, at sizes that train on a laptop
CPU in a minute or two on the bundled digits upscaled to 16x16 (toolkit.reference).

- MobileNetV1 style: a stem convolution, then depthwise-separable blocks (3x3 depthwise + 1x1
  pointwise, each with BatchNorm and ReLU), global average pooling, one linear classifier.
- MobileNetV2 style: inverted residuals with linear bottlenecks: 1x1 expansion, 3x3 depthwise
  (ReLU6 after both), 1x1 projection without activation, and an addition around blocks whose
  stride is 1 and whose input and output widths agree.
- SqueezeNet style: fire modules (1x1 squeeze, then parallel 1x1 and 3x3 expand convolutions
  whose outputs are concatenated), max pooling, a 1x1 convolution classifier and global pooling.
  BatchNorm follows each convolution, as in most small SqueezeNets trained today.
"""

from __future__ import annotations


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
    from torch import nn

    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


def build_mobilenet_v1(in_channels: int = 1, classes: int = 10):
    from torch import nn

    def separable(cin: int, cout: int, stride: int) -> list:
        return [_conv_bn(cin, cin, 3, stride, groups=cin), nn.ReLU(), _conv_bn(cin, cout, 1), nn.ReLU()]

    widths = ((16, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1))
    layers = [_conv_bn(in_channels, 16, 3), nn.ReLU()]
    for cin, cout, stride in widths:
        layers += separable(cin, cout, stride)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def build_mobilenet_v2(in_channels: int = 1, classes: int = 10):
    from torch import nn

    class InvertedResidual(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
            super().__init__()
            hidden = cin * expansion
            self.expand = nn.Sequential(_conv_bn(cin, hidden, 1), nn.ReLU6()) if expansion != 1 else nn.Identity()
            self.depthwise = nn.Sequential(_conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6())
            self.project = _conv_bn(hidden, cout, 1)  # linear bottleneck: no activation
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            out = self.project(self.depthwise(self.expand(x)))
            return x + out if self.residual else out

    # (expansion, output width, repeats, first stride), as in the paper's table at a small scale
    settings = ((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 2), (4, 64, 1, 1))
    blocks, cin = [], 16
    for expansion, cout, repeats, stride in settings:
        for i in range(repeats):
            blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
            cin = cout
    return nn.Sequential(_conv_bn(in_channels, 16, 3), nn.ReLU6(), *blocks, _conv_bn(cin, 128, 1), nn.ReLU6(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def build_squeezenet(in_channels: int = 1, classes: int = 10):
    import torch
    from torch import nn

    class Fire(nn.Module):
        def __init__(self, cin: int, squeeze: int, expand: int) -> None:
            super().__init__()
            self.squeeze = _conv_bn(cin, squeeze, 1)
            self.expand1x1 = _conv_bn(squeeze, expand, 1)
            self.expand3x3 = _conv_bn(squeeze, expand, 3)

        def forward(self, x):
            s = torch.relu(self.squeeze(x))
            return torch.cat([torch.relu(self.expand1x1(s)), torch.relu(self.expand3x3(s))], 1)

    return nn.Sequential(
        _conv_bn(in_channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        Fire(32, 8, 32), Fire(64, 8, 32), nn.MaxPool2d(2),
        Fire(64, 16, 48), Fire(96, 16, 64),
        nn.Dropout(0.2), nn.Conv2d(128, classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )


FAMILIES = {
    "mobilenet_v1": build_mobilenet_v1,
    "mobilenet_v2": build_mobilenet_v2,
    "squeezenet": build_squeezenet,
}
