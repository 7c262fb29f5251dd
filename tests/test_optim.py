"""Optimizers and learning-rate schedules.

Each optimizer runs 3 steps on fixed gradients, in GRAPH_MODE (one compiled update graph) and in
PYNATIVE_MODE (eager ops), and is compared with its update rule written out below in float64 NumPy
from MindSpore's documented formulas. Schedule values come from MindSpore's documented examples.
"""
import math
from collections import Counter

import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor, nn, ops
from graphc.jit import trace

RNG = np.random.default_rng(7)
# 'bn.gamma' and 'bn.beta' are skipped by the default weight decay (their names say so).
NAMES = ("fc.weight", "bn.gamma", "bn.beta")
INITIAL = [RNG.standard_normal((3, 2)).astype(np.float32), RNG.uniform(0.5, 1.5, 2).astype(np.float32),
           RNG.standard_normal(2).astype(np.float32)]
GRADS = [[RNG.standard_normal(p.shape).astype(np.float32) for p in INITIAL] for _ in range(3)]
DECAYED = (True, False, False)


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def fresh_params():
    return [Parameter(value.copy(), name=name) for name, value in zip(NAMES, INITIAL)]


def train(make_optimizer, steps=3):
    """Run `steps` optimizer steps on GRADS; the final parameter values and the optimizer."""
    params = fresh_params()
    optimizer = make_optimizer(params)
    for grads in GRADS[:steps]:
        optimizer(tuple(Tensor(g) for g in grads))
    return [p.asnumpy() for p in params], optimizer


def constant(rate):
    return lambda step, index: rate


def l2(weight_decay, every_parameter=False):
    """Per-parameter weight decay: by default only where the name has no 'beta'/'gamma'."""
    return [weight_decay if every_parameter or decayed else 0.0 for decayed in DECAYED]


def assert_close(actual, expected):
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=2e-5, atol=1e-6)


# -- the update rules, written out -------------------------------------------------------------------
def gradients(step, params, decays, loss_scale):
    """g / loss_scale + decay * p; a decay may be a function of the step (a weight_decay Cell)."""
    return [g.astype(np.float64) / loss_scale + (d(step) if callable(d) else d) * p
            for g, p, d in zip(GRADS[step], params, decays)]


def momentum_reference(lr, u, decays=(0, 0, 0), loss_scale=1.0, nesterov=False, steps=3):
    params = [p.astype(np.float64) for p in INITIAL]
    velocity = [np.zeros_like(p) for p in params]
    for t in range(steps):
        for i, g in enumerate(gradients(t, params, decays, loss_scale)):
            velocity[i] = u * velocity[i] + g
            params[i] = params[i] - lr(t, i) * (g + u * velocity[i] if nesterov else velocity[i])
    return params


def sgd_reference(lr, u, dampening=0.0, decays=(0, 0, 0), loss_scale=1.0, nesterov=False):
    params = [p.astype(np.float64) for p in INITIAL]
    accum = [np.zeros_like(p) for p in params]
    for t in range(3):
        for i, g in enumerate(gradients(t, params, decays, loss_scale)):
            if u > 0:
                accum[i] = g if t == 0 else u * accum[i] + (1 - dampening) * g
                g = g + u * accum[i] if nesterov else accum[i]
            params[i] = params[i] - lr(t, i) * g
    return params


def adam_reference(lr, b1, b2, eps, decays=(0, 0, 0), loss_scale=1.0, nesterov=False):
    params = [p.astype(np.float64) for p in INITIAL]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(3):
        correction = math.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
        for i, g in enumerate(gradients(t, params, decays, loss_scale)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            direction = b1 * m[i] + (1 - b1) * g if nesterov else m[i]
            params[i] = params[i] - lr(t, i) * correction * direction / (np.sqrt(v[i]) + eps)
    return params


def adam_weight_decay_reference(lr, b1, b2, eps, decays):
    params = [p.astype(np.float64) for p in INITIAL]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(3):
        for i, g in enumerate(gradients(t, params, (0, 0, 0), 1.0)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            decay = decays[i](t) if callable(decays[i]) else decays[i]
            params[i] = params[i] - lr * (m[i] / (np.sqrt(v[i]) + eps) + decay * params[i])
    return params


def adagrad_reference(lr, accum, decays=(0, 0, 0), loss_scale=1.0):
    params = [p.astype(np.float64) for p in INITIAL]
    squares = [np.full_like(p, accum) for p in params]
    for t in range(3):
        for i, g in enumerate(gradients(t, params, decays, loss_scale)):
            squares[i] = squares[i] + g * g
            params[i] = params[i] - lr * g / np.sqrt(squares[i])
    return params


def rmsprop_reference(lr, decay, u, eps, centered=False, decays=(0, 0, 0), loss_scale=1.0):
    params = [p.astype(np.float64) for p in INITIAL]
    mean_square = [np.ones_like(p) for p in params]
    mean_grad = [np.zeros_like(p) for p in params]
    moment = [np.zeros_like(p) for p in params]
    for t in range(3):
        for i, g in enumerate(gradients(t, params, decays, loss_scale)):
            mean_square[i] = decay * mean_square[i] + (1 - decay) * g * g
            mean_grad[i] = decay * mean_grad[i] + (1 - decay) * g
            variance = mean_square[i] - mean_grad[i] ** 2 if centered else mean_square[i]
            moment[i] = u * moment[i] + lr * g / np.sqrt(variance + eps)
            params[i] = params[i] - moment[i]
    return params


# -- each optimizer against its rule ---------------------------------------------------------------------
@pytest.mark.parametrize("nesterov, weight_decay, loss_scale", [(False, 0.0, 1.0), (True, 0.1, 4.0)])
def test_momentum(mode, nesterov, weight_decay, loss_scale):
    actual, _ = train(lambda p: nn.Momentum(p, learning_rate=0.1, momentum=0.9, weight_decay=weight_decay,
                                            loss_scale=loss_scale, use_nesterov=nesterov))
    assert_close(actual, momentum_reference(constant(0.1), 0.9, l2(weight_decay), loss_scale, nesterov))


@pytest.mark.parametrize("momentum, dampening, nesterov, weight_decay, loss_scale", [
    (0.0, 0.0, False, 0.0, 1.0), (0.9, 0.3, False, 0.1, 2.0), (0.9, 0.0, True, 0.0, 1.0)])
def test_sgd(mode, momentum, dampening, nesterov, weight_decay, loss_scale):
    actual, _ = train(lambda p: nn.SGD(p, learning_rate=0.1, momentum=momentum, dampening=dampening,
                                       weight_decay=weight_decay, nesterov=nesterov, loss_scale=loss_scale))
    # MindSpore 2.x's SGD decays as the others do: not 'beta' and 'gamma' (r1.x's kernel decayed them too)
    assert_close(actual, sgd_reference(constant(0.1), momentum, dampening, l2(weight_decay), loss_scale, nesterov))


@pytest.mark.parametrize("nesterov, weight_decay, loss_scale", [(False, 0.0, 1.0), (True, 0.05, 8.0)])
def test_adam(mode, nesterov, weight_decay, loss_scale):
    actual, _ = train(lambda p: nn.Adam(p, learning_rate=0.01, beta1=0.8, beta2=0.95, eps=1e-6,
                                        use_nesterov=nesterov, weight_decay=weight_decay, loss_scale=loss_scale))
    assert_close(actual, adam_reference(constant(0.01), 0.8, 0.95, 1e-6, l2(weight_decay), loss_scale, nesterov))


def test_adam_weight_decay_is_decoupled_and_skips_beta_gamma(mode):
    actual, _ = train(lambda p: nn.AdamWeightDecay(p, learning_rate=0.01, beta1=0.8, beta2=0.95, weight_decay=0.3))
    assert_close(actual, adam_weight_decay_reference(0.01, 0.8, 0.95, 1e-6, l2(0.3)))


@pytest.mark.parametrize("weight_decay, loss_scale", [(0.0, 1.0), (0.1, 2.0)])
def test_adagrad(mode, weight_decay, loss_scale):
    actual, _ = train(lambda p: nn.Adagrad(p, accum=0.2, learning_rate=0.05, weight_decay=weight_decay,
                                           loss_scale=loss_scale))
    assert_close(actual, adagrad_reference(0.05, 0.2, l2(weight_decay), loss_scale))


@pytest.mark.parametrize("centered, momentum, weight_decay, loss_scale", [(False, 0.0, 0.0, 1.0),
                                                                          (True, 0.5, 0.1, 2.0)])
def test_rmsprop(mode, centered, momentum, weight_decay, loss_scale):
    actual, _ = train(lambda p: nn.RMSProp(p, learning_rate=0.01, decay=0.8, momentum=momentum, epsilon=1e-6,
                                           centered=centered, weight_decay=weight_decay, loss_scale=loss_scale))
    assert_close(actual, rmsprop_reference(0.01, 0.8, momentum, 1e-6, centered, l2(weight_decay), loss_scale))


# -- learning rates ---------------------------------------------------------------------------------
@pytest.mark.parametrize("as_tensor", [False, True])
def test_per_step_learning_rate_list(mode, as_tensor):
    rates = [0.1, 0.05, 0.01]
    given = Tensor(np.array(rates, np.float32)) if as_tensor else rates
    actual, optimizer = train(lambda p: nn.Momentum(p, learning_rate=given, momentum=0.9))
    assert_close(actual, momentum_reference(lambda step, index: rates[step], 0.9))
    assert optimizer.global_step.asnumpy().tolist() == [3]
    assert optimizer.get_lr_value() == pytest.approx(0.01)          # the rate of the last step run
    assert optimizer.get_lr_value(step=1) == pytest.approx(0.05)


def test_schedule_cell_learning_rate(mode):
    schedule = nn.ExponentialDecayLR(learning_rate=0.1, decay_rate=0.5, decay_steps=2)
    actual, optimizer = train(lambda p: nn.Momentum(p, learning_rate=schedule, momentum=0.9))
    assert_close(actual, momentum_reference(lambda step, index: 0.1 * 0.5 ** (step / 2), 0.9))
    assert optimizer.get_lr_value() == pytest.approx(0.1 * 0.5)


def test_parameter_groups(mode):
    def make(params):
        weight, gamma, beta = params
        return nn.Momentum([{"params": [gamma, beta], "lr": [0.2, 0.1, 0.05]},
                            {"params": [weight], "weight_decay": 0.1},
                            {"order_params": [weight, gamma, beta]}], learning_rate=0.01, momentum=0.9)

    actual, optimizer = train(make)
    group_rates = [0.2, 0.1, 0.05]
    # a group's own weight_decay applies to all of its parameters; the other group has the default, 0
    expected = momentum_reference(lambda step, index: 0.01 if index == 0 else group_rates[step], 0.9, (0.1, 0, 0))
    assert_close(actual, expected)
    assert [p.name for p in optimizer.parameters] == list(NAMES)
    assert optimizer.get_lr_value() == pytest.approx((0.01, 0.05, 0.05))


def groups_of(params):
    """fc.weight with its own lr and weight_decay; bn.gamma and bn.beta with the defaults."""
    weight, gamma, beta = params
    return [{"params": [weight], "lr": 0.05, "weight_decay": 0.1}, {"params": [gamma, beta]}]


def group_rate(step, index):
    return 0.05 if index == 0 else 0.1


def test_sgd_groups_set_their_own_weight_decay_and_lr(mode):
    actual, _ = train(lambda p: nn.SGD(groups_of(p), learning_rate=0.1, momentum=0.9, weight_decay=0.02))
    # the second group takes the default weight_decay for all its parameters, 'gamma' and 'beta' included
    assert_close(actual, sgd_reference(group_rate, 0.9, decays=(0.1, 0.02, 0.02)))


def test_adam_groups_set_their_own_weight_decay_and_lr(mode):
    actual, _ = train(lambda p: nn.Adam(groups_of(p), learning_rate=0.1, loss_scale=2.0))
    assert_close(actual, adam_reference(group_rate, 0.9, 0.999, 1e-8, (0.1, 0, 0), loss_scale=2.0))


@pytest.mark.parametrize("given", [lambda p: filter(lambda x: x.requires_grad, p), lambda p: (x for x in p)],
                         ids=["filter", "generator"])
def test_parameters_from_an_iterator(mode, given):
    actual, optimizer = train(lambda p: nn.Momentum(given(p), learning_rate=0.1, momentum=0.9))
    assert [p.name for p in optimizer.parameters] == list(NAMES)
    assert_close(actual, momentum_reference(constant(0.1), 0.9))


class StepDecay(nn.Cell):
    """A weight decay computed from the optimizer's global_step: 0.05 + 0.1 * step."""

    def construct(self, global_step):
        return ops.cast(global_step, dtype=graphc.float32) * 0.1 + 0.05


def step_decay(step):
    return 0.05 + 0.1 * step


def test_weight_decay_cell_is_evaluated_at_each_step(mode):
    actual, _ = train(lambda p: nn.Momentum(p, learning_rate=0.1, momentum=0.9, weight_decay=StepDecay(),
                                            loss_scale=2.0))
    decays = [step_decay if decayed else 0 for decayed in DECAYED]
    assert_close(actual, momentum_reference(constant(0.1), 0.9, decays, loss_scale=2.0))
    actual, _ = train(lambda p: nn.AdamWeightDecay(p, learning_rate=0.01, beta1=0.8, beta2=0.95,
                                                   weight_decay=StepDecay()))
    assert_close(actual, adam_weight_decay_reference(0.01, 0.8, 0.95, 1e-6, decays))


def test_learning_rate_can_change_between_steps_without_recompiling(mode):
    """A float rate is the Parameter `learning_rate`, read by the compiled step, as in MindSpore."""
    def make(params):
        optimizer = nn.Momentum(params, learning_rate=0.1, momentum=0.9)
        optimizer.learning_rate.set_data(np.float32(0.02))
        return optimizer

    actual, _ = train(make)
    assert_close(actual, momentum_reference(constant(0.02), 0.9))


# -- state, names and the one-write rule -------------------------------------------------------------
def state_names(prefixes):
    return {f"{prefix}.{name}" for prefix in prefixes for name in NAMES}


OPTIMIZERS = {
    "Momentum": (lambda p: nn.Momentum(p, 0.1, 0.9), state_names(["moments"]), {"learning_rate", "momentum"}),
    "SGD": (lambda p: nn.SGD(p, momentum=0.9), state_names(["accum", "stat"]), {"learning_rate", "momentum"}),
    "Adam": (lambda p: nn.Adam(p), state_names(["moment1", "moment2"]) | {"beta1_power", "beta2_power"},
             {"learning_rate"}),
    "AdamWeightDecay": (lambda p: nn.AdamWeightDecay(p, weight_decay=0.1), state_names(["adam_m", "adam_v"]),
                        {"learning_rate"}),
    "Adagrad": (lambda p: nn.Adagrad(p, weight_decay=0.1), state_names(["accum"]), {"learning_rate"}),
    "RMSProp": (lambda p: nn.RMSProp(p, centered=True, momentum=0.5),
                state_names(["mean_square", "moment", "mean_grad"]), {"learning_rate"}),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_is_named_for_checkpoints_and_each_parameter_is_written_once(name):
    make, state, constants = OPTIMIZERS[name]
    params = fresh_params()
    optimizer = make(params)
    assert all(a is b for a, b in zip(optimizer.parameters, params)) and len(optimizer.parameters) == 3
    assert {n for n, _ in optimizer.parameters_and_names()} == state | constants | {"global_step"}
    traced = trace(optimizer.construct, (tuple(Tensor(g) for g in GRADS[0]),))
    written = Counter(node.inputs[0].attrs["name"] for node in traced.graph.of_op("assign"))
    assert set(written) == set(NAMES) | state | {"global_step"}
    assert set(written.values()) == {1}


def test_optimizer_returns_true_and_counts_steps(mode):
    params = fresh_params()
    optimizer = nn.Momentum(params, 0.1, 0.9)
    assert optimizer(tuple(Tensor(g) for g in GRADS[0])) is True
    assert optimizer.steps_taken == 1


class ApplyMomentumOptimizer(nn.Optimizer):
    """A user-written optimizer in MindSpore's style: state cloned from self.parameters, one
    ops.ApplyMomentum per parameter."""

    def __init__(self, params, learning_rate, momentum):
        super().__init__(learning_rate, params)
        self.moments = self.parameters.clone(prefix="moments", init="zeros")
        self.momentum = momentum
        self.apply = ops.ApplyMomentum()

    def construct(self, gradients):
        lr = self.get_lr()
        for param, moment, grad in zip(self.parameters, self.moments, gradients):
            self.apply(param, moment, lr, grad, self.momentum)
        return True


def test_a_subclass_with_cloned_state_and_apply_momentum_trains_as_momentum(mode):
    params, optimizer = train(lambda p: ApplyMomentumOptimizer(p, 0.1, 0.9))
    assert_close(params, momentum_reference(constant(0.1), 0.9))
    assert {n for n, _ in optimizer.parameters_and_names()} == {"learning_rate", "global_step"} | {
        f"moments.{name}" for name in NAMES}                   # the cloned state is saved in checkpoints


def test_apply_momentum_refuses_what_mindspores_cpu_kernel_ignores():
    with pytest.raises(GraphcError, match="use_nesterov=True is not valid; expected False"):
        ops.ApplyMomentum(use_nesterov=True)
    with pytest.raises(GraphcError, match="gradient_scale=2.0 is not valid"):
        ops.ApplyMomentum(gradient_scale=2.0)


def test_rmsprop_mean_square_starts_at_one():
    optimizer = nn.RMSProp(fresh_params())
    assert all(np.all(s.asnumpy() == 1.0) for s in optimizer.mean_square)
    assert all(np.all(m.asnumpy() == 0.0) for m in optimizer.moment)


# -- bad input ---------------------------------------------------------------------------------------
def test_momentum_must_be_a_float():
    with pytest.raises(TypeError, match="momentum must be a float, got int 1"):
        nn.Momentum(fresh_params(), learning_rate=0.1, momentum=1)


def test_unknown_group_key_is_named():
    weight, gamma, beta = fresh_params()
    with pytest.raises(KeyError, match="'lr_scale'"):
        nn.Momentum([{"params": [weight], "lr_scale": 2.0}], 0.1, 0.9)


def test_parameter_in_two_groups_is_named():
    weight, gamma, beta = fresh_params()
    with pytest.raises(RuntimeError, match="'fc.weight' is listed more than once"):
        nn.Momentum([{"params": [weight, gamma]}, {"params": [weight, beta]}], 0.1, 0.9)


def test_bad_arguments():
    params = fresh_params()
    with pytest.raises(TypeError, match="must hold Parameters"):
        nn.Momentum([Tensor(INITIAL[0])], 0.1, 0.9)
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        nn.SGD(params, nesterov=True)
    with pytest.raises(TypeError, match="SGD: weight_decay must be a float .*got a Cell"):
        nn.SGD([{"params": params, "weight_decay": StepDecay()}])
    with pytest.raises(TypeError, match="weight_decay must be a float or a Cell taking global_step"):
        nn.Momentum(params, 0.1, 0.9, weight_decay=step_decay)
    with pytest.raises(TypeError, match="params must be an iterable of Parameters"):
        nn.Momentum(params[0], 0.1, 0.9)
    with pytest.raises(ValueError, match="params is empty"):
        nn.Momentum(filter(lambda p: False, params), 0.1, 0.9)
    with pytest.raises(ValueError, match="update_slots=False is not supported"):
        nn.Adagrad(params, update_slots=False)
    with pytest.raises(ValueError, match=r"beta1 must be in \(0.0, 1.0\)"):
        nn.Adam(params, beta1=1.0)
    with pytest.raises(ValueError, match="loss_scale"):
        nn.Momentum(params, 0.1, 0.9, loss_scale=0.0)
    with pytest.raises(TypeError, match="learning_rate must be a float, a list"):
        nn.Momentum(params, "0.1", 0.9)
    with pytest.raises(ValueError, match="order_params must list each grouped Parameter"):
        nn.Momentum([{"params": params}, {"order_params": params[:2]}], 0.1, 0.9)


def test_wrong_number_of_gradients(mode):
    optimizer = nn.Momentum(fresh_params(), 0.1, 0.9)
    with pytest.raises(GraphcError, match=r"got 2 gradient\(s\) for 3 parameter\(s\)"):
        optimizer(tuple(Tensor(g) for g in GRADS[0][:2]))


def test_learning_rate_list_shorter_than_the_steps_run(mode):
    params = fresh_params()
    optimizer = nn.Momentum(params, learning_rate=[0.1, 0.05], momentum=0.9)
    for grads in GRADS[:2]:
        optimizer(tuple(Tensor(g) for g in grads))
    before = [p.asnumpy().copy() for p in params]
    with pytest.raises(GraphcError, match=r"step 2 has no learning rate: the list 'learning_rate' has 2 values"):
        optimizer(tuple(Tensor(g) for g in GRADS[2]))
    assert all(np.array_equal(a, p.asnumpy()) for a, p in zip(before, params))     # nothing was written


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_inside_another_cells_graph_a_rate_past_the_list_is_nan():
    """No host check guards a step graph that calls the optimizer itself: the rate turns NaN there."""
    class CustomStep(nn.Cell):
        def __init__(self, optimizer):
            super().__init__()
            self.optimizer = optimizer

        def construct(self, *grads):
            return self.optimizer(grads)

    params = fresh_params()
    step = CustomStep(nn.Momentum(params, learning_rate=[0.1], momentum=0.9))
    step(*(Tensor(g) for g in GRADS[0]))
    assert np.all(np.isfinite(params[0].asnumpy()))
    step(*(Tensor(g) for g in GRADS[1]))
    assert np.all(np.isnan(params[0].asnumpy()))


# -- schedules ---------------------------------------------------------------------------------------
def test_dynamic_lr_lists_match_mindspore_examples():
    assert nn.piecewise_constant_lr([2, 5, 10], [0.1, 0.05, 0.01]) == [0.1, 0.1, 0.05, 0.05, 0.05] + [0.01] * 5
    assert nn.exponential_decay_lr(0.1, 0.9, 6, 2, 1) == pytest.approx([0.1, 0.1, 0.09, 0.09, 0.081, 0.081])
    assert nn.exponential_decay_lr(0.1, 0.9, 6, 1, 2, is_stair=True) == pytest.approx(
        [0.1, 0.1, 0.09, 0.09, 0.081, 0.081])
    assert nn.cosine_decay_lr(0.01, 0.1, 6, 2, 2) == pytest.approx([0.1, 0.1, 0.055, 0.055, 0.01, 0.01])
    assert nn.warmup_lr(0.1, 6, 2, 2) == pytest.approx([0.0, 0.0, 0.05, 0.05, 0.1, 0.1])


def test_dynamic_lr_bad_arguments():
    with pytest.raises(ValueError, match="milestone has 2 entries but learning_rates has 1"):
        nn.piecewise_constant_lr([2, 5], [0.1])
    with pytest.raises(ValueError, match="max_lr"):
        nn.cosine_decay_lr(0.1, 0.01, 6, 2, 2)
    with pytest.raises(ValueError, match="total_step must be a positive int"):
        nn.warmup_lr(0.1, 0, 2, 2)


def rate(schedule, step):
    return float(schedule(Tensor(np.array([step], np.int32))).asnumpy().reshape(()))


@pytest.mark.parametrize("schedule, step, expected", [
    (nn.CosineDecayLR(0.01, 0.1, 4), 2, 0.055),                                   # MindSpore's example
    (nn.CosineDecayLR(0.01, 0.1, 4), 1, 0.01 + 0.045 * (1 + math.cos(math.pi / 4))),
    (nn.CosineDecayLR(0.01, 0.1, 4), 9, 0.01),                                    # held after decay_steps
    (nn.ExponentialDecayLR(0.1, 0.9, 4), 2, 0.1 * 0.9 ** 0.5),
    (nn.ExponentialDecayLR(0.1, 0.9, 4, is_stair=True), 7, 0.1 * 0.9),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5), 2, 0.09 * 0.5 ** 0.5 + 0.01),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5), 6, 0.01),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5, update_decay_steps=True), 6, 0.09 * (1 - 6 / 8) ** 0.5 + 0.01),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5, update_decay_steps=True), 0, 0.1),
    (nn.WarmUpLR(0.1, 2), 1, 0.05),
    (nn.WarmUpLR(0.1, 2), 5, 0.1),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Cell) else str(v))
def test_schedule_cells(mode, schedule, step, expected):
    assert rate(schedule, step) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_cosine_schedule_over_a_whole_period():
    schedule = nn.CosineDecayLR(0.0, 1.0, 100)
    actual = [rate(schedule, step) for step in range(0, 101, 7)]
    expected = [0.5 * (1 + math.cos(math.pi * step / 100)) for step in range(0, 101, 7)]
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_schedule_bad_arguments():
    with pytest.raises(TypeError, match="min_lr must be a float, got int"):
        nn.CosineDecayLR(0, 0.1, 4)
    with pytest.raises(ValueError, match="decay_steps must be a positive int"):
        nn.ExponentialDecayLR(0.1, 0.9, 0)
