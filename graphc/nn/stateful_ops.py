"""MindSpore primitives that hold state, and so live in the front end beside Parameter: `ops.Dropout`
and `ops.Dropout2D`.

MindSpore's `ops.Dropout()(x)` draws a new mask at every call. In graphc a mask is a pure function of
(seed, step counter, element index) (ops.dropout), so the primitive is a Cell that owns the counter
Parameter, like nn.Dropout: held by a network (`self.dropout = ops.Dropout(0.8)`), its counter is
the network's `dropout.counter`, advanced inside the compiled step and saved in checkpoints.
"""
from __future__ import annotations

import numbers

from .. import ops
from ..errors import ArgumentError
from .layers.basic import Dropout as DropoutLayer
from .layers.checks import check_tensor

__all__ = ["Dropout", "Dropout2D"]


class Dropout(DropoutLayer):
    """ops.Dropout(keep_prob=0.5, Seed0=0, Seed1=0)(x) -> (output, mask): output zeroes each element
    with probability 1 - keep_prob and scales the rest by 1 / keep_prob; mask (x's shape and dtype)
    is 1 where an element was kept, else 0. Unlike nn.Dropout it drops in eval mode too, as
    MindSpore's primitive does. Seed0 = Seed1 = 0 draws the seed from graphc.set_seed's source; any
    other pair fixes it (Seed1 the high 32 bits, Seed0 the low)."""

    def __init__(self, keep_prob=0.5, Seed0=0, Seed1=0):
        if not isinstance(keep_prob, numbers.Real) or isinstance(keep_prob, bool) or not 0.0 < keep_prob <= 1.0:
            raise ArgumentError(f"ops.{type(self).__name__}: keep_prob={keep_prob!r} is not valid; expected a number "
                                "in (0, 1], the probability of KEEPING an element (keep_prob=0.8 drops 20%)")
        for name, seed in (("Seed0", Seed0), ("Seed1", Seed1)):
            if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < 1 << 32:
                raise ArgumentError(f"ops.{type(self).__name__}: {name}={seed!r} is not valid; expected an int in "
                                    "[0, 2**32) (0 and 0: a seed from graphc.set_seed)")
        super().__init__(keep_prob=keep_prob)       # after every check: a refused call draws no seed
        if Seed0 or Seed1:
            self.seed = int(Seed1) << 32 | int(Seed0)
        self.Seed0, self.Seed1 = Seed0, Seed1

    def construct(self, x):
        check_tensor(self, x)
        return self._drop(x)

    def extend_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, Seed0={self.Seed0}, Seed1={self.Seed1}"


class Dropout2D(Dropout):
    """ops.Dropout2D(keep_prob=0.5)(x) -> (output, mask) for x [N, C, H, W]: each channel of each
    sample is zeroed whole with probability 1 - keep_prob and the rest scaled by 1 / keep_prob; mask
    (bool, x's shape) is True where a channel was kept. The draw is Dropout's, one per channel."""

    def __init__(self, keep_prob=0.5):
        super().__init__(keep_prob)

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim != 4:
            raise ArgumentError(f"ops.Dropout2D: the input is {x.type}; it drops whole channels of an [N, C, H, W] "
                                "tensor, so it needs rank 4")
        scale, kept = self._drop(ops.ones(x.shape[:2] + (1, 1), x.dtype))
        return x * scale, ops.broadcast_to(kept > 0, x.shape)

    def extend_repr(self) -> str:
        return f"keep_prob={self.keep_prob}"
