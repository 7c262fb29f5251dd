"""SGD (MindSpore's nn.SGD, the SGD kernel's update)."""
from __future__ import annotations

import numpy as np

from ... import ops
from ...tracing import Tensor
from ..cell import Cell
from ..parameter import Parameter
from .optimizer import Optimizer
from .validation import as_float, check_bool, check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum u (> 0 enables it), as MindSpore 2.x:

        g <- g / loss_scale + weight_decay * p     (the base class's decay_weight and scale_grad)
        v <- g on the first step, else u * v + (1 - dampening) * g
        p <- p - lr * v                            (nesterov: p <- p - lr * (g + u * v))

    State: `accum.<param name>` (v, zeros), `stat.<param name>` (ones until the first step) and
    the Parameter `momentum`. As in MindSpore, weight_decay may not be a Cell."""

    def __init__(self, params, learning_rate=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 loss_scale=1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = type(self).__name__
        if any(isinstance(decay, Cell) for decay in self._decays):
            raise TypeError(f"{owner}: weight_decay must be a float (MindSpore's SGD has no dynamic weight decay); "
                            "got a Cell")
        self.dampening = check_range(owner, "dampening", as_float(owner, "dampening", dampening, allow_int=True), 0.0)
        momentum = check_range(owner, "momentum", as_float(owner, "momentum", momentum, allow_int=True), 0.0)
        self.nesterov = check_bool(owner, "nesterov", nesterov)
        if nesterov and (momentum == 0.0 or self.dampening != 0.0):
            raise ValueError(f"{owner}: nesterov needs momentum > 0 and dampening == 0, got momentum={momentum}, "
                             f"dampening={self.dampening}")
        self.momentum = Parameter(np.array(momentum, np.float32), name="momentum", requires_grad=False)
        self._uses_momentum = momentum > 0.0
        self.accum = self.clone_state("accum", "zeros")
        self.stat = self.clone_state("stat", "ones")

    def construct(self, gradients):
        gradients = self.scale_grad(self.decay_weight(gradients))
        rates = self.lr_per_parameter()
        for param, grad, accum, stat, lr in zip(self.parameters, gradients, self.accum, self.stat, rates):
            if self._uses_momentum:
                velocity = ops.select(stat > 0.0, grad, self.momentum * accum + (1.0 - self.dampening) * grad)
                ops.assign(accum, velocity)
                ops.assign(stat, ops.broadcast_to(Tensor(np.zeros((), stat.dtype.np)), shape=stat.shape))
                grad = grad + self.momentum * velocity if self.nesterov else velocity
            ops.assign(param, param - lr * grad)
        return True
