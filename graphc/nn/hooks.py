"""Forward hooks of a Cell (MindSpore's register_forward_pre_hook and register_forward_hook).

A pre-hook `fn(cell, inputs)` runs before construct and may return new inputs (a tuple, or one
value); a hook `fn(cell, inputs, outputs)` runs after it and may return new outputs. They are
Python, so they run eagerly in PYNATIVE mode and while construct is traced; registering or removing
one changes what a compiled call traces to, so Cells re-trace (the hooks key compiled calls as the
training flags do).
"""
from __future__ import annotations

import itertools
from typing import Callable

from ..errors import ArgumentError

_ids = itertools.count()


class HookHandle:
    """What register_forward_(pre_)hook returns: `remove()` unregisters the hook."""

    def __init__(self, hooks: dict, hook_id: int, changed: Callable[[], None]):
        self._hooks, self._id, self._changed = hooks, hook_id, changed

    def remove(self) -> None:
        if self._hooks.pop(self._id, None) is not None:
            self._changed()


def register(owner: str, hooks: dict, hook_fn, with_kwargs: bool, changed: Callable[[], None]) -> HookHandle:
    if not callable(hook_fn):
        raise ArgumentError(f"{owner}: hook_fn must be callable, got {type(hook_fn).__name__}")
    if with_kwargs:
        raise ArgumentError(f"{owner}: with_kwargs=True is not supported; graphc's hooks see the positional inputs")
    hook_id = next(_ids)
    hooks[hook_id] = hook_fn
    changed()
    return HookHandle(hooks, hook_id, changed)


def pre_hooked(cell, hooks: dict, inputs: tuple) -> tuple:
    for hook_fn in list(hooks.values()):
        result = hook_fn(cell, inputs)
        if result is not None:
            inputs = result if isinstance(result, tuple) else (result,)
    return inputs


def post_hooked(cell, hooks: dict, inputs: tuple, outputs):
    for hook_fn in list(hooks.values()):
        result = hook_fn(cell, inputs, outputs)
        if result is not None:
            outputs = result
    return outputs
