"""Vectorized float32 exp, log and the logistic function in plain IR (LLVM has no vector libm here:
`llvm.exp.v16f32` becomes 16 scalar expf calls).

`exp(builder, x)`, `log(builder, x)` and `logistic(builder, x)` accept a float or any `<N x float>`
value and emit a call to an internal always-inline function defined once per module and type. They
use Cephes-style range reduction and minimax polynomials evaluated with FMA;
tests/codegen/test_vecmath.py checks them against float64 NumPy over the whole finite range (max
errors reported there: exp and log ~1 ulp, logistic a few).

Special values follow C99 / NumPy: exp(+inf)=inf, exp(-inf)=0, overflow -> inf, underflow -> 0
(through the subnormals), log(0)=-inf, log(x<0)=NaN, log(inf)=inf, NaN in -> NaN out.
"""
from __future__ import annotations

from llvmlite import ir

from .kernels.simd import I32, call_intrinsic, fma

LOG2E = 1.44269504088896341
LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4      # ln 2 split so n*LN2_HI is exact
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)
EXP_CLAMP = (-104.0, 89.0)    # beyond these exp is 0 / inf in float32; keeps 2^n in range
LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
            -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
# e^r ~ 1 + r + r^2 p(r) on [-ln2/2, ln2/2], p of degree 3 (relative error 1.2e-7; fitted to e^r at Chebyshev nodes)
LOGISTIC_POLY = (8.3338425862e-3, 4.1898598063e-2, 1.6666886383e-1, 4.9999142424e-1)
LOGISTIC_CLAMP = (-87.0, 88.0)   # e^z for z in here is a normal float
ROUNDING_SHIFT = 12582912.0      # 1.5 * 2^23: adding it rounds a float below 2^22 to an integer, kept in the low bits
SQRT_HALF = 0.707106781186547524
SMALLEST_NORMAL = 1.17549435e-38


def exp(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return builder.call(_function(builder.module, "exp", x.type, _emit_exp), [x])


def log(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return builder.call(_function(builder.module, "log", x.type, _emit_log), [x])


def logistic(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """1 / (1 + e^-x): the sigmoid, and through it tanh and the LSTM's gates."""
    return builder.call(_function(builder.module, "logistic", x.type, _emit_logistic), [x])


def _function(module: ir.Module, name: str, ty: ir.Type, emit_body) -> ir.Function:
    suffix = f"v{ty.count}f32" if isinstance(ty, ir.VectorType) else "f32"
    full_name = f"graphc.{name}.{suffix}"
    existing = module.globals.get(full_name)
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), full_name)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(emit_body(b, fn.args[0]))
    return fn


def _const(ty: ir.Type, value) -> ir.Constant:
    return ir.Constant(ty, value)


def _int_type(ty: ir.Type) -> ir.Type:
    return ir.VectorType(I32, ty.count) if isinstance(ty, ir.VectorType) else I32


def _polynomial(b: ir.IRBuilder, x: ir.Value, coefficients) -> ir.Value:
    """Horner's rule with FMA: ((c0*x + c1)*x + c2)..."""
    acc = _const(x.type, coefficients[0])
    for c in coefficients[1:]:
        acc = fma(b, acc, x, _const(x.type, c))
    return acc


def _clamp(b: ir.IRBuilder, x: ir.Value, lo: float, hi: float) -> ir.Value:
    """Clamp with ordered compares so NaN passes through unchanged."""
    ty = x.type
    x = b.select(b.fcmp_ordered(">", x, _const(ty, hi)), _const(ty, hi), x)
    return b.select(b.fcmp_ordered("<", x, _const(ty, lo)), _const(ty, lo), x)


def _pow2(b: ir.IRBuilder, n: ir.Value, float_type: ir.Type) -> ir.Value:
    """2**n for integer n in [-126, 127] by building the exponent field."""
    biased = b.add(n, _const(n.type, 127))
    return b.bitcast(b.shl(biased, _const(n.type, 23)), float_type)


def _emit_exp(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """e^x = 2^n * e^r, n = rint(x*log2 e), r = x - n*ln2 in [-ln2/2, ln2/2] (Cody-Waite)."""
    ty = x.type
    clamped = _clamp(b, x, *EXP_CLAMP)
    n_float = call_intrinsic(b, "llvm.rint", [b.fmul(clamped, _const(ty, LOG2E))])
    r = fma(b, n_float, _const(ty, -LN2_HI), clamped)
    r = fma(b, n_float, _const(ty, -LN2_LO), r)
    r2 = b.fmul(r, r)
    poly = fma(b, _polynomial(b, r, EXP_POLY), r2, b.fadd(r, _const(ty, 1.0)))
    # n spans [-150, 128]: scale in two halves so each power of two is a normal float and only
    # the final multiply rounds (gradual underflow, overflow to inf).
    n = b.fptosi(b.select(b.fcmp_unordered("uno", x, x), _const(ty, 0.0), n_float), _int_type(ty))
    half = b.ashr(n, _const(n.type, 1))
    scaled = b.fmul(b.fmul(poly, _pow2(b, half, ty)), _pow2(b, b.sub(n, half), ty))
    return b.select(b.fcmp_unordered("uno", x, x), x, scaled)


def _emit_logistic(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """1 / (1 + e^z), z = -x, in about half exp's instructions: the gates of a recurrent network run it
    on every element of every step, inside the matmul's epilogue, where each instruction takes an FMA's slot.
    - z is clamped to [-87, 88]: beyond, the result is already 1, or 6e-39 instead of a smaller subnormal.
    - e^z = 2^n e^r is then a normal float: n = rint(z log2 e) comes from the rounding shift, both as a float
      and, in the low mantissa bits, as the integer that makes 2^n's exponent field (no rint, no conversion).
    - The division is `arcp ninf` (its operands are finite), so LLVM may use the reciprocal estimate with a
      Newton step (vrcp14ps and two FMAs) instead of vdivps.
    NaN stays NaN (the clamp's compares are ordered)."""
    ty, ity = x.type, _int_type(x.type)
    z = _clamp(b, b.fneg(x), *LOGISTIC_CLAMP)
    shifted = fma(b, z, _const(ty, LOG2E), _const(ty, ROUNDING_SHIFT))
    n = b.fsub(shifted, _const(ty, ROUNDING_SHIFT))
    r = fma(b, n, _const(ty, -LN2_LO), fma(b, n, _const(ty, -LN2_HI), z))
    e_r = fma(b, _polynomial(b, r, LOGISTIC_POLY), b.fmul(r, r), b.fadd(r, _const(ty, 1.0)))
    two_n = _pow2(b, b.sub(b.bitcast(shifted, ity), b.bitcast(_const(ty, ROUNDING_SHIFT), ity)), ty)
    denominator = fma(b, e_r, two_n, _const(ty, 1.0))
    quotient = b.fdiv(_const(ty, 1.0), denominator)
    quotient.flags.extend(("arcp", "ninf"))
    return quotient


def _emit_log(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """log x = e*ln2 + log(1+f), x = m*2^e with m in [sqrt(1/2), sqrt(2)), f = m - 1."""
    ty, ity = x.type, _int_type(x.type)
    subnormal = b.fcmp_ordered("<", x, _const(ty, SMALLEST_NORMAL))
    normalized = b.select(subnormal, b.fmul(x, _const(ty, 2.0 ** 23)), x)   # exact for x > 0
    bits = b.bitcast(normalized, ity)
    exponent = b.sub(b.lshr(bits, _const(ity, 23)), _const(ity, 126))
    exponent = b.select(subnormal, b.sub(exponent, _const(ity, 23)), exponent)
    mantissa = b.bitcast(b.or_(b.and_(bits, _const(ity, 0x007FFFFF)), _const(ity, 0x3F000000)), ty)  # [0.5, 1)
    small = b.fcmp_ordered("<", mantissa, _const(ty, SQRT_HALF))
    exponent = b.select(small, b.sub(exponent, _const(ity, 1)), exponent)
    f = b.fsub(b.select(small, b.fadd(mantissa, mantissa), mantissa), _const(ty, 1.0))
    e = b.sitofp(exponent, ty)
    z = b.fmul(f, f)
    y = b.fmul(b.fmul(_polynomial(b, f, LOG_POLY), f), z)
    y = fma(b, e, _const(ty, LN2_LO), y)
    y = fma(b, z, _const(ty, -0.5), y)
    result = fma(b, e, _const(ty, LN2_HI), b.fadd(f, y))
    return _log_special_cases(b, x, result)


def _log_special_cases(b: ir.IRBuilder, x: ir.Value, result: ir.Value) -> ir.Value:
    ty = x.type
    result = b.select(b.fcmp_ordered("==", x, _const(ty, float("inf"))), x, result)
    result = b.select(b.fcmp_ordered("==", x, _const(ty, 0.0)), _const(ty, float("-inf")), result)
    invalid = b.fcmp_unordered("<", x, _const(ty, 0.0))   # negative or NaN
    return b.select(invalid, _const(ty, float("nan")), result)
