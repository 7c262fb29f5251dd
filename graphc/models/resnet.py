"""ResNets laid out as mindcv's (mindcv/models/resnet.py), so parameter names follow the attribute
path exactly as there and mindcv checkpoints load by name:

    conv1.weight, bn1.{gamma, beta, moving_mean, moving_variance}      the stem
    layer<s>.<b>.conv<i>.weight, layer<s>.<b>.bn<i>.*                    block b of stage s (from 0)
    layer<s>.0.down_sample.0.weight, layer<s>.0.down_sample.1.*           the 1x1 projection shortcut
    classifier.weight, classifier.bias                                  the Dense head

A block has conv1/bn1, conv2/bn2 (BasicBlock) or also conv3/bn3 (Bottleneck, stride on the 3x3 as
torchvision and mindcv place it). Every conv has no bias; each batch norm's gamma and beta train, its
moving statistics are state saved in checkpoints. Initialisation is mindcv's: He-normal convs
(fan_out, ReLU gain), unit gamma, zero beta, He-uniform Dense weights (fan_in, gain 1), zero bias.

`resnet20` is He et al.'s CIFAR network (3 stages of 3 basic blocks, 16/32/64 channels, 3x3 stem, no
max-pool), with the same names and 1x1 projection shortcuts where the shape changes (option B of the
paper) rather than zero-padded identities, so every shortcut is one shared layer kind.
"""
from __future__ import annotations

from ..nn import BatchNorm2d, Conv2d, Dense, HeNormal, HeUniform, MaxPool2d, ReLU, SequentialCell
from ..nn.cell import Cell
from .pooling import GlobalAvgPooling

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet20", "resnet50"]


def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> Conv2d:
    """A bias-free conv padded as mindcv pads it (k // 2 on every side), He-normal initialised."""
    padding = kernel_size // 2
    return Conv2d(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad" if padding else "same",
                  padding=padding, weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


class _ResidualBlock(Cell):
    """conv1 -> bn1 -> ReLU -> ... -> conv<n> -> bn<n>, plus the shortcut, then ReLU.

    Subclasses give the (in, out, kernel, stride) of each conv; the shortcut is `down_sample` (a conv
    and a batch norm) when the shape changes, else the identity."""
    expansion: int

    def __init__(self, convs: list[tuple[int, int, int, int]], down_sample: Cell | None):
        super().__init__()
        for i, (in_channels, out_channels, kernel_size, stride) in enumerate(convs, 1):
            setattr(self, f"conv{i}", conv(in_channels, out_channels, kernel_size, stride))
            setattr(self, f"bn{i}", BatchNorm2d(out_channels))
        self.relu = ReLU()
        self.down_sample = down_sample
        self.depth = len(convs)

    def construct(self, x):
        out = x
        for i in range(1, self.depth + 1):
            out = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(out))
            if i < self.depth:
                out = self.relu(out)
        shortcut = x if self.down_sample is None else self.down_sample(x)
        return self.relu(out + shortcut)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs; the first carries the stride."""
    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, down_sample: Cell | None = None):
        super().__init__([(in_channels, channels, 3, stride), (channels, channels, 3, 1)], down_sample)


class Bottleneck(_ResidualBlock):
    """1x1 down to `channels`, 3x3 (with the stride), 1x1 up to 4 * `channels`."""
    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, down_sample: Cell | None = None):
        super().__init__([(in_channels, channels, 1, 1), (channels, channels, 3, stride),
                          (channels, channels * self.expansion, 1, 1)], down_sample)


class ResNet(Cell):
    """A stem, stages `layer1`, `layer2`, ... of `block`s, global average pooling and a Dense head.

    `layers[s]` blocks of `widths[s]` channels (times the block's expansion) form stage s; every stage
    after the first halves the resolution in its first block. The stem is mindcv's ImageNet stem
    (7x7 conv with stride 2, then a 3x3 max-pool with stride 2) or, with `small_input=True`, one 3x3
    conv with stride 1 and no pool, for 28x28 and 32x32 images."""

    def __init__(self, block: type[_ResidualBlock], layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3, widths: tuple[int, ...] = (64, 128, 256, 512), small_input: bool = False):
        super().__init__()
        self.num_classes = num_classes
        self.conv1 = conv(in_channels, widths[0], 3) if small_input else conv(in_channels, widths[0], 7, stride=2)
        self.bn1 = BatchNorm2d(widths[0])
        self.relu = ReLU()
        self.max_pool = None if small_input else MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
        channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, layers)):
            stage_layer = self._make_layer(block, channels, width, count, stride=1 if stage == 0 else 2)
            setattr(self, f"layer{stage + 1}", stage_layer)
            channels = width * block.expansion
        self.stages = len(layers)
        self.pool = GlobalAvgPooling()
        self.num_features = channels
        self.classifier = Dense(channels, num_classes, weight_init=HeUniform(mode="fan_in", nonlinearity="sigmoid"),
                                bias_init="zeros")

    @staticmethod
    def _make_layer(block, in_channels: int, width: int, count: int, stride: int) -> SequentialCell:
        out_channels = width * block.expansion
        down_sample = None
        if stride != 1 or in_channels != out_channels:
            down_sample = SequentialCell([conv(in_channels, out_channels, 1, stride), BatchNorm2d(out_channels)])
        blocks = [block(in_channels, width, stride, down_sample)]
        blocks += [block(out_channels, width) for _ in range(1, count)]
        return SequentialCell(blocks)

    def forward_features(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.max_pool is not None:
            x = self.max_pool(x)
        for stage in range(1, self.stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        return x

    def construct(self, x):
        return self.classifier(self.pool(self.forward_features(x)))


def resnet20(num_classes: int = 10, in_channels: int = 1) -> ResNet:
    """He et al.'s CIFAR ResNet-20 (0.27 M parameters) for 28x28 or 32x32 images with 1 or 3 channels."""
    return ResNet(BasicBlock, [3, 3, 3], num_classes, in_channels, widths=(16, 32, 64), small_input=True)


def resnet18(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False) -> ResNet:
    """ResNet-18 (basic blocks 2-2-2-2); small_input=True for 32x32 images (3x3 stem, no max-pool)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, small_input=small_input)


def resnet50(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False) -> ResNet:
    """ResNet-50 (bottleneck blocks 3-4-6-3); small_input=True for 32x32 images."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, small_input=small_input)
