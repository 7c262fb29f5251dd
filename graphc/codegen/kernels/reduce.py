"""Sum / mean / max over sets of axes, with an optional elementwise prologue.

    y[a, k] = reduce over (o, i) of prologue(x0[a, o, k, i], x1[a, o, k, i], ...)

after viewing the inputs as [kept_outer, outer, kept, inner]: the reduced axes form at most two
runs, the second one at the end (trailing: softmax rows, loss means; leading: dense bias
gradients; both: conv bias gradients over N, H, W; a middle run: a sum over channels).
Size-1 axes may be anywhere. Operands: the inputs (all of `shape`), then y (the kept dimensions).
`max` propagates NaN like numpy.max.

* inner > 1: lanes along the reduced inner axis; 16 kept indices per work item, each folded into
  one vector and then reduced horizontally together (one vector of 16 results).
* inner == 1: lanes along the kept axis, folding the outer rows.
Each output is owned by one thread and summed in a fixed order, so no partials are needed and
the result does not depend on the thread count (a lone output is computed by one thread).

The leading axis's extent (a batch) is read at run time: its run is `outer` when reduced and
`kept_outer` when kept (a lone kept run is split into the leading axis and the rest), so the IR is
the same at every batch size; a mean divides by the count computed in double and rounded once.
"""
from __future__ import annotations

from math import nan, prod
from typing import Callable, Sequence

from llvmlite import ir

from .contract import IR_TYPES, Kernel, KernelFunction, Operand
from .loops import affine, counted_loop, entry_alloca
from .simd import F64, I64, LANES, broadcast, horizontal_reduce, lane_mask, load_vector, maximum, store_vector
from .tile import blocks, emit_grid, runtime_blocks, vector_blocks

Prologue = Callable[[ir.IRBuilder, list], ir.Value]
_KINDS = {"sum": 0.0, "mean": 0.0, "max": float("-inf")}   # kind -> identity


def split_axes(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, int, int, int]:
    """(kept_outer, outer, kept, inner) extents for reducing `axes` (see the module doc)."""
    ndim = len(shape)
    reduced = {a % ndim for a in axes} if ndim else set()
    runs: list[list] = []                         # [is reduced, extent] of consecutive axes
    for axis, extent in enumerate(shape):
        if extent == 1:
            continue
        if runs and runs[-1][0] == (axis in reduced):
            runs[-1][1] *= extent
        else:
            runs.append([axis in reduced, extent])
    kept_runs = [i for i, (is_reduced, _) in enumerate(runs) if not is_reduced]
    if len(runs) > 4 or len(kept_runs) > 2 or kept_runs[:1] == [1] and len(kept_runs) == 2:
        raise ValueError(f"reduce over axes {tuple(sorted(reduced))} of shape {tuple(shape)}: the reduced axes must "
                         "form at most two runs, the second at the end; transpose first")
    kept_outer = runs.pop(0)[1] if len(kept_runs) == 2 else 1
    outer = runs.pop(0)[1] if runs and runs[0][0] else 1
    kept = runs.pop(0)[1] if runs and not runs[0][0] else 1
    inner = runs.pop(0)[1] if runs else 1
    return kept_outer, outer, kept, inner


def emit_reduce(module: ir.Module, name: str, shape: Sequence[int], axes: Sequence[int], kind: str = "sum",
                inputs: Sequence[str] = ("x",), prologue: Prologue | None = None, dtype: str = "f32",
                input_dtypes: Sequence[str] = ()) -> Kernel:
    """y has `dtype`, f32 or f64, and so do the inputs unless `input_dtypes` says otherwise: a half
    input (of a prologue that casts it) is loaded as such."""
    if kind not in _KINDS:
        raise ValueError(f"reduce kind {kind!r}; expected one of {sorted(_KINDS)}")
    kept_outer, outer, kept, inner = split_axes(shape, axes)
    reduced = {x % len(shape) for x in axes}
    kept_shape = tuple(d for a, d in enumerate(shape) if a not in reduced)
    input_dtypes = tuple(input_dtypes) or (dtype,) * len(inputs)
    operands = tuple(Operand(n, tuple(shape), "in", d) for n, d in zip(inputs, input_dtypes)) + \
        (Operand("y", kept_shape, "out", dtype),)
    kf = KernelFunction(module, name, operands)
    batch = shape[0] if shape and shape[0] > 1 else 0
    if batch and 0 in reduced:                                    # the leading run is reduced: outer
        outer = kf.builder.mul(kf.batch, ir.Constant(I64, outer // batch))
    elif batch:                                                   # kept: kept_outer, alone if need be
        if kept_outer == 1:
            kept_outer, kept = batch, kept // batch
        kept_outer = kf.builder.mul(kf.batch, ir.Constant(I64, kept_outer // batch))
    reduction = _Reduction(kf, kind, inputs, prologue or (lambda b, values: values[0]), kept_outer, outer, kept,
                           inner, ir.VectorType(IR_TYPES[dtype], LANES))
    if inner > 1:
        reduction.emit_lanes_along_inner()
    else:
        reduction.emit_lanes_along_kept()
    return Kernel(name, (kf.finish(),), operands, flops=prod(shape), batch=batch)


class _Reduction:
    """kept_outer or outer may be i64 values (the batch's run, read at run time), not both."""

    def __init__(self, kf: KernelFunction, kind: str, inputs, prologue: Prologue, kept_outer, outer, kept: int,
                 inner: int, vty: ir.VectorType):
        self.kf, self.b, self.kind, self.inputs, self.prologue = kf, kf.builder, kind, inputs, prologue
        self.kept_outer, self.outer, self.kept, self.inner = kept_outer, outer, kept, inner
        self.vty = vty
        self.identity = ir.Constant(vty, _KINDS[kind])
        self.scale = self._inverse_count() if kind == "mean" else None

    def combine(self, acc: ir.Value, value: ir.Value) -> ir.Value:
        return maximum(self.b, acc, value) if self.kind == "max" else self.b.fadd(acc, value)

    def finish(self, acc: ir.Value) -> ir.Value:
        return self.b.fmul(acc, self.scale) if self.kind == "mean" else acc

    def _inverse_count(self) -> ir.Value:
        """1 / (outer·inner) splatted: divided in double and rounded once, as a constant would be.
        NaN when nothing is reduced: the mean of no elements is NaN, as in the reference (NumPy)."""
        if isinstance(self.outer, int):
            count = self.outer * self.inner
            return ir.Constant(self.vty, 1.0 / count if count else nan)
        b, element = self.b, self.vty.element
        count = b.uitofp(b.mul(self.outer, ir.Constant(I64, self.inner)), F64)
        inverse = b.fdiv(ir.Constant(F64, 1.0), count)
        return broadcast(b, inverse if element == F64 else b.fptrunc(inverse, element))

    def element(self, index, lanes: int) -> ir.Value:
        """prologue(inputs at `index`), masked-off lanes set to the identity."""
        b = self.b
        value = self.prologue(b, [load_vector(b, self.kf[n], index, lanes, vty=self._input_vty(n)) for n in self.inputs])
        return value if lanes == LANES else b.select(lane_mask(lanes), value, self.identity)

    def _input_vty(self, name: str) -> ir.VectorType:
        return ir.VectorType(IR_TYPES[self.kf.operand(name).dtype], LANES)

    def fold(self, slot: ir.Value, index, lanes: int) -> None:
        self.b.store(self.combine(self.b.load(slot, typ=self.vty), self.element(index, lanes)), slot)

    def emit_lanes_along_inner(self) -> None:
        b, inner = self.b, self.inner
        slot = entry_alloca(b, self.vty, "acc")
        full, tail = divmod(inner, LANES)

        def tile(starts, kinds):
            (a, k0), lanes = starts, kinds[1].lanes(0)
            first = affine(b, [(k0, LANES)])
            results = []
            for t in range(lanes):
                b.store(self.identity, slot)
                with counted_loop(b, 0, self.outer, name="o") as o:
                    row = affine(b, [(a, self.block), (o, self.kept * inner), (first, inner)], t * inner)
                    if full:
                        with counted_loop(b, 0, full, name="v") as v:
                            self.fold(slot, affine(b, [(row, 1), (v, LANES)]), LANES)
                    if tail:
                        self.fold(slot, affine(b, [(row, 1)], full * LANES), tail)
                results.append(b.load(slot, typ=self.vty))
            totals = horizontal_reduce(b, results, self.combine, _KINDS[self.kind])
            store_vector(b, self.finish(totals), self.kf["y"], affine(b, [(a, self.kept), (first, 1)]), lanes)

        self._split(tile)

    def emit_lanes_along_kept(self) -> None:
        b = self.b
        slot = entry_alloca(b, self.vty, "acc")

        def tile(starts, kinds):
            (a, k0), lanes = starts, kinds[1].lanes(0)
            first = affine(b, [(k0, LANES)])
            b.store(self.identity, slot)
            with counted_loop(b, 0, self.outer, name="o") as o:
                self.fold(slot, affine(b, [(a, self.block), (o, self.kept), (first, 1)]), lanes)
            result = self.finish(b.load(slot, typ=self.vty))
            store_vector(b, result, self.kf["y"], affine(b, [(a, self.kept), (first, 1)]), lanes)

        self._split(tile)

    @property
    def block(self) -> int:
        """Elements per index of the kept outer axis (with one kept outer index, its term is 0)."""
        return 0 if isinstance(self.outer, ir.Value) else self.outer * self.kept * self.inner

    def _split(self, tile) -> None:
        """tile((a, first kept vector), kinds) for every work item: a kept-outer index and 16 kept indices."""
        outer_axis = runtime_blocks(self.b, self.kept_outer, 1) if isinstance(self.kept_outer, ir.Value) else \
            blocks(self.kept_outer, 1)
        emit_grid(self.b, [outer_axis, vector_blocks(self.kept, 1)], tile, threads=(self.kf.tid, self.kf.nthreads))
