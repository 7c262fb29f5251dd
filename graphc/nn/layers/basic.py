"""Dense, Dropout, Flatten and Identity."""
from __future__ import annotations

import numbers

import numpy as np

from ... import context, ops
from ...errors import ArgumentError
from ...ops.pad import pad_edges
from ...types import float32
from ..cell import Cell
from ..init import initializer, layer_defaults
from ..parameter import Parameter
from .activation import get_activation
from .checks import check_tensor, input_error

__all__ = ["Dense", "Dropout", "Flatten", "Identity", "Pad", "ZeroPad2d"]


def _activation_cell(activation):
    if activation is None or isinstance(activation, Cell):
        return activation
    if isinstance(activation, str):
        return get_activation(activation)
    raise ArgumentError(f"Dense: activation must be None, a name such as 'relu' or a Cell, "
                        f"got {type(activation).__name__}")


class Dense(Cell):
    """activation(x·Wᵀ + b) with W of shape (out_channels, in_channels); x may have extra leading axes."""

    def __init__(self, in_channels, out_channels, weight_init=None, bias_init=None, has_bias=True, activation=None):
        super().__init__()
        self.in_channels, self.out_channels, self.has_bias = in_channels, out_channels, has_bias
        shape = (out_channels, in_channels)
        weight_init, bias_init = layer_defaults(weight_init, bias_init, shape)
        self.weight = Parameter(initializer(weight_init, shape), name="weight")
        self.bias = Parameter(initializer(bias_init, (out_channels,)), name="bias") if has_bias else None
        self.activation = _activation_cell(activation)

    def construct(self, x):
        self._check(x)
        flat = x if x.ndim == 2 else ops.reshape(x, shape=(-1, self.in_channels))
        y = ops.get("matmul")(flat, self.weight, transpose_b=True)
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
    """Merges the axes start_dim..end_dim into one; by default keeps axis 0 (the batch) and flattens
    the rest: [N, C, H, W] -> [N, C·H·W]."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ArgumentError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim, self.end_dim = start_dim, end_dim

    def construct(self, x):
        check_tensor(self, x)
        rank = max(x.ndim, 1)
        if not (-rank <= self.start_dim < rank and -rank <= self.end_dim < rank):
            raise input_error(self, x, f"an input with axes start_dim={self.start_dim} and end_dim={self.end_dim}",
                              "give an input of higher rank or a start_dim/end_dim within its axes "
                              "(Flatten() keeps axis 0, the batch, so it needs rank >= 2)")
        return x.flatten(start_dim=self.start_dim, end_dim=self.end_dim)

    def extend_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Cell):
    """Returns its input; the arguments it is built with are accepted and ignored, as in MindSpore."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def construct(self, x):
        return x


class Pad(Cell):
    """x padded by paddings[i] = (before, after) along each axis i: with zeros (mode 'CONSTANT'), or
    mirrored without the edge element ('REFLECT') or with it ('SYMMETRIC') (graphc.ops.pad.pad_edges)."""

    def __init__(self, paddings, mode="CONSTANT"):
        super().__init__()
        if not isinstance(paddings, (tuple, list)) or not all(
                isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pair) for pair in paddings):
            raise ArgumentError(f"Pad: paddings must be one (before, after) pair of ints >= 0 per axis, e.g. "
                                f"((1, 1), (2, 2)) for a matrix, got {paddings!r}")
        if not isinstance(mode, str) or mode.upper() not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
            raise ArgumentError(f"Pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode!r}")
        self.paddings, self.mode = tuple((a, b) for a, b in paddings), mode.upper()

    def construct(self, x):
        check_tensor(self, x)
        if len(self.paddings) != x.ndim:
            raise input_error(self, x, f"an input of {len(self.paddings)} axes (one per (before, after) pair)",
                              "give paddings one pair per axis of the input")
        if self.mode == "CONSTANT":
            return ops.get("pad")(x, paddings=self.paddings)
        return pad_edges(x, self.paddings, self.mode.lower(), where="Pad")

    def extend_repr(self) -> str:
        return f"paddings={self.paddings}, mode={self.mode}"


class ZeroPad2d(Cell):
    """The last two axes padded with zeros by padding: an int for all four sides, or (left, right,
    top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        sides = (padding,) * 4 if isinstance(padding, int) and not isinstance(padding, bool) else padding
        if not isinstance(sides, (tuple, list)) or len(sides) != 4 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sides):
            raise ArgumentError(f"ZeroPad2d: padding must be an int >= 0 or (left, right, top, bottom), "
                                f"got {padding!r}")
        self.padding = tuple(sides)

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim < 2:
            raise input_error(self, x, "an input of at least 2 axes (it pads the last two)", "reshape it first")
        return ops.pad(x, self.padding)

    def extend_repr(self) -> str:
        return f"padding={self.padding}"


class Dropout(Cell):
    """In training, zeroes each element with probability 1 - keep_prob and scales the rest by
    1 / keep_prob; in eval, the identity. `p` (MindSpore 2.x) is the drop probability and, when
    given, wins over r1.7's `keep_prob`.

    The mask is ops.dropout's: a Philox draw of (seed, step counter, element index), the same in
    every mode and thread count. The seed is drawn at construction from the seeded source
    (graphc.set_seed); the counter is the int64 Parameter `<cell>.counter`, advanced once per
    training call inside the same graph and saved in checkpoints, so a resumed run continues the
    sequence."""

    def __init__(self, keep_prob=0.5, p=None, dtype=float32):
        super().__init__()
        if dtype != float32:
            raise ArgumentError(f"Dropout: dtype must be float32 (the mask follows the input's dtype), got {dtype!r}")
        if p is not None:
            if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p < 1.0:
                raise ArgumentError(f"Dropout: p (the drop probability) must be a number in [0, 1), got {p!r}; "
                                    "p=0.2 drops 20% of the elements")
            keep_prob = 1.0 - p
        elif not isinstance(keep_prob, numbers.Real) or isinstance(keep_prob, bool) or not 0.0 < keep_prob <= 1.0:
            raise ArgumentError(f"Dropout: keep_prob must be a number in (0, 1], got {keep_prob!r}; it is the "
                                "probability of KEEPING an element (keep_prob=0.8 drops 20%; or pass p=0.2)")
        self.keep_prob, self.p = float(keep_prob), p
        self.seed = int(context.rng().integers(0, 2 ** 63))
        self.counter = Parameter(np.zeros((), np.int64), name="counter", requires_grad=False)

    def construct(self, x):
        check_tensor(self, x)
        if not self.training or self.keep_prob == 1.0:
            return x
        return self._drop(x)[0]

    def _drop(self, x):
        """(x dropped, the 0/1 mask of x's dtype it applied); advances the step counter."""
        drop = ops.get("dropout")       # the op; ops.dropout is MindSpore's stateless function
        y = drop(x, self.counter, keep_prob=self.keep_prob, seed=self.seed)
        # the same draw (seed, counter, element index) applied to ones: exactly the mask y was cut with
        mask = ops.cast(drop(ops.OnesLike()(x), self.counter, keep_prob=self.keep_prob, seed=self.seed) > 0,
                        dtype=x.dtype)
        ops.assign(self.counter, self.counter + 1)
        return y, mask

    def extend_repr(self) -> str:
        return f"p={1.0 - self.keep_prob}" if self.p is not None else f"keep_prob={self.keep_prob}"
