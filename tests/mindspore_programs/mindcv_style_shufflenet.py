"""A mindcv-style model definition: a ShuffleNetV2 unit with positional ops.reshape/ops.transpose,
ops.cat and ops.mean, depthwise convolutions and batch norm; trained by a 2.x functional loop with
per-group weight decay, then run in eval mode."""
import json

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor

ms.set_context(mode=ms.GRAPH_MODE)
ms.set_seed(3)
rng = np.random.default_rng(3)  # weights and data independent of any framework's generator


def channel_shuffle(x, groups):
    batch_size, num_channels, height, width = x.shape
    x = ops.reshape(x, (batch_size, groups, num_channels // groups, height, width))
    x = ops.transpose(x, (0, 2, 1, 3, 4))
    return ops.reshape(x, (batch_size, num_channels, height, width))


class ShuffleUnit(nn.Cell):
    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch = nn.SequentialCell([
            nn.Conv2d(half, half, kernel_size=1, stride=1, pad_mode="pad", padding=0),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, kernel_size=3, stride=1, pad_mode="pad", padding=1, group=half),
            nn.BatchNorm2d(half),
            nn.Conv2d(half, half, kernel_size=1, stride=1, pad_mode="pad", padding=0),
            nn.BatchNorm2d(half),
            nn.ReLU(),
        ])

    def construct(self, x):
        left, right = ops.split(x, x.shape[1] // 2, axis=1)
        out = ops.cat((left, self.branch(right)), axis=1)
        return channel_shuffle(out, 2)


class TinyShuffleNet(nn.Cell):
    def __init__(self, num_classes=5):
        super().__init__()
        self.stem = nn.SequentialCell([nn.Conv2d(3, 16, 3, 2, pad_mode="pad", padding=1), nn.BatchNorm2d(16), nn.ReLU()])
        self.units = nn.SequentialCell([ShuffleUnit(16), ShuffleUnit(16)])
        self.classifier = nn.Dense(16, num_classes)

    def construct(self, x):
        x = self.units(self.stem(x))
        x = ops.mean(x, (2, 3))
        return self.classifier(x)


net = TinyShuffleNet()
for p in net.trainable_params():  # batch norm's gamma and beta keep their defaults, ones and zeros
    if p.name.endswith("weight"):
        p.set_data(Tensor(rng.normal(0, 0.2, p.shape).astype(np.float32)))
    elif p.name.endswith("bias"):
        p.set_data(Tensor(rng.uniform(-0.1, 0.1, p.shape).astype(np.float32)))
decayed = [p for p in net.trainable_params() if p.name.endswith("weight")]
others = [p for p in net.trainable_params() if not p.name.endswith("weight")]
group_params = [{"params": decayed, "weight_decay": 0.01}, {"params": others}]
optimizer = nn.Momentum(group_params, learning_rate=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
images = Tensor(rng.normal(size=(8, 3, 16, 16)).astype(np.float32))
labels = Tensor(rng.integers(0, 5, size=(8,)).astype(np.int32))


def forward_fn(x, y):
    return loss_fn(net(x), y)


grad_fn = ms.value_and_grad(forward_fn, None, optimizer.parameters)


@ms.jit
def train_step(x, y):
    loss, grads = grad_fn(x, y)
    optimizer(grads)
    return loss


net.set_train()
losses = [float(train_step(images, labels).asnumpy()) for _ in range(4)]
net.set_train(False)
logits = net(images).asnumpy()
moving_mean = net.stem[1].moving_mean.asnumpy()
print("RESULT", json.dumps({"losses": losses, "eval_logits": logits.round(5).tolist(),
                            "stem_moving_mean": moving_mean.round(6).tolist()}))
