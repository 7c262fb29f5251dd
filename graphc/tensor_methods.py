"""The methods MindSpore users call on a Tensor (`x.mean()`, `x.argmin(1)`, `x.clip(0, 1)`, ...).

Each is a composition of registered ops, so it runs eagerly, records nodes while tracing and has
a gradient wherever its ops have one. Defaults follow MindSpore 2.x: `axis=None` means every
axis (argmax/argmin of the flattened tensor). Values (`item`, `asnumpy`) exist only eagerly.
"""
from __future__ import annotations

import math

from . import ops
from .ops.reduction import normalize_axes
from .errors import GraphcError
from .types import DType, bfloat16, bool_, float16, float32, float64, int32, int64


class TensorMethods:
    """Mixed into Tensor; `self` is a Tensor (concrete or traced)."""

    # -- shape --------------------------------------------------------------------------------------
    def reshape(self, *shape):
        return ops.reshape(self, shape=_shape_arguments(shape))

    def view(self, *shape):
        """x.view(2, 3) is x.reshape(2, 3); x.view(dtype) (MindSpore 2.x) reads the same bytes as dtype
        (the last axis scaled by the ratio of the item sizes). Eager only: graphc's IR has no bitcast op."""
        if len(shape) == 1 and isinstance(shape[0], DType):
            if self.is_symbolic:
                raise GraphcError(f"Tensor.view({shape[0]!r}) of a traced value ({self.type}): graphc's graphs "
                                  "have no op that reinterprets bytes; call it outside the compiled function")
            return ops.function.array_func.constant(self.asnumpy().view(shape[0].np), shape[0])
        return self.reshape(*shape)

    def ravel(self):
        return ops.reshape(self, shape=(-1,))

    def resize(self, *new_shape):
        """NumPy's resize as MindSpore 2.10 does it: the elements in row-major order, cut short or
        followed by zeros, in the new shape."""
        shape = _shape_arguments(new_shape)
        size, flat = math.prod(shape), ops.reshape(self, shape=(-1,))
        if size > self.size:
            flat = ops.cat((flat, ops.zeros(size - self.size, self.dtype)))
        return ops.reshape(flat[:size], shape=shape)

    def flatten(self, start_dim=0, end_dim: int = -1, *, order: str = "C"):
        """The axes start_dim..end_dim merged into one (by default: a 1-D tensor). MindSpore 2.10 also
        takes the order first (x.flatten('F')): 'F' reads the elements column-major."""
        if isinstance(start_dim, str):
            start_dim, order = 0, start_dim
        if order not in ("C", "F"):
            raise GraphcError(f"flatten: order={order!r} is not valid; use 'C' (row-major) or 'F' (column-major)")
        if order == "F":
            if (start_dim, end_dim) != (0, -1):
                raise GraphcError(f"flatten: order='F' flattens every axis; it cannot be combined with "
                                  f"start_dim={start_dim}, end_dim={end_dim}")
            return ops.reshape(self.transpose(tuple(reversed(range(self.ndim)))), shape=(-1,))
        if self.ndim == 0:
            return ops.reshape(self, shape=(1,))
        start, end = start_dim % self.ndim, end_dim % self.ndim
        if start > end:
            raise GraphcError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for {self.type}")
        return ops.reshape(self, shape=self.shape[:start] + (-1,) + self.shape[end + 1:])

    def squeeze(self, *axis):
        """Without the size-1 axes, or without the given ones: x.squeeze(), x.squeeze(0), x.squeeze((0, 2))."""
        return ops.squeeze(self, _shape_arguments(axis) or None)

    def expand_dims(self, axis: int):
        return ops.expand_dims(self, axis)

    def unsqueeze(self, dim: int):
        return ops.expand_dims(self, dim)

    def transpose(self, *perm):
        """x.transpose(dim0, dim1) swaps two axes (MindSpore 2.x, whatever the rank); x.transpose(perm),
        x.transpose(*perm) of another length permutes; x.transpose() reverses the axes."""
        if len(perm) == 2 and all(isinstance(p, int) for p in perm):
            return self.swapaxes(*perm)
        perm = _shape_arguments(perm)
        return ops.transpose(self, perm or tuple(reversed(range(self.ndim))))

    def permute(self, *dims):
        """Output axis i is input axis dims[i]: x.permute(1, 0) or x.permute((1, 0))."""
        return ops.transpose(self, _shape_arguments(dims))

    def swapaxes(self, axis0: int, axis1: int):
        perm = list(range(self.ndim))
        perm[axis0], perm[axis1] = perm[axis1], perm[axis0]
        return ops.transpose(self, tuple(perm))

    def expand_as(self, other):
        return ops.broadcast_to(self, shape=other.shape)

    def tile(self, dims):
        """NumPy's tile: the tensor repeated dims[i] times along axis i (dims shorter than the rank
        repeat the last axes; longer ones add leading axes)."""
        dims = tuple(dims)
        rank = max(len(dims), self.ndim)
        dims, shape = (1,) * (rank - len(dims)) + dims, (1,) * (rank - self.ndim) + tuple(self.shape)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            raise GraphcError(f"tile: dims must be ints >= 0, got {dims}")
        # [s0, s1] -> [1, s0, 1, s1] -> broadcast [d0, s0, d1, s1] -> [d0·s0, d1·s1]: copy i of axis k is block i
        spread = ops.reshape(self, shape=tuple(v for s in shape for v in (1, s)))
        tiled = ops.broadcast_to(spread, shape=tuple(v for d, s in zip(dims, shape) for v in (d, s)))
        return ops.reshape(tiled, shape=tuple(d * s for d, s in zip(dims, shape)))

    def repeat(self, *repeats):
        """MindSpore 2.x (and PyTorch): x.repeat(2, 3) tiles the tensor 2 times along axis 0 and 3
        along axis 1; there must be a count for every axis. NumPy's element-wise repeat is
        repeat_interleave."""
        repeats = _shape_arguments(repeats)
        if len(repeats) < self.ndim:
            raise GraphcError(f"repeat: {len(repeats)} repetition count(s) for a tensor {self.type}; give one per "
                              f"axis (at least {self.ndim}), or use repeat_interleave to repeat each element")
        return self.tile(repeats)

    def repeat_interleave(self, repeats: int, dim=None):
        """Each element repeated `repeats` times along dim (None: of the flattened tensor), as np.repeat."""
        if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 0:
            raise GraphcError(f"repeat_interleave: repeats must be an int >= 0 (one count for every element), "
                              f"got {repeats!r}")
        x, dim = (ops.reshape(self, shape=(-1,)), 0) if dim is None else (self, dim % self.ndim)
        # [.., s, ..] -> [.., s, 1, ..] -> broadcast [.., s, repeats, ..] -> [.., s·repeats, ..]
        spread = ops.expand_dims(x, dim + 1)
        shape = x.shape[:dim + 1] + (repeats,) + x.shape[dim + 1:]
        return ops.reshape(ops.broadcast_to(spread, shape=shape),
                           shape=x.shape[:dim] + (x.shape[dim] * repeats,) + x.shape[dim + 1:])

    @property
    def T(self):
        return self.transpose()

    def tolist(self):
        """The values as nested Python lists (a number for a 0-d tensor); eager only."""
        return self.asnumpy().tolist()

    def astype(self, dtype):
        return ops.cast(self, dtype=dtype)

    def float(self):
        return ops.cast(self, dtype=float32)

    def half(self):
        return ops.cast(self, dtype=float16)

    def bfloat16(self):
        return ops.cast(self, dtype=bfloat16)

    def double(self):
        return ops.cast(self, dtype=float64)

    def int(self):
        return ops.cast(self, dtype=int32)

    def long(self):
        return ops.cast(self, dtype=int64)

    def bool(self):
        return ops.cast(self, dtype=bool_)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # -- reductions ----------------------------------------------------------------------------------
    # MindSpore 2.10 takes 2.x's (dim, keepdim) and 1.x's (axis, keepdims or keep_dims) alike.
    def sum(self, dim=None, keepdim=None, *, axis=None, keepdims=None, dtype=None):
        """Int and bool tensors sum to int64, as ops.sum."""
        axis, keep = _reduce_args("sum", dim, keepdim, axis, keepdims)
        return ops.sum(self, axis, keep, dtype=dtype)

    def mean(self, axis=None, keep_dims=None, *, dim=None, keepdim=None):
        return ops.mean(self, *_reduce_args("mean", dim, keepdim, axis, keep_dims))

    def prod(self, dim=None, keepdim=None, dtype=None, *, axis=None, keep_dims=None):
        axis, keep = _reduce_args("prod", dim, keepdim, axis, keep_dims)
        return ops.prod(self, axis, keep, dtype)

    def cumsum(self, dim=None, dtype=None, *, axis=None):
        """The running sum along dim (None: of the flattened tensor)."""
        axis, _ = _reduce_args("cumsum", dim, None, axis, None)
        return ops.cumsum(self.ravel(), 0, dtype) if axis is None else ops.cumsum(self, axis, dtype)

    def var(self, axis=None, ddof: int = 0, keepdims: bool = False):
        """The mean squared deviation from the mean over axis (None: all), divided by n - ddof
        instead of n; int tensors give float32, as in MindSpore."""
        x = self if self.dtype.is_float else ops.cast(self, dtype=float32)
        deviation = x - ops.reduce_mean(x, axis=axis, keep_dims=True)
        count = math.prod(x.shape[a] for a in normalize_axes(axis, x.ndim))
        return ops.reduce_sum(deviation * deviation, axis=axis, keep_dims=keepdims) / (count - ddof)

    def std(self, axis=None, ddof: int = 0, keepdims: bool = False):
        return ops.sqrt(self.var(axis, ddof, keepdims))

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None, initial=None, where=None,
            return_indices=False):
        """MindSpore 2.10's two forms: x.max(dim, keepdim=False) gives (values, int64 indices), as
        ops.max; with no dim, or with any of 1.x's keywords, the values only (and the indices too with
        return_indices=True)."""
        return _extreme(ops.max, self, dim, keepdim, axis, keepdims, initial, where, return_indices)

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None, initial=None, where=None,
            return_indices=False):
        """As max: (values, int64 indices) for x.min(dim, keepdim), else the values."""
        return _extreme(ops.min, self, dim, keepdim, axis, keepdims, initial, where, return_indices)

    def argmax(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        """The int64 index of the first maximum along axis (None: of the flattened tensor)."""
        return ops.argmax(self, *_reduce_args("argmax", dim, keepdim, axis, keepdims))

    def argmin(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        """The int32 index of the first minimum along axis (None: of the flattened tensor), as MindSpore 2.10."""
        return ops.argmin(self, *_reduce_args("argmin", dim, keepdim, axis, keepdims))

    def all(self, axis=None, keep_dims=None, *, dim=None, keepdim=None):
        """True where every element along axis is nonzero (bool)."""
        return ops.all(self, *_reduce_args("all", dim, keepdim, axis, keep_dims))

    def any(self, axis=None, keep_dims=None, *, dim=None, keepdim=None):
        """True where some element along axis is nonzero (bool)."""
        return ops.any(self, *_reduce_args("any", dim, keepdim, axis, keep_dims))

    # -- elementwise ---------------------------------------------------------------------------------
    def abs(self):
        return ops.abs(self)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def square(self):
        return ops.mul(self, self)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def add(self, other):
        return ops.add(self, other)

    def sub(self, other):
        return ops.sub(self, other)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other):
        return ops.div(self, other)

    def clip(self, xmin=None, xmax=None):
        """Values limited to [xmin, xmax]; either bound may be None (MindSpore 2.x: min, max)."""
        if xmin is None and xmax is None:
            raise GraphcError("clip: give xmin, xmax or both; with neither it would do nothing")
        x = self if xmax is None else ops.minimum(self, xmax)
        return x if xmin is None else ops.maximum(x, xmin)

    # -- operators -------------------------------------------------------------------------------------
    def __add__(self, o): return ops.add(self, o)
    def __radd__(self, o): return ops.add(o, self)
    def __sub__(self, o): return ops.sub(self, o)
    def __rsub__(self, o): return ops.sub(o, self)
    def __mul__(self, o): return ops.mul(self, o)
    def __rmul__(self, o): return ops.mul(o, self)
    def __truediv__(self, o): return ops.div(self, o)
    def __rtruediv__(self, o): return ops.div(o, self)
    def __floordiv__(self, o): return ops.floor_div(self, o)
    def __rfloordiv__(self, o): return ops.floor_div(o, self)
    def __mod__(self, o): return ops.floor_mod(self, o)
    def __rmod__(self, o): return ops.floor_mod(o, self)
    def __pow__(self, o): return ops.pow(self, o)
    def __rpow__(self, o): return ops.pow(o, self)
    def __matmul__(self, o): return ops.matmul(self, o)
    def __neg__(self): return ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)
    def __lt__(self, o): return ops.lt(self, o)
    def __le__(self, o): return ops.le(self, o)
    def __gt__(self, o): return ops.gt(self, o)
    def __ge__(self, o): return ops.ge(self, o)
    def __eq__(self, o): return ops.eq(self, o)
    def __ne__(self, o): return ops.ne(self, o)


def _shape_arguments(values) -> tuple:
    """`x.reshape(2, 3)` and `x.reshape((2, 3))` alike."""
    return tuple(values[0]) if len(values) == 1 and isinstance(values[0], (tuple, list)) else tuple(values)


def _reduce_args(method: str, dim, keepdim, axis, keepdims) -> tuple:
    """(axis, keep) from 2.x's dim and keepdim or 1.x's axis and keepdims (None: not given)."""
    if dim is not None and axis is not None:
        raise GraphcError(f"Tensor.{method}: dim={dim!r} and axis={axis!r} name the same parameter; give one")
    if keepdim is not None and keepdims is not None:
        raise GraphcError(f"Tensor.{method}: keepdim and keepdims name the same parameter; give one")
    return (dim if axis is None else axis), bool(keepdim or keepdims)


def _extreme(function, x, dim, keepdim, axis, keepdims, initial, where, return_indices):
    """Tensor.max and Tensor.min over ops.max or ops.min, which give (values, indices)."""
    tuple_form = dim is not None and axis is None and keepdims is None and initial is None and where is None
    values, indices = function(x, *_reduce_args(function.__name__, dim, keepdim, axis, keepdims),
                               initial=initial, where=where)
    return (values, indices) if tuple_form or return_indices else values
