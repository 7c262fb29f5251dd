"""Elementwise ops with NumPy broadcasting. Each op's lowering is a scalar expression over the
codegen emitter's primitive vocabulary (add, mul, exp, select, ...), so any chain of them
composes into one loop body."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, bool_
from .core import ELEMENTWISE, Op, OpError, no_flops, register
from .reduction import unbroadcast


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise OpError("shapes " + " and ".join(str(list(s)) for s in shapes)
                      + " do not broadcast; make trailing dimensions equal or 1 (reshape or broadcast_to)") from None


def _same_dtype(*types: TensorType):
    dtypes = {t.dtype for t in types}
    if len(dtypes) > 1:
        names = " vs ".join(t.dtype.name for t in types)
        raise OpError(f"operand dtypes differ ({names}); convert one with ops.cast")
    return types[0].dtype


def _float_only(name, *types):
    for t in types:
        if not t.dtype.is_float:
            raise OpError(f"{name} needs float operands, got {t.dtype.name}; convert with ops.cast")


def _infer(name, result_dtype=None, float_only=False, numbers_only=False):
    def infer(*types):
        dtype = _same_dtype(*types)
        if float_only:
            _float_only(name, *types)
        if numbers_only and dtype == bool_:
            raise OpError(f"{name} needs int or float operands, got bool; convert with ops.cast")
        return TensorType(broadcast_shapes(*(t.shape for t in types)), result_dtype or dtype)
    return infer


# -- sample inputs for the conformance suite ------------------------------------------------
def _away_from_zero(x):
    """Shift values 0.1 away from 0, where relu, abs and sign have kinks (finite differences break)."""
    return x + 0.1 * np.sign(x)


def _unary_samples(low=None):
    def draw(rng, shape):
        return _away_from_zero(rng.standard_normal(shape)) if low is None else rng.uniform(low, 3.0, shape)

    def samples(rng):
        return [([draw(rng, (3, 4))], {}), ([draw(rng, (2, 1, 5))], {}), ([draw(rng, ())], {})]
    return samples


def _binary_samples(positive_rhs=False):
    def samples(rng):
        rhs = (lambda s: rng.uniform(0.5, 2.0, s)) if positive_rhs else rng.standard_normal
        return [([rng.standard_normal((3, 4)), rhs((3, 4))], {}),
                ([rng.standard_normal((2, 1, 5)), rhs((4, 1))], {}),
                ([rng.standard_normal((3,)), rhs(())], {})]
    return samples


def one_flop_per_element(out_type, *operand_types, **attrs) -> int:
    """An elementwise op costs one flop per output element (a transcendental counts as one)."""
    return out_type.size


def elementwise(name, arity, ref, lower, vjp=None, *, result_dtype=None, float_only=False, numbers_only=False,
                commutative=False, samples=None, doc=""):
    operands = ("x",) if arity == 1 else ("x", "y")
    default_samples = _unary_samples() if arity == 1 else _binary_samples()
    return register(Op(name, operands, _infer(name, result_dtype, float_only, numbers_only), ref, ELEMENTWISE,
                       vjp=vjp, lower=lower, flops=one_flop_per_element, commutative=commutative,
                       promote=tuple(range(arity)), promote_float=float_only,
                       samples=samples or default_samples, doc=doc))


# -- arithmetic -----------------------------------------------------------------------------
add = elementwise("add", 2, np.add, lambda e, x, y: e.add(x, y),
                  lambda ct, x, y, out: (unbroadcast(ct, x), unbroadcast(ct, y)), commutative=True,
                  doc="x + y")
sub = elementwise("sub", 2, np.subtract, lambda e, x, y: e.sub(x, y),
                  lambda ct, x, y, out: (unbroadcast(ct, x), unbroadcast(neg(ct), y)), doc="x - y")
mul = elementwise("mul", 2, np.multiply, lambda e, x, y: e.mul(x, y),
                  lambda ct, x, y, out: (unbroadcast(mul(ct, y), x), unbroadcast(mul(ct, x), y)),
                  commutative=True, doc="x * y")
div = elementwise("div", 2, np.divide, lambda e, x, y: e.div(x, y),
                  lambda ct, x, y, out: (unbroadcast(div(ct, y), x),
                                         unbroadcast(neg(div(mul(ct, out), y)), y)),
                  float_only=True, samples=_binary_samples(positive_rhs=True), doc="x / y (true division)")
neg = elementwise("neg", 1, np.negative, lambda e, x: e.neg(x), lambda ct, x, out: (neg(ct),), doc="-x")
maximum = elementwise("maximum", 2, np.maximum, lambda e, x, y: e.max(x, y),
                      lambda ct, x, y, out: (unbroadcast(select(ge(x, y), ct, 0.0), x),
                                             unbroadcast(select(ge(x, y), 0.0, ct), y)),
                      doc="the larger of x and y; ties send the gradient to x. Not commutative: on a tie of "
                          "-0.0 and +0.0 the result is y")
minimum = elementwise("minimum", 2, np.minimum, lambda e, x, y: e.min(x, y),
                      lambda ct, x, y, out: (unbroadcast(select(le(x, y), ct, 0.0), x),
                                             unbroadcast(select(le(x, y), 0.0, ct), y)),
                      doc="the smaller of x and y; ties send the gradient to x. Not commutative: on a tie of "
                          "-0.0 and +0.0 the result is y")
pow = elementwise("pow", 2, np.power, lambda e, x, y: e.pow(x, y),
                  lambda ct, x, y, out: (unbroadcast(mul(ct, mul(y, pow(x, sub(y, 1.0)))), x),
                                         unbroadcast(mul(ct, mul(out, log(x))), y)),
                  float_only=True, samples=lambda rng: [([rng.uniform(0.5, 2, (3, 4)), rng.standard_normal((3, 4))], {}),
                                                        ([rng.uniform(0.5, 2, (2, 3)), rng.standard_normal(())], {})],
                  doc="x ** y; x must be positive where the gradient with respect to y is used")



# -- floor division: MindSpore's FloorDiv and FloorMod (measured on 2.10), for `//` and `%` ------------
def _floor_div_ref(x, y):
    if x.dtype.kind == "f":      # divided in double precision, as MindSpore: 1 // 0.1 is 9 in float32
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.floor(x.astype(np.float64) / y.astype(np.float64)).astype(x.dtype)
    limits = np.iinfo(x.dtype)
    with np.errstate(divide="ignore", over="ignore"):
        quotient = np.floor_divide(x, y)
    return np.where(y == 0, np.where(x > 0, limits.max, np.where(x < 0, limits.min, 0)), quotient).astype(x.dtype)


def _floor_mod_ref(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        remainder = np.mod(x, y)
    return remainder if x.dtype.kind == "f" else np.where(y == 0, np.iinfo(x.dtype).min, remainder).astype(x.dtype)


def _floor_division_samples(rng):
    """x = y·(k + f) with f in [0.1, 0.9]: away from the jumps of x // y, where x % y is smooth."""
    y = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    x = y * (rng.integers(-3, 4, (3, 4)) + rng.uniform(0.1, 0.9, (3, 4)))
    return [([x, y], {}), ([x[0], y[0, 0]], {}),
            ([np.array([7, -7, 0, 5, -5, 6], np.int32), np.array([2, 2, 0, -3, 0, -1], np.int32)], {})]


floor_div = elementwise("floor_div", 2, _floor_div_ref, lambda e, x, y: e.floor_div(x, y),
                        lambda ct, x, y, out: (None, None), numbers_only=True, samples=_floor_division_samples,
                        doc="x // y rounded toward -inf (MindSpore's FloorDiv): floats divide in double precision "
                            "then floor; an int x // 0 is the largest int for x > 0, the smallest for x < 0 and 0 "
                            "for 0, as MindSpore 2.10 gives. Piecewise constant: no gradient")
floor_mod = elementwise("floor_mod", 2, _floor_mod_ref, lambda e, x, y: e.floor_mod(x, y),
                        lambda ct, x, y, out: (unbroadcast(ct, x), unbroadcast(neg(mul(ct, floor_div(x, y))), y)),
                        numbers_only=True, samples=_floor_division_samples,
                        doc="x % y with the sign of y (NumPy's mod, MindSpore's FloorMod): x - (x // y)·y computed "
                            "exactly; an int x % 0 is the smallest int, as MindSpore 2.10 gives")

# -- transcendental and friends ---------------------------------------------------------------
exp = elementwise("exp", 1, np.exp, lambda e, x: e.exp(x), lambda ct, x, out: (mul(ct, out),), float_only=True,
                  doc="e ** x")
log = elementwise("log", 1, np.log, lambda e, x: e.log(x), lambda ct, x, out: (div(ct, x),),
                  float_only=True, samples=_unary_samples(low=0.2), doc="natural logarithm")
sqrt = elementwise("sqrt", 1, np.sqrt, lambda e, x: e.sqrt(x), lambda ct, x, out: (div(mul(ct, 0.5), out),),
                   float_only=True, samples=_unary_samples(low=0.2), doc="square root")
rsqrt = elementwise("rsqrt", 1, lambda x: 1.0 / np.sqrt(x), lambda e, x: e.div(e.const(1.0), e.sqrt(x)),
                    lambda ct, x, out: (mul(ct, mul(mul(out, mul(out, out)), -0.5)),),
                    float_only=True, samples=_unary_samples(low=0.2), doc="1 / sqrt(x)")
abs = elementwise("abs", 1, np.abs, lambda e, x: e.abs(x), lambda ct, x, out: (mul(ct, sign(x)),),
                  doc="|x|; the gradient at 0 is 0, as sign(0) = 0")
sign = elementwise("sign", 1, np.sign,
                   lambda e, x: e.select(e.ne(x, x), x,       # NaN stays NaN
                                         e.sub(e.select(e.gt(x, e.const(0.0)), e.const(1.0), e.const(0.0)),
                                               e.select(e.lt(x, e.const(0.0)), e.const(1.0), e.const(0.0)))),
                   lambda ct, x, out: (None,), doc="-1, 0 or 1 (NaN for NaN); not differentiable: gradient zero")
relu = elementwise("relu", 1, lambda x: np.maximum(x, 0), lambda e, x: e.max(x, e.const(0.0)),
                   lambda ct, x, out: (relu_grad(ct, out),), doc="max(x, 0); the gradient at 0 is 0")
relu_grad = elementwise("relu_grad", 2, lambda ct, out: np.where(out > 0, ct, 0),
                        lambda e, ct, out: e.select(e.gt(out, e.const(0.0)), ct, e.const(0.0)),
                        lambda ct, g, o, out: (unbroadcast(relu_grad(ct, o), g), None),
                        doc="the ReLU mask: ct where the ReLU output is positive, else 0")
sigmoid = elementwise("sigmoid", 1, lambda x: 1.0 / (1.0 + np.exp(-x)),
                      lambda e, x: e.sigmoid(x),
                      lambda ct, x, out: (mul(ct, mul(out, sub(1.0, out))),), float_only=True,
                      doc="1 / (1 + exp(-x))")
tanh = elementwise("tanh", 1, np.tanh,
                   lambda e, x: e.sub(e.mul(e.const(2.0), e.sigmoid(e.mul(e.const(2.0), x))), e.const(1.0)),
                   lambda ct, x, out: (mul(ct, sub(1.0, mul(out, out))),), float_only=True,
                   doc="hyperbolic tangent")

sin = elementwise("sin", 1, np.sin, lambda e, x: e.sin(x), lambda ct, x, out: (mul(ct, cos(x)),), float_only=True,
                  doc="sine (radians)")
cos = elementwise("cos", 1, np.cos, lambda e, x: e.cos(x), lambda ct, x, out: (neg(mul(ct, sin(x))),),
                  float_only=True, doc="cosine (radians)")
floor = elementwise("floor", 1, np.floor, lambda e, x: e.floor(x), lambda ct, x, out: (None,), float_only=True,
                    samples=lambda rng: [([rng.uniform(-5, 5, (3, 4))], {}), ([np.array([-1.5, -0.5, 0.25, 2.5])], {})],
                    doc="the largest integer <= x, as a float; piecewise constant: gradient zero")

stop_gradient = elementwise("stop_gradient", 1, np.copy, lambda e, x: x, lambda ct, x, out: (None,),
                            doc="x, hidden from autodiff: no gradient flows back through it (MindSpore's "
                                "ops.stop_gradient)")


# -- comparisons and selection ----------------------------------------------------------------
def _comparison(name, ref):
    return elementwise(name, 2, ref, lambda e, x, y: getattr(e, name)(x, y), lambda ct, x, y, out: (None, None),
                       result_dtype=bool_, doc=f"elementwise comparison ({name}) giving bool; not differentiable")


equal, not_equal = _comparison("eq", np.equal), _comparison("ne", np.not_equal)
less, less_equal = _comparison("lt", np.less), _comparison("le", np.less_equal)
greater, greater_equal = _comparison("gt", np.greater), _comparison("ge", np.greater_equal)
eq, ne, lt, le, gt, ge = equal, not_equal, less, less_equal, greater, greater_equal


def _infer_select(cond, x, y):
    if cond.dtype != bool_:
        raise OpError(f"the condition must be bool, got {cond.dtype.name}; compare first (e.g. x > 0)")
    return TensorType(broadcast_shapes(cond.shape, x.shape, y.shape), _same_dtype(x, y))


def _select_samples(rng):
    return [([rng.standard_normal((3, 4)) > 0, rng.standard_normal((3, 4)), rng.standard_normal((3, 4))], {}),
            ([rng.standard_normal((4,)) > 0, rng.standard_normal((3, 4)), rng.standard_normal(())], {})]


select = register(Op("select", ("cond", "x", "y"), _infer_select, np.where, ELEMENTWISE, promote=(1, 2),
                     vjp=lambda ct, c, x, y, out: (None, unbroadcast(select(c, ct, 0.0), x),
                                                   unbroadcast(select(c, 0.0, ct), y)),
                     lower=lambda e, c, x, y: e.select(c, x, y), flops=no_flops, samples=_select_samples,
                     doc="where(cond, x, y): x where cond is true, else y; moves data, no arithmetic"))
where = select
