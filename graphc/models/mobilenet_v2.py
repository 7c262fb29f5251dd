"""MobileNetV2 laid out as mindcv's (mindcv/models/mobilenetv2.py), so parameter names follow the
attribute path exactly as there and mindcv checkpoints load by name:

    features.0.weight, features.1.*                      the stem: 3x3 conv (stride 2), batch norm, ReLU6
    features.<k>.layers.<j>.weight / .gamma / ...        inverted residual k (k = 3 .. 19): its convs and
                                                         batch norms in order (expand 1x1, depthwise 3x3,
                                                         project 1x1; the expansion is absent when t = 1)
    features.20.weight, features.21.*                    the last 1x1 conv to 1280 channels (scaled up by alpha > 1)
    classifier.1.weight, classifier.1.bias               the Dense head after Dropout(p=0.2)

Convs have no bias. Initialisation is mindcv's: convs N(0, 2 / (k * k * out_channels)), unit gamma,
zero beta, Dense N(0, 0.01) and zero bias.
"""
from __future__ import annotations

import math

from ..nn import BatchNorm2d, Conv2d, Dense, Dropout, Normal, ReLU6, SequentialCell
from ..nn.cell import Cell
from .pooling import GlobalAvgPooling

__all__ = ["InvertedResidual", "MobileNetV2", "make_divisible", "mobilenet_v2"]

# expansion t, output channels c, blocks n, stride of the first block s
INVERTED_RESIDUALS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                      (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
    """The nearest multiple of `divisor` (at least `divisor`), never more than 10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, group: int = 1,
            activation: bool = True) -> list[Cell]:
    """[Conv2d, BatchNorm2d] and a ReLU6 unless the layer is linear; convs padded k // 2 on every side."""
    padding = kernel_size // 2
    fan_out = kernel_size * kernel_size * out_channels
    layers = [Conv2d(in_channels, out_channels, kernel_size, stride, pad_mode="pad", padding=padding, group=group,
                     weight_init=Normal(sigma=math.sqrt(2.0 / fan_out))),
              BatchNorm2d(out_channels)]
    return layers + [ReLU6()] if activation else layers


class InvertedResidual(Cell):
    """Expand 1x1 (t times the channels), depthwise 3x3 with the stride, linear 1x1 projection; the input
    is added back when the stride is 1 and the channel count is kept."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        expand = conv_bn(in_channels, hidden, 1) if expand_ratio != 1 else []
        self.layers = SequentialCell(expand + conv_bn(hidden, hidden, 3, stride, group=hidden)
                                     + conv_bn(hidden, out_channels, 1, activation=False))

    def construct(self, x):
        return x + self.layers(x) if self.use_res_connect else self.layers(x)


class MobileNetV2(Cell):
    """`alpha` scales every width (rounded to multiples of `round_nearest`); the input is
    [N, in_channels, H, W], 224x224 in the paper, and any size that survives five stride-2 stages
    (32x32 ends at 1x1)."""

    def __init__(self, alpha: float = 1.0, round_nearest: int = 8, in_channels: int = 3, num_classes: int = 1000):
        super().__init__()
        self.num_classes = num_classes
        channels = make_divisible(32 * alpha, round_nearest)
        features = conv_bn(in_channels, channels, 3, stride=2)
        for expand_ratio, width, count, first_stride in INVERTED_RESIDUALS:
            out_channels = make_divisible(width * alpha, round_nearest)
            for i in range(count):
                features.append(InvertedResidual(channels, out_channels, first_stride if i == 0 else 1, expand_ratio))
                channels = out_channels
        self.num_features = make_divisible(1280 * max(1.0, alpha), round_nearest)
        self.features = SequentialCell(features + conv_bn(channels, self.num_features, 1))
        self.pool = GlobalAvgPooling()
        self.classifier = SequentialCell([Dropout(p=0.2), Dense(self.num_features, num_classes,
                                                                weight_init=Normal(sigma=0.01), bias_init="zeros")])

    def construct(self, x):
        return self.classifier(self.pool(self.features(x)))


def mobilenet_v2(num_classes: int = 1000, in_channels: int = 3, alpha: float = 1.0) -> MobileNetV2:
    """MobileNetV2 with width multiplier `alpha` (mindcv's mobilenet_v2_100 is alpha=1.0)."""
    return MobileNetV2(alpha=alpha, in_channels=in_channels, num_classes=num_classes)
