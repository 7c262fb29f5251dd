"""Loss scaling: MindSpore's nn.TrainOneStepWithLossScaleCell and its update cells, and the
managers that `Model(loss_scale_manager=...)` takes (FixedLossScaleManager and
DynamicLossScaleManager, which MindSpore exports from mindspore.amp and mindspore.train: the
`graphc.amp` and `graphc.train` faces take them from here).

The step seeds the backward pass with the scale, divides the gradients by it, and skips the
optimizer's update when a gradient is inf or NaN (an overflow): every assign the optimizer makes
keeps its target's value then (`tracing.assigns_only_if`), so the skip is part of the one step
graph. graphc computes in float32, where the scale cancels unless the gradients overflow.
MindSpore's CPU backend refuses this cell; graphc runs it as MindSpore does on GPU and Ascend.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..autodiff import value_and_grad
from ..errors import ArgumentError
from ..tracing import Tensor, assigns_only_if
from ..types import float32
from .cell import Cell
from .parameter import Parameter
from .wrap import TrainOneStepCell

__all__ = ["DynamicLossScaleUpdateCell", "FixedLossScaleUpdateCell", "TrainOneStepWithLossScaleCell"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def overflowed(gradients) -> Tensor:
    """True (a bool scalar) when some gradient holds an inf or a NaN: |g| <= max is false for both."""
    overflows = 0.0
    for grad in gradients:
        overflows = overflows + ops.reduce_max(1.0 - ops.cast(ops.le(ops.abs(grad), _FLOAT32_MAX), dtype=float32))
    return ops.gt(overflows, 0.0)


def _not(condition: Tensor) -> Tensor:
    return ops.select(condition, False, True)


class FixedLossScaleUpdateCell(Cell):
    """A scale that never changes: construct(loss_scale, overflow) returns overflow."""

    def __init__(self, loss_scale_value):
        super().__init__()
        self.loss_scale_value = loss_scale_value

    def get_loss_scale(self):
        return self.loss_scale_value

    def construct(self, loss_scale, overflow):
        return overflow


class DynamicLossScaleUpdateCell(Cell):
    """MindSpore's dynamic scale: on overflow the scale becomes max(scale / factor, 1); after
    `scale_window` steps without one it is multiplied by `factor`. State: the int32 Parameters
    `current_iterator_step` (from 1) and `last_overflow_iterator_step` (the step of the last
    overflow or growth, from 0). construct(loss_scale, overflow) updates the scale Parameter."""

    def __init__(self, loss_scale_value, scale_factor, scale_window):
        super().__init__()
        self.loss_scale_value = loss_scale_value
        self.scale_factor = float(scale_factor)
        self.scale_window = int(scale_window)
        self.cur_iter = Parameter(np.array(1, np.int32), name="current_iterator_step", requires_grad=False)
        self.last_overflow_iter = Parameter(np.array(0, np.int32), name="last_overflow_iterator_step",
                                            requires_grad=False)

    def get_loss_scale(self):
        return self.loss_scale_value

    def construct(self, loss_scale, overflow):
        shrunk = ops.select(overflow, ops.maximum(loss_scale / self.scale_factor, 1.0), loss_scale)
        window_done = ops.ge(self.cur_iter - self.last_overflow_iter, self.scale_window)
        grow = ops.select(overflow, False, window_done)           # window done and no overflow
        restart = ops.select(overflow, True, window_done)         # an overflow or window done
        ops.assign(self.last_overflow_iter, ops.select(restart, self.cur_iter, self.last_overflow_iter))
        ops.assign(loss_scale, ops.select(grow, shrunk * self.scale_factor, shrunk))
        ops.assign(self.cur_iter, self.cur_iter + 1)
        return overflow


class TrainOneStepWithLossScaleCell(TrainOneStepCell):
    """construct(*inputs) -> (loss, overflow, scale): the backward pass is seeded with the scale,
    the gradients are divided by it and reduced, and the optimizer runs unless one of them is inf
    or NaN. scale_sense is an update cell (Fixed/DynamicLossScaleUpdateCell, whose scale goes into
    the Parameter `scale_sense`) or a float32 Tensor of shape () or [1] (the scale itself)."""

    def __init__(self, network, optimizer, scale_sense):
        super().__init__(network, optimizer)
        owner = type(self).__name__
        self.loss_scaling_manager = None
        if isinstance(scale_sense, Cell):
            self.loss_scaling_manager = scale_sense
            scale = np.array(scale_sense.get_loss_scale(), np.float32)
        elif isinstance(scale_sense, Tensor) and scale_sense.shape in ((), (1,)):
            scale = scale_sense.asnumpy().astype(np.float32)
        else:
            raise ArgumentError(f"{owner}: scale_sense must be an update cell (e.g. DynamicLossScaleUpdateCell) or a "
                                f"Tensor of shape () or [1], got {getattr(scale_sense, 'type', type(scale_sense).__name__)}")
        self.scale_sense = Parameter(scale, name="scale_sense", requires_grad=False)
        self._loss_and_grads = value_and_grad(network, None, self.weights, sens_param=True)

    def set_sense_scale(self, sens):
        """Set the scale (MindSpore's method), a Tensor of the scale's shape."""
        self.scale_sense.set_data(sens.asnumpy() if isinstance(sens, Tensor) else np.asarray(sens, np.float32))

    def construct(self, *inputs):
        scale = self.scale_sense.copy()        # this step's scale, before the update cell changes it
        scalar = ops.reshape(scale, shape=())
        loss, grads = self._loss_and_grads(*inputs, scalar)
        grads = tuple(grad * (1.0 / scalar) for grad in grads)
        loss, grads = self.reduce(loss, grads)
        overflow = overflowed(grads)
        if self.loss_scaling_manager is not None:
            overflow = self.loss_scaling_manager(self.scale_sense, overflow)
        with assigns_only_if(_not(overflow)):
            self.optimizer(grads)
        return loss, overflow, scale


# -- the managers (plain objects: Model asks them for the scale and the update cell) ---------------------
class LossScaleManager:
    """The base of loss-scale managers: get_loss_scale, update_loss_scale(overflow), get_update_cell."""

    def get_loss_scale(self):
        raise NotImplementedError

    def update_loss_scale(self, overflow):
        raise NotImplementedError

    def get_update_cell(self):
        raise NotImplementedError


def _at_least_one(owner: str, name: str, value) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 1:
        raise ArgumentError(f"{owner}: {name} must be a number >= 1, got {value!r}")
    return value


class FixedLossScaleManager(LossScaleManager):
    """A fixed scale. With drop_overflow_update=False (the only form MindSpore's CPU backend runs)
    the step is TrainOneStepCell with sens=loss_scale: the gradients stay multiplied by the
    scale, so the optimizer must be given the same loss_scale to divide them back, as MindSpore
    documents. With True (the default) the step is TrainOneStepWithLossScaleCell, which divides
    them itself and skips the update on overflow."""

    def __init__(self, loss_scale=128.0, drop_overflow_update=True):
        self._loss_scale = _at_least_one(type(self).__name__, "loss_scale", loss_scale)
        if not isinstance(drop_overflow_update, bool):
            raise ArgumentError(f"FixedLossScaleManager: drop_overflow_update must be a bool, got "
                                f"{drop_overflow_update!r}")
        self._drop_overflow_update = drop_overflow_update

    def get_loss_scale(self):
        return self._loss_scale

    def get_drop_overflow_update(self):
        return self._drop_overflow_update

    def update_loss_scale(self, overflow):
        """The scale is fixed: nothing to do."""

    def get_update_cell(self):
        return FixedLossScaleUpdateCell(self._loss_scale) if self._drop_overflow_update else None


class DynamicLossScaleManager(LossScaleManager):
    """A scale halved (divided by scale_factor, not below 1) on overflow and multiplied by it after
    scale_window steps without one; the update is skipped on overflow."""

    def __init__(self, init_loss_scale=2 ** 24, scale_factor=2, scale_window=2000):
        owner = type(self).__name__
        self.loss_scale = _at_least_one(owner, "init_loss_scale", init_loss_scale)
        if not isinstance(scale_window, numbers.Integral) or isinstance(scale_window, bool) or scale_window < 1:
            raise ArgumentError(f"{owner}: scale_window must be a positive int, got {scale_window!r}")
        if not isinstance(scale_factor, numbers.Real) or scale_factor <= 0:
            raise ArgumentError(f"{owner}: scale_factor must be a number > 0, got {scale_factor!r}")
        self.scale_factor, self.scale_window = scale_factor, scale_window
        self.cur_iter, self.last_overflow_iter = 1, 0

    def get_loss_scale(self):
        return self.loss_scale

    def get_drop_overflow_update(self):
        return True

    def update_loss_scale(self, overflow):
        """The same rule as the update cell, on the host (for a hand-written loop)."""
        if overflow:
            self.loss_scale = max(self.loss_scale / self.scale_factor, 1)
            self.last_overflow_iter = self.cur_iter
        elif (self.cur_iter - self.last_overflow_iter) % self.scale_window == 0:
            self.loss_scale *= self.scale_factor
        self.cur_iter += 1

    def get_update_cell(self):
        return DynamicLossScaleUpdateCell(self.loss_scale, self.scale_factor, self.scale_window)
