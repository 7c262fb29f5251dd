"""The primitive vocabulary elementwise ops lower to (their `lower` fields), over 16-lane vectors.

An op's lowering is a scalar expression, e.g. relu is `lambda e, x: e.max(x, e.const(0.0))`;
`VectorEmitter` evaluates it on `<16 x T>` values, so any chain of elementwise ops composes into
one loop body. Values are LLVM vectors whose element type tells the graphc dtype: float (f32),
double (f64), i32, i64, i1 (bool), half (f16) and i16 (bf16, its bits). Half values are only
stored, loaded and cast: the widen-half pass leaves every computation on them in float32, and
casts convert in registers (F16C's vcvtph2ps/vcvtps2ph for float16, shifts and round to nearest
even for bfloat16). `const(c)` is weakly typed, as Python scalars are in graphc:
it takes the type of the other operand (or the dtype of the node being lowered).

Semantics follow the ops' NumPy references: IEEE add/sub/mul/div/sqrt round exactly as NumPy does
(no fast-math flags), max/min propagate NaN and return the second operand on ties, comparisons are
ordered except `ne`, exp/log are vecmath's (about 1 ulp) for f32 and libm's for f64, pow, sin and
cos are libm's, float to int casts truncate toward zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ..types import DType, bfloat16, bool_, float16, float32, float64, int32, int64
from . import philox, vecmath
from .kernels.simd import F16, F32, F64, I1, I8, I16, I32, I64, LANES, call_intrinsic, f32_to_half, half_to_f32

_ELEMENTS = {float32: F32, float64: F64, int32: I32, int64: I64, bool_: I1, float16: F16, bfloat16: I16}
_DTYPES = {str(ty): dtype for dtype, ty in _ELEMENTS.items()}
_FLOAT_PREDICATES = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def vector_type(dtype: DType) -> ir.VectorType:
    return ir.VectorType(_ELEMENTS[dtype], LANES)


def dtype_of(value: ir.Value) -> DType:
    return _DTYPES[str(value.type.element)]


def storage_element(dtype: DType) -> ir.Type:
    """How a dtype is laid out in memory: bool as one byte, as in NumPy."""
    return I8 if dtype == bool_ else _ELEMENTS[dtype]


def to_storage(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    return builder.zext(value, ir.VectorType(I8, LANES)) if dtype_of(value) == bool_ else value


def from_storage(builder: ir.IRBuilder, value: ir.Value, dtype: DType) -> ir.Value:
    if dtype == bool_:
        return builder.icmp_unsigned("!=", value, ir.Constant(value.type, 0))
    return value


@dataclass(frozen=True)
class Weak:
    """A Python scalar constant; it takes the type of the value it meets."""
    value: float


class VectorEmitter:
    """Emits the vocabulary with `builder`; `dtype` types constants that meet only constants."""

    def __init__(self, builder: ir.IRBuilder, dtype: DType = float32):
        self.b = builder
        self.dtype = dtype
        self.index: ir.Value | None = None    # <16 x i64> element indices of the node being lowered

    # -- position-dependent values (ops with positional=True) -------------------------------------
    def element_index(self) -> ir.Value:
        if self.index is None:
            raise ValueError("a positional op (one whose value depends on the element index) is lowered outside "
                             "an elementwise loop; the fusion pass keeps such ops out of epilogues and prologues")
        return self.index

    def random24(self, counter, seed: int) -> ir.Value:
        """Philox draws in [0, 2^24) (int32) of this node's elements at step `counter`: graphc.ops.random."""
        (counter,) = self.typed(counter)
        return philox.random24(self.b, self.element_index(), counter, seed)

    # -- constants and types ----------------------------------------------------------------
    def const(self, value) -> Weak:
        return Weak(value)

    def constant(self, value, dtype: DType) -> ir.Value:
        ty = vector_type(dtype)
        if dtype == bfloat16:                       # held as its bits
            return ir.Constant(ty, int(np.array(value, bfloat16.np).view(np.uint16)))
        return ir.Constant(ty, bool(value) if dtype == bool_ else value if dtype.is_float else int(value))

    def typed(self, *values) -> list[ir.Value]:
        """The values with weak constants given the type of the first typed one."""
        typed = [v for v in values if not isinstance(v, Weak)]
        dtype = dtype_of(typed[0]) if typed else self.dtype
        return [self.constant(v.value, dtype) if isinstance(v, Weak) else v for v in values]

    # -- arithmetic ---------------------------------------------------------------------------
    def add(self, x, y):
        return self._binary(x, y, self.b.fadd, self.b.add)

    def sub(self, x, y):
        return self._binary(x, y, self.b.fsub, self.b.sub)

    def mul(self, x, y):
        return self._binary(x, y, self.b.fmul, self.b.mul)

    def div(self, x, y):
        return self._binary(x, y, self.b.fdiv, self.b.sdiv)

    def neg(self, x):
        (x,) = self.typed(x)
        return self.b.fneg(x) if _is_float(x) else self.b.sub(ir.Constant(x.type, 0), x)

    def abs(self, x):
        (x,) = self.typed(x)
        if _is_float(x):
            return call_intrinsic(self.b, "llvm.fabs", [x])
        return self.b.select(self.b.icmp_signed("<", x, ir.Constant(x.type, 0)), self.neg(x), x)

    def max(self, x, y):
        """x if x > y or x is NaN, else y: NaN propagates and ties give y, as numpy.maximum."""
        return self._pick(x, y, "gt")

    def min(self, x, y):
        return self._pick(x, y, "lt")

    def sqrt(self, x):
        return call_intrinsic(self.b, "llvm.sqrt", self.typed(x))

    def exp(self, x):
        (x,) = self.typed(x)
        return vecmath.exp(self.b, x) if x.type.element == F32 else call_intrinsic(self.b, "llvm.exp", [x])

    def sigmoid(self, x):
        """1 / (1 + e^-x): vecmath's logistic for float32 (within a few ulps, half exp's instructions)."""
        (x,) = self.typed(x)
        if x.type.element == F32:
            return vecmath.logistic(self.b, x)
        return self.div(self.const(1.0), self.add(self.const(1.0), self.exp(self.neg(x))))

    def log(self, x):
        (x,) = self.typed(x)
        return vecmath.log(self.b, x) if x.type.element == F32 else call_intrinsic(self.b, "llvm.log", [x])

    def floor(self, x):
        return call_intrinsic(self.b, "llvm.floor", self.typed(x))

    def sin(self, x):
        """libm's sin per lane (llvm.sin), as NumPy's reference computes it up to an ulp."""
        return call_intrinsic(self.b, "llvm.sin", self.typed(x))

    def cos(self, x):
        return call_intrinsic(self.b, "llvm.cos", self.typed(x))

    def pow(self, x, y):
        """libm's pow per lane (llvm.pow), which NumPy's power also calls: exact at negative bases
        with integral exponents, x ** 0 == 1 for any x, and the other IEEE special cases."""
        x, y = self.typed(x, y)
        return call_intrinsic(self.b, "llvm.pow", [x, y])

    # -- floor division (MindSpore's FloorDiv and FloorMod, measured on 2.10) ----------------------
    def floor_div(self, x, y):
        """MindSpore's FloorDiv: floats as floor(x / y) divided in double precision (exact for f32, and
        what MindSpore 2.10 gives: 1 // 0.1 is 9); ints rounded toward -inf, and x // 0 is the
        largest int for x > 0, the smallest for x < 0, 0 for 0 (never a trap)."""
        x, y = self.typed(x, y)
        if _is_float(x):
            dtype = dtype_of(x)
            quotient = self.b.fdiv(self.cast(x, float64), self.cast(y, float64))
            return self.cast(call_intrinsic(self.b, "llvm.floor", [quotient]), dtype)
        quotient, remainder = self._int_divmod(x, y)
        adjust = self.b.and_(self.ne(remainder, self.const(0)), self.ne(self.lt(remainder, self.const(0)),
                                                                      self.lt(y, self.const(0))))
        quotient = self.select(adjust, self.sub(quotient, self.const(1)), quotient)
        low, high = _int_limits(x)
        by_zero = self.select(self.gt(x, self.const(0)), high, self.select(self.lt(x, self.const(0)), low,
                                                                          self.const(0)))
        return self.select(self.eq(y, self.const(0)), by_zero, quotient)

    def floor_mod(self, x, y):
        """NumPy's mod (the remainder with the divisor's sign; exact: fmod, then + y when the signs
        differ; a zero takes y's sign), which is MindSpore's FloorMod; an int x % 0 is the smallest int,
        as MindSpore 2.10 gives."""
        x, y = self.typed(x, y)
        if _is_float(x):
            mod = self.b.frem(x, y)
            adjust = self.b.and_(self.ne(mod, self.const(0.0)), self.ne(self.lt(mod, self.const(0.0)),
                                                                      self.lt(y, self.const(0.0))))
            mod = self.select(adjust, self.add(mod, y), mod)
            signed_zero = self.select(self.lt(y, self.const(0.0)), self.const(-0.0), self.const(0.0))
            return self.select(self.eq(mod, self.const(0.0)), signed_zero, mod)
        _, remainder = self._int_divmod(x, y)
        adjust = self.b.and_(self.ne(remainder, self.const(0)), self.ne(self.lt(remainder, self.const(0)),
                                                                      self.lt(y, self.const(0))))
        remainder = self.select(adjust, self.add(remainder, y), remainder)
        return self.select(self.eq(y, self.const(0)), _int_limits(x)[0], remainder)

    def _int_divmod(self, x, y):
        """(x / y truncated, x - that * y) for ints, defined for every y: the divisor 0 or -1 is
        replaced by 1 before the division (sdiv traps on 0, and on the smallest int / -1), and x / -1
        is -x, wrapping as NumPy's does."""
        unsafe = self.b.or_(self.eq(y, self.const(0)), self.eq(y, self.const(-1)))
        divisor = self.select(unsafe, self.const(1), y)
        quotient = self.select(self.eq(y, self.const(-1)), self.neg(x), self.b.sdiv(x, divisor))
        return quotient, self.sub(x, self.mul(quotient, y))      # y = 0: x (the caller replaces it)

    # -- comparisons and selection -------------------------------------------------------------
    def eq(self, x, y):
        return self._compare("eq", x, y)

    def ne(self, x, y):
        return self._compare("ne", x, y)

    def lt(self, x, y):
        return self._compare("lt", x, y)

    def le(self, x, y):
        return self._compare("le", x, y)

    def gt(self, x, y):
        return self._compare("gt", x, y)

    def ge(self, x, y):
        return self._compare("ge", x, y)

    def select(self, cond, x, y):
        x, y = self.typed(x, y)
        return self.b.select(cond, x, y)

    def cast(self, x, dtype: DType):
        if isinstance(x, Weak):
            x = self.constant(x.value, self.dtype if not self.dtype.is_half else float32)
        return _convert(self.b, x, dtype_of(x), dtype)

    # -- helpers --------------------------------------------------------------------------------
    def _binary(self, x, y, float_op, int_op):
        x, y = self.typed(x, y)
        return float_op(x, y) if _is_float(x) else int_op(x, y)

    def _compare(self, name: str, x, y):
        x, y = self.typed(x, y)
        predicate = _FLOAT_PREDICATES[name]
        if not _is_float(x):
            return self.b.icmp_signed(predicate, x, y)
        if name == "ne":       # NaN != anything
            return self.b.fcmp_unordered(predicate, x, y)
        return self.b.fcmp_ordered(predicate, x, y)

    def _pick(self, x, y, name: str):
        x, y = self.typed(x, y)
        first = self._compare(name, x, y)
        if _is_float(x):
            first = self.b.or_(first, self.b.fcmp_unordered("uno", x, x))
        return self.b.select(first, x, y)


def _int_limits(x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """The smallest and the largest value of x's integer type, as vectors like x."""
    bits = x.type.element.width
    return ir.Constant(x.type, -(1 << (bits - 1))), ir.Constant(x.type, (1 << (bits - 1)) - 1)


def _is_float(value: ir.Value) -> bool:
    return value.type.element in (F32, F64)


def _convert(b: ir.IRBuilder, x: ir.Value, source: DType, target: DType) -> ir.Value:
    """NumPy's astype between graphc dtypes, lane by lane; half types through float32."""
    ty = vector_type(target)
    if source == target:
        return x
    if source.is_half:
        return _convert(b, half_to_f32(b, x), float32, target)
    if target.is_half:
        return f32_to_half(b, _convert(b, x, source, float32), target.short)
    if target == bool_:
        zero = ir.Constant(x.type, 0.0 if source.is_float else 0)
        return b.fcmp_unordered("!=", x, zero) if source.is_float else b.icmp_unsigned("!=", x, zero)
    if source == bool_:
        return b.uitofp(x, ty) if target.is_float else b.zext(x, ty)
    if source.is_float and target.is_float:
        return b.fpext(x, ty) if target == float64 else b.fptrunc(x, ty)
    if target.is_float:
        return b.sitofp(x, ty)
    if source.is_float:
        # x86's cvttps2dq: out of range and NaN give the minimum integer, as NumPy's cast does on
        # x86 (LLVM calls those lanes poison, which only matters when it can fold a constant).
        return b.fptosi(x, ty)
    return b.sext(x, ty) if ty.element.width > x.type.element.width else b.trunc(x, ty)

