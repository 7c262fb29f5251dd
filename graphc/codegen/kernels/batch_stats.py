"""Per-channel batch statistics for batch norm: y[0, c] = mean and y[1, c] = biased variance of
x viewed [n, c, s] over (n, s).

One work item per channel, so each channel is owned by one thread and summed in a fixed order (the
result does not depend on the thread count). Two passes over the channel: the sum, then the sum of
squared deviations from the mean, which keeps the variance exact when the mean is large (one pass
of sum and sum of squares would cancel). The channel's n·s values are read twice, the second time
mostly from cache. Lanes run along s (16 per vector, a masked tail).
"""
from __future__ import annotations

from llvmlite import ir

from .contract import Kernel, KernelFunction, Operand
from .loops import affine, counted_loop, entry_alloca
from .simd import F32, I32, LANES, V16F32, broadcast, horizontal_sums, lane_mask, load_vector, store_scalar
from .tile import blocks, emit_grid

_ZERO = ir.Constant(V16F32, 0.0)


def emit_batch_stats(module: ir.Module, name: str, n: int, c: int, s: int) -> Kernel:
    operands = (Operand("x", (n, c, s), "in"), Operand("y", (2, c), "out"))
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    slot = entry_alloca(b, V16F32, "acc")
    full, tail = divmod(s, LANES)
    inverse_count = ir.Constant(F32, 1.0 / (n * s))

    def channel_sum(channel, term) -> ir.Value:
        """Σ over (n, s) of term(x vector), lanes past the tail counted as 0; a float."""
        def fold(index, lanes: int) -> None:
            value = term(load_vector(b, kf["x"], index, lanes))
            if lanes != LANES:
                value = b.select(lane_mask(lanes), value, _ZERO)
            b.store(b.fadd(b.load(slot, typ=V16F32), value), slot)

        b.store(_ZERO, slot)
        with counted_loop(b, 0, n, name="n") as image:
            row = affine(b, [(image, c * s), (channel, s)])
            if full:
                with counted_loop(b, 0, full, name="v") as v:
                    fold(affine(b, [(row, 1), (v, LANES)]), LANES)
            if tail:
                fold(affine(b, [(row, 1)], full * LANES), tail)
        total = horizontal_sums(b, [b.load(slot, typ=V16F32)])
        return b.extract_element(total, ir.Constant(I32, 0))

    def tile(starts, kinds) -> None:
        (channel,) = starts
        mean = b.fmul(channel_sum(channel, lambda v: v), inverse_count)
        splat = broadcast(b, mean)

        def squared_deviation(v):
            d = b.fsub(v, splat)
            return b.fmul(d, d)
        variance = b.fmul(channel_sum(channel, squared_deviation), inverse_count)
        store_scalar(b, mean, kf["y"], channel)
        store_scalar(b, variance, kf["y"], affine(b, [(channel, 1)], c))

    emit_grid(b, [blocks(c, 1)], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, flops=4 * n * c * s)
