"""Where a profile build's step hands its timeline: the recorder a Profiler installs.

After each call, a profile build's executable passes the recorder itself, four clock ticks (the
call entered; the native step started; it ended; the call returned, its outputs copied) and per
thread the spans the step recorded ((what, start, end) rows, see lower.TRACE, and how many did not
fit). With no recorder, the spans are dropped.
"""
from __future__ import annotations

from typing import Callable

_recorder: Callable | None = None


def set_recorder(recorder: Callable | None) -> None:
    global _recorder
    _recorder = recorder


def recorder() -> Callable | None:
    return _recorder
