"""Activation layers, and the names Dense(activation='relu') accepts."""
from __future__ import annotations

from ... import ops
from ...errors import ArgumentError
from ..cell import Cell

__all__ = ["LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh", "get_activation"]


class ReLU(Cell):
    def construct(self, x):
        return ops.relu(x)


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


_BY_NAME = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "logsoftmax": LogSoftmax}


def get_activation(name: str) -> Cell:
    """A new activation Cell for a MindSpore activation name ('relu', 'softmax', ...)."""
    if name.lower() not in _BY_NAME:
        raise ArgumentError(f"unknown activation {name!r}; valid names: {', '.join(_BY_NAME)} (or pass a Cell)")
    return _BY_NAME[name.lower()]()
