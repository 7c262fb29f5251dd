"""The benchmark's NumPy LeNet step computes the same step as graphc (so its timings compare)."""
import sys

import numpy as np

import graphc
from conftest import REPO
from graphc import nn
from graphc.models import lenet

sys.path.insert(0, str(REPO / "benchmarks"))
import numpy_lenet  # noqa: E402


def test_numpy_step_matches_graphc_on_the_interpreter():
    graphc.set_context(backend="interp")
    rng = np.random.default_rng(3)
    images = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 4).astype(np.int32)
    graphc.set_seed(5)
    net = lenet(num_classes=10)
    params = {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}
    moments = {name: np.zeros_like(v) for name, v in params.items()}
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9))
    for _ in range(2):
        expected = numpy_lenet.train_step(params, moments, images, labels)
        assert np.isclose(float(step(images, labels).asnumpy()), expected, rtol=1e-5)
    for name, p in net.parameters_and_names():
        np.testing.assert_allclose(p.asnumpy(), params[name], rtol=1e-4, atol=1e-6, err_msg=name)
