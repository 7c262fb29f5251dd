"""Adagrad (MindSpore's nn.Adagrad, the ApplyAdagrad update)."""
from __future__ import annotations

from ... import ops
from .optimizer import Optimizer
from .validation import as_float, check_bool, check_range

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """s <- s + g * g;  p <- p - lr * g / sqrt(s)

    There is no epsilon: `accum`, the initial s, keeps the division finite. State: `accum.<param
    name>`, initialised to `accum`. update_slots=False is refused: MindSpore documents it as
    leaving s alone, but its CPU kernel updates s anyway (measured on 2.10)."""

    def __init__(self, params, accum=0.1, learning_rate=0.001, update_slots=True, loss_scale=1.0, weight_decay=0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = type(self).__name__
        initial = check_range(owner, "accum", as_float(owner, "accum", accum), 0.0)
        if not check_bool(owner, "update_slots", update_slots):
            raise ValueError(f"{owner}: update_slots=False is not supported: MindSpore's documentation and its CPU "
                             "kernel disagree on it (the kernel updates accum anyway); use update_slots=True")
        self.accum = self.clone_state("accum", initial)

    def construct(self, gradients):
        gradients = self.scale_grad(self.decay_weight(gradients))
        for param, grad, accum, lr in zip(self.parameters, gradients, self.accum, self.lr_per_parameter()):
            new_accum = accum + grad * grad
            ops.assign(accum, new_accum)
            ops.assign(param, param - lr * grad / ops.sqrt(new_accum))
        return True
