"""Records MindSpore 2.10's side of MINDIR, which tests/test_mindir.py compares graphc against, both ways:

    GRAPHC_PYTHON=python python tests/mindspore_reference/record_mindir.py   # with MindSpore installed
                                                   # (never a dependency of graphc or of its tests)

1. MindSpore exports LeNet-5 and a conv+batchnorm+relu+avgpool+dense net (seeded weights, moving
   statistics made non-trivial) to ms_<name>.mindir, with its input and output (.npy): graphc must
   load the files and give the same outputs.
2. graphc (run with GRAPHC_PYTHON from the repository root: tests/mindir_models.py) exports LeNet,
   ResNet-20, MobileNetV2 and a net of the other primitives graphc writes (OpsNet) to a temporary
   directory; MindSpore loads each (mindspore.load + nn.GraphCell) and runs it on graphc's input;
   graphc_<name>_mindspore.npy is what it computed, which the tests compare with graphc's net(x).
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn

HERE = Path(__file__).parent
ms.set_context(mode=ms.GRAPH_MODE)


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


def record_mindspore_exports():
    rng = np.random.default_rng(24)
    for name, net, shape in (("lenet", LeNet5(), (2, 1, 32, 32)), ("convbn", ConvBn(), (2, 3, 16, 16))):
        for param in net.get_parameters():      # every value away from its initializer, moving statistics too
            value = rng.standard_normal(param.shape).astype(np.float32) * 0.3
            param.set_data(Tensor(np.abs(value) + 0.5 if "variance" in param.name else value))
        net.set_train(False)
        x = rng.standard_normal(shape).astype(np.float32)
        ms.export(net, Tensor(x), file_name=str(HERE / f"ms_{name}"), file_format="MINDIR")
        np.save(HERE / f"ms_{name}_input.npy", x)
        np.save(HERE / f"ms_{name}_output.npy", net(Tensor(x)).asnumpy())


def record_graphc_exports():
    root = HERE.parent.parent
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.environ.get("GRAPHC_PYTHON", "python3"), "-m", "tests.mindir_models", out], cwd=root,
                       check=True, env=dict(os.environ, PYTHONPATH=str(root)))
        for path in sorted(Path(out).glob("*.mindir")):
            x = np.load(Path(out) / f"{path.stem}_input.npy")
            y = nn.GraphCell(ms.load(str(path)))(Tensor(x))
            y = np.concatenate([o.asnumpy().ravel() for o in (y if isinstance(y, tuple) else (y,))])
            np.save(HERE / f"graphc_{path.stem}_mindspore.npy", y)     # several outputs: one after the other
            print(f"MindSpore ran graphc's {path.name}: output {y.shape}", file=sys.stderr)


record_mindspore_exports()
record_graphc_exports()
