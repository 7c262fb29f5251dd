"""User-facing errors: the first line names the user's file:line, then what and the fix."""
from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class GraphcError(Exception):
    """An error in the user's program or input, located at the user's source line."""

    def __init__(self, message: str, loc: str | None = None):
        self.loc = loc if loc is not None else user_location()
        super().__init__(f"{self.loc}: {message}" if self.loc else message)


class ArgumentError(GraphcError, ValueError):
    """A bad argument to a graphc API (a ValueError, as MindSpore raises), located at the user's line."""


class SinkError(GraphcError):
    """Batch `batch` (from 0) of a sink (N steps in one native call, codegen/ring.py) cannot run;
    the steps before it ran, it and the rest did not."""

    def __init__(self, batch: int, steps: int, error: BaseException):
        self.batch = batch
        self.detail = (f"batch {batch + 1} of the {steps} of this sink cannot run: {error}. The {batch} step(s) "
                       "before it ran, each whole; it and the ones after it did not")
        super().__init__(self.detail)


_LIBRARY_DIRS = [_PACKAGE_DIR]   # frames in these are library code, never "the user's line"


def add_library_package(directory: str) -> None:
    """Count frames in `directory` as library code too (the runtime registers itself), so errors
    raised there name the user's line that called into it."""
    _LIBRARY_DIRS.append(os.path.abspath(directory) + os.sep)


def is_library_file(filename: str) -> bool:
    """Whether code in this file is graphc's (or a registered library's), not the user's."""
    path = os.path.abspath(filename)
    return filename.startswith("<frozen") or any(path.startswith(d) for d in _LIBRARY_DIRS)


def user_location() -> str:
    """file:line of the innermost stack frame outside graphc (the user's code)."""
    frame = sys._getframe(1)
    while frame is not None and is_library_file(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return ""
    path = frame.f_code.co_filename
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:
        pass
    return f"{path}:{frame.f_lineno}"
