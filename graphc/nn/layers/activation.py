"""Activation layers, and the names Dense(activation='relu') accepts."""
from __future__ import annotations

import numbers

import numpy as np

from ... import ops
from ...errors import ArgumentError
from ..cell import Cell
from ..parameter import Parameter
from .checks import check_tensor, input_error

__all__ = ["ELU", "GELU", "HSigmoid", "HSwish", "LeakyReLU", "LogSoftmax", "PReLU", "ReLU", "ReLU6", "SiLU",
           "Sigmoid", "Softmax", "Tanh", "get_activation"]


def _number(layer: str, name: str, value) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ArgumentError(f"{layer}: {name} must be a number, got {value!r}")
    return float(value)


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
        self.alpha = _number("LeakyReLU", "alpha", alpha)

    def construct(self, x):
        return ops.leaky_relu(x, alpha=self.alpha)

    def extend_repr(self) -> str:
        return f"alpha={self.alpha}"


class ELU(Cell):
    """x where x > 0, else alpha · (exp(x) - 1) (ops.elu)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = _number("ELU", "alpha", alpha)

    def construct(self, x):
        return ops.elu(x, self.alpha)


class PReLU(Cell):
    """x where x > 0, else w · x, with a learned slope w (a Parameter named 'w' as MindSpore's) per
    channel (axis 1), or one for all channels (channel=1), initialised to w."""

    def __init__(self, channel=1, w=0.25):
        super().__init__()
        if not isinstance(channel, int) or isinstance(channel, bool) or channel < 1:
            raise ArgumentError(f"PReLU: channel must be an int >= 1, got {channel!r}")
        self.w = Parameter(np.full(channel, _number("PReLU", "w (the initial slope)", w), np.float32), name="w")

    def construct(self, x):
        check_tensor(self, x)
        channels = self.w.shape[0]
        if channels > 1 and (x.ndim < 2 or x.shape[1] != channels):
            raise input_error(self, x, f"an input [N, {channels}, ...] (channel={channels})",
                              f"build PReLU(channel={x.shape[1] if x.ndim > 1 else 1}) for this input")
        slope = ops.reshape(self.w, shape=(channels,) + (1,) * (x.ndim - 2)) if channels > 1 else self.w
        return ops.select(ops.gt(x, 0.0), x, x * slope)


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
