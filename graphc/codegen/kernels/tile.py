"""The register-blocked micro-kernel shared by matmul and every convolution.

    acc[i][j] = init(i, j) + sum over k of a(i, k) * b(j, k)        (llvm.fma.v16f32)

`a(i, k)` and `b(j, k)` return `<16 x float>` operands: a broadcast scalar and a vector load
(the GEMM form, lanes along an output axis), or two vector loads (the dot form, lanes along the
reduction, summed horizontally afterwards). The k space is a loop nest whose dimensions are either
runtime loops or unrolled at build time, so addresses in unrolled dimensions are constant offsets.
The k order is fixed, so every accumulator's rounding sequence is independent of the tile's
position and of the thread that computes it.

Sizing (Zen 4, 32 zmm registers, one zmm FMA and about one zmm load per cycle): keep
rows*cols <= 24 accumulators and rows + cols loads per k well below rows*cols FMAs.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from math import prod
from typing import Callable, Sequence

from llvmlite import ir

from ..parallel import emit_split_range
from .loops import affine, as_value, entry_alloca, for_each_item, nested_indices, unravel
from .simd import LANES, V16F32, fma, i64

OperandFn = Callable[[int, tuple], ir.Value]
MAX_ACCUMULATORS = 24


def emit_fma_tile(builder: ir.IRBuilder, rows: int, cols: int, k_dims: Sequence[tuple[int, bool]],
                  a: OperandFn, b: OperandFn, init: Callable[[int, int], ir.Value] | None = None,
                  accumulate=fma) -> list[list[ir.Value]]:
    """Emit the tile at the builder's position; returns the final accumulators acc[i][j].

    k_dims = [(extent, unrolled), ...] outermost first; a/b receive the k index tuple (python ints
    for unrolled dimensions, i64 values for runtime ones). `accumulate(builder, a, b, acc)` (default
    one FMA) adds the products of an a and a b value into acc (the bfloat16 pairs: simd.dot_bf16).
    """
    slots = [[entry_alloca(builder, V16F32, f"acc{i}_{j}") for j in range(cols)] for i in range(rows)]
    for i in range(rows):
        for j in range(cols):
            start = init(i, j) if init else ir.Constant(V16F32, 0.0)
            builder.store(start, slots[i][j])

    def step(k: tuple) -> None:
        a_values = [a(i, k) for i in range(rows)]
        b_values = [b(j, k) for j in range(cols)]
        for i in range(rows):
            for j in range(cols):
                acc = builder.load(slots[i][j], typ=V16F32)
                builder.store(accumulate(builder, a_values[i], b_values[j], acc), slots[i][j])

    nested_indices(builder, k_dims, "k", step)
    return [[builder.load(slots[i][j], typ=V16F32) for j in range(cols)] for i in range(rows)]


@dataclass(frozen=True)
class Block:
    """`count` consecutive blocks of `size` items from `start`. For blocks of 16-lane vectors the
    last vector of each block has `last_lanes` valid lanes. On a grid's first axis, `start` and
    `count` may be i64 values: an extent known only at run time (`runtime_blocks`)."""
    start: int | ir.Value
    size: int
    count: int | ir.Value
    last_lanes: int = LANES

    def lanes(self, index: int) -> int:
        """Valid lanes of vector `index` (0-based) within a block of vectors."""
        return self.last_lanes if index == self.size - 1 else LANES


def blocks(extent: int, size: int) -> list[Block]:
    """Cover [0, extent) with `size` blocks, then one remainder block."""
    full, rest = divmod(extent, size)
    result = [Block(0, size, full)] if full else []
    if rest:
        result.append(Block(full * size, rest, 1))
    return result


def runtime_blocks(builder: ir.IRBuilder, extent: ir.Value, size: int) -> list[Block]:
    """Cover [0, extent) for an extent read at run time: `size` blocks, then single items (the
    remainder's size is not known when the tile is emitted)."""
    if size == 1:
        return [Block(0, 1, extent)]
    full = builder.udiv(extent, i64(size))
    return [Block(0, size, full), Block(builder.mul(full, i64(size)), 1, builder.urem(extent, i64(size)))]


def vector_blocks(extent: int, vectors_per_block: int) -> list[Block]:
    """Blocks of 16-lane vectors covering `extent` lanes; `start` counts vectors. The partial last
    vector sits in its own block kind so all items of a kind have the same lane counts."""
    full_vectors, tail = divmod(extent, LANES)
    result = blocks(full_vectors, vectors_per_block)
    if tail == 0:
        return result
    if result and result[-1].size < vectors_per_block:  # widen the remainder block by the tail
        last = result.pop()
        return result + [Block(last.start, last.size + 1, 1, tail)]
    return result + [Block(full_vectors, 1, 1, tail)]


def emit_grid(builder: ir.IRBuilder, axes: Sequence[Sequence[Block]],
              tile: Callable[[tuple, tuple], None], threads: tuple[ir.Value, ir.Value] | None = None) -> None:
    """Call tile(starts, kinds) for every tile of the grid axes[0] x axes[1] x ...

    Each combination of block kinds is one region of items; `starts` are the tiles' first indices
    (i64 values). With threads=(tid, nthreads) only that thread's contiguous share of all the
    items, laid end to end, is run. Only the first axis may have runtime counts (unravel divides
    by the others).
    """
    regions = []
    for kinds in product(*axes):
        def body(item, kinds=kinds):
            positions = unravel(builder, item, [k.count for k in kinds])
            starts = tuple(affine(builder, [(p, k.size), (k.start, 1)]) for p, k in zip(positions, kinds))
            tile(starts, kinds)
        regions.append((_product(builder, [k.count for k in kinds]), body))
    total = sum(count for count, _ in regions if isinstance(count, int))
    for count in (c for c, _ in regions if not isinstance(c, int)):
        total = builder.add(as_value(total), count)
    lo, hi = emit_split_range(builder, *threads, total) if threads else (i64(0), as_value(total))
    for_each_item(builder, lo, hi, regions)


def _product(builder: ir.IRBuilder, counts: list) -> int | ir.Value:
    """The product of python ints and i64 values, folded at build time where it can be."""
    result = prod(c for c in counts if isinstance(c, int))
    for count in (c for c in counts if not isinstance(c, int)):
        result = builder.mul(as_value(result), count) if result != 1 else count
    return result
