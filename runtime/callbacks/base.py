"""The callback protocol: Callback, RunContext, cb_params and CallbackList.

The Model calls, in order: begin, then per epoch epoch_begin, per step step_begin and step_end,
then epoch_end, and finally end, each with a RunContext whose original_args() is the cb_params
(fields named as in MindSpore: epoch_num, batch_num, cur_epoch_num and cur_step_num (1-based,
the step counted over the whole run), net_outputs, train_network, optimizer, loss_fn, ...).
The 2.x names (on_train_begin, ...) call the 1.x ones by default, so a callback may override
either; the Model and CallbackList call the 2.x names.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import numpy as np


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
