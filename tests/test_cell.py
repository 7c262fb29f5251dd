"""Cells as networks: parameter naming, the LeNet model's layout (mindvision's), seeding, scopes."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn
from graphc.models import LeNet5, lenet

REPO = Path(__file__).resolve().parents[1]

LENET_PARAMETERS = [
    ("backbone.conv1.weight", (6, 1, 5, 5)), ("backbone.conv2.weight", (16, 6, 5, 5)),
    ("backbone.fc1.weight", (120, 400)), ("backbone.fc1.bias", (120,)),
    ("backbone.fc2.weight", (84, 120)), ("backbone.fc2.bias", (84,)),
    ("backbone.fc3.weight", (10, 84)), ("backbone.fc3.bias", (10,)),
]


def images(n=2, channels=1, size=32):
    return Tensor(np.random.default_rng(0).standard_normal((n, channels, size, size)).astype(np.float32))


# -- LeNet ----------------------------------------------------------------------------------------------
def test_lenet_parameters_are_named_and_shaped_as_mindvisions():
    net = lenet(num_classes=10)
    assert [(name, p.shape) for name, p in net.parameters_and_names()] == LENET_PARAMETERS
    assert [p.name for p in net.trainable_params()] == [name for name, _ in LENET_PARAMETERS]
    # 6·25 + 16·6·25 + (400·120 + 120) + (120·84 + 84) + (84·10 + 10), counted by hand
    assert sum(p.size for p in net.get_parameters()) == 61684


def test_lenet_initialisation_follows_mindvision():
    net = lenet()
    backbone = net.backbone
    assert isinstance(backbone, LeNet5)
    assert backbone.conv1.bias is None and backbone.conv1.pad_mode == "valid"
    assert backbone.fc1.weight.asnumpy().std() == pytest.approx(0.02, rel=0.03)        # Normal(0.02)
    assert backbone.conv2.weight.asnumpy().std() == pytest.approx(0.01, rel=0.1)       # 'normal' = Normal(0.01)
    for fc in (backbone.fc1, backbone.fc2, backbone.fc3):
        np.testing.assert_array_equal(fc.bias.asnumpy(), 0)


def test_lenet_shares_one_relu_and_one_pool():
    cells = [name for name, _ in lenet().backbone.cells_and_names()]
    assert cells == ["", "conv1", "conv2", "relu", "max_pool2d", "flatten", "fc1", "fc2", "fc3"]


def test_lenet_classes_and_channels():
    net = lenet(num_classes=5, num_channel=3)
    assert net.backbone.conv1.weight.shape == (6, 3, 5, 5)
    assert net(images(channels=3)).shape == (2, 5)


def test_lenet_without_top_returns_the_feature_maps_as_mindvision():
    net = lenet(include_top=False)
    assert [name for name, _ in net.parameters_and_names()] == ["backbone.conv1.weight", "backbone.conv2.weight"]
    assert net(images()).shape == (2, 16, 5, 5)


def test_same_seed_builds_the_same_network():
    graphc.set_seed(3)
    first = [p.asnumpy().copy() for p in lenet().get_parameters()]
    graphc.set_seed(3)
    again = [p.asnumpy() for p in lenet().get_parameters()]
    graphc.set_seed(4)
    other = [p.asnumpy() for p in lenet().get_parameters()]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_lenet_repr_shows_the_layers():
    text = repr(lenet())
    assert "(backbone): LeNet5" in text
    assert "(conv1): Conv2d<input_channels=1, output_channels=6, kernel_size=(5, 5), stride=(1, 1), " \
           "pad_mode=valid" in text
    assert "(fc3): Dense<input_channels=84, output_channels=10, has_bias=True>" in text


@pytest.mark.parametrize("kwargs, hint", [
    ({"pretrained": True}, "download https://download.mindspore.cn/vision/classification/lenet_mnist.ckpt"),
    ({"pretrained": True, "ckpt_file": "lenet.ckpt"}, "runtime.load_checkpoint('lenet.ckpt', net)"),
])
def test_pretrained_points_to_the_runtime_loader(kwargs, hint):
    with pytest.raises(graphc.GraphcError, match="never loads checkpoints") as error:
        lenet(**kwargs)
    assert hint in str(error.value)


def test_graph_nodes_carry_the_layer_scopes():
    graph = graphc.jit(lenet()).lower(images()).graph

    def scopes(op):
        return {node.scope for node in graph if node.op == op}

    assert scopes("conv2d") == {"backbone.conv1", "backbone.conv2"}
    assert scopes("max_pool2d") == {"backbone.max_pool2d"}
    assert scopes("matmul") == {"backbone.fc1", "backbone.fc2", "backbone.fc3"}


# -- naming and flags --------------------------------------------------------------------------------------
class Block(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(2, 2)


def test_nested_cells_prefix_parameter_names():
    outer = nn.Cell()
    outer.block = Block()
    assert [name for name, _ in outer.parameters_and_names()] == ["block.dense.weight", "block.dense.bias"]


def test_cells_appended_after_attaching_get_the_full_prefix():
    outer = nn.Cell()
    outer.layers = nn.SequentialCell(nn.Dense(2, 2))
    outer.layers.append(Block())
    assert [name for name, _ in outer.parameters_and_names()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.dense.weight", "layers.1.dense.bias"]


def test_set_train_reaches_every_layer():
    net = lenet().set_train()
    assert all(cell.training for _, cell in net.cells_and_names())
    net.set_train(False)
    assert not any(cell.training for _, cell in net.cells_and_names())


def test_lenet_example_builds_net_and_a_training_step():
    run = subprocess.run([sys.executable, str(REPO / "examples" / "lenet.py")], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    shape_line, loss_line = run.stdout.strip().splitlines()
    assert shape_line == "logits shape: (32, 10)"
    # random labels over 10 classes: the first loss is close to log(10)
    assert abs(float(loss_line.split(":")[1]) - np.log(10)) < 0.1
