"""Activations beyond ReLU (MindSpore's nn.ReLU6, LeakyReLU, GELU, HSwish, HSigmoid, SiLU), erf, and
the stretched sigmoid that computes an LSTM's gates.

Each is one elementwise op, so it fuses into the loop, epilogue or prologue around it. The NumPy
reference defines the meaning; the lowering is a scalar expression over the emitter's vocabulary;
the VJP is written with ops (so it is differentiable again). Gradients at the kinks follow
MindSpore's grad kernels: ReLU6 and HSigmoid pass the gradient strictly inside (0, 6) / (-3, 3).
"""
from __future__ import annotations

import math

import numpy as np

from .core import ELEMENTWISE, Op, OpError, register
from .elementwise import (_binary_samples, _infer, _unary_samples, add, div, elementwise, exp, gt, lt, mul,
                          one_flop_per_element, select, sigmoid, sub, tanh)
from .reduction import unbroadcast

__all__ = ["erf", "gelu", "hsigmoid", "hswish", "leaky_relu", "relu6", "silu", "stretched_sigmoid"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_float_infer = _infer("activation", float_only=True)


def _kinked_samples(*kinks):
    """Values at least 0.1 away from each kink, where finite differences would straddle the corner."""
    def samples(rng):
        def draw(shape):
            x = rng.uniform(-5.0, 8.0, shape)
            for kink in kinks:
                x = np.where(np.abs(x - kink) < 0.1, kink + 0.1 * np.sign(x - kink + 1e-9), x)
            return x
        return [([draw((3, 4))], {}), ([draw((2, 1, 5))], {}), ([draw(())], {})]
    return samples


def _inside(x, low: float, high: float, ct, outside=0.0):
    """ct where low < x < high, else `outside`."""
    return select(gt(x, low), select(lt(x, high), ct, outside), outside)


relu6 = elementwise(
    "relu6", 1, lambda x: np.minimum(np.maximum(x, 0), 6),
    lambda e, x: e.min(e.max(x, e.const(0.0)), e.const(6.0)),
    lambda ct, x, out: (_inside(out, 0.0, 6.0, ct),), float_only=True, samples=_kinked_samples(0.0, 6.0),
    doc="min(max(x, 0), 6); the gradient passes where 0 < x < 6, i.e. where 0 < out < 6 (read from the output, "
        "so the input need not be kept for the backward pass)")

hsigmoid = elementwise(
    "hsigmoid", 1, lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
    lambda e, x: e.div(e.min(e.max(e.add(x, e.const(3.0)), e.const(0.0)), e.const(6.0)), e.const(6.0)),
    lambda ct, x, out: (_inside(x, -3.0, 3.0, mul(ct, 1.0 / 6.0)),), float_only=True,
    samples=_kinked_samples(-3.0, 3.0), doc="relu6(x + 3) / 6; the gradient is 1/6 where -3 < x < 3")

hswish = elementwise(
    "hswish", 1, lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
    lambda e, x: e.div(e.mul(x, e.min(e.max(e.add(x, e.const(3.0)), e.const(0.0)), e.const(6.0))), e.const(6.0)),
    lambda ct, x, out: (select(lt(x, 3.0), _inside(x, -3.0, 3.0, mul(ct, add(mul(x, 1.0 / 3.0), 0.5))), ct),),
    float_only=True, samples=_kinked_samples(-3.0, 3.0),
    doc="x * relu6(x + 3) / 6; the gradient is 0 below -3, (2x + 3) / 6 inside, 1 from 3 on")

silu = elementwise(
    "silu", 1, lambda x: x / (1.0 + np.exp(-x)),
    lambda e, x: e.mul(x, e.sigmoid(x)),
    lambda ct, x, out: (mul(ct, _silu_slope(x)),), float_only=True, doc="x * sigmoid(x) (swish)")


def _silu_slope(x):
    s = sigmoid(x)
    return add(s, mul(mul(x, s), sub(1.0, s)))


def _stretched_sigmoid_vjp(ct, x, s, out):
    lifted = add(out, sub(s, 1.0))                  # s·sigmoid(s·x), from the output
    slope = mul(lifted, sub(1.0, out))              # d out / d x = s²·sigmoid·(1 - sigmoid)
    return (unbroadcast(mul(ct, slope), x),
            unbroadcast(mul(ct, sub(add(div(lifted, s), div(mul(x, slope), s)), 1.0)), s))


stretched_sigmoid = elementwise(
    "stretched_sigmoid", 2, lambda x, s: s / (1.0 + np.exp(-s * x)) - (s - 1),
    lambda e, x, s: e.sub(e.mul(s, e.sigmoid(e.mul(s, x))), e.sub(s, e.const(1.0))),
    _stretched_sigmoid_vjp, float_only=True, samples=_binary_samples(positive_rhs=True),
    doc="s·sigmoid(s·x) - (s - 1): the sigmoid at s = 1, tanh at s = 2, so an LSTM's four gates are one "
        "op (fused into the step's matmul); the gradient with respect to x, (out + s - 1)·(1 - out), reads "
        "the output only, so the backward pass keeps the gates and nothing else")


# -- erf, for the exact GELU --------------------------------------------------------------------------
_ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
                1.48851587, -0.82215223, 0.17087277)


def _erfc_nonnegative(e, z):
    """erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere)."""
    t = e.div(e.const(1.0), e.add(e.const(1.0), e.mul(e.const(0.5), z)))
    poly = e.const(_ERFC_COEFFS[-1])
    for c in reversed(_ERFC_COEFFS[:-1]):
        poly = e.add(e.const(c), e.mul(t, poly))
    return e.mul(t, e.exp(e.sub(poly, e.mul(z, z))))


def _lower_erf(e, x):
    tail = _erfc_nonnegative(e, e.abs(x))                   # erf(|x|) = 1 - tail: exact sign symmetry
    magnitude = e.sub(e.const(1.0), tail)
    return e.select(e.lt(x, e.const(0.0)), e.neg(magnitude), magnitude)


def _normal_cdf(e, x):
    """Φ(x) = erfc(-x / √2) / 2, with the small tail computed directly (no cancellation for x < 0)."""
    half_tail = e.mul(e.const(0.5), _erfc_nonnegative(e, e.mul(e.abs(x), e.const(_INV_SQRT_2))))
    return e.select(e.lt(x, e.const(0.0)), half_tail, e.sub(e.const(1.0), half_tail))


_erf_ref = np.vectorize(math.erf, otypes=[np.float64])

erf = elementwise(
    "erf", 1, lambda x: _erf_ref(x).astype(x.dtype), _lower_erf,
    lambda ct, x, out: (mul(ct, mul(exp(mul(mul(x, x), -1.0)), 2.0 / math.sqrt(math.pi))),),
    float_only=True, doc="the error function (2/√π)∫₀ˣ exp(-t²) dt")


# -- GELU ------------------------------------------------------------------------------------------------
def _gelu_ref(x, approximate):
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3)))
    return (0.5 * x * (1.0 + _erf_ref(x * _INV_SQRT_2))).astype(x.dtype)


def _lower_gelu(e, x, approximate):
    if not approximate:
        return e.mul(x, _normal_cdf(e, x))
    inner = e.mul(e.const(_SQRT_2_OVER_PI), e.add(x, e.mul(e.const(_GELU_CUBIC), e.mul(x, e.mul(x, x)))))
    # (1 + tanh(u)) / 2 = sigmoid(2u): no cancellation for large negative u
    return e.mul(x, e.sigmoid(e.mul(e.const(2.0), inner)))


def _gelu_vjp(ct, x, out, approximate):
    if approximate:
        u = mul(add(x, mul(mul(x, mul(x, x)), _GELU_CUBIC)), _SQRT_2_OVER_PI)
        t = tanh(u)
        du = mul(add(mul(mul(x, x), 3.0 * _GELU_CUBIC), 1.0), _SQRT_2_OVER_PI)
        slope = add(mul(add(t, 1.0), 0.5), mul(mul(mul(x, 0.5), sub(1.0, mul(t, t))), du))
    else:
        cdf = mul(add(erf(mul(x, _INV_SQRT_2)), 1.0), 0.5)
        slope = add(cdf, mul(x, mul(exp(mul(mul(x, x), -0.5)), _INV_SQRT_2PI)))
    return (mul(ct, slope),)


def _approximate_samples(rng):
    return [([rng.standard_normal((3, 4)) * 2], {"approximate": True}),
            ([rng.standard_normal((2, 1, 5)) * 2], {"approximate": False}),
            ([rng.uniform(-9, 9, (4, 6))], {"approximate": False})]


def _canon_approximate(attrs):
    if not isinstance(attrs["approximate"], bool):     # a string such as 'none' would read as True
        raise OpError(f"approximate must be a bool (True: the tanh form), got {attrs['approximate']!r}; "
                      "ops.gelu(x, approximate='none' | 'tanh') is MindSpore's function")
    return attrs


gelu = register(Op(
    "gelu", ("x",), lambda x, approximate: _float_infer(x), _gelu_ref, ELEMENTWISE, attrs={"approximate": True},
    canon=_canon_approximate, vjp=_gelu_vjp, lower=_lower_gelu,
    flops=one_flop_per_element, samples=_approximate_samples,
    doc="x * Φ(x) (approximate=False: Φ from erf) or its tanh approximation "
        "0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (approximate=True, MindSpore's default)"))


# -- LeakyReLU -------------------------------------------------------------------------------------------
def _canon_alpha(attrs):
    return {"alpha": float(attrs["alpha"])}


leaky_relu = register(Op(
    "leaky_relu", ("x",), lambda x, alpha: _float_infer(x),
    lambda x, alpha: np.where(x > 0, x, x * np.asarray(alpha, x.dtype)), ELEMENTWISE, attrs={"alpha": 0.2},
    canon=_canon_alpha,
    vjp=lambda ct, x, out, alpha: (select(gt(x, 0.0), ct, mul(ct, alpha)),),
    lower=lambda e, x, alpha: e.select(e.gt(x, e.const(0.0)), x, e.mul(x, e.const(alpha))),
    flops=one_flop_per_element,
    samples=lambda rng: [([s], {"alpha": a}) for s, a in
                         zip((_unary_samples()(rng)[0][0][0], _unary_samples()(rng)[1][0][0]), (0.2, 1.5))],
    doc="x where x > 0, else alpha * x (MindSpore LeakyReLU: max(alpha·x, x) for alpha <= 1, min for alpha > 1)"))
