"""Sum / mean / max over leading and/or trailing axes, with an optional elementwise prologue.

    y[k] = reduce over (o, i) of prologue(x0[o, k, i], x1[o, k, i], ...)

after viewing the inputs as [outer, kept, inner]: the reduced axes must be a prefix and/or a
suffix of the dimensions (trailing: softmax rows, loss means; leading: dense bias gradients;
both: conv bias gradients over N, H, W). Operands: the inputs (all of `shape`), then y (the kept
dimensions). `max` propagates NaN like numpy.max.

* inner > 1: lanes along the reduced inner axis; 16 kept indices per work item, each folded into
  one vector and then reduced horizontally together (one vector of 16 results).
* inner == 1: lanes along the kept axis, folding the outer rows.
Each output is owned by one thread and summed in a fixed order, so no partials are needed and
the result does not depend on the thread count (a lone output is computed by one thread).
"""
from __future__ import annotations

from math import prod
from typing import Callable, Sequence

from llvmlite import ir

from .contract import Kernel, KernelFunction, Operand
from .loops import affine, counted_loop, entry_alloca
from .simd import LANES, V16F32, horizontal_reduce, lane_mask, load_vector, maximum, store_vector
from .tile import emit_grid, vector_blocks

Prologue = Callable[[ir.IRBuilder, list], ir.Value]
_KINDS = {"sum": 0.0, "mean": 0.0, "max": float("-inf")}   # kind -> identity


def split_axes(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, int, int]:
    """(outer, kept, inner) extents for reducing `axes`, which must be a prefix and/or suffix."""
    ndim = len(shape)
    axes = sorted({a % ndim for a in axes}) if ndim else []
    lead = 0
    while lead < ndim and lead in axes:
        lead += 1
    trail = ndim
    while trail > lead and trail - 1 in axes:
        trail -= 1
    if set(axes) != set(range(lead)) | set(range(trail, ndim)):
        raise ValueError(f"reduce over axes {tuple(axes)} of shape {tuple(shape)}: only leading and/or trailing "
                         "axes are supported; transpose first")
    return prod(shape[:lead]), prod(shape[lead:trail]), prod(shape[trail:])


def emit_reduce(module: ir.Module, name: str, shape: Sequence[int], axes: Sequence[int], kind: str = "sum",
                inputs: Sequence[str] = ("x",), prologue: Prologue | None = None) -> Kernel:
    if kind not in _KINDS:
        raise ValueError(f"reduce kind {kind!r}; expected one of {sorted(_KINDS)}")
    outer, kept, inner = split_axes(shape, axes)
    kept_shape = tuple(d for a, d in enumerate(shape) if a not in {x % len(shape) for x in axes})
    operands = tuple(Operand(n, tuple(shape)) for n in inputs) + (Operand("y", kept_shape, "out"),)
    kf = KernelFunction(module, name, operands)
    reduction = _Reduction(kf, kind, inputs, prologue or (lambda b, values: values[0]), outer, kept, inner)
    if inner > 1:
        reduction.emit_lanes_along_inner()
    else:
        reduction.emit_lanes_along_kept()
    return Kernel(name, (kf.finish(),), operands, flops=prod(shape))


class _Reduction:
    def __init__(self, kf: KernelFunction, kind: str, inputs, prologue: Prologue, outer: int, kept: int, inner: int):
        self.kf, self.b, self.kind, self.inputs, self.prologue = kf, kf.builder, kind, inputs, prologue
        self.outer, self.kept, self.inner = outer, kept, inner
        self.identity = ir.Constant(V16F32, _KINDS[kind])

    def combine(self, acc: ir.Value, value: ir.Value) -> ir.Value:
        return maximum(self.b, acc, value) if self.kind == "max" else self.b.fadd(acc, value)

    def finish(self, acc: ir.Value) -> ir.Value:
        if self.kind == "mean":
            return self.b.fmul(acc, ir.Constant(V16F32, 1.0 / (self.outer * self.inner)))
        return acc

    def element(self, index, lanes: int) -> ir.Value:
        """prologue(inputs at `index`), masked-off lanes set to the identity."""
        b = self.b
        value = self.prologue(b, [load_vector(b, self.kf[n], index, lanes) for n in self.inputs])
        return value if lanes == LANES else b.select(lane_mask(lanes), value, self.identity)

    def fold(self, slot: ir.Value, index, lanes: int) -> None:
        self.b.store(self.combine(self.b.load(slot, typ=V16F32), self.element(index, lanes)), slot)

    def emit_lanes_along_inner(self) -> None:
        b, inner = self.b, self.inner
        slot = entry_alloca(b, V16F32, "acc")
        full, tail = divmod(inner, LANES)

        def tile(starts, kinds):
            first = affine(b, [(starts[0], LANES)])
            results = []
            for t in range(kinds[0].lanes(0)):
                b.store(self.identity, slot)
                with counted_loop(b, 0, self.outer, name="o") as o:
                    row = affine(b, [(o, self.kept * inner), (first, inner)], t * inner)
                    if full:
                        with counted_loop(b, 0, full, name="v") as v:
                            self.fold(slot, affine(b, [(row, 1), (v, LANES)]), LANES)
                    if tail:
                        self.fold(slot, affine(b, [(row, 1)], full * LANES), tail)
                results.append(b.load(slot, typ=V16F32))
            totals = horizontal_reduce(b, results, self.combine, _KINDS[self.kind])
            store_vector(b, self.finish(totals), self.kf["y"], first, kinds[0].lanes(0))

        self._split([vector_blocks(self.kept, 1)], tile)

    def emit_lanes_along_kept(self) -> None:
        b = self.b
        slot = entry_alloca(b, V16F32, "acc")

        def tile(starts, kinds):
            first, lanes = affine(b, [(starts[0], LANES)]), kinds[0].lanes(0)
            b.store(self.identity, slot)
            with counted_loop(b, 0, self.outer, name="o") as o:
                self.fold(slot, affine(b, [(o, self.kept), (first, 1)]), lanes)
            store_vector(b, self.finish(b.load(slot, typ=V16F32)), self.kf["y"], first, lanes)

        self._split([vector_blocks(self.kept, 1)], tile)

    def _split(self, axes, tile) -> None:
        emit_grid(self.b, axes, tile, threads=(self.kf.tid, self.kf.nthreads))
