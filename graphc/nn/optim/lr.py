"""Learning-rate schedules, as MindSpore's `nn.dynamic_lr` functions and `LearningRateSchedule` Cells.

The functions return one Python float per step (an optimizer given such a list uses element i at
step i, and stops with an error after the last one). The Cells compute the rate from the
optimizer's `global_step` (int32, shape [1]) inside the step graph, so they never run out.
"""
from __future__ import annotations

import math

from ... import ops
from ...types import float32, int32
from ..cell import Cell
from .validation import as_float, check_bool, check_range, positive_int

__all__ = ["CosineDecayLR", "ExponentialDecayLR", "LearningRateSchedule", "PolynomialDecayLR", "WarmUpLR",
           "cosine_decay_lr", "exponential_decay_lr", "piecewise_constant_lr", "warmup_lr"]


# -- lists: one learning rate per step -------------------------------------------------------------
def piecewise_constant_lr(milestone, learning_rates) -> list[float]:
    """learning_rates[t] for the steps in [milestone[t-1], milestone[t]); len = milestone[-1].

    piecewise_constant_lr([2, 5], [0.1, 0.05]) == [0.1, 0.1, 0.05, 0.05, 0.05]"""
    owner = "piecewise_constant_lr"
    if not isinstance(milestone, (list, tuple)) or not isinstance(learning_rates, (list, tuple)):
        raise TypeError(f"{owner}: milestone and learning_rates must be lists or tuples")
    if len(milestone) != len(learning_rates):
        raise ValueError(f"{owner}: milestone has {len(milestone)} entries but learning_rates has "
                         f"{len(learning_rates)}; give one learning rate per milestone")
    rates, start = [], 0
    for i, (end, rate) in enumerate(zip(milestone, learning_rates)):
        end = positive_int(owner, f"milestone[{i}]", end)
        if end < start:
            raise ValueError(f"{owner}: milestone must not decrease, but milestone[{i}] = {end} < {start}")
        rates += [as_float(owner, f"learning_rates[{i}]", rate)] * (end - start)
        start = end
    return rates


def _epochs(owner: str, total_step, step_per_epoch) -> list[int]:
    """The epoch of each step: floor(i / step_per_epoch)."""
    total_step = positive_int(owner, "total_step", total_step)
    step_per_epoch = positive_int(owner, "step_per_epoch", step_per_epoch)
    return [i // step_per_epoch for i in range(total_step)]


def exponential_decay_lr(learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch,
                         is_stair=False) -> list[float]:
    """learning_rate * decay_rate ** (epoch / decay_epoch), the exponent floored when is_stair."""
    owner = "exponential_decay_lr"
    learning_rate = check_range(owner, "learning_rate", as_float(owner, "learning_rate", learning_rate), 0.0,
                                low_open=True)
    decay_rate = check_range(owner, "decay_rate", as_float(owner, "decay_rate", decay_rate), 0.0, low_open=True)
    decay_epoch = positive_int(owner, "decay_epoch", decay_epoch)
    check_bool(owner, "is_stair", is_stair)
    return [learning_rate * decay_rate ** (epoch // decay_epoch if is_stair else epoch / decay_epoch)
            for epoch in _epochs(owner, total_step, step_per_epoch)]


def cosine_decay_lr(min_lr, max_lr, total_step, step_per_epoch, decay_epoch) -> list[float]:
    """min_lr + (max_lr - min_lr) / 2 * (1 + cos(pi * min(epoch, decay_epoch) / decay_epoch))."""
    owner = "cosine_decay_lr"
    min_lr = check_range(owner, "min_lr", as_float(owner, "min_lr", min_lr), 0.0)
    max_lr = check_range(owner, "max_lr", as_float(owner, "max_lr", max_lr), min_lr, low_open=True)
    decay_epoch = positive_int(owner, "decay_epoch", decay_epoch)
    half_range = 0.5 * (max_lr - min_lr)
    return [min_lr + half_range * (1 + math.cos(math.pi * min(epoch, decay_epoch) / decay_epoch))
            for epoch in _epochs(owner, total_step, step_per_epoch)]


def warmup_lr(learning_rate, total_step, step_per_epoch, warmup_epoch) -> list[float]:
    """learning_rate * min(epoch, warmup_epoch) / warmup_epoch: 0 in the first epoch."""
    owner = "warmup_lr"
    learning_rate = check_range(owner, "learning_rate", as_float(owner, "learning_rate", learning_rate), 0.0)
    warmup_epoch = positive_int(owner, "warmup_epoch", warmup_epoch)
    return [learning_rate * min(epoch, warmup_epoch) / warmup_epoch
            for epoch in _epochs(owner, total_step, step_per_epoch)]


# -- Cells: the rate computed from global_step in the graph ------------------------------------------
class LearningRateSchedule(Cell):
    """Base of schedules: `construct(global_step)` returns the rate of that step as a float32 Tensor.

    global_step is the optimizer's int32 counter (shape [1]), 0 on the first step."""


def _float_step(global_step):
    return ops.cast(global_step, dtype=float32)


def _floor(x):
    """floor for x >= 0 (steps are never negative, so truncating toward zero is flooring)."""
    return ops.cast(ops.cast(x, dtype=int32), dtype=float32)


def _ceil(x):
    """ceil for x >= 0."""
    whole = _floor(x)
    return whole + ops.cast(ops.gt(x, whole), dtype=float32)


def _cos_pi(p):
    """cos(pi * p) for p in [0, 1], written as -sin(pi * (p - 1/2)) because graphc has no
    trigonometric op: the Taylor series of sin to the y**13 term is exact to float32 on |y| <= pi/2."""
    y = (p - 0.5) * math.pi
    y2 = y * y
    series = 1.0
    for k in range(12, 0, -2):       # Horner form of 1 - y²/3! + y⁴/5! - ... - y¹²/13!
        series = 1.0 - y2 * series / float(k * (k + 1))
    return -(y * series)


class ExponentialDecayLR(LearningRateSchedule):
    """learning_rate * decay_rate ** p, p = step / decay_steps (floored when is_stair)."""

    def __init__(self, learning_rate, decay_rate, decay_steps, is_stair=False):
        super().__init__()
        owner = type(self).__name__
        self.learning_rate = check_range(owner, "learning_rate", as_float(owner, "learning_rate", learning_rate),
                                         0.0, low_open=True)
        self.decay_rate = check_range(owner, "decay_rate", as_float(owner, "decay_rate", decay_rate), 0.0,
                                      low_open=True)
        self.decay_steps = positive_int(owner, "decay_steps", decay_steps)
        self.is_stair = check_bool(owner, "is_stair", is_stair)

    def construct(self, global_step):
        p = _float_step(global_step) / float(self.decay_steps)
        if self.is_stair:
            p = _floor(p)
        return self.learning_rate * ops.pow(self.decay_rate, p)


class CosineDecayLR(LearningRateSchedule):
    """min_lr + (max_lr - min_lr) / 2 * (1 + cos(pi * min(step, decay_steps) / decay_steps))."""

    def __init__(self, min_lr, max_lr, decay_steps):
        super().__init__()
        owner = type(self).__name__
        self.min_lr = check_range(owner, "min_lr", as_float(owner, "min_lr", min_lr), 0.0)
        self.max_lr = check_range(owner, "max_lr", as_float(owner, "max_lr", max_lr), self.min_lr, low_open=True)
        self.decay_steps = positive_int(owner, "decay_steps", decay_steps)

    def construct(self, global_step):
        p = _float_step(ops.minimum(global_step, self.decay_steps)) / float(self.decay_steps)
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1.0 + _cos_pi(p))


class PolynomialDecayLR(LearningRateSchedule):
    """(learning_rate - end_learning_rate) * (1 - step / decay) ** power + end_learning_rate.

    step is capped at decay = decay_steps; with update_decay_steps the step is not capped and the
    horizon grows instead: decay = decay_steps * max(ceil(step / decay_steps), 1)."""

    def __init__(self, learning_rate, end_learning_rate, decay_steps, power, update_decay_steps=False):
        super().__init__()
        owner = type(self).__name__
        self.learning_rate = check_range(owner, "learning_rate", as_float(owner, "learning_rate", learning_rate),
                                         0.0, low_open=True)
        self.end_learning_rate = check_range(owner, "end_learning_rate",
                                             as_float(owner, "end_learning_rate", end_learning_rate), 0.0)
        self.decay_steps = positive_int(owner, "decay_steps", decay_steps)
        self.power = check_range(owner, "power", as_float(owner, "power", power), 0.0, low_open=True)
        self.update_decay_steps = check_bool(owner, "update_decay_steps", update_decay_steps)

    def construct(self, global_step):
        step, decay = _float_step(global_step), float(self.decay_steps)
        if self.update_decay_steps:
            decay = decay * ops.maximum(_ceil(step / decay), 1.0)
        else:
            step = ops.minimum(step, decay)
        fraction_left = 1.0 - step / decay
        return (self.learning_rate - self.end_learning_rate) * ops.pow(fraction_left, self.power) \
            + self.end_learning_rate


class WarmUpLR(LearningRateSchedule):
    """learning_rate * min(step, warmup_steps) / warmup_steps."""

    def __init__(self, learning_rate, warmup_steps):
        super().__init__()
        owner = type(self).__name__
        self.learning_rate = check_range(owner, "learning_rate", as_float(owner, "learning_rate", learning_rate), 0.0)
        self.warmup_steps = positive_int(owner, "warmup_steps", warmup_steps)

    def construct(self, global_step):
        return self.learning_rate * _float_step(ops.minimum(global_step, self.warmup_steps)) / float(self.warmup_steps)
