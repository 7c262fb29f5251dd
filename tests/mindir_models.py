"""The networks tests/test_mindir.py exports to MINDIR, seeded, so MindSpore's record script
(tests/mindspore_reference/record_mindir.py) and the tests build the same weights and inputs.

    PYTHONPATH=. python -m tests.mindir_models export OUT_DIR   # OUT_DIR/<name>.mindir, <name>_input.npy and
                                                                # <name>.ckpt (graphc's MindSpore checkpoint)
    PYTHONPATH=. python -m tests.mindir_models run FILE.mindir INPUT.npy   # graphc.load + GraphCell on the
                                                                # input: {"nodes", "primitives", "output"} as JSON
"""
import json
import sys
from pathlib import Path

import numpy as np

import graphc
from graphc import Tensor, nn, ops
from graphc.export import mindir_proto
from graphc.export.mindir import export_mindir, summarize_mindir
from graphc.models import lenet, mobilenet_v2, resnet18, resnet20, resnet50
from graphc.protowire import Message


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
    "resnet18": (lambda: resnet18(num_classes=10), (1, 3, 32, 32)),
    "resnet50": (lambda: resnet50(num_classes=10), (1, 3, 32, 32)),
    "ops": (OpsNet, (2, 3, 8, 8)),
}
ZOO = ("lenet", "resnet20", "mobilenet_v2", "resnet18", "resnet50")    # every network of graphc.models
# MindSpore's MINDIR export of these is too large for the repository (45 and 100 MB): the record
# script checks graphc's loader on it and records the result (mindspore_reference/mindspore_large.json)
LARGE = ("resnet18", "resnet50")


def build(name: str):
    """(network in inference mode, its input): the same on every run."""
    make, shape = MODELS[name]
    net = make()                   # _randomize draws every weight: no seed needed for the initializers
    net.set_train(False)
    rng = np.random.default_rng(7)
    _randomize(net, rng)
    return net, rng.standard_normal(shape).astype(np.float32)


def _randomize(net, rng) -> None:
    """Every parameter away from its initializer (moving statistics too), at scales that keep the
    activations near 1: the zoo's own initializers give LeNet and MobileNetV2 outputs below 1e-4,
    under the tests' tolerance, which would make the comparisons vacuous."""
    for param in net.get_parameters():
        kind = param.name.rsplit(".", 1)[-1]
        if kind == "counter":               # a dropout's int64 step counter: state, unused in eval
            continue
        if kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.3, 0.7, param.shape)   # below 1: the ResNets' sums stay near 1
        elif kind == "weight":              # He-normal on the fan-in
            value = rng.standard_normal(param.shape) * np.sqrt(2.0 / np.prod(param.shape[1:]))
        else:                               # beta, moving_mean, bias
            value = rng.standard_normal(param.shape) * 0.1
        param.set_data(value.astype(np.float32))


def export(out_dir: str) -> None:
    out = Path(out_dir)
    for name in MODELS:
        net, x = build(name)
        export_mindir(net, [x], out / name)
        np.save(out / f"{name}_input.npy", x)
        graphc.save_checkpoint(net, str(out / f"{name}.ckpt"))


def run(path: str, input_path: str) -> None:
    """What graphc computes from a MindIR file (MindSpore's), for the record script."""
    out = nn.GraphCell(graphc.load(path))(Tensor(np.load(input_path)))
    model = Message(Path(path).read_bytes(), path)
    primitives = {prim.string(mindir_proto.PRIM_OP_TYPE) for prim in model.messages(mindir_proto.MODEL_PRIMITIVES)}
    print(json.dumps({"nodes": summarize_mindir(path)["nodes"], "primitives": sorted(primitives),
                      "output": flat(out).tolist()}))


if __name__ == "__main__":
    {"export": export, "run": run}[sys.argv[1]](*sys.argv[2:])
