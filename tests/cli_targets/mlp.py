"""CLI test targets: a two-layer perceptron in every form a TARGET can take, a training step, and
objects a TARGET must not name."""
import numpy as np

import graphc
from graphc import nn, ops


def _weight(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


class MLP(nn.Cell):
    """[N, 8] -> [N, 4]: matmul(8x16) + bias, relu, matmul(16x4) + bias."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.w1 = graphc.Parameter(_weight(rng, (8, 16)), name="fc1.weight")
        self.b1 = graphc.Parameter(np.zeros(16, np.float32), name="fc1.bias")
        self.w2 = graphc.Parameter(_weight(rng, (16, 4)), name="fc2.weight")
        self.b2 = graphc.Parameter(np.zeros(4, np.float32), name="fc2.bias")

    def construct(self, x):
        hidden = ops.relu(ops.matmul(x, self.w1) + self.b1)
        return ops.matmul(hidden, self.w2) + self.b2


class SGDStep(nn.Cell):
    """One training step in one graph: squared-error loss, its gradients, w <- w - 0.1 * grad."""

    def __init__(self):
        super().__init__()
        self.net = MLP()

    def loss(self, x, target):
        error = self.net(x) - target
        return ops.reduce_mean(error * error)

    def construct(self, x, target):
        weights = self.net.trainable_params()
        loss, grads = graphc.value_and_grad(self.loss, None, weights)(x, target)
        for weight, grad in zip(weights, grads):
            ops.assign(weight, weight - 0.1 * grad)
        return loss


net = MLP()
step = SGDStep()


def mlp():
    return MLP()


@graphc.jit
def affine(x, w):
    return ops.matmul(x, w) + 1.0


def scale_add(x, y):
    return x * 2.0 + y


def pick(logits, labels):
    """Mixes an f32 and an i32 input."""
    return ops.reduce_sum(logits * ops.one_hot(labels, 4, 1.0, 0.0))


def bad_shapes(x):
    return ops.matmul(x, x)


class NeedsWidth(nn.Cell):
    def __init__(self, width):
        super().__init__()
        self.width = width


def forty_two():
    return 42


answer = 42
