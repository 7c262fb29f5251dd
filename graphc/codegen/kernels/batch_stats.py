"""Per-channel sums for batch norm, over (n, s) of tensors viewed [n, c, s]:

* `emit_batch_stats`: y[0, c] = mean and y[1, c] = biased variance of x (the forward statistics);
* `emit_channel_sums`: y[0, c] = Σ dy and y[1, c] = Σ dy·x in one pass (the gradients of a
  per-channel scale and shift).

One work item per channel, so each channel is owned by one thread and summed in a fixed order (the
result does not depend on the thread count). Two passes over the channel: the sum, then the sum of
squared deviations from the mean, which keeps the variance exact when the mean is large (one pass
of sum and sum of squares would cancel). The channel's n·s values are read twice, the second time
mostly from cache. Lanes run along s (16 per vector, a masked tail). n is read at run time, so
the IR is the same for every batch size.
"""
from __future__ import annotations

from llvmlite import ir

from .contract import Kernel, KernelFunction, Operand
from .loops import affine, counted_loop, entry_alloca
from .simd import F32, F64, I32, I64, LANES, V16F32, broadcast, horizontal_sums, lane_mask, load_vector, store_scalar
from .tile import blocks, emit_grid

_ZERO = ir.Constant(V16F32, 0.0)
ACCUMULATORS = 4


def emit_batch_stats(module: ir.Module, name: str, n: int, c: int, s: int) -> Kernel:
    operands = (Operand("x", (n, c, s), "in"), Operand("y", (2, c), "out"))
    sums = _ChannelSums(module, name, operands, n, c, s)
    b, x = sums.b, sums.kf["x"]

    def channel(index):
        mean = b.fmul(sums.total(index, lambda at, lanes: load_vector(b, x, at, lanes)), sums.inverse_count)
        splat = broadcast(b, mean)

        def squared_deviation(at, lanes):
            d = b.fsub(load_vector(b, x, at, lanes), splat)
            return b.fmul(d, d)
        return mean, b.fmul(sums.total(index, squared_deviation), sums.inverse_count)

    return sums.emit(channel, flops=4 * n * c * s)


def emit_channel_sums(module: ir.Module, name: str, n: int, c: int, s: int) -> Kernel:
    operands = (Operand("dy", (n, c, s), "in"), Operand("x", (n, c, s), "in"), Operand("y", (2, c), "out"))
    sums = _ChannelSums(module, name, operands, n, c, s)
    b, dy, x = sums.b, sums.kf["dy"], sums.kf["x"]

    def channel(index):
        return sums.totals(index, lambda at, lanes: load_vector(b, dy, at, lanes),
                           lambda at, lanes: b.fmul(load_vector(b, dy, at, lanes), load_vector(b, x, at, lanes)))

    return sums.emit(channel, flops=3 * n * c * s)


class _ChannelSums:
    """The loop shared by both kernels: one work item per channel, sums of vector terms over (n, s)."""

    def __init__(self, module, name, operands, n: int, c: int, s: int):
        self.operands, self.name, self.n, self.c, self.s = operands, name, n, c, s
        self.kf = KernelFunction(module, name, operands)
        self.b = self.kf.builder
        # 1 / (n·s) divided in double and rounded once to float, as a constant 1.0 / (n * s) would be
        count = self.b.uitofp(self.b.mul(self.kf.batch, ir.Constant(I64, s)), F64)
        self.inverse_count = self.b.fptrunc(self.b.fdiv(ir.Constant(F64, 1.0), count), F32)

    def total(self, channel, term) -> ir.Value:
        return self.totals(channel, term)[0]

    def totals(self, channel, *terms) -> list[ir.Value]:
        """Σ over (n, s) of each term(element index, lanes) (a vector; lanes past the tail count as 0),
        accumulated together in one sweep; floats. ACCUMULATORS partial sums per term, vector v
        of a row going to partial v mod ACCUMULATORS, hide the latency of the adds."""
        b, c, s = self.b, self.c, self.s
        slots = [[entry_alloca(b, V16F32, "acc") for _ in range(ACCUMULATORS)] for _ in terms]
        full, tail = divmod(s, LANES)
        rounds, rest = divmod(full, ACCUMULATORS)

        def fold(index, lanes: int, partial: int) -> None:
            for term_slots, term in zip(slots, terms):
                value = term(index, lanes)
                if lanes != LANES:
                    value = b.select(lane_mask(lanes), value, _ZERO)
                slot = term_slots[partial]
                b.store(b.fadd(b.load(slot, typ=V16F32), value), slot)

        for slot in (slot for term_slots in slots for slot in term_slots):
            b.store(_ZERO, slot)
        with counted_loop(b, 0, self.kf.batch, name="n") as image:
            row = affine(b, [(image, c * s), (channel, s)])
            if rounds:
                with counted_loop(b, 0, rounds, name="v") as v:
                    for partial in range(ACCUMULATORS):
                        fold(affine(b, [(row, 1), (v, ACCUMULATORS * LANES)], partial * LANES), LANES, partial)
            for vector in range(rounds * ACCUMULATORS, full):
                fold(affine(b, [(row, 1)], vector * LANES), LANES, vector % ACCUMULATORS)
            if tail:
                fold(affine(b, [(row, 1)], full * LANES), tail, full % ACCUMULATORS)
        combined = []
        for term_slots in slots:
            values = [b.load(slot, typ=V16F32) for slot in term_slots]
            while len(values) > 1:           # pairwise, in a fixed order (ACCUMULATORS is a power of 2)
                values = [b.fadd(values[i], values[i + 1]) for i in range(0, len(values), 2)]
            combined.append(values[0])
        sums = horizontal_sums(b, combined)
        return [b.extract_element(sums, ir.Constant(I32, k)) for k in range(len(terms))]

    def emit(self, channel, flops: int) -> Kernel:
        """channel(index) -> (row 0 value, row 1 value) for each channel, stored into y[:, channel]."""
        b = self.b

        def tile(starts, kinds) -> None:
            (index,) = starts
            first, second = channel(index)
            store_scalar(b, first, self.kf["y"], index)
            store_scalar(b, second, self.kf["y"], affine(b, [(index, 1)], self.c))

        emit_grid(b, [blocks(self.c, 1)], tile, threads=(self.kf.tid, self.kf.nthreads))
        return Kernel(self.name, (self.kf.finish(),), self.operands, flops=flops, batch=self.n)
