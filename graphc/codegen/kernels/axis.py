"""Kernels along one axis of a tensor viewed as [pre, n, post]: argmax, softmax, log_softmax.

Each (p, q) line is one work item, split over threads; a line is a few scalar passes over its n
elements (these ops are rare in training steps; the loss uses the fused cross-entropy kernel).

* argmax: the first index of the maximum, or of the first NaN if any (numpy.argmax), as int32.
* softmax: exp(x - max) / sum(exp(x - max)); log_softmax: (x - max) - log(sum(exp(x - max))).
  The maximum propagates NaN; exp/log are vecmath's for float32, libm's for float64.
"""
from __future__ import annotations

from llvmlite import ir

from .. import vecmath
from .contract import IR_TYPES, Kernel, KernelFunction, Operand
from .loops import affine, counted_loop, entry_alloca
from .simd import F32, I64, call_intrinsic, i64, load_scalar, store_scalar
from .tile import blocks, emit_grid


def emit_argmax(module: ir.Module, name: str, pre: int, n: int, post: int, dtype: str) -> Kernel:
    operands = (Operand("x", (pre, n, post), "in", dtype), Operand("y", (pre, post), "out", "i32"))
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    elem = IR_TYPES[dtype]
    best, where = entry_alloca(b, elem, "best"), entry_alloca(b, I64, "where")

    def line(p, q):
        b.store(load_scalar(b, kf["x"], affine(b, [(p, n * post), (q, 1)]), elem), best)
        b.store(i64(0), where)
        with counted_loop(b, 1, n, name="r") as r:
            value, current = load_scalar(b, kf["x"], affine(b, [(p, n * post), (r, post), (q, 1)]), elem), \
                b.load(best, typ=elem)
            better = _greater(b, value, current)
            b.store(b.select(better, value, current), best)
            b.store(b.select(better, r, b.load(where, typ=I64)), where)
        store_scalar(b, b.trunc(b.load(where, typ=I64), ir.IntType(32)), kf["y"], affine(b, [(p, post), (q, 1)]))

    _lines(kf, pre, post, line)
    return Kernel(name, (kf.finish(),), operands, flops=pre * n * post)


def _greater(b: ir.IRBuilder, value: ir.Value, best: ir.Value) -> ir.Value:
    """value beats best: larger, or the first NaN (after which nothing beats it)."""
    if isinstance(value.type, ir.IntType):
        return b.icmp_signed(">", value, best)
    first_nan = b.and_(b.fcmp_unordered("uno", value, value), b.fcmp_ordered("ord", best, best))
    return b.or_(b.fcmp_ordered(">", value, best), first_nan)


def emit_softmax(module: ir.Module, name: str, pre: int, n: int, post: int, dtype: str, log: bool) -> Kernel:
    operands = (Operand("x", (pre, n, post), "in", dtype), Operand("y", (pre, n, post), "out", dtype))
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    elem = IR_TYPES[dtype]
    total = entry_alloca(b, elem, "total")

    def line(p, q):
        def at(r):
            return affine(b, [(p, n * post), (r, post), (q, 1)])

        def each(body):
            with counted_loop(b, 0, n, name="r") as r:
                body(r, load_scalar(b, kf["x"], at(r), elem))

        b.store(ir.Constant(elem, float("-inf")), total)
        each(lambda r, v: b.store(call_intrinsic(b, "llvm.maximum", [b.load(total, typ=elem), v]), total))
        top = b.load(total, typ=elem)
        b.store(ir.Constant(elem, 0.0), total)
        each(lambda r, v: b.store(b.fadd(b.load(total, typ=elem), _exp(b, b.fsub(v, top))), total))
        norm = _log(b, b.load(total, typ=elem)) if log else b.load(total, typ=elem)
        each(lambda r, v: store_scalar(b, b.fsub(b.fsub(v, top), norm) if log else
                                       b.fdiv(_exp(b, b.fsub(v, top)), norm), kf["y"], at(r)))

    _lines(kf, pre, post, line)
    return Kernel(name, (kf.finish(),), operands, flops=5 * pre * n * post)


def _exp(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return vecmath.exp(b, x) if x.type == F32 else call_intrinsic(b, "llvm.exp", [x])


def _log(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return vecmath.log(b, x) if x.type == F32 else call_intrinsic(b, "llvm.log", [x])


def _lines(kf: KernelFunction, pre: int, post: int, line) -> None:
    if pre * post:
        emit_grid(kf.builder, [blocks(pre, 1), blocks(post, 1)], lambda starts, kinds: line(*starts),
                  threads=(kf.tid, kf.nthreads))
