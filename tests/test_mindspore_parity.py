"""The MindSpore r1.7 snippets users copy, run with `mindspore` renamed `graphc` and nothing else changed.

Each test holds a snippet as the r1.7 tutorials write it (custom loss with primitives, custom
training cell, Model with MnistDataset and map/batch, checkpoint save/load, LossMonitor in both
forms); the imports below are the tutorials' with the rename. docs/mindspore.md lists what is
supported, what differs and what is refused.
"""
import importlib
import os
import re

import numpy as np
import pytest

import graphc as ms
from graphc import dtype as mstype
from graphc import nn, ops, Tensor, ParameterTuple
from graphc.common.initializer import Normal
from graphc import Model, save_checkpoint, load_checkpoint, load_param_into_net
from graphc.nn import Accuracy
from graphc.train.callback import LossMonitor, ModelCheckpoint, CheckpointConfig
import graphc.dataset as ds
import graphc.dataset.vision.c_transforms as CV
import graphc.dataset.transforms.c_transforms as C
from graphc.dataset.vision import Inter

from graphc.ir.text import parse_graph, print_graph

JIT = importlib.import_module("graphc.jit")


# -- r1.7 "Loss Function": a custom loss from primitives, trained by Model ---------------------------------------
def get_data(num, w=2.0, b=3.0):
    for _ in range(num):
        x = np.random.uniform(-10.0, 10.0)
        noise = np.random.normal(0, 1)
        y = x * w + b + noise
        yield np.array([x]).astype(np.float32), np.array([y]).astype(np.float32)


def create_dataset(num_data, batch_size=16):
    dataset = ds.GeneratorDataset(list(get_data(num_data)), column_names=['data', 'label'])
    dataset = dataset.batch(batch_size)
    return dataset


class LinearNet(nn.Cell):
    def __init__(self):
        super(LinearNet, self).__init__()
        self.fc = nn.Dense(1, 1, Normal(0.02), Normal(0.02))

    def construct(self, x):
        return self.fc(x)


class MAELoss(nn.LossBase):
    def __init__(self, reduction="mean"):
        super(MAELoss, self).__init__(reduction)
        self.abs = ops.Abs()

    def construct(self, base, target):
        x = self.abs(base - target)
        return self.get_loss(x)


class MAELossForMultiLabel(nn.LossBase):
    def __init__(self, reduction="mean"):
        super(MAELossForMultiLabel, self).__init__(reduction)
        self.abs = ops.Abs()

    def construct(self, base, target1, target2):
        x1 = self.abs(base - target1)
        x2 = self.abs(base - target2)
        return (self.get_loss(x1) + self.get_loss(x2)) / 2


class CustomMAELoss(nn.Cell):
    def __init__(self):
        super(CustomMAELoss, self).__init__()
        self.abs = ops.Abs()
        self.reduce_mean = ops.ReduceMean()

    def construct(self, base, target):
        x = self.abs(base - target)
        return self.reduce_mean(x)


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE], ids=["graph", "pynative"])
@pytest.mark.parametrize("loss_class", [MAELoss, CustomMAELoss])
def test_custom_loss_from_primitives_trains_with_model(mode, loss_class, capsys):
    ms.set_context(mode=mode, device_target="CPU")
    np.random.seed(0)
    ms.set_seed(0)
    ds_train = create_dataset(num_data=160)
    net = LinearNet()
    loss = loss_class()
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.005, momentum=0.9)
    model = Model(net, loss, opt)
    model.train(epoch=4, train_dataset=ds_train, callbacks=[LossMonitor(0.005)])
    averages = [float(m) for m in re.findall(r"avg loss: ([\d.]+)", capsys.readouterr().out)]
    assert len(averages) == 4 and averages[-1] < 0.6 * averages[0]
    x = np.linspace(-5, 5, 8, dtype=np.float32)[:, None]
    mae = np.abs(model.predict(Tensor(x)).asnumpy() - (2 * x + 3)).mean()
    assert mae < 0.6 * np.abs(3 + 2 * x).mean()          # well on its way from w, b ~ 0 toward 2, 3


def test_custom_loss_for_two_labels_matches_numpy():
    loss = MAELossForMultiLabel()
    base, t1, t2 = (np.random.default_rng(i).standard_normal((4, 1)).astype(np.float32) for i in range(3))
    value = loss(Tensor(base), Tensor(t1), Tensor(t2)).asnumpy()
    np.testing.assert_allclose(value, (np.abs(base - t1).mean() + np.abs(base - t2).mean()) / 2, rtol=1e-6)


# -- r1.7 "Customized training": TrainOneStepCell written with GradOperation and depend ----------------------------
class CustomWithLossCell(nn.Cell):
    def __init__(self, backbone, loss_fn):
        super(CustomWithLossCell, self).__init__(auto_prefix=False)
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, data, label):
        output = self._backbone(data)
        return self._loss_fn(output, label)


class CustomTrainOneStepCell(nn.Cell):
    def __init__(self, network, optimizer):
        super(CustomTrainOneStepCell, self).__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = ParameterTuple(network.trainable_params())
        self.grad = ops.GradOperation(get_by_list=True)

    def construct(self, *inputs):
        loss = self.network(*inputs)
        grads = self.grad(self.network, self.weights)(*inputs)
        loss = ops.depend(loss, self.optimizer(grads))
        return loss


def train_custom_cell(mode):
    ms.set_context(mode=mode)
    np.random.seed(1)
    ms.set_seed(1)
    ds_train = create_dataset(num_data=160)
    net = LinearNet()
    loss_net = CustomWithLossCell(net, MAELoss())
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    train_net = CustomTrainOneStepCell(loss_net, opt)
    losses = []
    for _ in range(3):
        for data in ds_train.create_dict_iterator():
            losses.append(float(train_net(data['data'], data['label']).asnumpy()))
    return losses, {p.name: p.asnumpy().copy() for p in net.trainable_params()}


def test_custom_training_cell_is_one_graph_and_agrees_with_pynative(monkeypatch):
    compiled = []
    real_compile = JIT.compile_graph

    def recording_compile(graph, params, *args, **kwargs):
        compiled.append(parse_graph(print_graph(graph)))
        return real_compile(graph, params, *args, **kwargs)
    monkeypatch.setattr(JIT, "compile_graph", recording_compile)
    graph_losses, graph_params = train_custom_cell(ms.GRAPH_MODE)
    assert len(compiled) == 1                              # forward, backward and update: one graph
    ops_in_graph = {node.op for node in compiled[0].order()}
    assert {"grad", "assign", "matmul", "abs"} <= ops_in_graph
    native_losses, native_params = train_custom_cell(ms.PYNATIVE_MODE)
    np.testing.assert_allclose(graph_losses, native_losses, rtol=1e-5, atol=1e-6)
    for name in graph_params:
        np.testing.assert_allclose(graph_params[name], native_params[name], rtol=1e-5, atol=1e-6)
    assert np.mean(graph_losses[-10:]) < 0.6 * np.mean(graph_losses[:10])


# -- r1.7 "Quick Start": MnistDataset with map/batch, LeNet, Model, checkpoints, LossMonitor(125) ------------------
def create_mnist_dataset(data_path, batch_size=32, repeat_size=1, num_parallel_workers=1):
    mnist_ds = ds.MnistDataset(data_path)
    resize_height, resize_width = 32, 32
    rescale = 1.0 / 255.0
    shift = 0.0
    rescale_nml = 1 / 0.3081
    shift_nml = -1 * 0.1307 / 0.3081

    resize_op = CV.Resize((resize_height, resize_width), interpolation=Inter.LINEAR)
    rescale_nml_op = CV.Rescale(rescale_nml, shift_nml)
    rescale_op = CV.Rescale(rescale, shift)
    hwc2chw_op = CV.HWC2CHW()
    type_cast_op = C.TypeCast(mstype.int32)

    mnist_ds = mnist_ds.map(operations=type_cast_op, input_columns="label", num_parallel_workers=num_parallel_workers)
    mnist_ds = mnist_ds.map(operations=[resize_op, rescale_op, rescale_nml_op, hwc2chw_op], input_columns="image",
                            num_parallel_workers=num_parallel_workers)

    buffer_size = 10000
    mnist_ds = mnist_ds.shuffle(buffer_size=buffer_size)
    mnist_ds = mnist_ds.batch(batch_size, drop_remainder=True)
    mnist_ds = mnist_ds.repeat(repeat_size)
    return mnist_ds


class LeNet5(nn.Cell):
    def __init__(self, num_class=10, num_channel=1):
        super(LeNet5, self).__init__()
        self.conv1 = nn.Conv2d(num_channel, 6, 5, pad_mode='valid')
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode='valid')
        self.fc1 = nn.Dense(16 * 5 * 5, 120, weight_init=Normal(0.02))
        self.fc2 = nn.Dense(120, 84, weight_init=Normal(0.02))
        self.fc3 = nn.Dense(84, num_class, weight_init=Normal(0.02))
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def test_quick_start_lenet_on_mnist_dataset(mnist_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
    mnist_path = str(mnist_dir)
    net = LeNet5()
    net_loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    net_opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    config_ck = CheckpointConfig(save_checkpoint_steps=1875, keep_checkpoint_max=10)
    ckpoint = ModelCheckpoint(prefix="checkpoint_lenet", config=config_ck)
    model = Model(net, net_loss, net_opt, metrics={"Accuracy": Accuracy()})

    ds_train = create_mnist_dataset(os.path.join(mnist_path, "train"), 32, 1)
    model.train(1, ds_train, callbacks=[ckpoint, LossMonitor(125)], dataset_sink_mode=False)

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 15 and all(re.fullmatch(rf"epoch: 1 step: {125 * (i + 1)}, loss is [\d.e-]+", line)
                                    for i, line in enumerate(lines))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_lenet-1_1875.ckpt"]

    fresh = LeNet5()
    param_dict = load_checkpoint("checkpoint_lenet-1_1875.ckpt")
    param_not_load, ckpt_not_load = load_param_into_net(fresh, param_dict)
    assert param_not_load == []                            # the rest is the optimizer's state, as in MindSpore
    assert set(ckpt_not_load) == {"global_step", "learning_rate", "momentum"} | {
        f"moments.{name}" for name, _ in fresh.parameters_and_names()}
    fresh_model = Model(fresh, net_loss, metrics={"Accuracy": Accuracy()})
    acc = fresh_model.eval(create_mnist_dataset(os.path.join(mnist_path, "test")), dataset_sink_mode=False)
    assert acc["Accuracy"] > 0.95, acc                     # one epoch of the quick start
    # a rebuilt pipeline replays the same epoch (each pass reshuffles and drops other remainder images)
    assert acc == model.eval(create_mnist_dataset(os.path.join(mnist_path, "test")), dataset_sink_mode=False)


# -- r1.7 "Save and Load": checkpoints of a network --------------------------------------------------------------
def test_save_and_load_a_checkpoint(tmp_path):
    net = LeNet5()
    save_checkpoint(net, str(tmp_path / "MyNet.ckpt"))
    other = LeNet5()
    param_dict = load_checkpoint(str(tmp_path / "MyNet.ckpt"))
    param_not_load, _ = load_param_into_net(other, param_dict)
    assert param_not_load == []
    for (name, a), (_, b) in zip(net.parameters_and_names(), other.parameters_and_names()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=name)


# -- LossMonitor: MindSpore's LossMonitor(per_print_times) and mindvision's LossMonitor(lr_init, per_print_times) ---
def test_loss_monitor_in_both_forms(capsys):
    np.random.seed(2)
    ms.set_seed(2)
    ds_train = create_dataset(num_data=64)                 # 4 batches per epoch
    net = LinearNet()
    model = Model(net, MAELoss(), nn.Momentum(net.trainable_params(), learning_rate=0.005, momentum=0.9))
    model.train(2, ds_train, callbacks=[LossMonitor(2)])
    mindspore_lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r"is [\d.e-]+", "is L", line) for line in mindspore_lines] == [
        "epoch: 1 step: 2, loss is L", "epoch: 1 step: 4, loss is L",
        "epoch: 2 step: 2, loss is L", "epoch: 2 step: 4, loss is L"]
    model.train(1, ds_train, callbacks=[LossMonitor(0.005, 4)])
    mindvision_lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Epoch:\[  0/  1\], step:\[    4/    4\], loss:\[[\d.]+/[\d.]+\], time:[\d.]+ ms, "
                        r"lr:0\.00500", mindvision_lines[0])
    assert mindvision_lines[1].startswith("Epoch time: ") and len(mindvision_lines) == 2
