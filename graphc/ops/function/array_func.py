"""MindSpore 2.x's functions that make, reshape and index tensors (`ops.zeros`, `ops.reshape(x, shape)`,
`ops.gather(x, index, axis)`, ...), with MindSpore's parameter names, defaults and result dtypes.
Each is a composition of registered ops, so it runs eagerly, records nodes while tracing and has a
gradient wherever its ops have one."""
from __future__ import annotations

import builtins
import functools
import math

import numpy as np

from ...types import bool_, float32, int32, int64
from .. import elementwise as ew
from ..indexing import gather as gather_op
from ..indexing import strided_slice
from ..join import concat
from ..primitives import assign, expand_dims, squeeze
from ..reduction import broadcast_to as broadcast_op
from ..shaping import cast as cast_op
from ..shaping import one_hot as one_hot_op
from ..shaping import reshape as reshape_op
from ..shaping import transpose as transpose_op
from . import arguments as check

__all__ = ["add_flags", "arange", "assign_add", "assign_sub", "broadcast_to", "cast", "cat", "chunk", "constant",
           "constexpr", "dtype", "eye", "fill", "flatten", "flip", "full", "full_like", "gather", "gather_elements",
           "identity", "linspace", "make_range", "masked_fill", "masked_select", "meshgrid", "mixed_precision_cast",
           "move_axis", "narrow", "one_hot", "ones", "ones_like", "partial", "permute", "range", "rank",
           "repeat_elements", "reshape", "scalar_to_tensor", "select", "sequence_mask", "shape", "size", "tile",
           "transpose", "tril", "triu", "tuple_len", "tuple_to_array", "unsqueeze", "unstack", "where", "zeros",
           "zeros_like"]


def constant(values, dtype):
    """A tensor holding `values` (anything NumPy takes) as dtype: a constant node when traced."""
    return cast_op(np.asarray(values), dtype=dtype)


def _python_dtype(value):
    """The dtype MindSpore gives a Python scalar: bool, int64 or float32."""
    return bool_ if isinstance(value, (bool, np.bool_)) else int64 if check.is_int(value) else float32


# -- shape and type ---------------------------------------------------------------------------------------------
def reshape(input, shape):
    """input with a new shape; one entry may be -1 (inferred)."""
    return reshape_op(check.tensor("reshape", "input", input), shape=check.shape("reshape", "shape", shape))


def _permuted(function: str, parameter: str, input, dims):
    x = check.tensor(function, "input", input)
    perm = check.shape(function, parameter, dims)
    if len(perm) != x.ndim or sorted(p % x.ndim for p in perm if -x.ndim <= p < x.ndim) != list(builtins.range(x.ndim)):
        raise check.bad(function, parameter, dims, f"a permutation of the {x.ndim} axes of {x.type}")
    return transpose_op(x, perm=tuple(p % x.ndim for p in perm)) if x.ndim else x


def transpose(input, dims):
    """input with its axes permuted: output axis i is input axis dims[i] (negative counts from the end)."""
    return _permuted("transpose", "dims", input, dims)


def permute(input, axis):
    return _permuted("permute", "axis", input, axis)


def move_axis(x, source: int, destination: int):
    """x with axis `source` moved to position `destination` (both non-negative), the others in order."""
    order = [a for a in builtins.range(x.ndim) if a != source]
    order.insert(destination, source)
    return x if order == list(builtins.range(x.ndim)) else transpose_op(x, perm=tuple(order))


def broadcast_to(input, shape):
    """input repeated along its size-1 (or missing leading) axes; -1 keeps the input's size there."""
    x = check.tensor("broadcast_to", "input", input)
    target = check.shape("broadcast_to", "shape", shape)
    lead = len(target) - x.ndim
    if lead < 0:
        raise check.bad("broadcast_to", "shape", shape, f"at least {x.ndim} entries (the rank of {x.type})")
    resolved = tuple(x.shape[i - lead] if d == -1 and i >= lead else d for i, d in enumerate(target))
    if builtins.any(d < 0 for d in resolved):
        raise check.bad("broadcast_to", "shape", shape, "sizes >= 0; -1 only where the input has an axis")
    return broadcast_op(x, shape=resolved)


def cast(input, dtype):
    return cast_op(input, dtype=check.dtype("cast", "dtype", dtype))


def mixed_precision_cast(dst_dtype, x):
    """The float tensors in x (a tensor, or a tuple, list or dict of them) converted to dst_dtype;
    other values as they are."""
    target = check.dtype("mixed_precision_cast", "dst_dtype", dst_dtype)
    if isinstance(x, (tuple, list)):
        return type(x)(mixed_precision_cast(target, item) for item in x)
    if isinstance(x, dict):
        return {key: mixed_precision_cast(target, item) for key, item in x.items()}
    return cast_op(x, dtype=target) if getattr(x, "type", None) is not None and x.dtype.is_float else x


def identity(x):
    return ew.add(check.tensor("identity", "x", x), 0)


def shape(input_x) -> tuple[int, ...]:
    """The static shape of input_x, a tuple of ints."""
    return tuple(check.tensor("shape", "input_x", input_x).shape)


def dtype(input_x):
    return check.tensor("dtype", "input_x", input_x).dtype


def rank(input_x) -> int:
    return check.tensor("rank", "input_x", input_x).ndim


def size(input_x) -> int:
    return check.tensor("size", "input_x", input_x).size


def flatten(input, order="C", *, start_dim=1, end_dim=-1):
    """The axes start_dim..end_dim merged into one; a scalar becomes [1], and a 1-D tensor stays."""
    x = check.tensor("flatten", "input", input)
    check.choice("flatten", "order", order, ("C",))
    if x.ndim <= 1:
        return reshape_op(x, shape=(x.size,))
    start = check.axis("flatten", "start_dim", start_dim, x.ndim)
    end = check.axis("flatten", "end_dim", end_dim, x.ndim)
    if start > end:
        raise check.bad("flatten", "end_dim", end_dim, f"an axis at or after start_dim={start_dim}")
    return reshape_op(x, shape=x.shape[:start] + (-1,) + x.shape[end + 1:])


def unsqueeze(input, dim):
    """input with a new axis of size 1 at position dim."""
    return expand_dims(check.tensor("unsqueeze", "input", input), check.integer("unsqueeze", "dim", dim))


# -- making tensors -----------------------------------------------------------------------------------------------
def _filled(function, parameter, size, value, dtype):
    return broadcast_op(constant(value, dtype), shape=check.shape(function, parameter, size, sizes=True))


def zeros(size, dtype=None):
    return _filled("zeros", "size", size, 0, float32 if dtype is None else check.dtype("zeros", "dtype", dtype))


def ones(shape, dtype=None):
    return _filled("ones", "shape", shape, 1, float32 if dtype is None else check.dtype("ones", "dtype", dtype))


def _like(function, input, value, dtype):
    x = check.tensor(function, "input", input)
    return broadcast_op(constant(value, x.dtype if dtype is None else check.dtype(function, "dtype", dtype)),
                        shape=x.shape)


def zeros_like(input, *, dtype=None):
    return _like("zeros_like", input, 0, dtype)


def ones_like(input, *, dtype=None):
    return _like("ones_like", input, 1, dtype)


def fill(type, shape, value):
    """A tensor of the given dtype and shape holding value everywhere."""
    return _filled("fill", "shape", shape, check.number("fill", "value", value), check.dtype("fill", "type", type))


def full(size, fill_value, *, dtype=None):
    """A tensor of shape size holding fill_value; without dtype it is int64 whatever the value, as in
    MindSpore 2.10 (`full((2, 3), 1.2)` holds 1)."""
    value = check.number("full", "fill_value", fill_value)
    return _filled("full", "size", size, value, int64 if dtype is None else check.dtype("full", "dtype", dtype))


def full_like(input, fill_value, *, dtype=None):
    return _like("full_like", input, check.number("full_like", "fill_value", fill_value), dtype)


def tuple_to_array(input_x):
    """A 1-D tensor of a tuple of numbers: int32 for ints, float32 if any is a float."""
    if not isinstance(input_x, (tuple, list)) or not input_x or not builtins.all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in input_x):
        raise check.bad("tuple_to_array", "input_x", input_x, "a non-empty tuple of ints or floats")
    return constant(input_x, float32 if builtins.any(isinstance(v, float) for v in input_x) else int32)


def scalar_to_tensor(input_x, dtype=float32):
    return constant(check.number("scalar_to_tensor", "input_x", input_x),
                    check.dtype("scalar_to_tensor", "dtype", dtype))


def arange(start=0, end=None, step=1, *, dtype=None):
    """start, start + step, ... up to end (excluded); int64 unless a bound or the step is a float
    (then float32); with one argument, 0 ... start."""
    values = [check.number("arange", name, v) for name, v in (("start", start), ("end", end), ("step", step))
              if v is not None]
    if end is None:
        values = [0] + values[:1] + values[1:]
    begin, stop, stride = values
    if stride == 0 or (stop - begin) * stride < 0:
        raise check.bad("arange", "step", step, f"a nonzero step going from start={begin} toward end={stop}")
    default = float32 if builtins.any(isinstance(v, float) for v in values) else int64
    count = math.ceil((stop - begin) / stride)
    return constant(begin + stride * np.arange(count),
                    default if dtype is None else check.dtype("arange", "dtype", dtype))


def range(start, end, step, maxlen=1000000):
    """MindSpore's ops.range: like arange (numbers or one-element tensors), float32 if any is a float,
    else int64 (for int32 tensors too, as MindSpore 2.10)."""
    values = [check.number("range", name, v) for name, v in (("start", start), ("end", end), ("step", step))]
    result = arange(*values)
    if result.shape[0] > maxlen:
        raise check.bad("range", "maxlen", maxlen, f"at least {result.shape[0]} (the number of values)")
    return result


def make_range(start=0, stop=None, step=1) -> tuple[int, ...]:
    """A tuple of ints as Python's range gives them (MindSpore's F.make_range)."""
    bounds = (0, start) if stop is None else (start, stop)
    return tuple(builtins.range(*bounds, step))


def linspace(start, end, steps):
    """steps evenly spaced float32 values from start to end (both included)."""
    count = check.integer("linspace", "steps", steps, minimum=1)
    return constant(np.linspace(check.number("linspace", "start", start), check.number("linspace", "end", end), count),
                    float32)


def eye(n, m=None, dtype=None):
    rows = check.integer("eye", "n", n, minimum=0)
    columns = rows if m is None else check.integer("eye", "m", m, minimum=0)
    return constant(np.eye(rows, columns), float32 if dtype is None else check.dtype("eye", "dtype", dtype))


def one_hot(indices, depth, on_value=1, off_value=0, axis=-1):
    """Rows of depth values, on_value at each index and off_value elsewhere (indices outside
    [0, depth) give a row of off_value), the new axis at position axis. The dtype is on_value's:
    its own for a Tensor, int64 for a Python int, float32 for a float."""
    x = check.tensor("one_hot", "indices", indices)
    count = check.integer("one_hot", "depth", depth, minimum=0)
    position = check.axis("one_hot", "axis", axis, x.ndim + 1)
    result_dtype = on_value.dtype if getattr(on_value, "type", None) is not None else _python_dtype(on_value)
    hot = one_hot_op(x, depth=count, on_value=check.number("one_hot", "on_value", on_value),
                     off_value=check.number("one_hot", "off_value", off_value), dtype=result_dtype)
    return move_axis(hot, x.ndim, position)


def assign_add(variable, value):
    """variable += value for a Parameter (written when the compiled step ends, at once eagerly)."""
    return assign(variable, ew.add(variable, value))


def assign_sub(variable, value):
    return assign(variable, ew.sub(variable, value))


def tuple_len(*args) -> int:
    """The length of a tuple (MindSpore's F.tuple_len)."""
    if len(args) != 1 or not isinstance(args[0], (tuple, list)):
        raise check.bad("tuple_len", "args", args, "one tuple or list")
    return len(args[0])


_KNOWN_FLAGS = {"has_effect": "graphc keeps every assignment and runs it in program order"}


def add_flags(fn=None, **flags):
    """MindSpore's graph-compilation flags on a function (used as `@ops.add_flags(has_effect=True)`).
    graphc needs none of them; a flag it does not know is refused rather than dropped."""
    unknown = sorted(set(flags) - set(_KNOWN_FLAGS))
    if unknown:
        raise check.refuse("add_flags", f"flag(s) {', '.join(unknown)} are not supported; graphc knows "
                                        + "; ".join(f"{k} ({why})" for k, why in _KNOWN_FLAGS.items()))
    return (lambda f: f) if fn is None else fn


def constexpr(fn=None, get_instance=True, name=None, reuse_result=True, check=True):
    """MindSpore's decorator for functions of constants evaluated while compiling: in graphc every
    Python function already runs while tracing, so it is returned as it is."""
    return (lambda f: f) if fn is None else fn


def partial(func, *args):
    """func with its first arguments bound (MindSpore's F.partial)."""
    return functools.partial(func, *args)


# -- joining, cutting and repeating -------------------------------------------------------------------------------
def cat(tensors, axis=0):
    return concat(tensors, axis)


def chunk(input, chunks, axis=0):
    """input cut into `chunks` pieces of ceil(size / chunks) along axis (the last may be smaller)."""
    x = check.tensor("chunk", "input", input)
    dim = check.axis("chunk", "axis", axis, x.ndim)
    piece = -(-x.shape[dim] // check.integer("chunk", "chunks", chunks, minimum=1))
    return tuple(narrow(x, dim, start, builtins.min(piece, x.shape[dim] - start))
                 for start in builtins.range(0, x.shape[dim], builtins.max(piece, 1)))


def narrow(input, axis, start, length):
    """input[..., start:start + length, ...] along axis."""
    x = check.tensor("narrow", "input", input)
    dim = check.axis("narrow", "axis", axis, x.ndim)
    begin = check.integer("narrow", "start", start, minimum=0)
    if not 0 <= check.integer("narrow", "length", length, minimum=0) <= x.shape[dim] - begin:
        raise check.bad("narrow", "length", length,
                        f"at most {x.shape[dim] - begin} (axis {dim} of {x.type} from {begin})")
    return strided_slice(x, begin=(0,) * dim + (begin,), end=x.shape[:dim] + (begin + length,))


def unstack(input_x, axis=0):
    """The slices of input_x along axis, each without that axis."""
    x = check.tensor("unstack", "input_x", input_x)
    dim = check.axis("unstack", "axis", axis, x.ndim)
    return tuple(squeeze(narrow(x, dim, i, 1), dim) for i in builtins.range(x.shape[dim]))


def sequence_mask(lengths, maxlen=None):
    """mask[..., j] = j < lengths[...], for j < maxlen (by default the largest length, read eagerly)."""
    x = check.tensor("sequence_mask", "lengths", lengths)
    if maxlen is None:
        check.eager_only("sequence_mask", "without maxlen the result's size is the largest length, a value; pass "
                                          "maxlen")
        maxlen = int(x.asnumpy().max())
    positions = constant(np.arange(check.integer("sequence_mask", "maxlen", maxlen, minimum=1)), x.dtype)
    return ew.lt(positions, reshape_op(x, shape=x.shape + (1,)))


def meshgrid(*inputs, indexing="xy"):
    """Coordinate grids of 1-D tensors: with 'ij' output k varies along axis k; with 'xy' (Cartesian)
    the first two axes are swapped."""
    check.choice("meshgrid", "indexing", indexing, ("xy", "ij"))
    vectors = [check.tensor("meshgrid", "inputs", v) for v in inputs]
    if not vectors or any(v.ndim != 1 for v in vectors):
        raise check.bad("meshgrid", "inputs", inputs, "one or more 1-D tensors")
    sizes = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(sizes) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for k, v in enumerate(vectors):
        axis = (1 - k if k < 2 else k) if indexing == "xy" and len(sizes) > 1 else k
        shape = tuple(v.shape[0] if i == axis else 1 for i in builtins.range(len(sizes)))
        grids.append(broadcast_op(reshape_op(v, shape=shape), shape=tuple(sizes)))
    return tuple(grids)


def tile(input, dims):
    """input repeated dims[i] times along axis i (dims shorter than the rank repeat the last axes)."""
    x = check.tensor("tile", "input", input)
    reps = check.shape("tile", "dims", dims, sizes=True)
    rank_ = builtins.max(x.ndim, len(reps))
    reps, dims_in = (1,) * (rank_ - len(reps)) + reps, (1,) * (rank_ - x.ndim) + tuple(x.shape)
    spread = reshape_op(x, shape=tuple(v for d in dims_in for v in (1, d)))
    repeated = broadcast_op(spread, shape=tuple(v for r, d in zip(reps, dims_in) for v in (r, d)))
    return reshape_op(repeated, shape=tuple(r * d for r, d in zip(reps, dims_in)))


def repeat_elements(x, rep, axis=0):
    """Each element of x repeated rep times along axis, in place: [a, b] -> [a, a, b, b]."""
    t = check.tensor("repeat_elements", "x", x)
    dim = check.axis("repeat_elements", "axis", axis, t.ndim)
    times = check.integer("repeat_elements", "rep", rep, minimum=1)
    spread = reshape_op(t, shape=t.shape[:dim + 1] + (1,) + t.shape[dim + 1:])
    repeated = broadcast_op(spread, shape=t.shape[:dim + 1] + (times,) + t.shape[dim + 1:])
    return reshape_op(repeated, shape=t.shape[:dim] + (t.shape[dim] * times,) + t.shape[dim + 1:])


# -- choosing elements ---------------------------------------------------------------------------------------------
def select(condition, input, other):
    """input where condition is true, else other (either may be a number)."""
    return ew.select(condition, input, other)


where = select


def flip(input, dims):
    """input with the order of the elements along each of dims reversed."""
    x = check.tensor("flip", "input", input)
    axes = check.axes("flip", "dims", dims, x.ndim) or builtins.range(x.ndim)
    return x[tuple(slice(None, None, -1) if a in axes else slice(None) for a in builtins.range(x.ndim))]


def _triangle(function, input, diagonal, lower: bool):
    x = check.tensor(function, "input", input)
    if x.ndim < 2:
        raise check.bad(function, "input", input, "a tensor of at least 2 axes (matrices in the last two)")
    k = check.integer(function, "diagonal", diagonal)
    rows, columns = x.shape[-2:]
    kept = np.tri(rows, columns, k, dtype=bool) if lower else ~np.tri(rows, columns, k - 1, dtype=bool)
    return ew.select(constant(kept, bool_), x, constant(0, x.dtype))


def tril(input, diagonal=0):
    """The lower triangle of the matrices in input's last two axes (on and below the diagonal-th
    diagonal), zeros above."""
    return _triangle("tril", input, diagonal, lower=True)


def triu(input, diagonal=0):
    """The upper triangle: on and above the diagonal-th diagonal, zeros below."""
    return _triangle("triu", input, diagonal, lower=False)


def masked_fill(input_x, mask, value):
    """input_x with value wherever mask is true."""
    x = check.tensor("masked_fill", "input_x", input_x)
    if getattr(value, "type", None) is None:
        value = constant(check.number("masked_fill", "value", value), x.dtype)
    return ew.select(mask, value, x)


def masked_select(input, mask):
    """The elements of input where mask (broadcast against it) is true, as a 1-D tensor. Eager only:
    the result's length depends on the mask's values, and graphc compiles static shapes."""
    x = check.tensor("masked_select", "input", input)
    check.eager_only("masked_select",
                     "its result's length depends on the mask's values, and compiled shapes are static")
    values, picks = np.broadcast_arrays(x.asnumpy(), check.tensor("masked_select", "mask", mask).asnumpy())
    return constant(values[picks.astype(bool)], x.dtype)


def gather(input_params, input_indices, axis, batch_dims=0):
    """The slices of input_params at input_indices along axis; with batch_dims = b, the first b axes of
    both are batch axes, each batch element gathering from its own slice (axis must then be b)."""
    x = check.tensor("gather", "input_params", input_params)
    dim = check.axis("gather", "axis", axis, x.ndim)
    batches = check.integer("gather", "batch_dims", batch_dims, minimum=0)
    if not batches:
        return gather_op(x, input_indices, axis=dim)
    index = check.tensor("gather", "input_indices", input_indices)
    if dim != batches or index.shape[:batches] != x.shape[:batches]:
        raise check.bad("gather", "batch_dims", batch_dims,
                        f"the axis ({dim}) and input_indices {index.type} sharing the "
                                                        f"first batch_dims axes of input_params {x.type}")
    flat = reshape_op(x, shape=(-1,) + x.shape[dim + 1:])
    return gather_op(flat, ew.add(index, _offsets(index, x.shape[:batches], x.shape[dim])), axis=0)


def _offsets(index, batch_shape, stride: int):
    """Per element of index, the flat position of its batch's first row: batch number * stride,
    in index's dtype and shape."""
    batch = np.arange(math.prod(batch_shape)).reshape(batch_shape + (1,) * (index.ndim - len(batch_shape)))
    return constant(np.broadcast_to(batch * stride, index.shape), index.dtype)


def gather_elements(input, dim, index):
    """output[i][j] = input[index[i][j]][j] (dim 0) or input[i][index[i][j]] (dim 1), and so on: each
    element of index picks along dim at its own position."""
    x = check.tensor("gather_elements", "input", input)
    idx = check.tensor("gather_elements", "index", index)
    axis = check.axis("gather_elements", "dim", dim, x.ndim)
    if idx.ndim != x.ndim or builtins.any(i > d for k, (i, d) in enumerate(zip(idx.shape, x.shape)) if k != axis):
        raise check.bad("gather_elements", "index", index,
                        f"a tensor of rank {x.ndim} no larger than input {x.type} on "
                                                       f"every axis but {axis}")
    strides = [math.prod(x.shape[k + 1:]) for k in builtins.range(x.ndim)]
    positions = np.indices(idx.shape)
    base = builtins.sum(positions[k] * strides[k] for k in builtins.range(x.ndim) if k != axis)
    flat = ew.add(ew.mul(idx, strides[axis]), constant(base, idx.dtype))
    return gather_op(reshape_op(x, shape=(-1,)), flat, axis=0)
