"""CLI test targets: a recurrent cell whose steps are one scan node (docs/ir.md, "Control flow"), and a
training step through it."""
import numpy as np

import graphc
from graphc import nn, ops
from graphc.control_flow import scan


class RNN(nn.Cell):
    """h [N, 3], xs [T, N, 3] -> (the last h, every step's h * 2): h = tanh(h @ w + x) per step."""

    def __init__(self):
        super().__init__()
        self.w = graphc.Parameter(np.eye(3, dtype=np.float32) * 0.5, name="rnn.w")

    def construct(self, h, xs):
        def step(h, x):
            h = ops.tanh(ops.matmul(h, self.w) + x)
            return h, h * 2.0
        return scan(step, h, xs)


class RNNStep(nn.Cell):
    """One training step: the mean square of the ys, its gradient (a reverse scan), w <- w - 0.1 * grad."""

    def __init__(self):
        super().__init__()
        self.net = RNN()

    def loss(self, h, xs):
        _, ys = self.net(h, xs)
        return ops.reduce_mean(ys * ys)

    def construct(self, h, xs):
        loss, (grad,) = graphc.value_and_grad(self.loss, None, [self.net.w])(h, xs)
        ops.assign(self.net.w, self.net.w - 0.1 * grad)
        return loss


net = RNN()
step = RNNStep()
