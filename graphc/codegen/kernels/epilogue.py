"""Epilogue hooks: elementwise code fused into a kernel's output store (bias add, ReLU, ...).

An output-producing kernel (matmul, conv2d) calls `epilogue.apply(builder, acc, position, args)`
for every accumulator vector just before storing it, and stores what it returns. `position` tells
where the 16 lanes sit in the output: the coordinate of lane 0 on every output axis and the axis
the lanes run along. Extra tensors an epilogue reads (a bias) are extra kernel operands, listed in
`Epilogue.operands` and appended to the kernel's own operands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from .contract import Operand
from .simd import broadcast, load_scalar, load_vector


@dataclass(frozen=True)
class LanePosition:
    """coords[axis] = lane 0's index on that axis (i64 value or python int); lanes run along
    `lane_axis`; only the first `count` lanes are real outputs."""
    coords: dict
    lane_axis: str
    count: int


ApplyFn = Callable[[ir.IRBuilder, ir.Value, LanePosition, dict], ir.Value]


@dataclass(frozen=True)
class Epilogue:
    apply: ApplyFn
    operands: tuple[Operand, ...] = ()


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
