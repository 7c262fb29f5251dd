"""Epilogue hooks: elementwise code fused into a kernel's output store (bias add, ReLU, ...).

An output-producing kernel (matmul, conv2d and its gradients) calls
`epilogue.apply(builder, acc, position, args)` for every accumulator vector just before storing
it, and stores what it returns. `position` tells where the 16 lanes sit in the output: the
coordinate of lane 0 on every axis of the kernel's view of its output and the axis the lanes run
along. Extra tensors an epilogue reads (a bias) are extra kernel operands, listed in
`Epilogue.operands` and appended to the kernel's own operands.

`load_at` / `store_at` read and write any tensor that broadcasts against the output at a
position, whatever the kernel's view: a vector load when the lanes are contiguous in the tensor,
a broadcast when they all read one element, one element per lane otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from llvmlite import ir

from .contract import Operand
from .elementwise import broadcast_strides
from .loops import affine, as_value
from .simd import LANES, broadcast, i64, load_scalar, load_vector, store_scalar, store_vector


@dataclass(frozen=True)
class LanePosition:
    """coords[axis] = lane 0's index on that axis (i64 value or python int); lanes run along
    `lane_axis`; only the first `count` lanes are real outputs. `view` lists the kernel's output
    axes with their extents, outermost first: a row-major reshape of the output (matmul m, n;
    conv n, c, h, w; the filter gradient o, c, t with t the flattened kernel taps)."""
    coords: dict
    lane_axis: str
    count: int
    view: tuple[tuple[str, int], ...] = ()


ApplyFn = Callable[[ir.IRBuilder, ir.Value, LanePosition, dict], ir.Value]


@dataclass(frozen=True)
class Epilogue:
    """`apply(builder, acc, position, args)` on each float32 accumulator vector; `result`: the dtype of
    what it returns, when a fused region says (its last value's), else None."""
    apply: ApplyFn
    operands: tuple[Operand, ...] = ()
    result: str | None = None


IDENTITY = Epilogue(lambda builder, acc, position, args: acc)


def along_axis(builder: ir.IRBuilder, base: ir.Value, axis: str, position: LanePosition) -> ir.Value:
    """A per-`axis` vector (e.g. a bias) laid out to match the accumulator's lanes."""
    index = position.coords[axis]
    if position.lane_axis == axis:
        return load_vector(builder, base, index, position.count)
    return broadcast(builder, load_scalar(builder, base, index))


def bias_add(axis: str, size: int, name: str = "bias") -> Epilogue:
    """acc + bias[coord(axis)], with `bias` a float32 [size] operand."""
    def apply(builder, acc, position, args):
        return builder.fadd(acc, along_axis(builder, args[name], axis, position))
    return Epilogue(apply, (Operand(name, (size,)),))


def relu() -> Epilogue:
    """max(acc, 0); NaN stays NaN, as numpy.maximum(x, 0) does."""
    def apply(builder, acc, position, args):
        positive = builder.fcmp_unordered(">", acc, ir.Constant(acc.type, 0.0))  # true for NaN
        return builder.select(positive, acc, ir.Constant(acc.type, 0.0))
    return Epilogue(apply)


def chain(*epilogues: Epilogue) -> Epilogue:
    """Apply `epilogues` left to right (e.g. chain(bias_add(...), relu()))."""
    def apply(builder, acc, position, args):
        for epilogue in epilogues:
            acc = epilogue.apply(builder, acc, position, args)
        return acc
    return Epilogue(apply, tuple(op for e in epilogues for op in e.operands))


# --- tensors at a lane position --------------------------------------------------------------

def load_at(builder: ir.IRBuilder, base: ir.Value, shape: Sequence[int], out_shape: Sequence[int],
            position: LanePosition, elem: ir.Type) -> ir.Value:
    """The `<16 x elem>` values of tensor `base` (shape broadcasting to out_shape) at the lanes."""
    strides = broadcast_strides(tuple(shape), tuple(out_shape))
    linear = _linear_lanes(builder, strides, out_shape, position)
    if linear is not None and linear[1] == 0:
        return broadcast(builder, load_scalar(builder, base, linear[0], elem))
    if linear is not None and linear[1] == 1:
        return load_vector(builder, base, linear[0], position.count, vty=ir.VectorType(elem, LANES))
    vector = ir.Constant(ir.VectorType(elem, LANES), None)
    for lane, index in enumerate(_lane_indices(builder, linear, strides, out_shape, position)):
        value = load_scalar(builder, base, index, elem)
        vector = builder.insert_element(vector, value, ir.Constant(ir.IntType(32), lane))
    return vector


def store_at(builder: ir.IRBuilder, value: ir.Value, base: ir.Value, out_shape: Sequence[int],
             position: LanePosition) -> None:
    """Store the real lanes of `value` into a tensor of the output's shape."""
    strides = broadcast_strides(tuple(out_shape), tuple(out_shape))
    linear = _linear_lanes(builder, strides, out_shape, position)
    if linear is not None and linear[1] == 1:
        store_vector(builder, value, base, linear[0], position.count)
        return
    for lane, index in enumerate(_lane_indices(builder, linear, strides, out_shape, position)):
        store_scalar(builder, builder.extract_element(value, ir.Constant(ir.IntType(32), lane)), base, index)


def _linear_lanes(builder: ir.IRBuilder, strides: list[int], out_shape, position: LanePosition):
    """(index of lane 0, element step between lanes) in a tensor with these broadcast strides, or
    None when the kernel's view cannot express them."""
    by_axis = _view_strides(strides, out_shape, position.view)
    if by_axis is None:
        return None
    index = affine(builder, [(position.coords[name], by_axis[name]) for name, _ in position.view])
    return index, by_axis[position.lane_axis]


def _lane_indices(builder: ir.IRBuilder, linear, strides: list[int], out_shape, position: LanePosition) -> list:
    """The element index of each real lane: along the linear addressing if there is one, else
    from each lane's output coordinates."""
    if linear is not None:
        index, step = linear
        return [affine(builder, [(index, 1)], lane * step) for lane in range(position.count)]
    return [_index_of_flat(builder, _flat(builder, position, lane), strides, out_shape)
            for lane in range(position.count)]


def _view_strides(strides: list[int], out_shape, view) -> dict | None:
    """The tensor's element stride along each view axis, or None when a view axis spans output
    axes the tensor does not traverse contiguously (e.g. broadcast along one of them only)."""
    axes = [(extent, stride) for extent, stride in zip(out_shape, strides) if extent != 1]
    result, position = {}, 0
    for name, extent in view:
        group, size = [], 1
        while size < extent and position < len(axes):
            group.append(axes[position])
            size *= axes[position][0]
            position += 1
        if size != extent or any(outer[1] != inner[1] * inner[0] for outer, inner in zip(group, group[1:])):
            return None
        result[name] = group[-1][1] if group else 0
    return result if position == len(axes) else None


def _flat(builder: ir.IRBuilder, position: LanePosition, lane: int):
    """Row-major output index of `lane`."""
    strides, step = {}, 1
    for name, extent in reversed(position.view):
        strides[name] = step
        step *= extent
    terms = [(position.coords[name], strides[name]) for name, _ in position.view]
    return affine(builder, terms, lane * strides[position.lane_axis])


def _index_of_flat(builder: ir.IRBuilder, flat, strides: list[int], out_shape) -> object:
    """Element index, in a tensor with these broadcast strides, of output element `flat`."""
    terms = []
    for axis in reversed(range(len(out_shape))):
        extent = out_shape[axis]
        terms.append((builder.urem(as_value(flat), i64(extent)), strides[axis]))
        flat = builder.udiv(as_value(flat), i64(extent))
    return affine(builder, terms)
