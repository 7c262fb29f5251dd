"""The methods MindSpore users call on a Tensor (`x.mean()`, `x.argmin(1)`, `x.clip(0, 1)`, ...).

Each is a composition of registered ops, so it runs eagerly, records nodes while tracing and has
a gradient wherever its ops have one. Defaults follow MindSpore 2.x: `axis=None` means every
axis (argmax/argmin of the flattened tensor). Values (`item`, `asnumpy`) exist only eagerly.
"""
from __future__ import annotations

from . import ops
from .errors import GraphcError
from .types import float32


class TensorMethods:
    """Mixed into Tensor; `self` is a Tensor (concrete or traced)."""

    # -- shape --------------------------------------------------------------------------------------
    def reshape(self, *shape):
        return ops.reshape(self, shape=_shape_arguments(shape))

    view = reshape

    def flatten(self, order: str = "C", *, start_dim: int = 0, end_dim: int = -1):
        """The axes start_dim..end_dim merged into one (by default: a 1-D tensor); only order 'C'."""
        if order != "C":
            raise GraphcError(f"flatten: order={order!r} is not supported; graphc tensors are row-major ('C')")
        if self.ndim == 0:
            return ops.reshape(self, shape=(1,))
        start, end = start_dim % self.ndim, end_dim % self.ndim
        if start > end:
            raise GraphcError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for {self.type}")
        return ops.reshape(self, shape=self.shape[:start] + (-1,) + self.shape[end + 1:])

    def squeeze(self, axis=None):
        return ops.squeeze(self, axis)

    def expand_dims(self, axis: int):
        return ops.expand_dims(self, axis)

    def transpose(self, *perm):
        perm = _shape_arguments(perm)
        return ops.transpose(self, perm or tuple(reversed(range(self.ndim))))

    @property
    def T(self):
        return self.transpose()

    def tolist(self):
        """The values as nested Python lists (a number for a 0-d tensor); eager only."""
        return self.asnumpy().tolist()

    def astype(self, dtype):
        return ops.cast(self, dtype=dtype)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # -- reductions ----------------------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims: bool = False):
        x = self if dtype is None else ops.cast(self, dtype=dtype)
        return ops.reduce_sum(x, axis=axis, keep_dims=keepdims)

    def mean(self, axis=None, keep_dims: bool = False):
        return ops.reduce_mean(self, axis=axis, keep_dims=keep_dims)

    def max(self, axis=None, keepdims: bool = False):
        return ops.reduce_max(self, axis=axis, keep_dims=keepdims)

    def min(self, axis=None, keepdims: bool = False):
        return ops.neg(ops.reduce_max(ops.neg(self), axis=axis, keep_dims=keepdims))

    def argmax(self, axis=None, keepdims: bool = False):
        """The index of the first maximum along axis (None: of the flattened tensor), int32."""
        x, axis_of_x = _along(self, axis)
        return _arg(ops.get("argmax")(x, axis=axis_of_x), self, axis, keepdims)

    def argmin(self, axis=None, keepdims: bool = False):
        """The index of the first minimum along axis (None: of the flattened tensor), int32."""
        x, axis_of_x = _along(self, axis)
        return _arg(ops.get("argmax")(ops.neg(x), axis=axis_of_x), self, axis, keepdims)

    def all(self, axis=None, keep_dims: bool = False):
        """True where every element along axis is nonzero (bool)."""
        misses = ops.cast(ops.eq(ops.cast(self, dtype=float32), 0.0), dtype=float32)
        return ops.eq(ops.reduce_max(misses, axis=axis, keep_dims=keep_dims), 0.0)

    def any(self, axis=None, keep_dims: bool = False):
        """True where some element along axis is nonzero (bool)."""
        hits = ops.cast(ops.ne(ops.cast(self, dtype=float32), 0.0), dtype=float32)
        return ops.gt(ops.reduce_max(hits, axis=axis, keep_dims=keep_dims), 0.0)

    # -- elementwise ---------------------------------------------------------------------------------
    def abs(self):
        return ops.abs(self)

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


def _along(x, axis):
    """(the tensor an arg-reduction runs over, its axis): the flattened tensor when axis is None."""
    return (ops.reshape(x, shape=(-1,)), 0) if axis is None else (x, axis)


def _arg(index, x, axis, keepdims: bool):
    if not keepdims:
        return index
    if axis is None:
        return ops.reshape(index, shape=(1,) * x.ndim)
    return ops.expand_dims(index, axis if axis >= 0 else axis + x.ndim)
