"""Monitors: MindSpore's and mindvision's LossMonitor (one class, two forms), TimeMonitor, History."""
from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np

from graphc.errors import ArgumentError

from .. import distributed
from .base import Callback, RunContext, loss_value

MINDSPORE, MINDVISION = "mindspore", "mindvision"
_FORMS = ("MindSpore's form is LossMonitor(per_print_times=1) with an int, printing `epoch: 1 step: 100, loss is "
          "0.1234`; mindvision's form is LossMonitor(lr_init, per_print_times=1) with a float learning rate (or "
          "one per step), printing `Epoch:[  0/ 10], step:[  100/ 1875], loss:[0.123/0.456], ...`")


class LossMonitor(Callback):
    """The loss every `per_print_times` steps (0: never), in one of two forms, decided by the arguments:

    * MindSpore's, `LossMonitor()`, `LossMonitor(100)` or `LossMonitor(per_print_times=100)` (an
      int): `epoch: 1 step: 100, loss is 0.1234` (epoch 1-based, step within the epoch).
    * mindvision's (the seed tutorial's), `LossMonitor(0.01, 1875)`, `LossMonitor([rates])` or
      `LossMonitor(lr_init=..., ...)` (a float, a per-step sequence or None):

        Epoch:[  0/ 10], step:[ 1875/ 1875], loss:[0.189/1.176], time:2.254 ms, lr:0.01000

      (epoch 0-based; loss: this step's / the epoch's mean so far; time: this step), and after each
      epoch `Epoch time: … ms, per step time: … ms, avg loss: …`. The lr is `lr_init` (a float) or
      `lr_init[cur_step_num - 1]` (a sequence); with lr_init=None it is the optimizer's
      `get_lr_value()` when the optimizer has one, else the `, lr:` field is left out.

    Anything else (an int learning rate beside per_print_times, say) is an error showing both forms.
    A NaN or infinite loss raises ValueError. `losses` holds every step's loss of the run and
    `epoch_losses` each epoch's mean. On a terminal, a progress line shows between printed lines.
    """

    def __init__(self, *args, **kwargs):
        self.form, self.lr_init, self.per_print_times = _loss_monitor_form(args, kwargs)
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
            if self.form == MINDSPORE:
                self._print(f"epoch: {cb.cur_epoch_num} step: {step_in_epoch}, loss is {loss}")
                return
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
        if self.form == MINDVISION:
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
        if not distributed.is_main_rank():     # under data parallelism the loss is already the ranks' mean
            return
        if self._progress:
            self._progress.clear()
        print(line, flush=True)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _loss_monitor_form(args: tuple, kwargs: dict) -> tuple[str, Any, int]:
    """(form, lr_init, per_print_times) from LossMonitor's arguments; see the class docstring."""
    call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    unknown = set(kwargs) - {"lr_init", "per_print_times"}
    if unknown or len(args) > 2:
        raise TypeError(f"LossMonitor({call}): unexpected argument(s). {_FORMS}")
    named = dict(zip(("lr_init", "per_print_times"), args))
    if set(named) & set(kwargs):
        raise TypeError(f"LossMonitor({call}): {', '.join(set(named) & set(kwargs))} given twice. {_FORMS}")
    named.update(kwargs)
    if "lr_init" not in kwargs and len(args) <= 1 and (not args or _is_int(args[0])) and \
            not ("per_print_times" in kwargs and args):
        form, lr_init, per_print_times = MINDSPORE, None, named.get("lr_init", named.get("per_print_times", 1))
    else:
        form, lr_init, per_print_times = MINDVISION, named.get("lr_init"), named.get("per_print_times", 1)
        if not (lr_init is None or isinstance(lr_init, (float, np.floating, list, tuple, np.ndarray)) or
                hasattr(lr_init, "asnumpy")):
            raise ArgumentError(f"LossMonitor({call}) is ambiguous: {lr_init!r} is not a learning rate (a float, a "
                             f"per-step sequence or None). {_FORMS}")
    if not _is_int(per_print_times) or per_print_times < 0:
        raise ArgumentError(f"LossMonitor: per_print_times must be an int >= 0, got {per_print_times!r}")
    return form, lr_init, per_print_times


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


