"""mindspore.experimental.optim: Adam over param_groups against its update rule written out in NumPy
(MindSpore 2.10's form: eps added to the uncorrected sqrt(v)), in both modes; changes made through
param_groups between steps; StepLR; and what is refused."""
import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor
from graphc.experimental import optim

RNG = np.random.default_rng(11)
INITIAL = [RNG.standard_normal((3, 2)).astype(np.float32), RNG.standard_normal(2).astype(np.float32)]
GRADS = [[RNG.standard_normal(p.shape).astype(np.float32) for p in INITIAL] for _ in range(4)]
# group 0: amsgrad and weight decay; group 1: maximize and its own betas and eps
GROUPS = [dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=True, maximize=False),
          dict(lr=0.05, betas=(0.8, 0.88), eps=1e-6, weight_decay=0.0, amsgrad=False, maximize=True)]


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def adam_reference(groups, steps, changes=None):
    """The parameters after `steps` steps; changes: {step: (group, key, value)} applied before it."""
    params = [p.astype(np.float64) for p in INITIAL]
    m, v, vmax = ([np.zeros_like(p) for p in params] for _ in range(3))
    groups = [dict(g) for g in groups]
    for t in range(1, steps + 1):
        if changes and t in changes:
            index, key, value = changes[t]
            groups[index][key] = value
        for i, g in enumerate(groups):
            grad = -GRADS[t - 1][i] if g["maximize"] else GRADS[t - 1][i]
            grad = grad + g["weight_decay"] * params[i]
            b1, b2 = g["betas"]
            m[i] = b1 * m[i] + (1 - b1) * grad
            v[i] = b2 * v[i] + (1 - b2) * grad * grad
            vmax[i] = np.maximum(vmax[i], v[i])
            second = vmax[i] if g["amsgrad"] else v[i]
            params[i] = params[i] - g["lr"] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m[i] / (np.sqrt(second) + g["eps"])
    return params


def build():
    params = [Parameter(p.copy(), name=f"p{i}") for i, p in enumerate(INITIAL)]
    groups = [{"params": [p], **settings} for p, settings in zip(params, GROUPS)]
    return params, optim.Adam(groups, lr=0.5)


def step(optimizer, t):
    optimizer(tuple(Tensor(g) for g in GRADS[t]))


def test_adam_groups_follow_the_update_rule(mode):
    params, optimizer = build()
    for t in range(3):
        step(optimizer, t)
    for got, want in zip(params, adam_reference(GROUPS, 3)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=2e-5, atol=1e-6)
    assert optimizer.parameters == tuple(params)
    assert {n for n, _ in optimizer.parameters_and_names()} >= {"exp_avg.p0", "exp_avg_sq.p1", "state_step",
                                                                "learning_rate_group_0", "learning_rate_group_1"}


def test_param_groups_changes_reach_the_next_step(mode):
    params, optimizer = build()
    step(optimizer, 0)
    optimizer.param_groups[1]["weight_decay"] = 0.02           # a compiled step reads it from a Parameter
    step(optimizer, 1)
    graphc.ops.assign(optimizer.param_groups[0]["lr"], Tensor(0.01))
    step(optimizer, 2)
    changes = {2: (1, "weight_decay", 0.02), 3: (0, "lr", 0.01)}
    for got, want in zip(params, adam_reference(GROUPS, 3, changes)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=2e-5, atol=1e-6)
    assert isinstance(optimizer.param_groups[0]["lr"], Parameter)    # the dict holds the Parameter, as MindSpore's


def test_step_lr_multiplies_every_step_size_steps():
    _, optimizer = build()
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    rates = []
    for _ in range(5):
        rates.append([float(r) for r in scheduler.get_last_lr()])
        scheduler.step()
    np.testing.assert_allclose(rates, [[0.1, 0.05]] * 2 + [[0.05, 0.025]] * 2 + [[0.025, 0.0125]], rtol=1e-6)


def test_refused():
    _, optimizer = build()
    with pytest.raises(GraphcError, match="amsgrad is fixed when the optimizer is built"):
        optimizer.param_groups[0]["amsgrad"] = False
    with pytest.raises(GraphcError, match="betas takes 2 number"):
        optimizer.param_groups[0]["betas"] = 0.9
    with pytest.raises(GraphcError, match=r"a parameter group takes 'params' and .*, got \['momentum', 'params'\]"):
        optim.Adam([{"params": [Parameter(np.ones(2, np.float32), name="w")], "momentum": 0.9}])
    with pytest.raises(GraphcError, match=r"got 1 gradient\(s\) for 2 parameter\(s\)"):
        optimizer((Tensor(GRADS[0][0]),))
    with pytest.raises(GraphcError, match="step_size must be a positive int"):
        optim.lr_scheduler.StepLR(optimizer, step_size=0)
