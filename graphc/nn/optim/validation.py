"""Argument checks for optimizers and schedules. Errors name the class, the argument, what was
given and what is allowed, and use MindSpore's exception types (TypeError for a wrong type,
ValueError for a value out of range)."""
from __future__ import annotations

import math
import numbers


def as_float(owner: str, name: str, value, allow_int: bool = False) -> float:
    """value as a float; ints only when allow_int (MindSpore rejects `momentum=0`, accepts `lr=1`)."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if isinstance(value, float) or (allow_int and is_int):
        return float(value)
    hint = f" (write {value}.0)" if is_int else ""
    raise TypeError(f"{owner}: {name} must be a float, got {type(value).__name__} {value!r}{hint}")


def check_range(owner: str, name: str, value: float, low: float, high: float = math.inf,
                low_open: bool = False, high_open: bool = False) -> float:
    """value if it lies in the interval (open ends excluded), else a ValueError naming the interval."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open or high == math.inf else ']'}"
        raise ValueError(f"{owner}: {name} must be in {interval}, got {value!r}")
    return value


def positive_int(owner: str, name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return value
