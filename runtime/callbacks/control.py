"""Callbacks that steer training: EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, and
LambdaCallback for one-off hooks."""
from __future__ import annotations

import logging
import math
from typing import Any, Callable

import numpy as np

from .base import HOOKS, Callback, RunContext, loss_value

_logger = logging.getLogger("runtime.callbacks")

_LOWER_IS_BETTER = {"loss", "eval_loss", "mae", "mse"}


class _Watching(Callback):
    """A callback acting on one monitored value per epoch: monitor="loss" reads the step loss
    (cb_params.net_outputs); any other name reads cb_params.eval_results (set by Model.fit). mode
    "auto" minimizes losses and errors and maximizes anything else; an improvement must beat the
    best by more than min_delta."""

    def __init__(self, owner: str, monitor: str, min_delta: float, patience: int, mode: str):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"{owner}: patience must be an int >= 0, got {patience!r}")
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.minimize = mode == "min" or (mode == "auto" and monitor in _LOWER_IS_BETTER)

    def _improves(self, value: float, reference: float) -> bool:
        if self.minimize:
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def _monitored_value(self, cb: Any) -> float | None:
        if self.monitor == "loss":
            return loss_value(cb.net_outputs)
        results = getattr(cb, "eval_results", None) or {}
        if self.monitor not in results:
            _logger.warning("%s monitors %r, which is not available; available: %s",
                            type(self).__name__, self.monitor, ["loss", *results])
            return None
        value = np.asarray(results[self.monitor])
        if value.size != 1:
            raise ValueError(f"{type(self).__name__}: {self.monitor!r} must be a scalar, got shape {value.shape}")
        return float(value)


class EarlyStopping(_Watching):
    """Stop training once `monitor` has not improved by more than `min_delta` for `patience` epochs.

    The monitored value is read as _Watching says. With a `baseline`, patience only restarts on
    beating it as well. restore_best_weights copies the parameters of cb_params.train_network (`parameters_dict()`,
    name -> Parameter with asnumpy() and set_data()) at the best epoch and restores them on stopping.
    """

    def __init__(self, monitor: str = "eval_loss", min_delta: float = 0, patience: int = 0, verbose: bool = False,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False):
        super().__init__("EarlyStopping", monitor, min_delta, patience, mode)
        self.verbose, self.baseline, self.restore_best_weights = verbose, baseline, restore_best_weights
        self.begin(None)

    def begin(self, run_context: RunContext | None) -> None:
        self.wait, self.stopped_epoch = 0, 0
        self.best = math.inf if self.minimize else -math.inf
        self.best_weights: dict[str, np.ndarray] | None = None

    def epoch_end(self, run_context: RunContext) -> None:
        cb = run_context.original_args()
        current = self._monitored_value(cb)
        if current is None:
            return
        self.wait += 1
        if self._improves(current, self.best):
            self.best = current
            if self.restore_best_weights:
                self.best_weights = _snapshot(cb.train_network)
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
        if self.wait >= self.patience:
            self.stopped_epoch = getattr(cb, "cur_epoch_num", 0)
            run_context.request_stop()
            if self.best_weights is not None:
                if self.verbose:
                    print("Restoring model weights from the end of the best epoch.")
                _restore(cb.train_network, self.best_weights)

    def end(self, run_context: RunContext) -> None:
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch:05d}: early stopping")


def _snapshot(network: Any) -> dict[str, np.ndarray]:
    return {name: np.array(p.asnumpy(), copy=True) for name, p in network.parameters_dict().items()}


def _restore(network: Any, weights: dict[str, np.ndarray]) -> None:
    parameters = network.parameters_dict()
    for name, value in weights.items():
        parameters[name].set_data(value)


class LambdaCallback(Callback):
    """A callback made of functions, one per 2.x hook name (each takes the RunContext)."""

    def __init__(self, **hooks: Callable[[RunContext], None]):
        for name, function in hooks.items():
            if name not in HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; hooks: {', '.join(HOOKS)}")
            if function is not None:
                setattr(self, name, function)


class ReduceLROnPlateau(_Watching):
    """Multiply the optimizer's learning rate by `factor` (down to min_lr) once `monitor` has not
    improved for `patience` epochs, then wait `cooldown` epochs before counting again (MindSpore 2.x).
    The monitored value is read as _Watching says; the learning rate must be a float (Parameter
    `learning_rate`), which the compiled step reads in place."""

    def __init__(self, monitor: str = "eval_loss", factor: float = 0.1, patience: int = 10, verbose: bool = False,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0):
        super().__init__("ReduceLROnPlateau", monitor, min_delta, patience, mode)
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1) (it multiplies the rate), got {factor!r}")
        if not isinstance(cooldown, int) or cooldown < 0:
            raise ValueError(f"ReduceLROnPlateau: cooldown must be an int >= 0, got {cooldown!r}")
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0, got {min_lr!r}")
        self.factor, self.verbose, self.cooldown, self.min_lr = factor, verbose, cooldown, min_lr
        self.begin(None)

    def begin(self, run_context: RunContext | None) -> None:
        self.wait, self.cooldown_counter = 0, 0
        self.best = math.inf if self.minimize else -math.inf

    def epoch_end(self, run_context: RunContext) -> None:
        cb = run_context.original_args()
        current = self._monitored_value(cb)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                rate = _learning_rate(cb, "ReduceLROnPlateau")
                if rate.asnumpy() > self.min_lr:
                    new = max(float(rate.asnumpy()) * self.factor, self.min_lr)
                    rate.set_data(np.asarray(new, np.float32))
                    if self.verbose:
                        print(f"Epoch {cb.cur_epoch_num}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """After each step, sets the learning rate to `learning_rate_function(lr, cur_step_num)` (MindSpore
    2.x). The optimizer's learning rate must be a float (Parameter `learning_rate`)."""

    def __init__(self, learning_rate_function: Callable[[float, int], float]):
        if not callable(learning_rate_function):
            raise TypeError(f"LearningRateScheduler: learning_rate_function must be callable, got "
                            f"{type(learning_rate_function).__name__}")
        self.learning_rate_function = learning_rate_function

    def step_end(self, run_context: RunContext) -> None:
        cb = run_context.original_args()
        rate = _learning_rate(cb, "LearningRateScheduler")
        old = float(rate.asnumpy())
        new = self.learning_rate_function(old, cb.cur_step_num)
        if not math.isclose(old, new, rel_tol=1e-10):
            rate.set_data(np.asarray(new, np.float32))


def _learning_rate(cb: Any, owner: str):
    """The optimizer's learning-rate Parameter, which must hold one float."""
    rate = getattr(getattr(cb, "optimizer", None), "learning_rate", None)
    if rate is None or not hasattr(rate, "set_data") or np.ndim(rate.asnumpy()) != 0:
        raise ValueError(f"{owner}: the optimizer's learning rate must be a float (Parameter 'learning_rate'); "
                         f"a per-step list or a LearningRateSchedule already decides every step's rate")
    return rate
