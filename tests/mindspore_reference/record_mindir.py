"""Records MindSpore 2.10's side of MINDIR, which tests/test_mindir.py compares graphc against, both ways:

    GRAPHC_PYTHON=python python tests/mindspore_reference/record_mindir.py   # with MindSpore installed
                                                   # (never a dependency of graphc or of its tests)

graphc runs in a subprocess (GRAPHC_PYTHON, from the repository root: tests/mindir_models.py), which
builds every network of tests/mindir_models.py with its seeded weights (moving statistics too) and
writes, per network, graphc's MINDIR export, its input and its MindSpore checkpoint.

1. graphc -> MindSpore, every network of graphc.models (LeNet, ResNet-20/18/50, MobileNetV2 alpha
   0.35) and OpsNet (the other primitives graphc writes): MindSpore loads graphc's file
   (mindspore.load + nn.GraphCell) and runs it on graphc's input; graphc_<name>_mindspore.npy is what
   it computed, which the tests compare with graphc's net(x).
2. MindSpore -> graphc, the same zoo networks: each is built here from MindSpore's nn layers, mirroring
   graphc.models layer for layer (so with the same parameter names), and takes graphc's weights from
   graphc's checkpoint (mindspore.load_checkpoint + load_param_into_net; every parameter must load
   and change). ms_<name>_output.npy is its output on graphc's input; MindSpore exports it to MINDIR.
   - LeNet, ResNet-20, MobileNetV2: ms_<name>.mindir and ms_<name>_input.npy are kept for the tests
     (MindSpore's export is not byte-stable: restore the old .mindir files if the networks did not change).
   - ResNet-18 and ResNet-50 (45 and 100 MB): the files are not kept; graphc loads each here
     (graphc.load + GraphCell, in the subprocess) and mindspore_large.json records the largest
     difference from MindSpore's output, the file's node count, primitives and size, and the date.
   - convbn (MindSpore's own Conv2d with bias + BatchNorm2d + AvgPool2d + Dense, random weights):
     ms_convbn.mindir with its input and output, for the primitives the zoo does not write.
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
LARGE = ("resnet18", "resnet50")            # too large to commit (tests/mindir_models.py: LARGE)
ms.set_context(mode=ms.GRAPH_MODE)


def graphc(*args: str) -> str:
    """Run tests/mindir_models.py with graphc; its standard output."""
    return subprocess.run([os.environ.get("GRAPHC_PYTHON", "python3"), "-m", "tests.mindir_models", *args],
                          cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout


# -- graphc.models' networks, as MindSpore layers in graphc's order and under graphc's names ------------
class LeNet5(nn.Cell):
    """graphc.models.LeNet5's layers (mindvision's LeNet-5)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, pad_mode="valid")
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid")
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1, self.fc2, self.fc3 = nn.Dense(400, 120), nn.Dense(120, 84), nn.Dense(84, 10)

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class BaseClassifier(nn.Cell):
    """graphc.models.lenet() wraps LeNet5 as mindvision does: names backbone.conv1.weight, ..."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def construct(self, x):
        return self.backbone(x)


def resnet_conv(in_channels, out_channels, kernel_size, stride=1):
    padding = kernel_size // 2
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad_mode="pad" if padding else "same",
                     padding=padding)


class ResidualBlock(nn.Cell):
    """graphc's _ResidualBlock: conv<i>/bn<i> from (in, out, kernel, stride), ReLU between, the shortcut
    added before the last ReLU. MindSpore's graph mode compiles no getattr by a computed name, so the
    subclasses spell their chain out."""

    def __init__(self, convs, down_sample):
        super().__init__()
        for i, (in_channels, out_channels, kernel_size, stride) in enumerate(convs, 1):
            setattr(self, f"conv{i}", resnet_conv(in_channels, out_channels, kernel_size, stride))
            setattr(self, f"bn{i}", nn.BatchNorm2d(out_channels))
        self.relu = nn.ReLU()
        self.down_sample = down_sample

    def shortcut(self, x):
        return x if self.down_sample is None else self.down_sample(x)


class BasicBlock(ResidualBlock):
    expansion = 1

    def __init__(self, in_channels, channels, stride=1, down_sample=None):
        super().__init__([(in_channels, channels, 3, stride), (channels, channels, 3, 1)], down_sample)

    def construct(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + self.shortcut(x))


class Bottleneck(ResidualBlock):
    expansion = 4

    def __init__(self, in_channels, channels, stride=1, down_sample=None):
        super().__init__([(in_channels, channels, 1, 1), (channels, channels, 3, stride),
                          (channels, channels * 4, 1, 1)], down_sample)

    def construct(self, x):
        out = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        return self.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNet(nn.Cell):
    """graphc.models.ResNet: stem (3x3, or 7x7/2 and a 3x3/2 max-pool), stages layer1.., mean, Dense."""

    def __init__(self, block, layers, in_channels, widths=(64, 128, 256, 512), small_input=False):
        super().__init__()
        self.conv1 = resnet_conv(in_channels, widths[0], 3) if small_input else \
            resnet_conv(in_channels, widths[0], 7, stride=2)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.max_pool = None if small_input else nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
        channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, layers)):
            setattr(self, f"layer{stage + 1}", self.make_layer(block, channels, width, count, 1 if stage == 0 else 2))
            channels = width * block.expansion
        if len(layers) < 4:                 # ResNet-20: construct skips the absent stage
            self.layer4 = None
        self.classifier = nn.Dense(channels, 10)

    @staticmethod
    def make_layer(block, in_channels, width, count, stride):
        out_channels = width * block.expansion
        down_sample = None
        if stride != 1 or in_channels != out_channels:
            down_sample = nn.SequentialCell([resnet_conv(in_channels, out_channels, 1, stride),
                                             nn.BatchNorm2d(out_channels)])
        return nn.SequentialCell([block(in_channels, width, stride, down_sample)]
                                 + [block(out_channels, width) for _ in range(1, count)])

    def construct(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.max_pool is not None:
            x = self.max_pool(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.layer4 is not None:
            x = self.layer4(x)
        return self.classifier(ops.mean(x, (2, 3)))


def make_divisible(value, divisor=8):
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(in_channels, out_channels, kernel_size, stride=1, group=1, activation=True):
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad_mode="pad", padding=kernel_size // 2,
                        group=group), nn.BatchNorm2d(out_channels)]
    return layers + [nn.ReLU6()] if activation else layers


class InvertedResidual(nn.Cell):
    def __init__(self, in_channels, out_channels, stride, expand_ratio):
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        expand = conv_bn(in_channels, hidden, 1) if expand_ratio != 1 else []
        self.layers = nn.SequentialCell(expand + conv_bn(hidden, hidden, 3, stride, group=hidden)
                                        + conv_bn(hidden, out_channels, 1, activation=False))

    def construct(self, x):
        return x + self.layers(x) if self.use_res_connect else self.layers(x)


class MobileNetV2(nn.Cell):
    """graphc.models.MobileNetV2 (mindcv's): features.<k>..., classifier = [Dropout, Dense]."""
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))

    def __init__(self, alpha):
        super().__init__()
        channels = make_divisible(32 * alpha)
        features = conv_bn(3, channels, 3, stride=2)
        for expand_ratio, width, count, first_stride in self.SETTINGS:
            out_channels = make_divisible(width * alpha)
            for i in range(count):
                features.append(InvertedResidual(channels, out_channels, first_stride if i == 0 else 1, expand_ratio))
                channels = out_channels
        last = make_divisible(1280 * max(1.0, alpha))
        self.features = nn.SequentialCell(features + conv_bn(channels, last, 1))
        self.classifier = nn.SequentialCell([nn.Dropout(p=0.2), nn.Dense(last, 10)])

    def construct(self, x):
        return self.classifier(ops.mean(self.features(x), (2, 3)))


ZOO = {
    "lenet": lambda: BaseClassifier(LeNet5()),
    "resnet20": lambda: ResNet(BasicBlock, [3, 3, 3], 1, widths=(16, 32, 64), small_input=True),
    "mobilenet_v2": lambda: MobileNetV2(alpha=0.35),
    "resnet18": lambda: ResNet(BasicBlock, [2, 2, 2, 2], 3),
    "resnet50": lambda: ResNet(Bottleneck, [3, 4, 6, 3], 3),
}


class ConvBn(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, pad_mode="pad", padding=1, has_bias=True)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2, 2)
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(8 * 4 * 4, 5)

    def construct(self, x):
        return self.fc(self.flatten(self.pool(self.relu(self.bn(self.conv(x))))))


# -- recording ------------------------------------------------------------------------------------
def with_graphc_weights(name, graphc_dir):
    """ZOO[name] holding the weights graphc checkpointed; every parameter must load, and change. The one
    entry MindSpore has no place for is graphc's dropout step counter (<dropout>.counter, state graphc
    saves with the weights: docs/models.md), which MindSpore's Dropout does not keep."""
    net = ZOO[name]()
    initial = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    checkpoint = ms.load_checkpoint(str(graphc_dir / f"{name}.ckpt"))
    counters = {k for k in checkpoint if k.endswith(".counter")}
    not_loaded, unexpected = ms.load_param_into_net(net, checkpoint, strict_load=True)
    unchanged = [p.name for p in net.get_parameters() if np.array_equal(p.asnumpy(), initial[p.name])]
    if not_loaded or set(unexpected) != counters or set(checkpoint) - counters != set(initial) or unchanged:
        sys.exit(f"{name}: graphc's checkpoint does not fit MindSpore's network: not loaded {not_loaded}, "
                 f"unexpected {unexpected}, unchanged by the load {unchanged}")
    net.set_train(False)                    # BatchNorm on the moving statistics
    return net


def record_graphc_exports(graphc_dir):
    for path in sorted(graphc_dir.glob("*.mindir")):
        x = np.load(graphc_dir / f"{path.stem}_input.npy")
        y = nn.GraphCell(ms.load(str(path)))(Tensor(x))
        y = np.concatenate([o.asnumpy().ravel() for o in (y if isinstance(y, tuple) else (y,))])
        np.save(HERE / f"graphc_{path.stem}_mindspore.npy", y)     # several outputs: one after the other
        print(f"MindSpore ran graphc's {path.name}: output {y.shape}", file=sys.stderr)


def record_zoo_exports(graphc_dir, scratch):
    large = {}
    for name in ZOO:
        net = with_graphc_weights(name, graphc_dir)
        x = np.load(graphc_dir / f"{name}_input.npy")
        y = net(Tensor(x)).asnumpy()
        np.save(HERE / f"ms_{name}_output.npy", y)
        if name not in LARGE:
            np.save(HERE / f"ms_{name}_input.npy", x)
            ms.export(net, Tensor(x), file_name=str(HERE / f"ms_{name}"), file_format="MINDIR")
            continue
        path = scratch / f"ms_{name}.mindir"
        ms.export(net, Tensor(x), file_name=str(path.with_suffix("")), file_format="MINDIR")
        loaded = json.loads(graphc("run", str(path), str(graphc_dir / f"{name}_input.npy")))
        large[name] = {"max_abs_diff": float(np.abs(np.asarray(loaded["output"]) - y.ravel()).max()),
                       "max_abs_output": float(np.abs(y).max()), "nodes": loaded["nodes"],
                       "primitives": loaded["primitives"],
                       "bytes": path.stat().st_size, "mindspore": ms.__version__,
                       "date": datetime.date.today().isoformat()}
        print(f"graphc ran MindSpore's {path.name}: {large[name]}", file=sys.stderr)
    (HERE / "mindspore_large.json").write_text(json.dumps(large, indent=1) + "\n")


def record_convbn():
    rng = np.random.default_rng(24)
    net = ConvBn()
    for param in net.get_parameters():      # every value away from its initializer, moving statistics too
        value = rng.standard_normal(param.shape).astype(np.float32) * 0.3
        param.set_data(Tensor(np.abs(value) + 0.5 if "variance" in param.name else value))
    net.set_train(False)
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    ms.export(net, Tensor(x), file_name=str(HERE / "ms_convbn"), file_format="MINDIR")
    np.save(HERE / "ms_convbn_input.npy", x)
    np.save(HERE / "ms_convbn_output.npy", net(Tensor(x)).asnumpy())


with tempfile.TemporaryDirectory() as graphc_out, tempfile.TemporaryDirectory() as mindspore_out:
    graphc("export", graphc_out)
    record_graphc_exports(Path(graphc_out))
    record_zoo_exports(Path(graphc_out), Path(mindspore_out))
record_convbn()
