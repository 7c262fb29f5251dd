"""Joining tensors along an axis and cutting them apart: concat, stack and split (MindSpore 2.x's
functional `ops.concat(tensors, axis)`, `ops.stack(tensors, axis)`, `ops.split(tensor,
split_size_or_sections, axis)`).

concat and stack are variadic ops (one node, any number of operands) whose native code is one
strided copy per operand into its slab of the result; stack is concat of the operands viewed with
a size-1 axis inserted. An IR node has one result, so split is not an op of its own: it is one
strided_slice per piece, which is also concat's gradient.
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphcError
from ..types import TensorType
from .core import INJECTIVE, Op, OpError, no_flops, register
from .indexing import PACK_ALIGN_BYTES, strided_slice
from .shaping import reshape

__all__ = ["concat", "slab_offsets", "split", "stack"]


def _axis(axis: int, result_rank: int, op: str) -> int:
    """The axis of the result, counted from its front."""
    if not -result_rank <= axis < result_rank:
        raise OpError(f"axis {axis} is out of range for a {op} giving a rank-{result_rank} result; use an axis in "
                      f"[{-result_rank}, {result_rank})")
    return axis % result_rank


def slab_offsets(tensors, axis: int) -> tuple[int, ...] | None:
    """The byte offset of each operand in concat(tensors, axis) when each is one contiguous slab of the
    result starting 64-byte aligned (every axis before `axis` has extent 1), else None. Such a concat is
    a pack: the memory plan computes its operands straight into their places."""
    if any(d != 1 for d in tensors[0].shape[:axis]):
        return None
    starts = np.cumsum([0] + [t.nbytes for t in tensors[:-1]])
    return tuple(int(start) for start in starts) if all(start % PACK_ALIGN_BYTES == 0 for start in starts) else None


def _check_alike(tensors: tuple[TensorType, ...], same, what: str) -> None:
    first = tensors[0]
    for index, t in enumerate(tensors[1:], 1):
        if t.dtype != first.dtype or t.ndim != first.ndim or not same(t.shape, first.shape):
            raise OpError(f"operand {index} is {t} but operand 0 is {first}; the operands must have one dtype and "
                          f"{what}")


def _infer_concat(*tensors, axis):
    axis = _axis(axis, tensors[0].ndim, "concat")
    _check_alike(tensors, lambda s, f: s[:axis] + s[axis + 1:] == f[:axis] + f[axis + 1:],
                 f"equal sizes on every axis but axis {axis} (cast, reshape or slice them to agree)")
    shape = tensors[0].shape
    return TensorType(shape[:axis] + (sum(t.shape[axis] for t in tensors),) + shape[axis + 1:], tensors[0].dtype)


def _infer_stack(*tensors, axis):
    axis = _axis(axis, tensors[0].ndim + 1, "stack")
    _check_alike(tensors, lambda s, f: s == f, "one shape (stack adds an axis; use concat to join along one)")
    shape = tensors[0].shape
    return TensorType(shape[:axis] + (len(tensors),) + shape[axis:], tensors[0].dtype)


def _with_unit_axis(t: TensorType, axis: int) -> TensorType:
    return TensorType(t.shape[:axis] + (1,) + t.shape[axis:], t.dtype)


def _concat_samples(rng):
    return [([rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), rng.standard_normal((1, 3))], {"axis": 0}),
            ([rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 1, 4))], {"axis": -2}),
            ([rng.standard_normal((3, 5)), rng.standard_normal((3, 17))], {"axis": 1}),
            ([rng.standard_normal((5,))], {"axis": 0})]


def _stack_samples(rng):
    return [([rng.standard_normal((2, 3)) for _ in range(3)], {"axis": 0}),
            ([rng.standard_normal((2, 3)) for _ in range(2)], {"axis": -1}),
            ([rng.standard_normal((4, 17)) for _ in range(2)], {"axis": 1})]


_concat = register(Op(
    "concat", ("tensors",), _infer_concat, lambda *arrays, axis: np.concatenate(arrays, axis=axis), INJECTIVE,
    variadic=True, attrs={"axis": 0}, canon=lambda a: {"axis": int(a["axis"])},
    vjp=lambda ct, *tensors, out, axis: split(ct, [t.shape[axis % ct.ndim] for t in tensors], axis),
    lower=lambda k, *tensors, out, axis: k.concat(tensors, out, axis=axis % out.ndim),
    flops=no_flops, samples=_concat_samples,
    doc="the operands laid end to end along axis (negative counts from the end); they share a dtype and every "
        "other dimension"))

_stack = register(Op(
    "stack", ("tensors",), _infer_stack, lambda *arrays, axis: np.stack(arrays, axis=axis), INJECTIVE, variadic=True,
    attrs={"axis": 0}, canon=lambda a: {"axis": int(a["axis"])},
    vjp=lambda ct, *tensors, out, axis: tuple(reshape(piece, shape=t.shape)
                                              for piece, t in zip(split(ct, 1, axis), tensors)),
    lower=lambda k, *tensors, out, axis: k.concat([_with_unit_axis(t, axis % out.ndim) for t in tensors], out,
                                                  axis=axis % out.ndim),
    flops=no_flops, samples=_stack_samples,
    doc="the operands (all of one type) along a new axis of size len(tensors), at position axis of the result"))


def _operand_list(op: str, tensors) -> tuple:
    if not isinstance(tensors, (tuple, list)) or not tensors:
        raise GraphcError(f"{op}: tensors must be a non-empty tuple or list of Tensors, got "
                          f"{type(tensors).__name__}; write ops.{op}((x, y), axis)")
    return tuple(tensors)


def concat(tensors, axis: int = 0):
    """MindSpore's ops.concat: the tensors joined along an existing axis."""
    return _concat(*_operand_list("concat", tensors), axis=axis)


def stack(tensors, axis: int = 0):
    """MindSpore's ops.stack: the tensors (one shape) joined along a new axis."""
    return _stack(*_operand_list("stack", tensors), axis=axis)


def split(tensor, split_size_or_sections=None, axis: int = 0, *, output_num: int | None = None) -> tuple:
    """MindSpore 2.x's ops.split: an int cuts pieces of that size along axis (the last may be
    smaller); a list or tuple gives each piece's size, which must add up to the axis. r1.7's
    spelling `split(x, axis=..., output_num=n)` cuts n equal pieces."""
    if not isinstance(axis, int) or not -tensor.ndim <= axis < tensor.ndim:
        raise GraphcError(f"split: axis {axis!r} is out of range for a tensor {tensor.type}; use an int in "
                          f"[{-tensor.ndim}, {tensor.ndim})")
    axis %= tensor.ndim
    size = tensor.shape[axis]
    if (output_num is None) == (split_size_or_sections is None):
        raise GraphcError("split: give split_size_or_sections (MindSpore 2.x) or output_num (r1.7), not both or "
                          "neither")
    if output_num is not None:
        if not isinstance(output_num, int) or output_num < 1 or size % output_num:
            raise GraphcError(f"split: axis {axis} of {tensor.type} cannot be cut into {output_num!r} equal pieces; "
                              "choose an output_num dividing that axis, or give the piece sizes")
        split_size_or_sections = size // output_num
    pieces, start = [], 0
    for length in _sections(split_size_or_sections, size, tensor, axis):
        pieces.append(strided_slice(tensor, begin=(0,) * axis + (start,), end=tensor.shape[:axis] + (start + length,)))
        start += length
    return tuple(pieces)


def _sections(spec, size: int, tensor, axis: int) -> list[int]:
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec < 1:
            raise GraphcError(f"split: split_size_or_sections={spec} must be a positive int (the size of each piece)")
        return [spec] * (size // spec) + ([size % spec] if size % spec else [])
    if isinstance(spec, (tuple, list)) and all(isinstance(s, int) and s >= 0 for s in spec) and sum(spec) == size:
        return list(spec)
    raise GraphcError(f"split: split_size_or_sections={spec!r} does not cut axis {axis} (size {size}) of "
                      f"{tensor.type}; give a piece size (an int) or piece sizes adding up to {size}")
