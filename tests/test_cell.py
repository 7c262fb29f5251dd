"""Cells as networks: parameter naming, the LeNet model's layout (mindvision's), seeding, scopes."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn
from graphc.errors import ArgumentError
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


def test_phase_names_the_mode_set_train_chose():
    net = lenet()
    assert net.phase == "train" and not net.training          # MindSpore's phase before any set_train
    net.set_train(False)
    assert {cell.phase for _, cell in net.cells_and_names()} == {"predict"}
    assert net.set_train().phase == "train"


def test_lenet_example_builds_net_and_a_training_step():
    run = subprocess.run([sys.executable, str(REPO / "examples" / "lenet.py")], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    shape_line, loss_line = run.stdout.strip().splitlines()
    assert shape_line == "logits shape: (32, 10)"
    # random labels over 10 classes: the first loss is close to log(10)
    assert abs(float(loss_line.split(":")[1]) - np.log(10)) < 0.1


# -- MindSpore 2.x's Cell and container methods ----------------------------------------------------------------
class Stack(nn.Cell):
    def __init__(self):
        super().__init__()
        self.layers = nn.CellList([nn.Dense(2, 3), nn.Dense(3, 4)])
        self.seq = nn.SequentialCell([nn.Dense(2, 2), nn.ReLU()])


def names(cell):
    return [name for name, _ in cell.parameters_and_names()]


def test_cell_list_edits_renumber_the_parameters_as_mindspore_does():
    """The names after each edit are the ones MindSpore 2.10 printed for the same edits."""
    net = Stack()
    inserted = nn.Dense(3, 3)
    net.layers.insert(1, inserted)
    assert net.layers[1] is inserted and len(net.layers) == 3
    assert names(net.layers) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                 "layers.2.weight", "layers.2.bias"]
    assert net.layers[2].weight.shape == (4, 3)           # the old layers.1 moved to layers.2
    net.layers.append(nn.Dense(4, 5))
    del net.layers[0]
    assert [p.shape for p in net.layers.get_parameters()][::2] == [(3, 3), (4, 3), (5, 4)]
    assert names(net.layers)[::2] == ["layers.0.weight", "layers.1.weight", "layers.2.weight"]
    net.layers[0] = nn.Dense(2, 3)
    net.layers.extend([nn.Dense(5, 1)])
    assert names(net.layers)[::2] == ["layers.0.weight", "layers.1.weight", "layers.2.weight", "layers.3.weight"]


def test_sequential_cell_edits_and_slices():
    net = Stack()
    net.seq.append(nn.Dense(2, 2))
    del net.seq[1]                        # the ReLU: the appended seq.2 becomes seq.1
    assert names(net.seq) == ["seq.0.weight", "seq.0.bias", "seq.1.weight", "seq.1.bias"]
    head = net.seq[0:1]
    assert isinstance(head, nn.SequentialCell) and names(head) == ["seq.0.weight", "seq.0.bias"]
    x = Tensor(np.ones((1, 2), np.float32))
    np.testing.assert_allclose(net.seq(x).asnumpy(), net.seq[1](net.seq[0](x)).asnumpy(), rtol=1e-6)
    with pytest.raises(ArgumentError, match="item 0 is a int, not a Cell"):
        net.seq.insert(0, 3)


def test_add_flags_sets_attributes_and_records_them():
    net = Stack()
    assert net.add_flags(sink_mode=True) is net and net.sink_mode is True and net.get_flags() == {"sink_mode": True}
    net.add_flags_recursive(fp32=True)
    assert all(cell.fp32 is True for _, cell in net.cells_and_names())


def test_to_float_returns_the_cell_with_mindspores_flags_and_refuses_other_types():
    dense = nn.Dense(2, 2)
    assert dense.to_float(graphc.float32) is dense and dense.get_flags()["fp32"] is True
    assert dense.to_float(graphc.float16).get_flags() == {"fp32": False, "fp16": True, "bf16": False}
    for wrong in (np.float16, graphc.float64):
        with pytest.raises(ArgumentError, match="dst_type must be float32, float16 or bfloat16"):
            dense.to_float(wrong)


def test_init_parameters_data_maps_each_parameter_to_itself_filled():
    """A Parameter made from a lazy Tensor is filled when made (its storage is allocated once, aligned),
    so init_parameters_data has nothing left to fill and maps each Parameter to itself."""
    net = nn.Dense(2, 2)
    net.extra = graphc.Parameter(Tensor(shape=(3,), dtype=graphc.float32, init=nn.One()), name="extra")
    filled = net.init_parameters_data()
    assert list(filled) == list(net.get_parameters()) and all(filled[p] is p for p in filled)
    np.testing.assert_array_equal(net.extra.asnumpy(), np.ones(3, np.float32))


class AddThenReLU(nn.Cell):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()

    def construct(self, x, y):
        return self.relu(x + y)


@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def test_forward_hooks_replace_inputs_and_outputs_until_removed(mode):
    graphc.set_context(mode=mode)
    net, seen = AddThenReLU(), []
    x, y = Tensor(np.array([1.0, -3.0], np.float32)), Tensor(np.array([1.0, 1.0], np.float32))
    pre = net.relu.register_forward_pre_hook(lambda cell, inputs: seen.append(cell) or inputs[0] * 3)
    post = net.relu.register_forward_hook(lambda cell, inputs, outputs: outputs + outputs)
    np.testing.assert_array_equal(net(x, y).asnumpy(), [12, 0])             # relu(3 (x + y)) doubled
    gradient = graphc.grad(net)
    np.testing.assert_array_equal(gradient(x, y).asnumpy(), [6, 0])
    assert seen and seen[0] is net.relu
    pre.remove()
    np.testing.assert_array_equal(net(x, y).asnumpy(), [4, 0])              # compiled calls re-trace
    post.remove()
    np.testing.assert_array_equal(gradient(x, y).asnumpy(), [1, 0])                # the gradient too
    with pytest.raises(ArgumentError, match="with_kwargs=True is not supported"):
        net.register_forward_hook(lambda *args: None, with_kwargs=True)
