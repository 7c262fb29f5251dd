"""Reductions and their mirror image, broadcasting (each is the other's gradient)."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, int32
from .core import BROADCAST, OPAQUE, REDUCE, Op, OpError, later, no_flops, register
from .shaping import cast, reshape

div, eq, mul = later("div"), later("eq"), later("mul")   # elementwise.py imports this module


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative axes; None means all."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise OpError(f"axis {a} is out of range for a tensor of rank {ndim}; use an axis in "
                          f"[{-ndim}, {max(ndim, 1)})")
    return tuple(sorted({a % ndim for a in axes}))


def _canon_axis(attrs):
    axis = attrs["axis"]
    return {**attrs, "axis": axis if axis is None or isinstance(axis, int) else tuple(axis)}


def _reduced_shape(shape, axis, keep_dims):
    axes = normalize_axes(axis, len(shape))
    if keep_dims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _infer_reduce(x, axis, keep_dims):
    return TensorType(_reduced_shape(x.shape, axis, keep_dims), x.dtype)


def _kept(t, x, axis):
    """Reshape a reduced tensor t so that it broadcasts against x again."""
    return reshape(t, shape=_reduced_shape(x.shape, axis, True))


def _reduce_samples(rng):
    x = rng.standard_normal((3, 4, 5))
    return [([x], {"axis": None, "keep_dims": False}), ([x], {"axis": 1, "keep_dims": True}),
            ([x], {"axis": (0, 2), "keep_dims": False}), ([x], {"axis": -1, "keep_dims": False})]


def one_flop_per_input(out_type, x, **attrs) -> int:
    """A reduction costs one flop per input element."""
    return x.size


def _reduction(name, ref, vjp, doc):
    kind = name.removeprefix("reduce_")
    return register(Op(name, ("x",), _infer_reduce, lambda x, axis, keep_dims: ref(x, axis=axis, keepdims=keep_dims),
                       REDUCE, attrs={"axis": None, "keep_dims": False}, canon=_canon_axis, vjp=vjp,
                       lower=lambda k, x, out, axis, keep_dims: k.reduce(x, out, axes=normalize_axes(axis, x.ndim),
                                                                         kind=kind),
                       flops=one_flop_per_input, samples=_reduce_samples, doc=doc))


def _sum_vjp(ct, x, out, axis, keep_dims):
    return (broadcast_to(_kept(ct, x, axis), shape=x.shape),)


def _mean_vjp(ct, x, out, axis, keep_dims):
    count = int(np.prod([x.shape[a] for a in normalize_axes(axis, len(x.shape))]))
    return (broadcast_to(_kept(div(ct, float(count)), x, axis), shape=x.shape),)


def _max_vjp(ct, x, out, axis, keep_dims):
    hits = cast(eq(x, _kept(out, x, axis)), dtype=x.dtype)
    share = div(_kept(ct, x, axis), _kept(reduce_sum(hits, axis=axis, keep_dims=False), x, axis))
    return (mul(hits, share),)


reduce_sum = _reduction("reduce_sum", np.sum, _sum_vjp, doc="sum over axis (None: all axes)")
reduce_mean = _reduction("reduce_mean", np.mean, _mean_vjp, doc="mean over axis (None: all axes)")
reduce_max = _reduction("reduce_max", np.max, _max_vjp,
                        doc="maximum over axis (None: all axes); ties share the gradient equally")


def _infer_argmax(x, axis):
    normalize_axes(axis, len(x.shape))
    return TensorType(_reduced_shape(x.shape, axis, False), int32)


argmax = register(Op("argmax", ("x",), _infer_argmax,
                     lambda x, axis: np.argmax(x, axis=axis).astype(np.int32), OPAQUE,
                     attrs={"axis": -1}, vjp=lambda ct, x, out, axis: (None,), flops=one_flop_per_input,
                     lower=lambda k, x, out, axis: k.argmax(x, out, axis=normalize_axes(axis, x.ndim)[0]),
                     samples=lambda rng: [([rng.standard_normal((4, 7))], {"axis": -1}),
                                          ([rng.standard_normal((4, 7))], {"axis": 0})],
                     doc="index of the first maximum, int32; not differentiable"))


# -- broadcasting -------------------------------------------------------------------------------
def _infer_broadcast_to(x, shape):
    try:
        target = tuple(np.broadcast_shapes(x.shape, tuple(shape)))
    except ValueError:
        target = None
    if target != tuple(shape):
        raise OpError(f"cannot broadcast {list(x.shape)} to {list(shape)}; each dimension must match or be 1")
    return TensorType(shape, x.dtype)


broadcast_to = register(Op(
    "broadcast_to", ("x",), _infer_broadcast_to, lambda x, shape: np.broadcast_to(x, shape), BROADCAST,
    attrs={"shape": None}, canon=lambda a: {"shape": tuple(int(d) for d in a["shape"])},
    vjp=lambda ct, x, out, shape: (unbroadcast(ct, x),), flops=no_flops,
    lower=lambda e, x, shape: x,   # in a loop over the result's shape, x is read with broadcast strides
    samples=lambda rng: [([rng.standard_normal((3, 1))], {"shape": (2, 3, 4)}),
                         ([rng.standard_normal(())], {"shape": (2, 2)})],
    doc="repeat x along its size-1 (or missing leading) dimensions to `shape`, NumPy rules"))


def unbroadcast(ct, x):
    """Sum a gradient of a broadcast result back to the shape of operand x."""
    shape, ct_shape = tuple(x.shape), tuple(ct.shape)
    if shape == ct_shape:
        return ct
    lead = len(ct_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and ct_shape[lead + i] != 1)
    summed = reduce_sum(ct, axis=axes, keep_dims=False) if axes else ct
    return reshape(summed, shape=shape) if tuple(summed.shape) != shape else summed
