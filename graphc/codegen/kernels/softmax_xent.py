"""Sparse softmax cross-entropy over the rows of logits[N, C] with int32 or int64 labels[N].

    loss[n]       = logsumexp(logits[n]) - logits[n, labels[n]]
    dlogits[n, j] = (softmax(logits[n])[j] - (j == labels[n])) * scale[n]      (scale optional)

Labels are bounded operands (`Kernel.index_bounds`): a step checks them before the kernel and stops
with the reference's error on one outside [0, C). The kernel itself still treats such a label as
matching no class (loss logsumexp(logits[n]), gradient row the softmax), so that memory is never
read out of bounds even by a caller that skips the check.
Operands: forward logits, labels, loss; gradient logits, labels, [scale], dlogits. Rows are split
over threads; each row is a few 16-lane passes (max, sum of exp, then loss or gradient) using
vecmath's vector exp/log.
"""
from __future__ import annotations

from llvmlite import ir

from .. import vecmath
from ..parallel import emit_split_range
from .contract import IR_TYPES, Kernel, KernelFunction, Operand
from .loops import affine, as_value, counted_loop, entry_alloca
from .simd import F32, I32, LANES, V16F32, broadcast, call_intrinsic, horizontal_reduce, iota, lane_mask, load_scalar, load_vector, \
    maximum, store_scalar, store_vector


def emit_sparse_softmax_cross_entropy(module: ir.Module, name: str, n: int, c: int, label_dtype: str = "i32") -> Kernel:
    operands = (Operand("logits", (n, c)), Operand("labels", (n,), dtype=label_dtype), Operand("loss", (n,), "out"))

    def row(rows: "_Rows", r) -> None:
        lse = rows.log_sum_exp(r)
        b = rows.b
        picked = load_scalar(b, rows.kf["logits"], affine(b, [(r, c), (rows.label_index(r), 1)]))
        store_scalar(b, b.select(rows.label_valid(r), b.fsub(lse, picked), lse), rows.kf["loss"], r)

    return _emit_rows(module, name, n, c, operands, row, flops=4 * n * c)


def emit_sparse_softmax_cross_entropy_grad(module: ir.Module, name: str, n: int, c: int, scaled: bool = False,
                                           label_dtype: str = "i32") -> Kernel:
    operands = (Operand("logits", (n, c)), Operand("labels", (n,), dtype=label_dtype)) + \
        ((Operand("scale", (n,)),) if scaled else ()) + (Operand("dlogits", (n, c), "out"),)

    def row(rows: "_Rows", r) -> None:
        b = rows.b
        lse = broadcast(b, rows.log_sum_exp(r))
        hot = b.select(rows.label_valid(r), b.trunc(rows.label_index(r), I32), ir.Constant(I32, -1))
        label = broadcast(b, hot)                  # -1: no column is the label's
        factor = load_scalar(b, rows.kf["scale"], r) if scaled else ir.Constant(F32, 1.0)

        def gradient(index, first_column, lanes):
            probability = vecmath.exp(b, b.fsub(rows.logits(index, lanes), lse))
            columns = b.add(iota(), broadcast(b, b.trunc(first_column, I32)))
            one_hot = b.select(b.icmp_signed("==", columns, label), ir.Constant(V16F32, 1.0), ir.Constant(V16F32, 0.0))
            value = b.fmul(b.fsub(probability, one_hot), broadcast(b, factor))
            store_vector(b, value, rows.kf["dlogits"], index, lanes)

        rows.for_each_vector(r, gradient)

    return _emit_rows(module, name, n, c, operands, row, flops=5 * n * c)


def _emit_rows(module, name, n: int, c: int, operands, row, flops: int) -> Kernel:
    kf = KernelFunction(module, name, operands)
    rows = _Rows(kf, c)
    lo, hi = emit_split_range(kf.builder, kf.tid, kf.nthreads, kf.batch)      # n read at run time
    with counted_loop(kf.builder, lo, hi, name="row") as r:
        row(rows, r)
    # labels computed inside the step (not a graph input, which the executable checks first) are
    # checked by the step before the kernel: an out-of-range label raises, as the reference does
    return Kernel(name, (kf.finish(),), operands, flops=flops, batch=n, index_bounds=(("labels", c),))


class _Rows:
    """Row-wise vector passes over logits[r, :] with a masked tail."""

    def __init__(self, kf: KernelFunction, c: int):
        self.kf, self.b, self.c = kf, kf.builder, c
        self.slot = entry_alloca(self.b, V16F32, "row.acc")

    def logits(self, index, lanes: int, fill=None) -> ir.Value:
        return load_vector(self.b, self.kf["logits"], index, lanes, fill=fill)

    def for_each_vector(self, r, body) -> None:
        """body(element index, first column, lanes) over the row's vectors."""
        b = self.b
        full, tail = divmod(self.c, LANES)
        if full:
            with counted_loop(b, 0, full, name="col") as v:
                column = affine(b, [(v, LANES)])
                body(affine(b, [(r, self.c), (column, 1)]), column, LANES)
        if tail:
            body(affine(b, [(r, self.c)], full * LANES), as_value(full * LANES), tail)

    def fold(self, r, identity: float, transform, combine) -> ir.Value:
        """combine over the row of transform(vector), reduced to a scalar."""
        b = self.b
        b.store(ir.Constant(V16F32, identity), self.slot)

        def step(index, column, lanes):
            value = transform(self.logits(index, lanes, fill=identity), lanes)
            b.store(combine(b.load(self.slot, typ=V16F32), value), self.slot)

        self.for_each_vector(r, step)
        total = horizontal_reduce(b, [b.load(self.slot, typ=V16F32)], combine, identity)
        return b.extract_element(total, ir.Constant(I32, 0))

    def log_sum_exp(self, r) -> ir.Value:
        b = self.b
        row_max = self.fold(r, float("-inf"), lambda v, lanes: v, lambda x, y: maximum(b, x, y))
        # A row of -inf (or +inf) has no finite shift; use 0 so exp gives the right 0 / inf / NaN.
        finite = b.fcmp_ordered("<", call_intrinsic(b, "llvm.fabs", [row_max]), ir.Constant(F32, float("inf")))
        shift = b.select(finite, row_max, ir.Constant(F32, 0.0))
        shift_vector = broadcast(b, shift)

        def shifted_exp(v, lanes):
            value = vecmath.exp(b, b.fsub(v, shift_vector))
            return value if lanes == LANES else b.select(lane_mask(lanes), value, ir.Constant(V16F32, 0.0))

        total = self.fold(r, 0.0, shifted_exp, b.fadd)
        return b.fadd(shift, vecmath.log(b, total))

    def label(self, r) -> ir.Value:
        """labels[r] as i64."""
        b = self.b
        value = load_scalar(b, self.kf["labels"], r, IR_TYPES[self.kf.operand("labels").dtype])
        return value if value.type.width == 64 else b.sext(value, ir.IntType(64))

    def label_index(self, r) -> ir.Value:
        """labels[r] as i64, clamped into [0, C) so the load stays in bounds."""
        label = self.label(r)
        return self.b.select(self.label_valid_from(label), label, ir.Constant(label.type, 0))

    def label_valid(self, r) -> ir.Value:
        return self.label_valid_from(self.label(r))

    def label_valid_from(self, label: ir.Value) -> ir.Value:
        b = self.b
        return b.and_(b.icmp_signed(">=", label, ir.Constant(label.type, 0)),
                      b.icmp_signed("<", label, ir.Constant(label.type, self.c)))
