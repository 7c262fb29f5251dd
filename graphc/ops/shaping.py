"""Injective ops: they move or reinterpret elements without arithmetic."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, dtype_of
from .core import ELEMENTWISE, INJECTIVE, OPAQUE, Op, OpError, no_flops, register


def _infer_reshape(x, shape):
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        shape = tuple(x.size // known if d == -1 else d for d in shape) if known and x.size % known == 0 else shape
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise OpError(f"cannot reshape {list(x.shape)} ({x.size} elements) to {list(shape)}; the new shape must "
                      "hold the same number of elements (one dimension may be -1)")
    return TensorType(shape, x.dtype)


def _canon_reshape(attrs):
    shape = [int(d) for d in attrs["shape"]]
    if shape.count(-1) > 1:
        raise OpError(f"reshape to {shape}: at most one dimension may be -1")
    return {"shape": tuple(shape)}


reshape = register(Op(
    "reshape", ("x",), _infer_reshape, lambda x, shape: np.reshape(x, shape), INJECTIVE,
    attrs={"shape": None}, canon=_canon_reshape,
    vjp=lambda ct, x, out, shape: (reshape(ct, shape=x.shape),), flops=no_flops,
    lower=lambda k, x, out, shape: k.alias(),
    samples=lambda rng: [([rng.standard_normal((2, 3, 4))], {"shape": (6, 4)}),
                         ([rng.standard_normal((5,))], {"shape": (5, 1)})],
    doc="one dimension may be -1 (inferred)"))


def _infer_transpose(x, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise OpError(f"perm {list(perm)} is not a permutation of the {x.ndim} axes of {list(x.shape)}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


transpose = register(Op(
    "transpose", ("x",), _infer_transpose, lambda x, perm: np.transpose(x, perm), INJECTIVE,
    attrs={"perm": None}, canon=lambda a: {"perm": tuple(int(p) for p in a["perm"])},
    vjp=lambda ct, x, out, perm: (transpose(ct, perm=tuple(int(i) for i in np.argsort(perm))),), flops=no_flops,
    lower=lambda k, x, out, perm: k.transpose(x, out, perm=perm),
    samples=lambda rng: [([rng.standard_normal((2, 3, 4))], {"perm": (2, 0, 1)}),
                         ([rng.standard_normal((3, 5))], {"perm": (1, 0)})],
    doc="permute the axes: output axis i is input axis perm[i]"))


def _cast_vjp(ct, x, out, dtype):
    return (cast(ct, dtype=x.dtype) if x.dtype.is_float and out.dtype.is_float else None,)


cast = register(Op(
    "cast", ("x",), lambda x, dtype: TensorType(x.shape, dtype),
    lambda x, dtype: x.astype(dtype.np), ELEMENTWISE,
    attrs={"dtype": None}, canon=lambda a: {"dtype": dtype_of(a["dtype"])}, vjp=_cast_vjp, flops=no_flops,
    lower=lambda e, x, dtype: e.cast(x, dtype),
    samples=lambda rng: [([rng.standard_normal((3, 4))], {"dtype": "f32"}),
                         ([rng.standard_normal((2, 3))], {"dtype": "f64"}),
                         ([rng.standard_normal((3,)) * 5], {"dtype": "i32"})],
    doc="float to int truncates toward zero, as NumPy"))


def _infer_one_hot(indices, depth, on_value, off_value, axis, dtype):
    if indices.dtype.is_float:
        raise OpError(f"indices must be integers, got {indices.dtype.name}")
    if axis != -1:
        raise OpError("only axis=-1 is supported")
    return TensorType(indices.shape + (depth,), dtype)


def _one_hot(indices, depth, on_value, off_value, axis, dtype):
    hot = indices[..., None] == np.arange(depth)
    return np.where(hot, on_value, off_value).astype(dtype.np)


one_hot = register(Op(
    "one_hot", ("indices",), _infer_one_hot, _one_hot, OPAQUE,
    attrs={"depth": None, "on_value": 1.0, "off_value": 0.0, "axis": -1, "dtype": "f32"},
    canon=lambda a: {**a, "depth": int(a["depth"]), "dtype": dtype_of(a["dtype"]),
                     "on_value": float(a["on_value"]), "off_value": float(a["off_value"])},
    vjp=lambda ct, indices, out, **attrs: (None,), flops=no_flops,
    lower=lambda k, indices, out, on_value, off_value, **attrs: k.one_hot(indices, out, on_value=on_value,
                                                                          off_value=off_value),
    samples=lambda rng: [([rng.integers(0, 5, (4,)).astype(np.int32)], {"depth": 5})],
    doc="indices outside [0, depth) give a row of off_value, as MindSpore"))
