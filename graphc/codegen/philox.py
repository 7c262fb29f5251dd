"""Philox-4x32-10 on 16 lanes: the native side of graphc.ops.random (same words, same draws).

Each lane runs the ten rounds on its own counter (element index, step); the 32x32 -> 64-bit
products are `zext` + `mul` on <16 x i64>, which x86 lowers to vpmuludq. The key is a build-time
constant, so its schedule folds into immediate operands.
"""
from __future__ import annotations

from llvmlite import ir

from ..ops.random import KEEP_BITS, PHILOX_M, PHILOX_ROUNDS, PHILOX_W
from .kernels.simd import I32, I64, LANES

V32 = ir.VectorType(I32, LANES)
V64 = ir.VectorType(I64, LANES)
MASK32 = 0xFFFFFFFF


def _u32(value: int) -> ir.Constant:
    """A <16 x i32> splat of an unsigned 32-bit value (written as the signed value LLVM prints)."""
    value &= MASK32
    return ir.Constant(V32, value - (1 << 32) if value >= 1 << 31 else value)


def _low(b: ir.IRBuilder, wide: ir.Value) -> ir.Value:
    return b.trunc(wide, V32)


def _high(b: ir.IRBuilder, wide: ir.Value) -> ir.Value:
    return b.trunc(b.lshr(wide, ir.Constant(V64, 32)), V32)


def philox4x32_10(b: ir.IRBuilder, counter: list[ir.Value], key: tuple[int, int]) -> list[ir.Value]:
    """The four output words (<16 x i32>) for counter words c0..c3 (<16 x i32>) and a constant key."""
    c, (k0, k1) = list(counter), key
    for round_ in range(PHILOX_ROUNDS):
        if round_:
            k0, k1 = (k0 + PHILOX_W[0]) & MASK32, (k1 + PHILOX_W[1]) & MASK32
        p0 = b.mul(b.zext(c[0], V64), ir.Constant(V64, PHILOX_M[0]))
        p1 = b.mul(b.zext(c[2], V64), ir.Constant(V64, PHILOX_M[1]))
        c = [b.xor(b.xor(_high(b, p1), c[1]), _u32(k0)), _low(b, p1),
             b.xor(b.xor(_high(b, p0), c[3]), _u32(k1)), _low(b, p0)]
    return c


def random24(b: ir.IRBuilder, index: ir.Value, counter: ir.Value, seed: int) -> ir.Value:
    """<16 x i32> draws in [0, 2^24) for element indices `index` at step `counter` (both <16 x i64>)."""
    words = philox4x32_10(b, [_low(b, index), _high(b, index), _low(b, counter), _high(b, counter)],
                          (seed & MASK32, (seed >> 32) & MASK32))
    return b.lshr(words[0], ir.Constant(V32, 32 - KEEP_BITS))
