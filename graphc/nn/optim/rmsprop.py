"""RMSProp (MindSpore's nn.RMSProp: the ApplyRMSProp and ApplyCenteredRMSProp updates)."""
from __future__ import annotations

from ... import ops
from .optimizer import Optimizer
from .validation import as_float, check_bool, check_range

__all__ = ["RMSProp"]


class RMSProp(Optimizer):
    """s <- decay * s + (1 - decay) * g * g
    m <- momentum * m + lr * g / sqrt(s + epsilon)      (epsilon inside the square root)
    p <- p - m

    centered also tracks the mean gradient a <- decay * a + (1 - decay) * g and divides by
    sqrt(s - a * a + epsilon). State: `mean_square.*` (initialised to ONES, as MindSpore),
    `moment.*` (zeros) and, when centered, `mean_grad.*` (zeros)."""

    def __init__(self, params, learning_rate=0.1, decay=0.9, momentum=0.0, epsilon=1e-10, centered=False,
                 loss_scale=1.0, weight_decay=0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = type(self).__name__
        self.decay = check_range(owner, "decay", as_float(owner, "decay", decay), 0.0)
        self.momentum = check_range(owner, "momentum", as_float(owner, "momentum", momentum), 0.0)
        self.epsilon = check_range(owner, "epsilon", as_float(owner, "epsilon", epsilon), 0.0, low_open=True)
        self.centered = check_bool(owner, "centered", centered)
        self.mean_square = self.clone_state("mean_square", "ones")
        self.moment = self.clone_state("moment", "zeros")
        self.mean_grad = self.clone_state("mean_grad", "zeros") if centered else ()

    def construct(self, gradients):
        gradients = self.scale_grad(self.decay_weight(gradients))
        rates = self.lr_per_parameter()
        for i, (param, grad, lr) in enumerate(zip(self.parameters, gradients, rates)):
            mean_square = self._average(self.mean_square[i], grad * grad)
            variance = mean_square
            if self.centered:
                mean_grad = self._average(self.mean_grad[i], grad)
                variance = mean_square - mean_grad * mean_grad
            moment = self.momentum * self.moment[i] + lr * grad / ops.sqrt(variance + self.epsilon)
            ops.assign(self.moment[i], moment)
            ops.assign(param, param - moment)
        return True

    def _average(self, state, value):
        """decay * state + (1 - decay) * value, written back to the state Parameter."""
        new = self.decay * state + (1.0 - self.decay) * value
        ops.assign(state, new)
        return new
