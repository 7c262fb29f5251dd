"""Checks of the arguments of MindSpore's functions. A bad argument raises an ArgumentError at the
user's line that names the function, the parameter, what was given and what is expected:
`ops.reshape: shape='a' is not valid; expected a tuple of ints`."""
from __future__ import annotations

import numbers

import numpy as np

from ...errors import ArgumentError
from ...types import DType, dtype_of
from ..core import tracing


def describe(value) -> str:
    """A short account of a value: a Tensor by its type, anything else by its repr."""
    kind = getattr(value, "type", None)
    return f"a Tensor {kind}" if kind is not None and not isinstance(value, type) else repr(value)


def bad(function: str, parameter: str, value, expected: str) -> ArgumentError:
    return ArgumentError(f"ops.{function}: {parameter}={describe(value)} is not valid; expected {expected}")


def refuse(function: str, what: str) -> ArgumentError:
    """An option graphc does not have: the reason and what to do instead."""
    return ArgumentError(f"ops.{function}: {what}")


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def tensor(function: str, parameter: str, value):
    if getattr(value, "type", None) is None or isinstance(value, type):
        raise bad(function, parameter, value, "a Tensor")
    return value


def integer(function: str, parameter: str, value, minimum: int | None = None) -> int:
    if not is_int(value) or (minimum is not None and value < minimum):
        raise bad(function, parameter, value, "an int" + (f" >= {minimum}" if minimum is not None else ""))
    return int(value)


def boolean(function: str, parameter: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise bad(function, parameter, value, "a bool")
    return bool(value)


def number(function: str, parameter: str, value):
    """A Python number, or the value of a concrete one-element Tensor."""
    if getattr(value, "type", None) is not None and not getattr(value, "is_symbolic", True) and value.size == 1:
        value = value.asnumpy().item()
    if not isinstance(value, numbers.Number):
        raise bad(function, parameter, value, "a number")
    return value


def choice(function: str, parameter: str, value, choices: tuple) -> str:
    if value not in choices:
        raise bad(function, parameter, value, "one of " + ", ".join(map(repr, choices)))
    return value


def dtype(function: str, parameter: str, value) -> DType:
    try:
        return dtype_of(value)
    except TypeError as error:
        raise bad(function, parameter, value, f"a dtype ({error})") from None


def shape(function: str, parameter: str, value, *, sizes: bool = False) -> tuple[int, ...]:
    """A tuple or list of ints. With sizes (the size of a tensor to create, as ops.zeros takes it),
    also an int or a one-dimensional int Tensor, and every entry must be >= 0."""
    if sizes and getattr(value, "type", None) is not None and value.ndim <= 1 and not value.dtype.is_float:
        value = tuple(int(d) for d in np.atleast_1d(value.asnumpy()))
    if sizes and is_int(value):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(is_int(d) and (d >= 0 or not sizes) for d in value):
        raise bad(function, parameter, value, "a tuple of ints" + (" >= 0 (or one int)" if sizes else ""))
    return tuple(int(d) for d in value)


def axis(function: str, parameter: str, value, ndim: int) -> int:
    """One axis of a tensor of rank ndim, negative counting from the end; returned non-negative."""
    if not is_int(value) or not -max(ndim, 1) <= value < max(ndim, 1):
        raise bad(function, parameter, value, f"an int in [{-max(ndim, 1)}, {max(ndim, 1)})")
    return int(value) % max(ndim, 1)


def axes(function: str, parameter: str, value, ndim: int) -> tuple[int, ...] | None:
    """None (or an empty tuple: every axis), an int, or a tuple or list of distinct ints."""
    if value is None or (isinstance(value, (tuple, list)) and not value):
        return None
    values = (value,) if is_int(value) else value
    if not isinstance(values, (tuple, list)):
        raise bad(function, parameter, value, "None, an int or a tuple of ints")
    normalized = tuple(axis(function, parameter, a, ndim) for a in values)
    if len(set(normalized)) != len(normalized):
        raise bad(function, parameter, value, "distinct axes")
    return normalized


def eager_only(function: str, reason: str) -> None:
    """Refuses a call while a function is being traced (GRAPH_MODE, graphc.jit), for the reason given."""
    if tracing():
        raise refuse(function, f"cannot run inside a compiled function (GRAPH_MODE or graphc.jit): {reason}; "
                               "call it outside (in __init__ or in PYNATIVE_MODE) and pass the result in")
