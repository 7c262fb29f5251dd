"""Input checks shared by the layers: errors name the layer's scope, the shapes and the fix."""
from __future__ import annotations

import numbers

from ...errors import ArgumentError, GraphcError
from ...tracing import Tensor, current_scope


def layer_name(cell) -> str:
    """'backbone.fc1 (Dense)': where the layer sits in the network, and what it is."""
    kind = type(cell).__name__
    where = current_scope()
    return f"{where} ({kind})" if where and where != kind else kind


def check_tensor(cell, x) -> None:
    if not isinstance(x, Tensor):
        raise GraphcError(f"{layer_name(cell)}: the input is a {type(x).__name__}, not a Tensor; "
                          "wrap it with graphc.Tensor(...)")


def input_error(cell, x: Tensor, expected: str, fix: str) -> GraphcError:
    """e.g. expected='input [N, 400]': 'backbone.fc1 (Dense): expected input [N, 400], got f32[32,256]; <fix>'."""
    return GraphcError(f"{layer_name(cell)}: expected {expected}, got {x.type}; {fix}")


def pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (each >= minimum) as a pair, e.g. kernel_size=5 -> (5, 5)."""
    values = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and v >= minimum for v in values):
        raise ArgumentError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(values[0]), int(values[1])
