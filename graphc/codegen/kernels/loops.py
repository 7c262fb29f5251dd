"""Loop-building helpers: counted loops with a phi induction variable, stack slots, work ranges.

Loop-carried values (accumulators) live in entry-block allocas; SROA/mem2reg turns them into
registers, which keeps the emitters free of phi bookkeeping.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from llvmlite import ir

from .simd import I64, i64


@contextmanager
def counted_loop(builder: ir.IRBuilder, start, stop, step: int = 1, name: str = "i") -> Iterator[ir.Value]:
    """`for i in range(start, stop, step)` with i64 bounds (python ints or values); yields i.

    The body is emitted inside the `with`; the builder ends positioned after the loop.
    """
    start = i64(start) if isinstance(start, int) else start
    stop = i64(stop) if isinstance(stop, int) else stop
    preheader = builder.block
    header = builder.append_basic_block(f"{name}.head")
    body = builder.append_basic_block(f"{name}.body")
    exit_block = builder.append_basic_block(f"{name}.exit")
    builder.branch(header)
    builder.position_at_end(header)
    index = builder.phi(I64, name=name)
    index.add_incoming(start, preheader)
    builder.cbranch(builder.icmp_signed("<", index, stop), body, exit_block)
    builder.position_at_end(body)
    yield index
    following = builder.add(index, i64(step), name=f"{name}.next", flags=("nsw", "nuw"))
    index.add_incoming(following, builder.block)
    builder.branch(header)
    builder.position_at_end(exit_block)


def static_or_loop(builder: ir.IRBuilder, extent, unrolled: bool, name: str) -> Iterator:
    """Index values 0..extent-1: python ints when unrolled, else one runtime loop's i64 value.

    `extent` may also be a (start, stop) pair of i64 values for a runtime loop with bounds known
    only at run time. Use as `for idx in static_or_loop(...)`: the unrolled form yields `extent`
    ints, the runtime form yields once inside an open loop.
    """
    if unrolled:
        yield from range(extent)
        return
    start, stop = extent if isinstance(extent, tuple) else (0, extent)
    with counted_loop(builder, start, stop, name=name) as index:
        yield index


def nested_indices(builder: ir.IRBuilder, dims: Sequence[tuple[int, bool]], name: str,
                   body: Callable[[tuple], None], prefix: tuple = ()) -> None:
    """Call body(indices) for every point of a loop nest; dims = [(extent, unrolled), ...]
    (see static_or_loop for the forms of extent)."""
    if not dims:
        body(prefix)
        return
    (extent, unrolled), rest = dims[0], dims[1:]
    for index in static_or_loop(builder, extent, unrolled, f"{name}{len(prefix)}"):
        nested_indices(builder, rest, name, body, prefix + (index,))


def entry_alloca(builder: ir.IRBuilder, ty: ir.Type, name: str = "", count: int = 1) -> ir.Value:
    """A stack slot (`count` consecutive ones) in the entry block, where mem2reg can promote it to registers."""
    with builder.goto_entry_block():
        if builder.block.instructions:
            builder.position_before(builder.block.instructions[0])
        return builder.alloca(ty, size=None if count == 1 else i64(count), name=name)


def as_value(x) -> ir.Value:
    """An i64 value from a python int or an existing value."""
    return i64(x) if isinstance(x, int) else x


def affine(builder: ir.IRBuilder, terms: Sequence[tuple], constant: int = 0) -> ir.Value | int:
    """sum(coef * index) + constant, folding python-int indices at build time.

    terms = [(index, coef), ...] with index a python int or an i64 value. Returns a python int when
    every index is static, so addresses stay constant offsets in unrolled code. Unrolled code asks
    for one runtime base with many constants: the base is emitted once per block and reused.
    """
    total_static = constant
    dynamic = []
    for index, coef in terms:
        if coef == 0:
            continue
        if isinstance(index, int):
            total_static += index * coef
        else:
            dynamic.append((index, coef))
    if not dynamic:
        return total_static
    base = _sum_of_products(builder, tuple(dynamic))
    return base if total_static == 0 else builder.add(base, i64(total_static), flags=("nsw",))


# builder -> {(block id, terms): sum}. Keyed by the builder, which no IR object refers to: keyed by
# the block, the sums (instructions, which refer to their block) would keep every block alive.
_sums: "weakref.WeakKeyDictionary[ir.IRBuilder, dict]" = weakref.WeakKeyDictionary()


def _sum_of_products(builder: ir.IRBuilder, terms: tuple) -> ir.Value:
    """sum(coef * index) over runtime indices, reusing the same sum emitted earlier in this block
    (it dominates the builder's position when the builder appends at the block's end)."""
    block = builder.block
    key = (id(block), terms)
    known = _sums.setdefault(builder, {})
    if builder._anchor != len(block.instructions) or key not in known:
        total = None
        for index, coef in terms:
            scaled = index if coef == 1 else builder.mul(index, i64(coef), flags=("nsw",))
            total = scaled if total is None else builder.add(total, scaled, flags=("nsw",))
        known[key] = total
    return known[key]


def for_each_item(builder: ir.IRBuilder, lo: ir.Value, hi: ir.Value,
                  regions: Sequence[tuple[int, Callable[[ir.Value], None]]]) -> None:
    """Run the work items [lo, hi) of a list of regions laid end to end.

    regions = [(count, body), ...] (count a python int or an i64 value); item k of a region is
    body(k) with k in region-local numbering. Lets one thread range cover heterogeneous tiles
    (full blocks, then remainder blocks).
    """
    offset = 0
    for count, body in regions:
        if isinstance(count, int) and count <= 0:
            continue
        local_lo = clamp(builder, builder.sub(lo, as_value(offset)), count)
        local_hi = clamp(builder, builder.sub(hi, as_value(offset)), count)
        with counted_loop(builder, local_lo, local_hi, name="item") as item:
            body(item)
        offset = offset + count if isinstance(offset, int) and isinstance(count, int) else \
            builder.add(as_value(offset), as_value(count))


def clamp(builder: ir.IRBuilder, value: ir.Value, upper) -> ir.Value:
    """value clamped into [0, upper] (upper a python int or an i64 value)."""
    zero, upper = i64(0), as_value(upper)
    low = builder.select(builder.icmp_signed("<", value, zero), zero, value)
    return builder.select(builder.icmp_signed(">", low, upper), upper, low)


def minimum(builder: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """The smaller of two signed i64 values."""
    return builder.select(builder.icmp_signed("<", x, y), x, y)


def at_least_zero(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """max(value, 0) for a signed i64 value."""
    return builder.select(builder.icmp_signed("<", value, i64(0)), i64(0), value)


def unravel(builder: ir.IRBuilder, flat: ir.Value, extents: Sequence[int]) -> list[ir.Value]:
    """Row-major multi-index of `flat` over `extents` (udiv/urem by constants)."""
    indices = []
    for extent in reversed(extents[1:]):
        indices.append(builder.urem(flat, i64(extent)))
        flat = builder.udiv(flat, i64(extent))
    indices.append(flat)
    return indices[::-1]
