"""Activation layers, and the names Dense(activation='relu') accepts."""
from __future__ import annotations

import numbers

from ... import ops
from ...errors import ArgumentError
from ..cell import Cell

__all__ = ["GELU", "HSigmoid", "HSwish", "LeakyReLU", "LogSoftmax", "ReLU", "ReLU6", "SiLU", "Sigmoid", "Softmax",
           "Tanh", "get_activation"]


class ReLU(Cell):
    def construct(self, x):
        return ops.relu(x)


class ReLU6(Cell):
    """min(max(x, 0), 6)."""

    def construct(self, x):
        return ops.relu6(x)


class LeakyReLU(Cell):
    """x where x > 0, else alpha * x."""

    def __init__(self, alpha=0.2):
        super().__init__()
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
            raise ArgumentError(f"LeakyReLU: alpha must be a number, got {alpha!r}")
        self.alpha = float(alpha)

    def construct(self, x):
        return ops.leaky_relu(x, alpha=self.alpha)

    def extend_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Cell):
    """x * Φ(x); approximate=True (the default, as in MindSpore) uses the tanh approximation."""

    def __init__(self, approximate=True):
        super().__init__()
        self.approximate = bool(approximate)

    def construct(self, x):
        return ops.gelu(x, approximate="tanh" if self.approximate else "none")

    def extend_repr(self) -> str:
        return f"approximate={self.approximate}"


class HSwish(Cell):
    """x * relu6(x + 3) / 6."""

    def construct(self, x):
        return ops.hswish(x)


class HSigmoid(Cell):
    """relu6(x + 3) / 6."""

    def construct(self, x):
        return ops.hsigmoid(x)


class SiLU(Cell):
    """x * sigmoid(x)."""

    def construct(self, x):
        return ops.silu(x)


class Sigmoid(Cell):
    def construct(self, x):
        return ops.sigmoid(x)


class Tanh(Cell):
    def construct(self, x):
        return ops.tanh(x)


class Softmax(Cell):
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return ops.softmax(x, axis=self.axis)


class LogSoftmax(Cell):
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return ops.log_softmax(x, axis=self.axis)


_BY_NAME = {"relu": ReLU, "relu6": ReLU6, "leakyrelu": LeakyReLU, "gelu": GELU, "hswish": HSwish,
            "hsigmoid": HSigmoid, "silu": SiLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax,
            "logsoftmax": LogSoftmax}


def get_activation(name: str) -> Cell:
    """A new activation Cell for a MindSpore activation name ('relu', 'softmax', ...)."""
    if name.lower() not in _BY_NAME:
        raise ArgumentError(f"unknown activation {name!r}; valid names: {', '.join(_BY_NAME)} (or pass a Cell)")
    return _BY_NAME[name.lower()]()
