"""Indexing: strided_slice (NumPy basic slicing with compile-time bounds), pack (tensors laid side by
side in one flat buffer, read back by unpack's slices) and gather (a runtime index into one axis),
with their gradient ops, and getitem, which turns Python's `x[...]` into them."""
from __future__ import annotations

import operator

import numpy as np

from ..errors import GraphcError
from ..types import TensorType, int32, int64, type_of
from .core import INJECTIVE, OPAQUE, REQUIRED, Op, OpError, no_flops, register
from .shaping import reshape

__all__ = ["gather", "gather_grad", "getitem", "pack", "pack_offsets", "slice_ranges", "strided_slice",
           "strided_slice_grad", "unpack"]


# -- strided_slice ---------------------------------------------------------------------------------------
def slice_ranges(shape, begin, end, strides) -> tuple[range, ...]:
    """The positions each axis keeps, by NumPy's rules: negative bounds count from the end and
    out-of-range bounds clamp. Axes past len(begin) are kept whole."""
    given = tuple(range(*slice(b, e, s).indices(d)) for d, b, e, s in zip(shape, begin, end, strides))
    return given + tuple(range(d) for d in shape[len(begin):])


def _slices(begin, end, strides) -> tuple[slice, ...]:
    return tuple(slice(b, e, s) for b, e, s in zip(begin, end, strides))


def _canon_slice(attrs: dict) -> dict:
    begin, end = tuple(int(b) for b in attrs["begin"]), tuple(int(e) for e in attrs["end"])
    strides = (1,) * len(begin) if attrs["strides"] is None else tuple(int(s) for s in attrs["strides"])
    if not len(begin) == len(end) == len(strides):
        raise OpError(f"begin {begin}, end {end} and strides {strides} must have one entry per sliced axis")
    if 0 in strides:
        raise OpError(f"strides {strides} contain 0; a stride must be a nonzero int")
    canon = {**attrs, "begin": begin, "end": end, "strides": strides}
    if "input_shape" in attrs:
        canon["input_shape"] = tuple(int(d) for d in attrs["input_shape"])
    return canon


def _sliced_shape(shape, begin, end, strides) -> tuple[int, ...]:
    if len(begin) > len(shape):
        raise OpError(f"{len(begin)} sliced axes but the tensor has rank {len(shape)}; give at most one "
                      "begin/end/stride per axis")
    return tuple(len(r) for r in slice_ranges(shape, begin, end, strides))


def _infer_strided_slice_grad(ct, input_shape, begin, end, strides):
    expected = _sliced_shape(input_shape, begin, end, strides)
    if ct.shape != expected:
        raise OpError(f"ct has shape {list(ct.shape)} but slicing {list(input_shape)} gives {list(expected)}; "
                      "input_shape must be the forward input's shape")
    return TensorType(input_shape, ct.dtype)


def _strided_slice_grad_ref(ct, input_shape, begin, end, strides):
    dx = np.zeros(input_shape, ct.dtype)
    dx[_slices(begin, end, strides)] = ct
    return dx


def _slice_samples(rng):
    x = rng.standard_normal((4, 5, 6))
    return [([x], {"begin": (1, 0, -1), "end": (3, 5, 0), "strides": (1, 2, -2)}),
            ([x], {"begin": (-10,), "end": (10,), "strides": (3,)}),
            ([x], {"begin": (0, 4), "end": (4, 5), "strides": None})]


strided_slice = register(Op(
    "strided_slice", ("x",), lambda x, begin, end, strides: TensorType(_sliced_shape(x.shape, begin, end, strides),
                                                                          x.dtype),
    lambda x, begin, end, strides: x[_slices(begin, end, strides)], INJECTIVE,
    attrs={"begin": REQUIRED, "end": REQUIRED, "strides": None}, canon=_canon_slice,
    vjp=lambda ct, x, out, **slicing: (strided_slice_grad(ct, input_shape=x.shape, **slicing),), flops=no_flops,
    lower=lambda k, x, out, **slicing: k.strided_slice(x, out, ranges=slice_ranges(x.shape, **slicing)),
    samples=_slice_samples,
    doc="x[b0:e0:s0, b1:e1:s1, ...] with static ints and NumPy rules (negative bounds count from the end, "
        "out-of-range bounds clamp; slice_ranges gives the normalised positions); strides default to 1 and "
        "axes past len(begin) are kept whole"))

strided_slice_grad = register(Op(
    "strided_slice_grad", ("ct",), _infer_strided_slice_grad, _strided_slice_grad_ref, INJECTIVE,
    attrs={"input_shape": REQUIRED, "begin": REQUIRED, "end": REQUIRED, "strides": None}, canon=_canon_slice,
    vjp=lambda ct, g, out, input_shape, **slicing: (strided_slice(ct, **slicing),), flops=no_flops,
    lower=lambda k, ct, out, input_shape, **slicing: k.strided_slice_grad(ct, out, ranges=slice_ranges(input_shape,
                                                                                                  **slicing)),
    samples=lambda rng: [([rng.standard_normal(_sliced_shape(x.shape, **_canon_slice(attrs)))],
                          {**attrs, "input_shape": x.shape}) for [x], attrs in _slice_samples(rng)],
    doc="the gradient of strided_slice: ct written into zeros of input_shape at the sliced positions"))


# -- pack -----------------------------------------------------------------------------------------------------
PACK_ALIGN_BYTES = 64     # where each packed operand starts: native kernels assume 64-byte aligned buffers


def pack_offsets(types) -> list[int]:
    """The element offset of each operand in a pack of `types` (TensorTypes or Tensors): each starts at a
    multiple of 64 bytes after the one before."""
    offsets, end = [], 0
    for t in types:
        align = max(PACK_ALIGN_BYTES // t.dtype.itemsize, 1)
        start = -(-end // align) * align
        offsets.append(start)
        end = start + t.size
    return offsets


def _infer_pack(*xs):
    for k, x in enumerate(xs):
        if x.dtype != xs[0].dtype:
            raise OpError(f"operand {k} is {x} but operand 0 is {xs[0]}: packed operands share one dtype; cast them")
    return TensorType((pack_offsets(xs)[-1] + xs[-1].size,), xs[0].dtype)


def _pack_ref(*xs):
    types = [type_of(np.asarray(x)) for x in xs]
    packed = np.zeros(_infer_pack(*types).shape, xs[0].dtype)
    for x, start in zip(xs, pack_offsets(types)):
        packed[start:start + x.size] = np.ravel(x)
    return packed


def unpack(packed, like) -> tuple:
    """The operands of `pack(*like)` read back from `packed` (a pack of values of their types)."""
    return tuple(reshape(strided_slice(packed, begin=(start,), end=(start + x.size,)), shape=x.shape)
                 for x, start in zip(like, pack_offsets(like)))


pack = register(Op(
    "pack", ("xs",), _infer_pack, _pack_ref, INJECTIVE, variadic=True,
    vjp=lambda ct, *xs, out: unpack(ct, xs), flops=no_flops,
    lower=lambda k, *xs, out: k.pack(xs, out),
    samples=lambda rng: [([rng.standard_normal((3,)), rng.standard_normal((2, 2)), rng.standard_normal(())], {}),
                         ([rng.standard_normal((20,))], {})],
    doc="the operands flattened into one 1-D tensor, each starting 64 bytes aligned (pack_offsets), zeros between "
        "them; `unpack` reads them back as views. The memory plan computes operands used only here straight "
        "into their place, so packing the gradients a data-parallel step sums copies nothing"))


# -- gather --------------------------------------------------------------------------------------------------
def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise OpError(f"axis {axis} is out of range for a table of rank {ndim}; use an axis in [{-ndim}, {ndim})")
    return axis % ndim


def _gathered_shape(table_shape, index: TensorType, axis: int) -> tuple[int, ...]:
    if index.dtype not in (int32, int64):
        raise OpError(f"index must be int32 or int64, got {index}; cast it with ops.cast")
    axis = _axis(axis, len(table_shape))
    return tuple(table_shape[:axis]) + index.shape + tuple(table_shape[axis + 1:])


def index_out_of_range(op: str, index: int, size: int) -> str:
    """The message for an index outside [0, size), the same from the reference and native code."""
    return f"{op}: index {index} is out of range for an axis of size {size}; indices must be in [0, {size})"


def _checked_index(index: np.ndarray, size: int, op: str = "gather") -> np.ndarray:
    bad = index[(index < 0) | (index >= size)]
    if bad.size:
        raise GraphcError(index_out_of_range(op, int(bad[0]), size))
    return index


def _gather_ref(table, index, axis):
    return np.take(table, _checked_index(index, table.shape[axis]), axis=axis)


def _gather_grad_ref(ct, index, input_shape, axis):
    axis = _axis(axis, len(input_shape))
    dx = np.zeros(input_shape, ct.dtype)
    picked = np.moveaxis(ct, tuple(range(axis, axis + index.ndim)), tuple(range(index.ndim)))
    np.add.at(np.moveaxis(dx, axis, 0), _checked_index(index, input_shape[axis], "gather_grad"), picked)
    return dx


def _infer_gather_grad(ct, index, input_shape, axis):
    expected = _gathered_shape(input_shape, index, axis)
    if ct.shape != expected:
        raise OpError(f"ct has shape {list(ct.shape)} but gathering {list(input_shape)} gives {list(expected)}; "
                      "input_shape must be the table's shape")
    return TensorType(input_shape, ct.dtype)


def _gather_samples(rng):
    return [([rng.standard_normal((6,)), np.array(4, np.int32)], {"axis": 0}),
            ([rng.standard_normal((3, 5, 2)), rng.integers(0, 5, (2, 3)).astype(np.int64)], {"axis": -2})]


_OUT_OF_RANGE_INDEX = ("An index outside [0, size) raises GraphcError naming the index, in PYNATIVE mode, the "
                       "interpreter and native code alike (the native step checks indices before the kernel)")

gather = register(Op(
    "gather", ("table", "index"),
    lambda table, index, axis: TensorType(_gathered_shape(table.shape, index, axis), table.dtype), _gather_ref, OPAQUE,
    attrs={"axis": 0}, canon=lambda a: {"axis": int(a["axis"])},
    vjp=lambda ct, table, index, out, axis: (gather_grad(ct, index, input_shape=table.shape, axis=axis), None),
    lower=lambda k, table, index, out, axis: k.gather(table, index, out, axis=_axis(axis, table.ndim)),
    flops=no_flops, samples=_gather_samples,
    doc="np.take(table, index, axis): the slices of table at the int index (any shape, e.g. a scalar step "
        "number into a per-step learning-rate table). " + _OUT_OF_RANGE_INDEX))

gather_grad = register(Op(
    "gather_grad", ("ct", "index"), _infer_gather_grad, _gather_grad_ref, OPAQUE,
    attrs={"input_shape": REQUIRED, "axis": 0},
    canon=lambda a: {"input_shape": tuple(int(d) for d in a["input_shape"]), "axis": int(a["axis"])},
    vjp=lambda ct, g, index, out, input_shape, axis: (gather(ct, index, axis=axis), None),
    lower=lambda k, ct, index, out, input_shape, axis: k.gather_grad(ct, index, out,
                                                                     axis=_axis(axis, len(input_shape))),
    flops=lambda out, ct, index, **attrs: ct.size,
    samples=lambda rng: [([rng.standard_normal(_gathered_shape(table.shape, TensorType(index.shape, int32),
                                                               attrs["axis"])), index],
                          {**attrs, "input_shape": table.shape}) for (table, index), attrs in _gather_samples(rng)],
    doc="the gradient of gather: zeros of input_shape with each slice of ct added at its index (repeated "
        "indices add up). " + _OUT_OF_RANGE_INDEX))


# -- getitem: Python index syntax ---------------------------------------------------------------------------
def getitem(x, index):
    """x[index] for static indexes: ints (drop the axis; negative counts from the end), slices,
    Ellipsis and None (a new axis of size 1), or a tuple of them. Becomes one strided_slice (when
    anything is cut) and one reshape (when axes are dropped or added)."""
    begin, end, strides, shape = [], [], [], []
    axis = 0
    for item in _expanded(index, x):
        if item is None:
            shape.append(1)
            continue
        size = x.shape[axis]
        if isinstance(item, slice):
            bounds = _slice_bounds(item, size, x)
            shape.append(len(range(*slice(*bounds).indices(size))))
        else:
            position = _int_index(item, size, axis, x)
            bounds = (position, position + 1, 1)
        for values, bound in zip((begin, end, strides), bounds):
            values.append(bound)
        axis += 1
    result = x
    if any(r != range(d) for r, d in zip(slice_ranges(x.shape, begin, end, strides), x.shape)):
        result = strided_slice(x, begin=begin, end=end, strides=strides)
    return reshape(result, shape=shape) if tuple(shape) != tuple(result.shape) else result


def _index_error(x, index, problem: str) -> GraphcError:
    return GraphcError(f"getitem: cannot index a tensor {x.type} with {index!r}: {problem}")


def _expanded(index, x) -> list:
    """The index as a list with one entry per axis of x (Ellipsis and missing trailing axes become
    full slices) plus the None entries that add axes."""
    items = list(index) if isinstance(index, tuple) else [index]
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice) or _is_int(item)):
            raise _unsupported(x, index, item)
    consumed = sum(1 for item in items if item is not None and item is not Ellipsis)
    if consumed > x.ndim:
        raise _index_error(x, index, f"{consumed} axes are indexed but the tensor has rank {x.ndim}")
    ellipses = [i for i, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        raise _index_error(x, index, "an index can have only one Ellipsis (...)")
    fill = [slice(None)] * (x.ndim - consumed)
    if ellipses:
        return items[:ellipses[0]] + fill + items[ellipses[0] + 1:]
    return items + fill


def _is_int(item) -> bool:
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _unsupported(x, index, item) -> GraphcError:
    if hasattr(item, "shape"):
        return _index_error(x, index, "indexing with a tensor or array (gather) is not supported by x[...]; use "
                                      "ops.gather(x, index, axis=...) to pick slices by a runtime index")
    return _index_error(x, index, f"{type(item).__name__} is not a static index; use ints, slices, ..., None")


def _slice_bounds(item: slice, size: int, x) -> tuple[int, int, int]:
    """(begin, end, stride) meaning the same as `item` under NumPy's rules, with every None filled in."""
    for bound in (item.start, item.stop, item.step):
        if bound is not None and not _is_int(bound):
            raise _index_error(x, item, f"slice bounds must be ints or None, got {type(bound).__name__}")
    step = 1 if item.step is None else int(item.step)
    if step == 0:
        raise _index_error(x, item, "a slice step cannot be zero")
    start = item.start if item.start is not None else (0 if step > 0 else -1)
    stop = item.stop if item.stop is not None else (size if step > 0 else -size - 1)
    return int(start), int(stop), step


def _int_index(item, size: int, axis: int, x) -> int:
    position = operator.index(item)
    if not -size <= position < size:
        raise _index_error(x, item, f"index {position} is out of range for axis {axis} of size {size}")
    return position % size
