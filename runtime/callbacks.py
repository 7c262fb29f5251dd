"""Training callbacks with MindSpore's protocol, and the monitors of MindSpore and mindvision.

The Model calls, in order: begin, then per epoch epoch_begin, per step step_begin and step_end,
then epoch_end, and finally end, each with a RunContext whose original_args() is the cb_params
(fields named as in MindSpore: epoch_num, batch_num, cur_epoch_num and cur_step_num (1-based,
the step counted over the whole run), net_outputs, train_network, optimizer, loss_fn, ...).
The 2.x names (on_train_begin, ...) call the 1.x ones by default, so a callback may override
either; the Model and CallbackList call the 2.x names.
"""
from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from . import distributed

_logger = logging.getLogger(__name__)


class CallbackParams(dict):
    """MindSpore's cb_params: a dict whose keys also read and write as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"cb_params has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class RunContext:
    """What a callback sees of the run: the cb_params, and a way to ask the loop to stop."""

    def __init__(self, cb_params: Any):
        self._cb_params = cb_params
        self._stop_requested = False

    def original_args(self) -> Any:
        return self._cb_params

    def request_stop(self) -> None:
        """Stop after the current step (the Model checks after each step)."""
        self._stop_requested = True

    def get_stop_requested(self) -> bool:
        return self._stop_requested


class Callback:
    """Override any of the hooks; each takes a RunContext. Callbacks are also context managers."""

    def __enter__(self) -> Callback:
        return self

    def __exit__(self, *exc_info) -> None:
        """Release resources here, if any."""

    def begin(self, run_context: RunContext) -> None:
        """Once, before the first epoch."""

    def epoch_begin(self, run_context: RunContext) -> None:
        """Before each epoch."""

    def step_begin(self, run_context: RunContext) -> None:
        """Before each step."""

    def step_end(self, run_context: RunContext) -> None:
        """After each step; cb_params.net_outputs holds the step's outputs (the loss)."""

    def epoch_end(self, run_context: RunContext) -> None:
        """After each epoch."""

    def end(self, run_context: RunContext) -> None:
        """Once, after training."""

    # MindSpore 2.x names: training hooks run the 1.x ones; evaluation hooks do nothing by default.
    def on_train_begin(self, run_context: RunContext) -> None:
        self.begin(run_context)

    def on_train_epoch_begin(self, run_context: RunContext) -> None:
        self.epoch_begin(run_context)

    def on_train_step_begin(self, run_context: RunContext) -> None:
        self.step_begin(run_context)

    def on_train_step_end(self, run_context: RunContext) -> None:
        self.step_end(run_context)

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        self.epoch_end(run_context)

    def on_train_end(self, run_context: RunContext) -> None:
        self.end(run_context)

    def on_eval_begin(self, run_context: RunContext) -> None: ...

    def on_eval_epoch_begin(self, run_context: RunContext) -> None: ...

    def on_eval_step_begin(self, run_context: RunContext) -> None: ...

    def on_eval_step_end(self, run_context: RunContext) -> None: ...

    def on_eval_epoch_end(self, run_context: RunContext) -> None: ...

    def on_eval_end(self, run_context: RunContext) -> None: ...


HOOKS = ("on_train_begin", "on_train_epoch_begin", "on_train_step_begin", "on_train_step_end",
         "on_train_epoch_end", "on_train_end", "on_eval_begin", "on_eval_epoch_begin", "on_eval_step_begin",
         "on_eval_step_end", "on_eval_epoch_end", "on_eval_end")


def _broadcast(hook: str) -> Callable[[CallbackList, RunContext], None]:
    def run(self: CallbackList, run_context: RunContext) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(run_context)
    run.__name__ = hook
    return run


class CallbackList(Callback):
    """Runs callbacks in order; `None`, one Callback or a list of them. Entering it enters each."""

    def __init__(self, callbacks: Callback | Sequence[Callback] | None):
        callbacks = [] if callbacks is None else [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        self.callbacks = callbacks
        self._exit_stack = contextlib.ExitStack()

    def __enter__(self) -> CallbackList:
        self.callbacks = [self._exit_stack.enter_context(callback) for callback in self.callbacks]
        return self

    def __exit__(self, *exc_info) -> None:
        self._exit_stack.__exit__(*exc_info)

    # the 1.x names broadcast the 2.x hooks too: they reach callbacks that override either
    on_train_begin = begin = _broadcast("on_train_begin")
    on_train_epoch_begin = epoch_begin = _broadcast("on_train_epoch_begin")
    on_train_step_begin = step_begin = _broadcast("on_train_step_begin")
    on_train_step_end = step_end = _broadcast("on_train_step_end")
    on_train_epoch_end = epoch_end = _broadcast("on_train_epoch_end")
    on_train_end = end = _broadcast("on_train_end")
    on_eval_begin = _broadcast("on_eval_begin")
    on_eval_epoch_begin = _broadcast("on_eval_epoch_begin")
    on_eval_step_begin = _broadcast("on_eval_step_begin")
    on_eval_step_end = _broadcast("on_eval_step_end")
    on_eval_epoch_end = _broadcast("on_eval_epoch_end")
    on_eval_end = _broadcast("on_eval_end")


def loss_value(net_outputs: Any) -> float:
    """The loss in a step's outputs: the first of a tuple/list, averaged to one float."""
    if isinstance(net_outputs, (tuple, list)):
        net_outputs = net_outputs[0]
    if hasattr(net_outputs, "asnumpy"):
        net_outputs = net_outputs.asnumpy()
    values = np.asarray(net_outputs)
    return float(values if values.size == 1 else values.mean())  # np.mean of one value costs microseconds


class LossMonitor(Callback):
    """mindvision's LossMonitor: every `per_print_times` steps (0: never) a line

        Epoch:[  0/ 10], step:[ 1875/ 1875], loss:[0.189/1.176], time:2.254 ms, lr:0.01000

    (epoch 0-based; loss: this step's / the epoch's mean so far; time: this step), and after each
    epoch `Epoch time: … ms, per step time: … ms, avg loss: …`. The lr is `lr_init` (a float) or
    `lr_init[cur_step_num - 1]` (a sequence); with lr_init=None it is the optimizer's
    `get_lr_value()` when the optimizer has one, else the `, lr:` field is left out.
    A NaN or infinite loss raises ValueError. `losses` holds every step's loss of the run and
    `epoch_losses` each epoch's mean. On a terminal, a progress line shows between printed lines.
    Under data parallelism the step's loss is already the mean over the ranks, and only rank 0 prints.
    """

    def __init__(self, lr_init: float | Sequence[float] | None = None, per_print_times: int = 1):
        if not isinstance(per_print_times, int) or isinstance(per_print_times, bool) or per_print_times < 0:
            raise ValueError(f"LossMonitor: per_print_times must be an int >= 0, got {per_print_times!r}")
        self.lr_init, self.per_print_times = lr_init, per_print_times
        self.losses: list[float] = []
        self.epoch_losses: list[float] = []
        self._last_print_step = 0
        self._epoch_sum, self._epoch_steps = 0.0, 0
        self._epoch_start = self._step_start = time.perf_counter()
        self._progress: _ProgressLine | None = None

    def begin(self, run_context: RunContext) -> None:
        # a run resumed at a later epoch starts counting from where it starts, not from step 0
        start = getattr(run_context.original_args(), "cur_step_num", 0) or 0
        self.losses, self.epoch_losses, self._last_print_step = [], [], start
        self._progress = _ProgressLine() if _progress_wanted(self.per_print_times) else None

    def epoch_begin(self, run_context: RunContext) -> None:
        self._epoch_sum, self._epoch_steps = 0.0, 0
        self._epoch_start = time.perf_counter()

    def step_begin(self, run_context: RunContext) -> None:
        self._step_start = time.perf_counter()

    def step_end(self, run_context: RunContext) -> None:
        step_ms = (time.perf_counter() - self._step_start) * 1000
        cb = run_context.original_args()
        loss = loss_value(cb.net_outputs)
        step_in_epoch = (cb.cur_step_num - 1) % cb.batch_num + 1
        if not math.isfinite(loss):
            raise ValueError(f"epoch: {cb.cur_epoch_num} step: {step_in_epoch}. Invalid loss, terminating training.")
        self.losses.append(loss)
        self._epoch_sum += loss
        self._epoch_steps += 1
        mean = self._epoch_sum / self._epoch_steps
        if self.per_print_times and cb.cur_step_num - self._last_print_step >= self.per_print_times:
            self._last_print_step = cb.cur_step_num
            line = (f"Epoch:[{cb.cur_epoch_num - 1:3d}/{cb.epoch_num:3d}], "
                    f"step:[{step_in_epoch:5d}/{cb.batch_num:5d}], "
                    f"loss:[{loss:5.3f}/{mean:5.3f}], time:{step_ms:5.3f} ms")
            lr = self._learning_rate(cb)
            self._print(line if lr is None else f"{line}, lr:{lr:5.5f}")
        elif self._progress:
            self._progress.show(step_in_epoch, cb.batch_num, mean)

    def epoch_end(self, run_context: RunContext) -> None:
        cb = run_context.original_args()
        epoch_ms = (time.perf_counter() - self._epoch_start) * 1000
        mean = self._epoch_sum / self._epoch_steps if self._epoch_steps else float("nan")
        self.epoch_losses.append(mean)
        self._print(f"Epoch time: {epoch_ms:5.3f} ms, per step time: {epoch_ms / cb.batch_num:5.3f} ms, "
                    f"avg loss: {mean:5.3f}")

    def _learning_rate(self, cb: Any) -> float | None:
        if self.lr_init is None:
            get_lr = getattr(getattr(cb, "optimizer", None), "get_lr_value", None)
            if not callable(get_lr):
                return None
            lr = np.ravel(get_lr())         # parameter groups give one rate per group: log the first
            return float(lr[0])
        if np.ndim(self.lr_init) == 0:
            return float(self.lr_init)
        if cb.cur_step_num > len(self.lr_init):
            raise ValueError(f"LossMonitor: lr_init has {len(self.lr_init)} values, but this is step "
                             f"{cb.cur_step_num}; give one learning rate per step of the whole run")
        return float(self.lr_init[cb.cur_step_num - 1])

    def _print(self, line: str) -> None:
        if not distributed.is_main_rank():
            return
        if self._progress:
            self._progress.clear()
        print(line, flush=True)


def _progress_wanted(per_print_times: int) -> bool:
    """A progress line is worth drawing when printed lines are far apart, and only on a terminal
    (so logs and pipes get exactly the printed lines) of the rank that prints."""
    return per_print_times > 1 and sys.stdout.isatty() and distributed.is_main_rank()


class _ProgressLine:
    """`[=====>    ] 512/1875 loss 0.234` redrawn in place on stdout, at most 10 times a second."""

    WIDTH = 30

    def __init__(self):
        self._drawn_at = 0.0
        self._visible = False

    def show(self, step: int, steps: int, mean_loss: float) -> None:
        now = time.monotonic()
        if now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        filled = self.WIDTH * step // steps
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + " " * (self.WIDTH - filled - 1)
        sys.stdout.write(f"\r[{bar}] {step}/{steps} loss {mean_loss:.3f}")
        sys.stdout.flush()
        self._visible = True

    def clear(self) -> None:
        if self._visible:
            sys.stdout.write("\r" + " " * (self.WIDTH + 40) + "\r")
            self._visible = False


class TimeMonitor(Callback):
    """MindSpore's TimeMonitor: after each epoch, `epoch time: X ms, per step time: Y ms`.

    Steps per epoch are cb_params.batch_num, else `data_size`.
    """

    def __init__(self, data_size: int | None = None):
        if data_size is not None and (not isinstance(data_size, int) or data_size < 1):
            raise ValueError(f"TimeMonitor: data_size must be a positive int or None, got {data_size!r}")
        self.data_size = data_size
        self._epoch_start = time.perf_counter()

    def epoch_begin(self, run_context: RunContext) -> None:
        self._epoch_start = time.perf_counter()

    def epoch_end(self, run_context: RunContext) -> None:
        epoch_ms = (time.perf_counter() - self._epoch_start) * 1000
        steps = getattr(run_context.original_args(), "batch_num", None) or self.data_size
        if not steps:
            raise ValueError("TimeMonitor: cb_params has no batch_num; give TimeMonitor(data_size=steps per epoch)")
        if distributed.is_main_rank():
            print(f"epoch time: {epoch_ms:5.3f} ms, per step time: {epoch_ms / steps:5.3f} ms", flush=True)


class History(Callback):
    """Records per epoch the loss (`net_output`) and evaluation results, as MindSpore 2.x:
    `history` is {"net_output": [...], <metric>: [...]}, `epoch` is {"epoch": [1, 2, ...]}.
    Evaluation results are read from cb_params.eval_results (set by Model.fit).
    """

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: dict[str, list[int]] = {"epoch": []}

    def begin(self, run_context: RunContext) -> None:
        self.epoch = {"epoch": []}

    def epoch_end(self, run_context: RunContext) -> None:
        cb = run_context.original_args()
        self.epoch["epoch"].append(getattr(cb, "cur_epoch_num", 1))
        record = {"net_output": loss_value(cb.net_outputs), **(getattr(cb, "eval_results", None) or {})}
        for key, value in record.items():
            self.history.setdefault(key, []).append(value)


_LOWER_IS_BETTER = {"loss", "eval_loss", "mae", "mse"}


class EarlyStopping(Callback):
    """Stop training once `monitor` has not improved by more than `min_delta` for `patience` epochs.

    monitor="loss" reads the step loss (cb_params.net_outputs); any other name reads
    cb_params.eval_results (set by Model.fit). mode "auto" minimizes losses and errors and
    maximizes anything else. With a `baseline`, patience only restarts on beating it as well.
    restore_best_weights copies the parameters of cb_params.train_network (`parameters_dict()`,
    name -> Parameter with asnumpy() and set_data()) at the best epoch and restores them on stopping.
    """

    def __init__(self, monitor: str = "eval_loss", min_delta: float = 0, patience: int = 0, verbose: bool = False,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, abs(min_delta), patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.minimize = mode == "min" or (mode == "auto" and monitor in _LOWER_IS_BETTER)
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

    def _improves(self, value: float, reference: float) -> bool:
        if self.minimize:
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def _monitored_value(self, cb: Any) -> float | None:
        if self.monitor == "loss":
            return loss_value(cb.net_outputs)
        results = getattr(cb, "eval_results", None) or {}
        if self.monitor not in results:
            _logger.warning("EarlyStopping monitors %r, which is not available; available: %s",
                            self.monitor, ["loss", *results])
            return None
        value = np.asarray(results[self.monitor])
        if value.size != 1:
            raise ValueError(f"EarlyStopping: {self.monitor!r} must be a scalar, got shape {value.shape}")
        return float(value)


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
