"""Dense and Flatten."""
from __future__ import annotations

import math

from ... import ops
from ...errors import ArgumentError
from ..cell import Cell
from ..init import initializer
from ..parameter import Parameter
from .activation import get_activation
from .checks import check_tensor, input_error

__all__ = ["Dense", "Flatten"]


def _activation_cell(activation):
    if activation is None or isinstance(activation, Cell):
        return activation
    if isinstance(activation, str):
        return get_activation(activation)
    raise ArgumentError(f"Dense: activation must be None, a name such as 'relu' or a Cell, "
                        f"got {type(activation).__name__}")


class Dense(Cell):
    """activation(x·Wᵀ + b) with W of shape (out_channels, in_channels); x may have extra leading axes."""

    def __init__(self, in_channels, out_channels, weight_init="normal", bias_init="zeros", has_bias=True,
                 activation=None):
        super().__init__()
        self.in_channels, self.out_channels, self.has_bias = in_channels, out_channels, has_bias
        self.weight = Parameter(initializer(weight_init, (out_channels, in_channels)), name="weight")
        self.bias = Parameter(initializer(bias_init, (out_channels,)), name="bias") if has_bias else None
        self.activation = _activation_cell(activation)

    def construct(self, x):
        self._check(x)
        flat = x if x.ndim == 2 else ops.reshape(x, shape=(-1, self.in_channels))
        y = ops.matmul(flat, self.weight, transpose_b=True)
        if self.has_bias:
            y = y + self.bias
        if self.activation is not None:
            y = self.activation(y)
        return y if x.ndim == 2 else ops.reshape(y, shape=x.shape[:-1] + (self.out_channels,))

    def _check(self, x):
        check_tensor(self, x)
        expected = f"input [N, {self.in_channels}]"
        if x.ndim < 2:
            raise input_error(self, x, expected, "add the batch axis (reshape to [N, features])")
        if x.shape[-1] != self.in_channels:
            raise input_error(self, x, expected,
                              f"the layer was built as Dense({self.in_channels}, {self.out_channels}) but gets "
                              f"{x.shape[-1]} features per sample: feed it {self.in_channels} features (check the "
                              f"input size of the layers before it) or build it as Dense({x.shape[-1]}, "
                              f"{self.out_channels})")

    def extend_repr(self) -> str:
        text = f"input_channels={self.in_channels}, output_channels={self.out_channels}"
        text += f", has_bias={self.has_bias}" if self.has_bias else ""
        return text + (f", activation={self.activation}" if self.activation is not None else "")


class Flatten(Cell):
    """Keeps axis 0 (the batch) and flattens the rest: [N, C, H, W] -> [N, C·H·W]."""

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim < 1:
            raise input_error(self, x, "input [N, ...]", "Flatten keeps axis 0 (the batch), so the input needs one")
        return ops.reshape(x, shape=(x.shape[0], math.prod(x.shape[1:])))
