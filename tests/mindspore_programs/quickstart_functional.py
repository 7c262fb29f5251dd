"""The 2.x quick start's shape: a Dense network, a functional training loop with value_and_grad,
and a test loop; on synthetic digits so that it needs no download."""
import json

import numpy as np
import mindspore
from mindspore import nn, ops
from mindspore.dataset import GeneratorDataset, transforms

mindspore.set_seed(7)
rng = np.random.default_rng(7)  # weights and data independent of any framework's generator
images = rng.integers(0, 256, size=(96, 28, 28, 1)).astype(np.uint8)
labels = (images.reshape(96, -1).mean(axis=1) > 127).astype(np.int32)


def datapipe(batch_size):
    dataset = GeneratorDataset(list(zip(images, labels)), column_names=["image", "label"], shuffle=False)
    dataset = dataset.map(transforms.TypeCast(mindspore.float32), "image")
    dataset = dataset.map(lambda x: x.reshape(-1) / 255.0, "image")
    dataset = dataset.map(transforms.TypeCast(mindspore.int32), "label")
    return dataset.batch(batch_size)


class Network(nn.Cell):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.dense_relu_sequential = nn.SequentialCell(
            nn.Dense(28 * 28, 64), nn.ReLU(), nn.Dense(64, 64), nn.ReLU(), nn.Dense(64, 2))

    def construct(self, x):
        x = self.flatten(x)
        return self.dense_relu_sequential(x)


model = Network()
for param in model.trainable_params():  # the same initial weights in every framework
    param.set_data(mindspore.Tensor(rng.uniform(-0.1, 0.1, param.shape).astype(np.float32)))
loss_fn = nn.CrossEntropyLoss()
optimizer = nn.SGD(model.trainable_params(), 1e-1)


def forward_fn(data, label):
    logits = model(data)
    loss = loss_fn(logits, label)
    return loss, logits


grad_fn = mindspore.value_and_grad(forward_fn, None, optimizer.parameters, has_aux=True)


def train_step(data, label):
    (loss, _), grads = grad_fn(data, label)
    optimizer(grads)
    return loss


losses = []
for epoch in range(2):
    model.set_train()
    for data, label in datapipe(16).create_tuple_iterator():
        losses.append(float(train_step(data, label).asnumpy()))

model.set_train(False)
correct, total = 0, 0
for data, label in datapipe(32).create_tuple_iterator():
    pred = model(data)
    correct += int((pred.argmax(1) == label).asnumpy().sum())
    total += len(data)
print("RESULT", json.dumps({"losses": losses, "accuracy": correct / total}))
