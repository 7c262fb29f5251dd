"""mindspore.experimental.optim.lr_scheduler: schedules that set the learning rates of an
experimental optimizer's param_groups between steps."""
from __future__ import annotations

from ...errors import ArgumentError
from .experimental import Optimizer
from .validation import as_float

__all__ = ["StepLR"]


class StepLR:
    """Every step_size calls of step(), each group's learning rate is multiplied by gamma."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"StepLR: optimizer must be a mindspore.experimental.optim optimizer, got "
                                f"{type(optimizer).__name__}")
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size < 1:
            raise ArgumentError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        if last_epoch != -1:
            raise ArgumentError(f"StepLR: last_epoch={last_epoch!r} is not supported; start a new schedule (-1)")
        self.optimizer, self.step_size = optimizer, step_size
        self.gamma = as_float("StepLR", "gamma", gamma, allow_int=True)
        self.last_epoch = 0

    def step(self) -> None:
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] = float(group["lr"].asnumpy()) * self.gamma

    def get_last_lr(self) -> list:
        return [group["lr"].value() for group in self.optimizer.param_groups]
