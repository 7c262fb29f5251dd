"""The networks tests/test_mindir.py exports to MINDIR, seeded, so MindSpore's record script
(tests/mindspore_reference/record_mindir.py) and the tests build the same weights and inputs.

    PYTHONPATH=. python -m tests.mindir_models OUT_DIR     # writes OUT_DIR/<name>.mindir and <name>_input.npy
"""
import sys
from pathlib import Path

import numpy as np

import graphc
from graphc import nn, ops
from graphc.export.mindir import export_mindir
from graphc.models import lenet, mobilenet_v2, resnet18, resnet20, resnet50


class OpsNet(nn.Cell):
    """The primitives the models do not use (docs/export.md, MINDIR op coverage), and two outputs."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(2, 2)
        self.max_pool = nn.MaxPool2d(3, 1, pad_mode="same")
        self.conv = nn.Conv2d(3, 4, 3, stride=2, pad_mode="same")

    def construct(self, x):
        y = self.pool(ops.sigmoid(x)) - ops.tanh(self.pool(x))
        y = ops.maximum(y, ops.minimum(self.pool(ops.exp(-x)), ops.sqrt(ops.abs(self.pool(x)))))
        y = y / (ops.relu6(self.pool(x)) + 1.0)
        z = self.conv(self.max_pool(x))
        return y.mean((2, 3)), ops.transpose(ops.log(ops.abs(z) + 1.0), (0, 2, 3, 1))


def flat(outputs) -> np.ndarray:
    """One output or several, as one vector (how the record script saves them)."""
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return np.concatenate([o.asnumpy().ravel() for o in outputs])

# name -> (network, input shape); small inputs and widths keep the tests fast
MODELS = {
    "lenet": (lambda: lenet(), (1, 1, 32, 32)),
    "resnet20": (lambda: resnet20(), (1, 1, 32, 32)),
    "mobilenet_v2": (lambda: mobilenet_v2(num_classes=10, alpha=0.35), (1, 3, 32, 32)),
    "ops": (OpsNet, (2, 3, 8, 8)),
}
# also round-tripped by graphc (too large to record with MindSpore in the repository)
LARGE = {
    "resnet18": (lambda: resnet18(num_classes=10), (1, 3, 32, 32)),
    "resnet50": (lambda: resnet50(num_classes=10), (1, 3, 32, 32)),
}


def build(name: str):
    """(network in inference mode, its input): the same on every run."""
    make, shape = {**MODELS, **LARGE}[name]
    graphc.set_seed(7)
    net = make()
    net.set_train(False)
    return net, np.random.default_rng(7).standard_normal(shape).astype(np.float32)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    for name in MODELS:
        net, x = build(name)
        export_mindir(net, [x], out / name)
        np.save(out / f"{name}_input.npy", x)


if __name__ == "__main__":
    main(sys.argv[1])
