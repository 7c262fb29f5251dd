"""An r1.x script's shape: LeNet-5 from primitives and layers, trained by Model with the r1.x loss,
Momentum, LossMonitor and a callback of its own, then evaluated; random images, so no download."""
import json

import numpy as np
import mindspore as ms
import mindspore.dataset as ds
import mindspore.dataset.transforms as C
from mindspore import nn, ops, Model, Tensor
from mindspore import dtype as mstype
from mindspore.common.initializer import Normal
from mindspore.train.callback import Callback, LossMonitor

ms.set_context(mode=ms.GRAPH_MODE)
ms.set_seed(1)
rng = np.random.default_rng(1)  # weights and data independent of any framework's generator


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
        self.reshape = ops.Reshape()

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class StepLoss(Callback):
    def __init__(self):
        super(StepLoss, self).__init__()
        self.losses = []

    def step_end(self, run_context):
        cb_params = run_context.original_args()
        self.losses.append(float(cb_params.net_outputs.asnumpy()))


def create_dataset(n, batch_size):
    x = rng.normal(size=(n, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=(n,)).astype(np.int64)
    data = ds.NumpySlicesDataset({"image": x, "label": y}, shuffle=False)
    data = data.map(operations=C.TypeCast(mstype.int32), input_columns="label")
    return data.batch(batch_size, drop_remainder=True)


net = LeNet5()
for p in net.get_parameters():
    p.set_data(Tensor(rng.normal(0, 0.1, p.shape).astype(np.float32)))
loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
model = Model(net, loss, opt, metrics={"Accuracy": nn.Accuracy()})
train_set, eval_set = create_dataset(64, 16), create_dataset(32, 16)
recorder = StepLoss()
model.train(2, train_set, callbacks=[recorder, LossMonitor(2)], dataset_sink_mode=False)
metrics = model.eval(eval_set, dataset_sink_mode=False)
print("RESULT", json.dumps({"losses": recorder.losses, "accuracy": metrics["Accuracy"]}))
