"""Momentum (MindSpore's nn.Momentum, the ApplyMomentum update)."""
from __future__ import annotations

import numpy as np

from ... import ops
from ..parameter import Parameter
from .optimizer import Optimizer
from .validation import as_float, check_bool, check_range

__all__ = ["Momentum"]


class Momentum(Optimizer):
    """v <- u * v + g;  p <- p - lr * v   (use_nesterov: p <- p - lr * (g + u * v)).

    State: `moments.<param name>` (zeros) and the Parameter `momentum` (u)."""

    def __init__(self, params, learning_rate, momentum, weight_decay=0.0, loss_scale=1.0, use_nesterov=False):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = type(self).__name__
        momentum = check_range(owner, "momentum", as_float(owner, "momentum", momentum), 0.0)   # an int: TypeError
        self.use_nesterov = check_bool(owner, "use_nesterov", use_nesterov)
        self.momentum = Parameter(np.array(momentum, np.float32), name="momentum", requires_grad=False)
        self.moments = self.clone_state("moments", "zeros")

    def construct(self, gradients):
        gradients = self.scale_grad(self.decay_weight(gradients))
        for param, grad, moment, lr in zip(self.parameters, gradients, self.moments, self.lr_per_parameter()):
            velocity = self.momentum * moment + grad
            step = grad + self.momentum * velocity if self.use_nesterov else velocity
            ops.assign(moment, velocity)
            ops.assign(param, param - lr * step)
        return True
