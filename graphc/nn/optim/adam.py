"""Adam and AdamWeightDecay (MindSpore's nn.Adam, the Adam kernel, and nn.AdamWeightDecay)."""
from __future__ import annotations

import numpy as np

from ... import ops
from ..parameter import Parameter
from .optimizer import Optimizer
from .validation import as_float, check_bool, check_range

__all__ = ["Adam", "AdamWeightDecay"]


def _check_betas(owner: str, beta1, beta2, eps) -> tuple[float, float, float]:
    betas = [check_range(owner, name, as_float(owner, name, value), 0.0, 1.0, low_open=True, high_open=True)
             for name, value in (("beta1", beta1), ("beta2", beta2))]
    return betas[0], betas[1], check_range(owner, "eps", as_float(owner, "eps", eps), 0.0, low_open=True)


def _moments(beta1: float, beta2: float, m, v, grad):
    """The moving averages of the gradient and of its square."""
    return beta1 * m + (1.0 - beta1) * grad, beta2 * v + (1.0 - beta2) * grad * grad


class Adam(Optimizer):
    """m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g
    p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    The bias correction is folded into the step size and eps is added to sqrt(v) outside it, as
    MindSpore (unlike PyTorch). use_nesterov replaces m in the last line by b1 * m + (1 - b1) * g.
    State: `moment1.*`, `moment2.*` (zeros), `beta1_power`, `beta2_power` (b^t: ones, multiplied by
    b before each step, so t = 1 on the first)."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, use_nesterov=False,
                 weight_decay=0.0, loss_scale=1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = type(self).__name__
        self.beta1, self.beta2, self.eps = _check_betas(owner, beta1, beta2, eps)
        self.use_nesterov = check_bool(owner, "use_nesterov", use_nesterov)
        self.beta1_power = Parameter(np.ones(1, np.float32), name="beta1_power", requires_grad=False)
        self.beta2_power = Parameter(np.ones(1, np.float32), name="beta2_power", requires_grad=False)
        self.moment1 = self.clone_state("moment1", "zeros")
        self.moment2 = self.clone_state("moment2", "zeros")

    def construct(self, gradients):
        gradients = self.scale_grad(self.decay_weight(gradients))
        rates = self.lr_per_parameter()
        beta1_power, beta2_power = self.beta1_power * self.beta1, self.beta2_power * self.beta2
        ops.assign(self.beta1_power, beta1_power)
        ops.assign(self.beta2_power, beta2_power)
        correction = ops.reshape(ops.sqrt(1.0 - beta2_power) / (1.0 - beta1_power), shape=())
        for param, grad, m, v, lr in zip(self.parameters, gradients, self.moment1, self.moment2, rates):
            new_m, new_v = _moments(self.beta1, self.beta2, m, v, grad)
            direction = self.beta1 * new_m + (1.0 - self.beta1) * grad if self.use_nesterov else new_m
            ops.assign(m, new_m)
            ops.assign(v, new_v)
            ops.assign(param, param - lr * correction * direction / (ops.sqrt(new_v) + self.eps))
        return True


class AdamWeightDecay(Optimizer):
    """Adam without bias correction and with decoupled weight decay:

        m, v as Adam;  p <- p - lr * (m / (sqrt(v) + eps) + wd * p)

    wd applies where the base class's rule decays (not 'beta'/'gamma' names, or the group's own).
    State: `adam_m.*`, `adam_v.*` (zeros). There is no loss_scale, as in MindSpore."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0):
        super().__init__(learning_rate, params, weight_decay)
        self.beta1, self.beta2, self.eps = _check_betas(type(self).__name__, beta1, beta2, eps)
        self.moments1 = self.clone_state("adam_m", "zeros")
        self.moments2 = self.clone_state("adam_v", "zeros")

    def construct(self, gradients):
        decays = self.weight_decays()       # before get_lr advances global_step, as MindSpore
        rates = self.lr_per_parameter()
        for param, grad, m, v, lr, decay in zip(self.parameters, gradients, self.moments1, self.moments2, rates,
                                                decays):
            new_m, new_v = _moments(self.beta1, self.beta2, m, v, grad)
            update = new_m / (ops.sqrt(new_v) + self.eps)
            if decay is not None:
                update = update + decay * param
            ops.assign(m, new_m)
            ops.assign(v, new_v)
            ops.assign(param, param - lr * update)
        return True
