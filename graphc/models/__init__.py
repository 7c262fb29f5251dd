"""Model zoo: mindvision's LeNet-5, and mindcv's ResNets and MobileNetV2 with mindcv's parameter names.

`count_flops(network, input_shape)` counts any of them (or any Cell) on its traced graph."""
from .classifier import BaseClassifier
from .flops import count_flops
from .lenet import LeNet5, lenet
from .mobilenet_v2 import InvertedResidual, MobileNetV2, mobilenet_v2
from .pooling import GlobalAvgPooling
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet20, resnet50

__all__ = ["BaseClassifier", "BasicBlock", "Bottleneck", "GlobalAvgPooling", "InvertedResidual", "LeNet5",
           "MobileNetV2", "ResNet", "count_flops", "lenet", "mobilenet_v2", "resnet18", "resnet20", "resnet50"]
