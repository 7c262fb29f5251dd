"""BatchNorm1d / BatchNorm2d against their formulas, written here in NumPy float64 (MindSpore 2.10's
semantics, research notes §1.12): batch statistics with the biased variance in training, moving
statistics updated with the unbiased one, moving statistics in eval; MindSpore's parameter names;
gradients against finite differences; the errors."""
import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.errors import ArgumentError, GraphcError

from gradcheck import check_vjp


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def random(*shape, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(np.float32)


def reference_train(x, gamma, beta, moving_mean, moving_var, eps, momentum):
    """y and the new moving statistics, float64."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x = x.astype(np.float64)
    mean, biased = x.mean(axis=axes), x.var(axis=axes)
    unbiased = x.var(axis=axes, ddof=1)
    y = (x - mean.reshape(shape)) / np.sqrt(biased.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
    return y, momentum * moving_mean + (1 - momentum) * mean, momentum * moving_var + (1 - momentum) * unbiased


def reference_eval(x, gamma, beta, moving_mean, moving_var, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - moving_mean.reshape(shape)) / np.sqrt(moving_var.reshape(shape) + eps) * gamma.reshape(shape) \
        + beta.reshape(shape)


def with_statistics(layer, seed=1):
    """Give the layer non-trivial gamma, beta and moving statistics; return them (float64)."""
    c = layer.num_features
    values = [random(c, seed=seed), random(c, seed=seed + 1), random(c, seed=seed + 2),
              np.abs(random(c, seed=seed + 3)) + 0.5]
    for param, value in zip((layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance), values):
        param.set_data(value)
    return [v.astype(np.float64) for v in values]


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm2d, (4, 3, 5, 6)), (nn.BatchNorm1d, (7, 5))],
                         ids=["2d", "1d"])
def test_training_normalises_with_batch_statistics_and_updates_moving_ones(mode, layer, shape):
    bn = layer(shape[1], eps=1e-3, momentum=0.8)
    gamma, beta, mean0, var0 = with_statistics(bn)
    x = random(*shape, scale=2.0, shift=0.7)
    bn.set_train(True)
    y = bn(Tensor(x)).asnumpy()
    want, mean1, var1 = reference_train(x, gamma, beta, mean0, var0, 1e-3, 0.8)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), mean1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), var1, rtol=1e-5)
    # the biased variance would give a different moving variance: the test can tell them apart
    biased = 0.8 * var0 + 0.2 * x.astype(np.float64).var(axis=(0,) + tuple(range(2, x.ndim)))
    assert np.max(np.abs(biased - var1)) > 1e-3


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm2d, (2, 3, 4, 4)), (nn.BatchNorm1d, (3, 4))], ids=["2d", "1d"])
def test_eval_uses_moving_statistics_and_leaves_them(mode, layer, shape):
    bn = layer(shape[1])
    gamma, beta, mean, var = with_statistics(bn)
    x = random(*shape, seed=5)
    bn.set_train(False)
    np.testing.assert_allclose(bn(Tensor(x)).asnumpy(), reference_eval(x, gamma, beta, mean, var, 1e-5),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.asnumpy(), mean.astype(np.float32))


def test_use_batch_statistics_overrides_the_mode(mode):
    bn = nn.BatchNorm2d(2, use_batch_statistics=True)
    gamma, beta, mean0, var0 = with_statistics(bn)
    x = random(3, 2, 4, 4, seed=3)
    bn.set_train(False)
    want, mean1, _ = reference_train(x, gamma, beta, mean0, var0, 1e-5, 0.9)
    np.testing.assert_allclose(bn(Tensor(x)).asnumpy(), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), mean1, rtol=1e-5, atol=1e-6)


def test_a_compiled_network_follows_set_train():
    graphc.set_context(mode=graphc.GRAPH_MODE)
    bn = nn.BatchNorm2d(2)
    gamma, beta, mean, var = with_statistics(bn)
    x = Tensor(random(3, 2, 4, 4, seed=4))
    bn.set_train(True)
    train = bn(x).asnumpy()
    bn.set_train(False)
    np.testing.assert_allclose(bn(x).asnumpy(), reference_eval(x.asnumpy(), gamma, beta, *[
        p.asnumpy().astype(np.float64) for p in (bn.moving_mean, bn.moving_variance)], 1e-5), rtol=1e-5, atol=1e-6)
    bn.set_train(True)
    assert not np.allclose(bn(x).asnumpy(), bn.set_train(False)(x).asnumpy())
    assert train.shape == x.shape


def test_parameters_follow_mindspore_names_and_trainability():
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(4)

        def construct(self, x):
            return self.bn1(x)

    net = Net()
    names = {name: p.requires_grad for name, p in net.parameters_and_names()}
    assert names == {"bn1.gamma": True, "bn1.beta": True, "bn1.moving_mean": False, "bn1.moving_variance": False}
    assert [p.name for p in net.trainable_params()] == ["bn1.gamma", "bn1.beta"]
    np.testing.assert_array_equal(net.bn1.moving_variance.asnumpy(), np.ones(4, np.float32))
    assert not any(p.requires_grad for p in nn.BatchNorm1d(3, affine=False).get_parameters())


@pytest.mark.parametrize("shape", [(3, 2, 3, 3), (5, 3)])
def test_training_gradient_matches_finite_differences(shape):
    bn = nn.BatchNorm2d(shape[1]) if len(shape) == 4 else nn.BatchNorm1d(shape[1])
    bn.set_train(True)
    weights = np.random.default_rng(7).standard_normal(shape)

    def loss(x, gamma, beta):
        mean = ops.reduce_mean(x, axis=(0,) + tuple(range(2, len(shape))), keep_dims=True)
        centered = x - mean
        var = ops.reduce_mean(centered * centered, axis=(0,) + tuple(range(2, len(shape))), keep_dims=True)
        per_channel = (1, shape[1]) + (1,) * (len(shape) - 2)
        y = centered * ops.rsqrt(var + 1e-5) * ops.reshape(gamma, shape=per_channel) + \
            ops.reshape(beta, shape=per_channel)
        return y * Tensor(weights)

    rng = np.random.default_rng(8)
    check_vjp(loss, [rng.standard_normal(shape), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])], rng)
    # the layer computes this same function: compare its float32 output with the float64 one above
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(bn(Tensor(x)).asnumpy(), loss(Tensor(x.astype(np.float64)), Tensor(np.ones(shape[1])),
                                                            Tensor(np.zeros(shape[1]))).asnumpy() / weights,
                               rtol=1e-4, atol=1e-4)


# -- bad input -------------------------------------------------------------------------------------------------
def test_num_features_mismatch_names_layer_shapes_and_fix(mode):
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.bn = nn.BatchNorm2d(16)

        def construct(self, x):
            return self.bn(self.conv(x))

    with pytest.raises(GraphcError) as caught:
        Net().set_train(True)(Tensor(random(2, 3, 6, 6)))
    message = str(caught.value)
    for fragment in ("test_batchnorm.py:", "bn (BatchNorm2d)", "f32[2,8,6,6]", "C = num_features = 16",
                     "BatchNorm2d(8)"):
        assert fragment in message, message


def test_wrong_rank_and_batch_of_one_are_clear_errors():
    with pytest.raises(GraphcError, match=r"f32\[2,3,4,4\]; BatchNorm1d normalises rank-2 inputs"):
        nn.BatchNorm1d(3)(Tensor(random(2, 3, 4, 4)))
    with pytest.raises(GraphcError, match="at least 2 values per channel"):
        nn.BatchNorm1d(3).set_train(True)(Tensor(random(1, 3)))


@pytest.mark.parametrize("kwargs, message", [({"num_features": 0}, "num_features must be a positive int"),
                                             ({"num_features": 4, "momentum": 1.5}, "momentum must be in"),
                                             ({"num_features": 4, "eps": 0}, "eps must be a number > 0")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        nn.BatchNorm2d(**kwargs)


def test_a_trained_checkpoint_loads_back_and_missing_moving_statistics_are_reported(tmp_path):
    import runtime

    graphc.set_context(mode=graphc.GRAPH_MODE)

    def make():
        graphc.set_seed(2)
        return nn.SequentialCell([nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                  nn.Dense(4 * 5 * 5, 3)])

    net = make()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    step.set_train(True)
    for seed in range(3):
        step(Tensor(random(6, 3, 5, 5, seed=seed)), Tensor(np.arange(6, dtype=np.int32) % 3))
    path = str(tmp_path / "bn.ckpt")
    runtime.save_checkpoint(net, path)
    loaded = make()
    runtime.load_param_into_net(loaded, runtime.load_checkpoint(path), strict_load=True)
    x = Tensor(random(2, 3, 5, 5, seed=9))
    np.testing.assert_array_equal(loaded.set_train(False)(x).asnumpy(), net.set_train(False)(x).asnumpy())
    assert not np.allclose(net[1].moving_mean.asnumpy(), 0.0)

    partial = {k: v for k, v in runtime.load_checkpoint(path).items() if "moving" not in k}
    fresh = make()
    assert runtime.load_param_into_net(fresh, partial, strict_load=True) == (['1.moving_mean', '1.moving_variance'],
                                                                             [])
    np.testing.assert_array_equal(fresh[1].moving_mean.asnumpy(), 0.0)       # its own statistics, as in MindSpore
    np.testing.assert_array_equal(fresh[0].weight.asnumpy(), net[0].weight.asnumpy())
