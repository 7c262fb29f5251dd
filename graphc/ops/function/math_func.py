"""MindSpore 2.x's arithmetic, reduction, sorting and linear-algebra functions (`ops.mean`, `ops.sum`,
`ops.max`, `ops.topk`, `ops.matmul`, `ops.norm`, ...), with MindSpore's parameter names, defaults and
result dtypes, as compositions of registered ops (so each has a gradient wherever its ops do)."""
from __future__ import annotations

import builtins
import math
import numbers

import numpy as np

from ...types import bool_, float32, float64, int32, int64
from .. import elementwise as ew
from ..indexing import strided_slice
from ..join import stack
from ..linalg import matmul as matmul_op
from ..pad import pad_op
from ..reduction import argmax as argmax_op
from ..reduction import broadcast_to as broadcast_op
from ..reduction import reduce_max as reduce_max_op
from ..reduction import reduce_mean as reduce_mean_op
from ..reduction import reduce_sum as reduce_sum_op
from ..shaping import cast as cast_op
from ..shaping import reshape as reshape_op
from ..shaping import transpose as transpose_op
from . import arguments as check
from .array_func import constant, gather_elements, move_axis

__all__ = ["absolute", "addn", "all", "amax", "amin", "any", "argmax", "argmin", "bmm", "clamp", "clip",
           "clip_by_global_norm", "clip_by_value", "cos", "count_nonzero", "cumsum", "div", "dot", "floor", "ger",
           "intopk", "inv", "isfinite", "isinf", "isnan", "logical_and", "logical_not", "logical_or", "logsumexp",
           "matmul", "max", "mean", "min", "norm", "pow", "pows", "prod", "reciprocal", "reduce_max", "reduce_mean",
           "reduce_min", "reduce_sum", "sin", "sort", "square", "std", "sum", "tensor_add", "tensor_div",
           "tensor_dot", "tensor_floordiv", "tensor_mul", "tensor_pow", "tensor_sub", "topk", "var"]


def _float(function: str, x):
    """x as a float tensor: ints and bools become float32, as MindSpore's math functions give them."""
    x = check.tensor(function, "input", x)
    return x if x.dtype.is_float else cast_op(x, dtype=float32)


def _exact(reduce, x, **attrs):
    """reduce(x) for a reduction op, through float64 for an int or bool x, back in x's dtype: graphc's
    native reductions are float kernels, and float64 holds every int below 2**53 exactly."""
    if x.dtype.is_float:
        return reduce(x, **attrs)
    return cast_op(reduce(cast_op(x, dtype=float64), **attrs), dtype=x.dtype)


def _arg_max(x, axis):
    """The int32 index of the first maximum along axis (argmax reads ints through float64 too)."""
    return argmax_op(x if x.dtype.is_float else cast_op(x, dtype=float64), axis=axis)


def _kept(x, axes):
    """The shape a reduction over axes (None: all) keeps with keep_dims, for reshaping its result back."""
    return tuple(1 if axes is None or i in axes else d for i, d in enumerate(x.shape))


def _reduced(x, axes):
    """The shape a reduction over axes (None: all) leaves without keep_dims."""
    return tuple(d for i, d in enumerate(x.shape) if axes is not None and i not in axes)


# -- reductions ---------------------------------------------------------------------------------------------------
def mean(x, axis=None, keep_dims=False):
    """The mean over axis (None or (): every axis); an int tensor's mean is truncated to an int."""
    t = check.tensor("mean", "x", x)
    return _exact(reduce_mean_op, t, axis=check.axes("mean", "axis", axis, t.ndim),
                  keep_dims=check.boolean("mean", "keep_dims", keep_dims))


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum over dim (None: every axis). Int and bool tensors sum to int64, as in MindSpore;
    dtype converts the input first."""
    x = check.tensor("sum", "input", input)
    if dtype is not None:
        x = cast_op(x, dtype=check.dtype("sum", "dtype", dtype))
    elif not x.dtype.is_float and x.dtype != int64:
        x = cast_op(x, dtype=int64)
    return _exact(reduce_sum_op, x, axis=check.axes("sum", "dim", dim, x.ndim),
                  keep_dims=check.boolean("sum", "keepdim", keepdim))


def _extreme(function, input, axis, keepdims, initial, where, negate):
    """(values, int64 indices) of the maximum (or, negated, the minimum) along axis, as MindSpore 2.10
    computes them: elements where `where` is False take no part; `initial` joins every row and wins
    ties, and where it wins the index is 0; with axis None the index is 0."""
    x = check.tensor(function, "input", input)
    keep = check.boolean(function, "keepdims", keepdims)
    if where is not None and initial is None:
        raise check.bad(function, "initial", initial, "a number when where is given (the value of a masked-out row)")
    sign = ew.neg if negate else (lambda t: t)
    y = sign(x)
    if where is not None:
        lowest = -np.inf if x.dtype.is_float else np.iinfo(x.dtype.np).min
        y = ew.select(where, y, constant(lowest, x.dtype))
    dim = None if axis is None else check.axis(function, "axis", axis, x.ndim)
    best = _exact(reduce_max_op, y, axis=dim, keep_dims=keep)
    if dim is None:
        index = constant(np.zeros(best.shape, np.int64), int64)
    else:
        index = cast_op(reshape_op(_arg_max(y, dim), shape=best.shape), dtype=int64)
    if initial is not None:
        bound = sign(constant(check.number(function, "initial", initial), x.dtype))
        wins = ew.ge(bound, best)
        best, index = ew.select(wins, bound, best), ew.select(wins, 0, index)
    return sign(best), index


def max(input, axis=None, keepdims=False, *, initial=None, where=None):
    """(values, int64 indices) of the maximum along axis; MindSpore 2.10's form, a tuple even for axis None."""
    return _extreme("max", input, axis, keepdims, initial, where, negate=False)


def min(input, axis=None, keepdims=False, *, initial=None, where=None):
    """(values, int64 indices) of the minimum along axis."""
    return _extreme("min", input, axis, keepdims, initial, where, negate=True)


def amax(input, axis=None, keepdims=False, *, initial=None, where=None):
    """The maximum along axis (None: every axis), without ops.max's indices."""
    return _extreme("amax", input, axis, keepdims, initial, where, negate=False)[0]


def amin(input, axis=None, keepdims=False, *, initial=None, where=None):
    """The minimum along axis (None: every axis)."""
    return _extreme("amin", input, axis, keepdims, initial, where, negate=True)[0]


def logsumexp(input, dim, keepdim=False):
    """log Σ exp(input) over dim (() or None: every axis), shifted by the maximum so exp cannot overflow."""
    x = _float("logsumexp", input)
    axes = check.axes("logsumexp", "dim", dim, x.ndim)
    keep = check.boolean("logsumexp", "keepdim", keepdim)
    peak = ew.stop_gradient(reduce_max_op(x, axis=axes, keep_dims=True))
    total = ew.log(reduce_sum_op(ew.exp(ew.sub(x, peak)), axis=axes, keep_dims=True))
    result = ew.add(total, peak)
    return result if keep else reshape_op(result, shape=_reduced(x, axes))


def _reduction(reduce, negate=False):
    """MindSpore's F.reduce_sum-style function: the primitive ReduceSum()(x, axis) called as a function,
    axis () or left out meaning every axis. graphc also takes keep_dims=, as the primitive's
    constructor does."""
    sign = ew.neg if negate else (lambda t: t)

    def function(x, axis=(), keep_dims=False):
        name = f"reduce_{'min' if negate else reduce.name.removeprefix('reduce_')}"
        t = check.tensor(name, "x", x)
        every = axis is None or isinstance(axis, (tuple, list)) and not axis    # the op checks the axes
        return sign(_exact(reduce, sign(t), axis=None if every else axis,
                           keep_dims=check.boolean(name, "keep_dims", keep_dims)))
    return function


reduce_sum, reduce_mean, reduce_max = _reduction(reduce_sum_op), _reduction(reduce_mean_op), _reduction(reduce_max_op)
reduce_min = _reduction(reduce_max_op, negate=True)


def count_nonzero(x, axis=(), keep_dims=False, dtype=int32):
    """How many elements along axis are nonzero, as dtype."""
    t = check.tensor("count_nonzero", "x", x)
    hits = cast_op(_nonzero(t), dtype=float64)
    counts = reduce_sum_op(hits, axis=check.axes("count_nonzero", "axis", axis, t.ndim),
                           keep_dims=check.boolean("count_nonzero", "keep_dims", keep_dims))
    return cast_op(counts, dtype=check.dtype("count_nonzero", "dtype", dtype))


def _arg(function, input, axis, keepdims, negate, dtype):
    x = check.tensor(function, "input", input)
    keep = check.boolean(function, "keepdim" if function == "argmax" else "keepdims", keepdims)
    x = ew.neg(x) if negate else x
    if axis is None:
        index = _arg_max(reshape_op(x, shape=(-1,)), 0)
        return cast_op(reshape_op(index, shape=(1,) * x.ndim) if keep else index, dtype=dtype)
    dim = check.axis(function, "dim" if function == "argmax" else "axis", axis, x.ndim)
    index = _arg_max(x, dim)
    return cast_op(reshape_op(index, shape=_kept(x, (dim,))) if keep else index, dtype=dtype)


def argmax(input, dim=None, keepdim=False):
    """The int64 index of the first maximum along dim (None: of the flattened tensor)."""
    return _arg("argmax", input, dim, keepdim, negate=False, dtype=int64)


def argmin(input, axis=None, keepdims=False):
    """The int32 index of the first minimum along axis (None: of the flattened tensor), as MindSpore 2.10."""
    return _arg("argmin", input, axis, keepdims, negate=True, dtype=int32)


def _nonzero(x):
    return x if x.dtype == bool_ else ew.ne(x, 0)


def any(input, axis=None, keep_dims=False):
    """Whether any element along axis is nonzero (True)."""
    x = check.tensor("any", "input", input)
    hits = cast_op(_nonzero(x), dtype=float32)
    return ew.gt(reduce_max_op(hits, axis=check.axes("any", "axis", axis, x.ndim), keep_dims=keep_dims), 0)


def all(input, axis=None, keep_dims=False):
    """Whether every element along axis is nonzero (True)."""
    x = check.tensor("all", "input", input)
    misses = cast_op(ew.eq(_nonzero(x), False), dtype=float32)
    return ew.eq(reduce_max_op(misses, axis=check.axes("all", "axis", axis, x.ndim), keep_dims=keep_dims), 0)


def _product_along(x, axis: int):
    """The product along one axis, kept as size 1: the halves multiplied together log2(n) times (an
    odd length padded with a 1), so ints stay exact and the gradient is mul's."""
    while x.shape[axis] > 1:
        length = x.shape[axis]
        if length % 2:
            x = pad_op(x, paddings=tuple((0, 1) if a == axis else (0, 0) for a in builtins.range(x.ndim)), value=1.0)
            length += 1
        half = length // 2
        x = ew.mul(strided_slice(x, begin=(0,) * axis + (0,), end=x.shape[:axis] + (half,)),
                   strided_slice(x, begin=(0,) * axis + (half,), end=x.shape[:axis] + (length,)))
    return x


def prod(input, axis=None, keep_dims=False, dtype=None):
    """The product over axis (None or (): every axis); int and bool tensors multiply as int64."""
    x = check.tensor("prod", "input", input)
    if dtype is not None:
        x = cast_op(x, dtype=check.dtype("prod", "dtype", dtype))
    elif not x.dtype.is_float and x.dtype != int64:
        x = cast_op(x, dtype=int64)
    axes = check.axes("prod", "axis", axis, x.ndim)
    product = x
    for a in builtins.range(x.ndim) if axes is None else axes:
        product = _product_along(product, a)
    if x.ndim == 0 or check.boolean("prod", "keep_dims", keep_dims):
        return product
    return reshape_op(product, shape=_reduced(x, axes))


def _moments(function, input, axis, ddof, keepdims):
    x = check.tensor(function, "input", input)
    if not x.dtype.is_float:
        raise check.bad(function, "input", input, "a float tensor (cast it first)")
    axes = check.axes(function, "axis", axis, x.ndim)
    correction = check.integer(function, "ddof", int(ddof) if isinstance(ddof, bool) else ddof, minimum=0)
    count = math.prod(x.shape[a] for a in (builtins.range(x.ndim) if axes is None else axes))
    centred = ew.sub(x, reduce_mean_op(x, axis=axes, keep_dims=True))
    squares = reduce_sum_op(ew.mul(centred, centred), axis=axes,
                            keep_dims=check.boolean(function, "keepdims", keepdims))
    return ew.div(squares, float(count - correction))


def var(input, axis=None, ddof=0, keepdims=False):
    """The variance over axis (None: every axis), dividing by N - ddof (ddof=True means 1)."""
    return _moments("var", input, axis, ddof, keepdims)


def std(input, axis=None, ddof=0, keepdims=False):
    """The standard deviation over axis, dividing by N - ddof."""
    return ew.sqrt(_moments("std", input, axis, ddof, keepdims))


def cumsum(x, axis, dtype=None):
    """The running sum along axis. Computed in log2(n) shifted additions (Hillis-Steele), so a float
    sum rounds in another order than a sequential one."""
    t = check.tensor("cumsum", "x", x)
    dim = check.axis("cumsum", "axis", axis, t.ndim)
    if dtype is not None:
        t = cast_op(t, dtype=check.dtype("cumsum", "dtype", dtype))
    length, shift = t.shape[dim], 1
    while shift < length:
        kept = strided_slice(t, begin=(0,) * dim + (0,), end=t.shape[:dim] + (length - shift,))
        t = ew.add(t, pad_op(kept, paddings=tuple((shift, 0) if a == dim else (0, 0) for a in builtins.range(t.ndim))))
        shift *= 2
    return t


# -- sorting ----------------------------------------------------------------------------------------------------
def _ranks(y, descending: bool):
    """Per element of y [..., n], its position in y's stable sort along the last axis (int32):
    how many elements come before it, by value and then by index. n² comparisons per row."""
    n = y.shape[-1]
    mine, others = reshape_op(y, shape=y.shape + (1,)), reshape_op(y, shape=y.shape[:-1] + (1, n))
    ahead = ew.gt(others, mine) if descending else ew.lt(others, mine)
    earlier_tie = logical_and(ew.eq(others, mine), constant(np.tri(n, k=-1, dtype=bool), bool_))
    return _exact(reduce_sum_op, cast_op(logical_or(ahead, earlier_tie), dtype=int32), axis=-1, keep_dims=False)


def _sorted_prefix(function, input, k, dim, descending):
    """(values, int32 indices) of the first k elements of input's stable sort along dim."""
    x = check.tensor(function, "input", input)
    axis = check.axis(function, "dim" if function == "topk" else "axis", dim, x.ndim)
    y = move_axis(x, axis, x.ndim - 1)
    n = y.shape[-1]
    hits = ew.eq(reshape_op(_ranks(y, descending), shape=y.shape + (1,)), constant(np.arange(k), int32))  # [..., n, k]
    column = reshape_op(y, shape=y.shape + (1,))
    values = _exact(reduce_sum_op, ew.select(hits, column, 0), axis=-2, keep_dims=False)
    positions = constant(np.arange(n).reshape(n, 1), int32)
    indices = _exact(reduce_sum_op, ew.select(hits, positions, 0), axis=-2, keep_dims=False)
    return move_axis(values, x.ndim - 1, axis), move_axis(indices, x.ndim - 1, axis)


def topk(input, k, dim=None, largest=True, sorted=True):
    """(values, int32 indices) of the k largest (smallest) elements along dim (None: the last axis),
    in order, ties by index. sorted=False gives them sorted too."""
    x = check.tensor("topk", "input", input)
    axis = x.ndim - 1 if dim is None else dim
    count = check.integer("topk", "k", k, minimum=0)
    if x.ndim and count > x.shape[check.axis("topk", "dim", axis, x.ndim)]:
        raise check.bad("topk", "k", k, f"at most the size of axis {axis} of {x.type}")
    check.boolean("topk", "sorted", sorted)
    return _sorted_prefix("topk", x, count, axis, descending=check.boolean("topk", "largest", largest))


def sort(input_x, axis=-1, descending=False):
    """(values, int32 indices) of input_x sorted along axis, stably."""
    x = check.tensor("sort", "input_x", input_x)
    dim = check.axis("sort", "axis", axis, x.ndim)
    return _sorted_prefix("sort", x, x.shape[dim], dim, descending=check.boolean("sort", "descending", descending))


# -- elementwise ------------------------------------------------------------------------------------------------
tensor_add, tensor_sub, tensor_mul, tensor_div, tensor_pow = ew.add, ew.sub, ew.mul, ew.div, ew.pow


def tensor_floordiv(input, other):
    """floor(input / other); ints through float64 (exact below 2**53), keeping their dtype."""
    x = check.tensor("tensor_floordiv", "input", input)
    if x.dtype.is_float:
        return ew.floor(ew.div(x, other))
    wide = cast_op(x, dtype=float64)
    return cast_op(ew.floor(ew.div(wide, cast_op(other, dtype=float64))), dtype=x.dtype)


def inv(x):
    """1 / x."""
    return ew.div(1.0, _float("inv", x))


def square(input):
    x = check.tensor("square", "input", input)
    return ew.mul(x, x)


def absolute(input):
    return ew.abs(input)


def pows(input, exponent):
    return ew.pow(input, exponent)


def sin(input):
    return ew.sin(_float("sin", input))


def cos(input):
    return ew.cos(_float("cos", input))


def floor(input):
    return ew.floor(_float("floor", input))


def div(input, other, *, rounding_mode=None):
    """input / other; rounding_mode 'floor' rounds the quotient down and 'trunc' toward zero, and then
    two int tensors divide to an int (exactly, through floor_div), as MindSpore 2.x."""
    check.choice("div", "rounding_mode", rounding_mode, (None, "floor", "trunc"))
    if rounding_mode is None:
        return ew.div(input, other)
    if builtins.all(not v.dtype.is_float if getattr(v, "type", None) is not None else isinstance(v, numbers.Integral)
           for v in (input, other)):
        quotient = ew.floor_div(input, other)
        if rounding_mode == "floor":
            return quotient
        inexact = ew.ne(ew.mul(quotient, other), input)     # a negative inexact quotient rounds up toward 0
        return ew.select(logical_and(inexact, ew.lt(quotient, 0)), ew.add(quotient, 1), quotient)
    quotient = ew.div(input, other)
    if rounding_mode == "floor":
        return ew.floor(quotient)
    return ew.select(ew.lt(quotient, 0), ew.neg(ew.floor(ew.neg(quotient))), ew.floor(quotient))


def pow(input, exponent):
    """input ** exponent; either may be a number."""
    return ew.pow(input, exponent)


def reciprocal(input):
    """1 / input; ints and bools give float32."""
    return ew.div(1.0, _float("reciprocal", input))


def isnan(input):
    x = check.tensor("isnan", "input", input)
    return ew.ne(x, x) if x.dtype.is_float else constant(np.zeros(x.shape, bool), bool_)


def isinf(input):
    x = check.tensor("isinf", "input", input)
    return ew.eq(ew.abs(x), math.inf) if x.dtype.is_float else constant(np.zeros(x.shape, bool), bool_)


def isfinite(input):
    x = check.tensor("isfinite", "input", input)
    return ew.lt(ew.abs(x), math.inf) if x.dtype.is_float else constant(np.ones(x.shape, bool), bool_)


def _truth(function, parameter, value):
    """A bool tensor: nonzero means True; a Python bool becomes a scalar."""
    if isinstance(value, (bool, np.bool_)):
        return constant(value, bool_)
    return _nonzero(check.tensor(function, parameter, value))


def logical_and(input, other):
    both = ew.mul(cast_op(_truth("logical_and", "input", input), dtype=int32),
                  cast_op(_truth("logical_and", "other", other), dtype=int32))
    return ew.ne(both, 0)


def logical_or(input, other):
    either = ew.add(cast_op(_truth("logical_or", "input", input), dtype=int32),
                    cast_op(_truth("logical_or", "other", other), dtype=int32))
    return ew.ne(either, 0)


def logical_not(input):
    return ew.eq(_truth("logical_not", "input", input), False)


def addn(x):
    """The sum of a tuple or list of tensors of one shape and dtype."""
    if not isinstance(x, (tuple, list)) or not x:
        raise check.bad("addn", "x", x, "a non-empty tuple or list of Tensors")
    total = check.tensor("addn", "x[0]", x[0])
    for k, term in enumerate(x[1:], 1):
        total = ew.add(total, check.tensor("addn", f"x[{k}]", term))
    return total


def clip_by_value(x, clip_value_min=None, clip_value_max=None):
    """x limited to [clip_value_min, clip_value_max] (min(max(x, low), high): high wins if low > high);
    a tuple or list of tensors gives a list."""
    if isinstance(x, (tuple, list)):
        return [clip_by_value(t, clip_value_min, clip_value_max) for t in x]
    t = check.tensor("clip_by_value", "x", x)
    if clip_value_min is None and clip_value_max is None:
        raise check.bad("clip_by_value", "clip_value_min", None, "a bound (clip_value_min, clip_value_max or both)")
    if clip_value_min is not None:
        t = ew.maximum(t, clip_value_min)
    return t if clip_value_max is None else ew.minimum(t, clip_value_max)


def clamp(input, min=None, max=None):
    """input limited to [min, max] (min(max(input, min), max))."""
    return clip_by_value(check.tensor("clamp", "input", input), min, max)


clip = clamp


def clip_by_global_norm(x, clip_norm=1.0, use_norm=None):
    """The tensors of x scaled by clip_norm / max(global norm, clip_norm), the global norm being that
    of all of them together."""
    if use_norm is not None:
        raise check.refuse("clip_by_global_norm",
                           f"use_norm={check.describe(use_norm)} is not supported (MindSpore 2.x "
                                              "accepts only None); leave it out")
    if not isinstance(x, (tuple, list)) or not x:
        raise check.bad("clip_by_global_norm", "x", x, "a non-empty tuple or list of Tensors")
    limit = check.number("clip_by_global_norm", "clip_norm", clip_norm)
    total = addn([reduce_sum_op(square(check.tensor("clip_by_global_norm", "x", t))) for t in x])
    scale = ew.div(limit, ew.maximum(ew.sqrt(total), limit))
    return tuple(ew.mul(t, scale) for t in x)


# -- norms ------------------------------------------------------------------------------------------------------
def _vector_norm(x, order, axes, keep):
    magnitude = ew.abs(x)
    if order == math.inf:
        return reduce_max_op(magnitude, axis=axes, keep_dims=keep)
    if order == -math.inf:
        return ew.neg(reduce_max_op(ew.neg(magnitude), axis=axes, keep_dims=keep))
    if order == 0:
        return reduce_sum_op(cast_op(ew.ne(x, 0), dtype=x.dtype), axis=axes, keep_dims=keep)
    if order == 2:
        return ew.sqrt(reduce_sum_op(ew.mul(x, x), axis=axes, keep_dims=keep))
    if order == 1:
        return reduce_sum_op(magnitude, axis=axes, keep_dims=keep)
    return ew.pow(reduce_sum_op(ew.pow(magnitude, float(order)), axis=axes, keep_dims=keep), 1.0 / order)


def _matrix_norm(x, order, rows_axis, columns_axis, keep):
    """1 / -1: the largest / smallest column sum of |x|; inf / -inf: the largest / smallest row sum."""
    summed_axis, across = (rows_axis, columns_axis) if builtins.abs(order) == 1 else (columns_axis, rows_axis)
    sums = reduce_sum_op(ew.abs(x), axis=summed_axis, keep_dims=True)
    pick = reduce_max_op(sums if order > 0 else ew.neg(sums), axis=across, keep_dims=True)
    pick = pick if order > 0 else ew.neg(pick)
    return pick if keep else reshape_op(pick, shape=tuple(d for i, d in enumerate(x.shape)
                                                          if i not in (rows_axis, columns_axis)))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (dim an int, or a 1-D tensor), a matrix norm (dim a pair, or a 2-D tensor), or
    with ord and dim None the 2-norm of every element. ord: None, 'fro', a number, inf or -inf;
    'nuc' and the spectral norms (ord ±2 of a matrix) need an SVD graphc does not have."""
    x = check.tensor("norm", "A", A)
    if dtype is not None:
        x = cast_op(x, dtype=check.dtype("norm", "dtype", dtype))
    if not x.dtype.is_float:
        raise check.bad("norm", "A", A, "a float tensor (cast it, or pass dtype=)")
    keep = check.boolean("norm", "keepdim", keepdim)
    axes = check.axes("norm", "dim", dim, x.ndim)
    if ord is None or ord == "fro":
        if ord == "fro" and axes is not None and len(axes) != 2:
            raise check.bad("norm", "dim", dim, "two axes (or None) with ord='fro'")
        return _vector_norm(x, 2, axes, keep)
    if isinstance(ord, str) or not isinstance(ord, numbers.Real):
        raise check.refuse("norm", f"ord={ord!r} is not supported: graphc has vector norms (a number, inf, -inf), "
                               "'fro', and the matrix norms 1, -1, inf, -inf ('nuc' and ±2 need an SVD)")
    matrix = axes is not None and len(axes) == 2 or axes is None and x.ndim == 2
    if not matrix:
        return _vector_norm(x, ord, axes, keep)
    if builtins.abs(ord) not in (1, math.inf):
        raise check.refuse("norm", f"the matrix norm ord={ord!r} needs an SVD, which graphc does not have; use 1, -1, "
                               "inf, -inf or 'fro'")
    rows, columns = axes if axes is not None else (0, 1)
    return _matrix_norm(x, ord, rows, columns, keep)



# -- products ---------------------------------------------------------------------------------------------------
def _batched(function, a, b):
    """a @ b for a [..., n, k] and b [..., k, m] (batch axes broadcast): one matmul when b has no
    batch axes (a's batch folds into its rows), else one per batch element, stacked."""
    if a.ndim < 2 or b.ndim < 2:
        raise check.bad(function, "input", a, "tensors of rank >= 2")
    if a.ndim == b.ndim == 2:
        return matmul_op(a, b)
    try:
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        raise check.bad(function, "other", b, f"batch axes broadcasting with those of {a.type}") from None
    if math.prod(b.shape[:-2]) == 1:
        rows = matmul_op(reshape_op(broadcast_op(a, shape=batch + a.shape[-2:]), shape=(-1, a.shape[-1])),
                         reshape_op(b, shape=b.shape[-2:]))
        return reshape_op(rows, shape=batch + (a.shape[-2], b.shape[-1]))
    a3 = reshape_op(broadcast_op(a, shape=batch + a.shape[-2:]), shape=(-1,) + a.shape[-2:])
    b3 = reshape_op(broadcast_op(b, shape=batch + b.shape[-2:]), shape=(-1,) + b.shape[-2:])
    products = stack([matmul_op(_row(a3, i), _row(b3, i)) for i in builtins.range(a3.shape[0])], axis=0)
    return reshape_op(products, shape=batch + products.shape[1:])


def _row(t, i):
    return reshape_op(strided_slice(t, begin=(i,), end=(i + 1,)), shape=t.shape[1:])


def matmul(input, other):
    """NumPy's matmul: 1-D operands are vectors, batch axes broadcast."""
    a, b = check.tensor("matmul", "input", input), check.tensor("matmul", "other", other)
    if a.ndim == 0 or b.ndim == 0:
        raise check.bad("matmul", "input" if a.ndim == 0 else "other", a if a.ndim == 0 else b, "a tensor of rank >= 1")
    product = _batched("matmul", reshape_op(a, shape=(1,) + a.shape) if a.ndim == 1 else a,
                       reshape_op(b, shape=b.shape + (1,)) if b.ndim == 1 else b)
    dropped = ([-2] if a.ndim == 1 else []) + ([-1] if b.ndim == 1 else [])
    if not dropped:
        return product
    return reshape_op(product, shape=tuple(d for i, d in enumerate(product.shape) if i - product.ndim not in dropped))


def bmm(input_x, mat2):
    """input_x @ mat2 over batch axes (input_x [..., n, k], mat2 [..., k, m])."""
    return _batched("bmm", check.tensor("bmm", "input_x", input_x), check.tensor("bmm", "mat2", mat2))


def dot(input, other):
    """NumPy's dot: the last axis of input with the second-to-last of other (its only one if 1-D)."""
    a, b = check.tensor("dot", "input", input), check.tensor("dot", "other", other)
    return tensor_dot(a, b, ((a.ndim - 1,), (builtins.max(b.ndim - 2, 0),)))


def ger(input, vec2):
    """The outer product of two 1-D tensors: [n] x [m] -> [n, m]."""
    a, b = check.tensor("ger", "input", input), check.tensor("ger", "vec2", vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise check.bad("ger", "input" if a.ndim != 1 else "vec2", a if a.ndim != 1 else b, "a 1-D tensor")
    return ew.mul(reshape_op(a, shape=(a.shape[0], 1)), b)


def intopk(x1, x2, k):
    """Per row of x1 [N, C], whether the class x2 (int [N]) is among the k largest: fewer than k
    elements of the row are larger than its value (so ties count in)."""
    scores, targets = check.tensor("intopk", "x1", x1), check.tensor("intopk", "x2", x2)
    count = check.integer("intopk", "k", k, minimum=0)
    if scores.ndim != 2 or tuple(targets.shape) != scores.shape[:1] or targets.dtype.is_float:
        raise check.bad("intopk", "x2", x2, f"int class indices [{scores.shape[0] if scores.ndim else '?'}] for x1 "
                                            f"{scores.type} [N, C]")
    target_scores = gather_elements(scores, 1, reshape_op(targets, shape=(-1, 1)))
    larger = reduce_sum_op(cast_op(ew.gt(scores, target_scores), dtype=float32), axis=1)
    return ew.lt(larger, float(count))


def tensor_dot(x1, x2, axes):
    """The sum of products over axes: an int n (the last n of x1 with the first n of x2) or a pair of
    axis lists."""
    a, b = check.tensor("tensor_dot", "x1", x1), check.tensor("tensor_dot", "x2", x2)
    if check.is_int(axes):
        pairs = (tuple(builtins.range(a.ndim - axes, a.ndim)), tuple(builtins.range(axes)))
    elif isinstance(axes, (tuple, list)) and len(axes) == 2:
        pairs = tuple((p,) if check.is_int(p) else tuple(p) for p in axes)
    else:
        raise check.bad("tensor_dot", "axes", axes, "an int or a pair of axis lists")
    on_a = [check.axis("tensor_dot", "axes", p, a.ndim) for p in pairs[0]]
    on_b = [check.axis("tensor_dot", "axes", p, b.ndim) for p in pairs[1]]
    if [a.shape[i] for i in on_a] != [b.shape[i] for i in on_b]:
        raise check.bad("tensor_dot", "axes", axes, f"axes of equal sizes in {a.type} and {b.type}")
    free_a = [i for i in builtins.range(a.ndim) if i not in on_a]
    free_b = [i for i in builtins.range(b.ndim) if i not in on_b]
    size = math.prod(a.shape[i] for i in on_a)
    left = reshape_op(_permuted(a, free_a + on_a), shape=(-1, size))
    right = reshape_op(_permuted(b, on_b + free_b), shape=(size, -1))
    free_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return reshape_op(matmul_op(left, right), shape=free_shape)


def _permuted(x, order):
    return x if order == list(builtins.range(x.ndim)) else transpose_op(x, perm=tuple(order))
