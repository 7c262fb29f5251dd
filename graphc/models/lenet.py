"""LeNet-5 laid out exactly as mindvision's (classification/models/backbones/lenet.py), so parameter
names and checkpoints match: backbone.conv1.weight, ..., backbone.fc3.bias (61,684 values).

mindvision ran on MindSpore 1.x, whose layers defaulted to 'normal' weights (N(0, 0.01)) and 'zeros'
biases; graphc's layers default to 2.x's uniform ones, so this model names the 1.x initializers."""
from __future__ import annotations

from ..errors import GraphcError
from ..nn import Conv2d, Dense, Flatten, MaxPool2d, Normal, ReLU
from ..nn.cell import Cell
from .classifier import BaseClassifier

__all__ = ["LeNet5", "lenet"]

PRETRAINED_URL = "https://download.mindspore.cn/vision/classification/lenet_mnist.ckpt"


class LeNet5(Cell):
    """[N, num_channel, 32, 32] images -> [N, num_classes] logits (or the [N, 16, 5, 5] features
    without the top, as mindvision)."""

    def __init__(self, num_classes=10, num_channel=1, include_top=True):
        super().__init__()
        self.include_top = include_top
        self.conv1 = Conv2d(num_channel, 6, 5, pad_mode="valid", weight_init="normal")
        self.conv2 = Conv2d(6, 16, 5, pad_mode="valid", weight_init="normal")
        self.relu = ReLU()
        self.max_pool2d = MaxPool2d(kernel_size=2, stride=2)
        if include_top:
            self.flatten = Flatten()
            self.fc1 = Dense(16 * 5 * 5, 120, weight_init=Normal(0.02), bias_init="zeros")
            self.fc2 = Dense(120, 84, weight_init=Normal(0.02), bias_init="zeros")
            self.fc3 = Dense(84, num_classes, weight_init=Normal(0.02), bias_init="zeros")

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        if self.include_top:
            x = self.flatten(x)
            x = self.relu(self.fc1(x))
            x = self.relu(self.fc2(x))
            x = self.fc3(x)
        return x


def lenet(num_classes=10, num_channel=1, pretrained=False, include_top=True, ckpt_file=None) -> BaseClassifier:
    """mindvision's lenet(): a BaseClassifier whose `backbone` is LeNet5.

    graphc builds networks only; checkpoints are loaded by the runtime (graphc never imports it), so
    pretrained=True raises an error that says how to load one."""
    if pretrained or ckpt_file:
        download = "" if ckpt_file else f"download {PRETRAINED_URL} to lenet_mnist.ckpt, then "
        raise GraphcError(f"lenet: graphc builds networks but never loads checkpoints (the runtime does): "
                          f"{download}build net = lenet(num_classes={num_classes}) and call "
                          f"runtime.load_checkpoint({ckpt_file or 'lenet_mnist.ckpt'!r}, net)")
    return BaseClassifier(LeNet5(num_classes, num_channel, include_top))
