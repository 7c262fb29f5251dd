"""Train steps of networks beyond LeNet, native against the reference interpreter: a residual
block with batch norm, a depthwise and a pointwise convolution, ReLU6, dropout, global average
pooling, batch norm on features and a Dense(activation=...) head, trained 5 steps with Momentum.
Every parameter and every piece of state (moving statistics, the dropout counter, the optimizer's
moments) must agree within 1e-4 relative to the tensor's magnitude
(max |native - interp| <= 1e-4 * max |interp|: elements near zero,
such as a bias whose gradient nearly cancels, carry only rounding), and 1 and 2 threads bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn


class ResidualDepthwise(nn.Cell):
    def __init__(self, channels=6, classes=5):
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, stride=2)
        self.bn0 = nn.BatchNorm2d(channels)
        self.depthwise = nn.Conv2d(channels, channels, 3, group=channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu6 = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(p=0.25)
        self.head = nn.Dense(channels, 16, has_bias=False)
        self.norm = nn.BatchNorm1d(16)
        self.hswish = nn.HSwish()
        self.fc = nn.Dense(16, classes, activation="gelu")

    def construct(self, x):
        y = self.relu6(self.bn0(self.stem(x)))
        y = y + self.bn2(self.pointwise(self.relu6(self.bn1(self.depthwise(y)))))
        y = self.drop(self.flatten(self.pool(y)))
        return self.fc(self.hswish(self.norm(self.head(y))))


def train(backend: str, threads: int, batch: int, steps: int = 5) -> dict[str, np.ndarray]:
    graphc.set_seed(5)
    graphc.set_context(mode=graphc.GRAPH_MODE, backend=backend, num_threads=threads)
    net = ResidualDepthwise()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), optimizer).set_train(True)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = rng.standard_normal((batch, 3, 11, 11)).astype(np.float32)
        y = rng.integers(0, 5, batch).astype(np.int32)
        step(Tensor(x), Tensor(y))
    state = {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}
    state.update({p.name: p.asnumpy().copy() for p in optimizer.moments})
    return state


@pytest.mark.parametrize("batch", [3, 8])
def test_residual_batchnorm_dropout_depthwise_step_matches_the_interpreter(batch):
    interp = train("interp", 1, batch)
    one, two = train("llvm", 1, batch), train("llvm", 2, batch)
    assert set(one) == set(interp) and {"bn1.moving_mean", "bn1.moving_variance", "drop.counter"} <= set(one)
    for name, want in interp.items():
        np.testing.assert_array_equal(one[name], two[name], err_msg=f"{name}: 1 and 2 threads disagree")
        if want.dtype.kind != "f":
            np.testing.assert_array_equal(one[name], want, err_msg=name)
            continue
        error = float(np.max(np.abs(one[name] - want)))
        assert error <= 1e-4 * float(np.max(np.abs(want))), f"{name}: max error {error:.3g}, max |value| " \
                                                             f"{np.max(np.abs(want)):.3g}"
    assert int(one["drop.counter"]) == 5
    assert not np.allclose(one["bn1.moving_mean"], 0.0)


def test_the_train_step_is_one_native_step():
    graphc.set_context(mode=graphc.GRAPH_MODE, backend="llvm")
    net = ResidualDepthwise()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    executable = step.set_train(True).compile(Tensor(np.zeros((4, 3, 11, 11), np.float32)),
                                              Tensor(np.zeros(4, np.int32)))
    assert type(executable).__name__ == "NativeExecutable"      # no interpreter fallback exists: all native
    nodes = [n for top in executable.graph.order() for n in
             (top.attrs["body"].order() if top.op == "fused" else [top])]
    # every update is in the step: parameter and moment per trainable, 2 moving statistics per batch
    # norm (4 of them), the dropout counter, the optimizer's global_step
    assert sum(n.op == "assign" for n in nodes) == 2 * len(net.trainable_params()) + 2 * 4 + 1 + 1
