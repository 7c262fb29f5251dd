"""Padding: the constant `pad` op, MindSpore's functional `ops.pad(input_x, padding, mode, value)`, and
`pad_edges` for the modes that copy x's own elements (reflect, symmetric, replicate, circular),
composed of slices and concat so their gradients are those ops'.

The op takes one (before, after) pair per axis; its VJP slices the padding off again
(strided_slice), and strided_slice's VJP is the zero-padding strided_slice_grad, so the two are
each other's transposes. Natively it is a fill followed by a strided copy.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import ArgumentError
from ..types import TensorType
from .core import INJECTIVE, Op, OpError, no_flops, register
from .indexing import strided_slice
from .join import concat

__all__ = ["pad", "pad_edges"]


def _canon_pad(attrs):
    pairs = tuple(tuple(int(v) for v in pair) for pair in attrs["paddings"])
    if any(len(pair) != 2 or min(pair) < 0 for pair in pairs):
        raise OpError(f"paddings must be one (before, after) pair of ints >= 0 per axis, got {attrs['paddings']!r}")
    return {"paddings": pairs, "value": float(attrs["value"])}


def _infer_pad(x, paddings, value):
    if len(paddings) != x.ndim:
        raise OpError(f"paddings has {len(paddings)} (before, after) pairs but x has rank {x.ndim}; give one per axis")
    return TensorType(tuple(d + a + b for d, (a, b) in zip(x.shape, paddings)), x.dtype)


def _pad_ref(x, paddings, value):
    return np.pad(x, paddings, constant_values=np.asarray(value, x.dtype))


def _pad_vjp(ct, x, out, paddings, value):
    begin = tuple(before for before, _ in paddings)
    end = tuple(before + d for (before, _), d in zip(paddings, x.shape))
    return (strided_slice(ct, begin=begin, end=end),)


def _pad_lower(k, x, out, paddings, value):
    ranges = tuple(range(before, before + d) for (before, _), d in zip(paddings, x.shape))
    return k.pad(x, out, ranges=ranges, value=value)


pad_op = register(Op(
    "pad", ("x",), _infer_pad, _pad_ref, INJECTIVE, attrs={"paddings": None, "value": 0.0}, canon=_canon_pad,
    vjp=_pad_vjp, lower=_pad_lower, flops=no_flops,
    samples=lambda rng: [([rng.standard_normal((2, 3, 4, 5))], {"paddings": ((0, 0), (0, 0), (1, 2), (3, 0))}),
                         ([rng.standard_normal((3, 4))], {"paddings": ((1, 1), (0, 2)), "value": 1.5}),
                         ([rng.standard_normal((5,))], {"paddings": ((0, 0),)})],
    doc="x surrounded by `value`: paddings[i] = (before, after) elements along axis i"))


def _along(x, axis: int, start: int, stop: int, step: int = 1):
    """x[start:stop:step] along axis."""
    begin, end, strides = [0] * x.ndim, list(x.shape), [1] * x.ndim
    begin[axis], end[axis], strides[axis] = start, stop, step
    return strided_slice(x, begin=tuple(begin), end=tuple(end), strides=tuple(strides))


def _reversed(x, axis: int):
    return _along(x, axis, x.shape[axis] - 1, -x.shape[axis] - 1, -1)


# mode: (the elements before, the elements after) along an axis of length n, padded by b and a, and the
# largest b or a the mode can take from n elements
_EDGES = {
    "reflect": (lambda x, axis, n, b, a: (_reversed(_along(x, axis, 1, b + 1), axis),
                                          _reversed(_along(x, axis, n - 1 - a, n - 1), axis)), lambda n: n - 1),
    "symmetric": (lambda x, axis, n, b, a: (_reversed(_along(x, axis, 0, b), axis),
                                            _reversed(_along(x, axis, n - a, n), axis)), lambda n: n),
    "replicate": (lambda x, axis, n, b, a: (concat([_along(x, axis, 0, 1)] * b, axis) if b else None,
                                            concat([_along(x, axis, n - 1, n)] * a, axis) if a else None),
                  lambda n: None),
    "circular": (lambda x, axis, n, b, a: (_along(x, axis, n - b, n), _along(x, axis, 0, a)), lambda n: n),
}


def pad_edges(x, paddings, mode: str, where: str = "pad"):
    """x extended by paddings[i] = (before, after) elements along axis i, copied from x as mode says:
    'reflect' mirrors without the edge element ([1 2 3] by 2 -> 3 2 | 1 2 3 | 2 1), 'symmetric' with it
    (2 1 | 1 2 3 | 3 2), 'replicate' repeats the edge (1 1 | 1 2 3 | 3 3), 'circular' wraps around
    (2 3 | 1 2 3 | 1 2)."""
    edges, most = _EDGES[mode]
    for axis, (before, after) in enumerate(paddings):
        n = x.shape[axis]
        limit = most(n)
        if limit is not None and max(before, after) > limit:
            raise ArgumentError(f"{where}: mode {mode!r} pads an axis of {n} element(s) by at most {limit}, got "
                                f"({before}, {after}) on axis {axis} of {x.type}")
        if before or after:
            head, tail = edges(x, axis, n, before, after)
            x = concat([t for t, size in ((head, before), (x, n), (tail, after)) if size], axis)
    return x


_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input_x, padding, mode="constant", value=None):
    """MindSpore's ops.pad: `padding` pairs start at the LAST axis, (left, right, top, bottom, ...),
    e.g. (1, 1, 2, 2) pads W by 1 and H by 2 on each side of an NCHW tensor. mode 'constant' fills
    with value (0 by default); 'reflect', 'replicate' and 'circular' copy x's elements (pad_edges)."""
    if mode not in _MODES:
        raise ArgumentError(f"pad: mode {mode!r} is not valid; use 'constant', 'reflect', 'replicate' or 'circular'")
    if value is not None and mode != "constant":
        raise ArgumentError(f"pad: value={value!r} is only for mode='constant', got mode={mode!r}")
    if isinstance(padding, numbers.Integral) or len(padding) % 2 or len(padding) // 2 > len(input_x.shape):
        raise ArgumentError(f"pad: padding must hold (before, after) pairs for at most {len(input_x.shape)} trailing "
                      f"axes, last axis first, got {padding!r}")
    if any(int(p) < 0 for p in padding):
        raise ArgumentError(f"pad: negative padding {tuple(padding)} (cropping) is not supported; slice the tensor "
                            "instead")
    trailing = [(int(padding[2 * k]), int(padding[2 * k + 1])) for k in range(len(padding) // 2)]
    pairs = [(0, 0)] * (len(input_x.shape) - len(trailing)) + trailing[::-1]
    if mode != "constant":
        return pad_edges(input_x, pairs, mode)
    return pad_op(input_x, paddings=tuple(pairs), value=0.0 if value is None else value)
