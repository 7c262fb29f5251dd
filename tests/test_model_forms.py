"""Model's other forms (MindSpore 2.10): Model(train_net), amp_level and boost_level, loss-scale
managers, and nn.TrainOneStepWithLossScaleCell, in both modes.

Expected numbers come from identities checked on MindSpore 2.10 (Model(train_net) trains as
Model(net, loss_fn, optimizer); FixedLossScaleManager(s, drop_overflow_update=False) multiplies the
gradients by s, which an optimizer with loss_scale=s divides back) and from the loss-scale rule
of MindSpore's DynamicLossScaleUpdateCell, written out below."""
import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor, nn, ops
from graphc.nn.loss_scale import (DynamicLossScaleManager, DynamicLossScaleUpdateCell, FixedLossScaleManager,
                                  FixedLossScaleUpdateCell)
from runtime import Model
from runtime.callbacks import LossMonitor
from runtime.dataset import NumpySlicesDataset
from runtime.metrics import Loss

RNG = np.random.default_rng(3)
X = RNG.standard_normal((8, 3)).astype(np.float32)
Y = RNG.standard_normal((8, 1)).astype(np.float32)
W0 = RNG.standard_normal((1, 3)).astype(np.float32)


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


class Linear(nn.Cell):
    def __init__(self):
        super().__init__()
        self.weight = Parameter(W0.copy(), name="weight")

    def construct(self, x):
        return ops.reduce_sum(x * self.weight, axis=1, keep_dims=True)


def data():
    return NumpySlicesDataset({"x": X, "y": Y}, shuffle=False).batch(4)


def trained(lr=0.1, optimizer_loss_scale=1.0, **model_args):
    """The weight after one epoch of Model(net, MSELoss, SGD, **model_args).train."""
    net = Linear()
    optimizer = nn.SGD(net.trainable_params(), learning_rate=lr, loss_scale=optimizer_loss_scale)
    Model(net, nn.MSELoss(), optimizer, **model_args).train(1, data())
    return net.weight.asnumpy()


def sgd_reference(lr=0.1, steps=((0, 4), (4, 8))):
    """MSE of x @ w.T against y, plain SGD, in float64."""
    w = W0.astype(np.float64)
    for start, end in steps:
        x, y = X[start:end].astype(np.float64), Y[start:end].astype(np.float64)
        residual = x @ w.T - y
        w = w - lr * 2 * (residual * x).mean(0, keepdims=True)
    return w


# -- Model(train_net) -----------------------------------------------------------------------------------
class UserTrainStep(nn.Cell):
    """A network that returns its loss and updates itself, as users build one."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()),
                                        nn.SGD(net.trainable_params(), learning_rate=0.1))

    def construct(self, x, y):
        return self.step(x, y)


class EvalNet(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net, self.loss = net, nn.MSELoss()

    def construct(self, x, y):
        out = self.net(x)
        return self.loss(out, y), out, y


def test_model_of_a_train_network_calls_it_per_batch(mode):
    net = Linear()
    model = Model(UserTrainStep(net), eval_network=EvalNet(net), eval_indexes=[0, 1, 2], metrics={"loss": Loss()})
    model.train(1, data())
    np.testing.assert_allclose(net.weight.asnumpy(), sgd_reference(), rtol=1e-5)
    np.testing.assert_allclose(trained(), sgd_reference(), rtol=1e-5)          # as Model(net, loss_fn, optimizer)
    w = net.weight.asnumpy().astype(np.float64)
    mse = [np.mean((X[i:i + 4] @ w.T - Y[i:i + 4]) ** 2) for i in (0, 4)]
    assert model.eval(data())["loss"] == pytest.approx(np.mean(mse), rel=1e-5)


def test_model_of_a_train_network_needs_an_eval_network_for_metrics():
    with pytest.raises(GraphcError, match="metrics need an eval_network, or a loss_fn"):
        Model(UserTrainStep(Linear()), metrics={"loss"})


def test_a_loss_without_an_optimizer_is_refused_at_train():
    model = Model(Linear(), nn.MSELoss())
    with pytest.raises(ValueError, match="needs an optimizer.*nothing is trained"):
        model.train(1, data())


# -- amp_level, boost_level and Model's keywords ---------------------------------------------------------------
def test_amp_level_o0_trains_in_float32_and_o4_and_auto_are_refused():
    """O1 to O3: tests/test_amp.py."""
    np.testing.assert_allclose(trained(amp_level="O0", boost_level="O0", keep_batchnorm_fp32=False),
                               sgd_reference(), rtol=1e-5)
    with pytest.raises(GraphcError, match=r"test_model_forms.py:\d+: Model: amp_level='auto' .* is not supported; "
                                          r"use 'O1', 'O2' or 'O3'"):
        trained(amp_level="auto")
    with pytest.raises(GraphcError, match="The amp level O4 is not supported; amp_level must be one of O0, O1"):
        trained(amp_level="O4")


def test_boost_levels_and_unknown_keywords_are_refused():
    with pytest.raises(GraphcError, match="boost_level='O1' is not supported: MindSpore's boost mode"):
        trained(boost_level="O1")
    with pytest.raises(GraphcError, match="boost_level='O2' is not supported"):
        trained(acc_level="O2")                      # boost_level's old name
    with pytest.raises(GraphcError, match="boost_level='O3' is not valid; it must be one of O0, O1, O2"):
        trained(boost_level="O3")
    with pytest.raises(GraphcError, match="unknown argument.*foo; Model takes loss_scale_manager"):
        trained(foo=1)
    with pytest.raises(GraphcError, match="loss_scale_manager needs an optimizer"):
        Model(Linear(), nn.MSELoss(), loss_scale_manager=FixedLossScaleManager())
    with pytest.raises(GraphcError, match="loss_scale must be a number >= 1"):
        FixedLossScaleManager(0.5)


# -- loss-scale managers -----------------------------------------------------------------------------------------
def test_fixed_scale_without_overflow_checks_is_a_sens_the_optimizer_divides(mode):
    manager = FixedLossScaleManager(128.0, drop_overflow_update=False)
    np.testing.assert_allclose(trained(loss_scale_manager=manager, optimizer_loss_scale=128.0), sgd_reference(),
                               rtol=1e-5)
    # as in MindSpore, an optimizer without the same loss_scale trains on 128 times the gradients
    np.testing.assert_allclose(trained(loss_scale_manager=manager), sgd_reference(lr=12.8), rtol=1e-5)


@pytest.mark.parametrize("manager", [FixedLossScaleManager(1024.0), DynamicLossScaleManager()],
                         ids=["fixed", "dynamic"])
def test_managers_with_overflow_checks_divide_the_scale_back(mode, manager, capsys):
    net = Linear()
    model = Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), learning_rate=0.1), loss_scale_manager=manager)
    assert isinstance(model.train_network, nn.TrainOneStepWithLossScaleCell)
    model.train(1, data(), callbacks=[LossMonitor()])
    np.testing.assert_allclose(net.weight.asnumpy(), sgd_reference(), rtol=1e-5)
    first_loss = np.mean((X[:4].astype(np.float64) @ W0.T.astype(np.float64) - Y[:4]) ** 2)
    assert f"epoch: 1 step: 1, loss is {first_loss:.5f}"[:-1] in capsys.readouterr().out


def dynamic_scale_reference(scale, overflows, factor=2.0, window=2):
    """MindSpore's DynamicLossScaleUpdateCell, step by step: the scale each step starts with."""
    scales, cur_iter, last = [], 1, 0
    for overflow in overflows:
        scales.append(scale)
        window_done = cur_iter - last >= window
        scale = max(scale / factor, 1.0) if overflow else scale
        if overflow or window_done:
            last = cur_iter
        if window_done and not overflow:
            scale *= factor
        cur_iter += 1
    return scales + [scale]


def test_an_overflow_skips_the_whole_update_and_the_scale_follows_mindspore_s_rule(mode):
    net = Linear()
    optimizer = nn.Momentum(net.trainable_params(), 0.1, 0.9)
    step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()), optimizer,
                                            DynamicLossScaleUpdateCell(8.0, 2, 2))
    overflows = [False, True, True, False, False, False]
    expected_scales = dynamic_scale_reference(8.0, overflows)
    unscaled = Linear()            # trained by the plain step on the steps without an overflow
    reference = nn.TrainOneStepCell(nn.WithLossCell(unscaled, nn.MSELoss()),
                                    nn.Momentum(unscaled.trainable_params(), 0.1, 0.9))
    for i, overflow in enumerate(overflows):
        x = X[:4].copy()
        if overflow:
            x[0, 0] = np.inf if i == 1 else np.nan
        before = [p.asnumpy().copy() for p in optimizer.get_parameters()]
        loss, flagged, scale = step(Tensor(x), Tensor(Y[:4]))
        assert bool(flagged.asnumpy()) == overflow
        assert float(scale.asnumpy()) == expected_scales[i]
        if overflow:     # weights, moments and the step counter unchanged
            for old, param in zip(before, optimizer.get_parameters()):
                np.testing.assert_array_equal(param.asnumpy(), old, err_msg=param.name)
        else:
            expected_loss = reference(Tensor(x), Tensor(Y[:4]))
            assert float(loss.asnumpy()) == pytest.approx(float(expected_loss.asnumpy()), rel=1e-6)
            np.testing.assert_allclose(net.weight.asnumpy(), unscaled.weight.asnumpy(), rtol=1e-6)
    assert float(step.scale_sense.asnumpy()) == expected_scales[-1]
    assert optimizer.steps_taken == overflows.count(False)


def test_a_fixed_scale_tensor_and_the_host_side_managers():
    net = Linear()
    step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()),
                                            nn.SGD(net.trainable_params(), learning_rate=0.1),
                                            Tensor(np.array([64.0], np.float32)))
    loss, overflow, scale = step(Tensor(X[:4]), Tensor(Y[:4]))
    assert not bool(overflow.asnumpy()) and scale.asnumpy().tolist() == [64.0]
    np.testing.assert_allclose(net.weight.asnumpy(), sgd_reference(steps=((0, 4),)), rtol=1e-5)
    assert FixedLossScaleManager(8.0).get_update_cell().get_loss_scale() == 8.0
    assert isinstance(FixedLossScaleManager(8.0).get_update_cell(), FixedLossScaleUpdateCell)
    assert FixedLossScaleManager(8.0, drop_overflow_update=False).get_update_cell() is None
    manager = DynamicLossScaleManager(8.0, 2, 2)
    overflows = [False, True, True, False, False, False]
    for overflow in overflows:
        manager.update_loss_scale(overflow)
    assert manager.get_loss_scale() == dynamic_scale_reference(8.0, overflows)[-1]
    with pytest.raises(GraphcError, match="scale_sense must be an update cell .* or a Tensor of shape"):
        nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()),
                                         nn.SGD(net.trainable_params()), Tensor(np.ones(2, np.float32)))
