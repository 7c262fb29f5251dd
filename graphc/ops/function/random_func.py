"""MindSpore 2.x's random tensors (`ops.randn`, `ops.rand`, `ops.standard_normal`, `ops.normal`,
`ops.uniform`), drawn from graphc.set_seed's generator (or a generator of `seed`). The distributions
are MindSpore's; the values are not (another generator). Eager only: drawn while a function is
being traced, the values would become a constant repeated at every call, where MindSpore draws anew;
real code calls these when it initialises weights, outside the compiled step."""
from __future__ import annotations

import numpy as np

from ...context import rng
from ...types import float32, int64
from ..random import dropout as dropout_op
from . import arguments as check
from .array_func import constant

__all__ = ["dropout", "multinomial", "normal", "rand", "randn", "standard_normal", "uniform"]


def _generator(function: str, seed) -> np.random.Generator:
    check.eager_only(function, "a random draw there would be made once and repeated at every call")
    return rng() if seed is None else np.random.default_rng(check.integer(function, "seed", seed, minimum=0))


def _size(function: str, size: tuple) -> tuple[int, ...]:
    """randn(2, 3), randn((2, 3)) and randn([2, 3]) all mean the shape (2, 3)."""
    return check.shape(function, "size", size[0] if len(size) == 1 and not check.is_int(size[0]) else size,
                       sizes=True)


def randn(*size, dtype=None, seed=None):
    shape = _size("randn", size)
    return constant(_generator("randn", seed).standard_normal(shape),
                    float32 if dtype is None else check.dtype("randn", "dtype", dtype))


def rand(*size, dtype=None, seed=None):
    """Uniform on [0, 1)."""
    shape = _size("rand", size)
    return constant(_generator("rand", seed).random(shape),
                    float32 if dtype is None else check.dtype("rand", "dtype", dtype))


def standard_normal(shape, seed=None):
    sizes = check.shape("standard_normal", "shape", shape, sizes=True)
    return constant(_generator("standard_normal", seed).standard_normal(sizes), float32)


def _broadcast_value(function: str, parameter: str, value) -> np.ndarray:
    return value.asnumpy() if getattr(value, "type", None) is not None else np.asarray(
        check.number(function, parameter, value), np.float32)


def normal(shape, mean, stddev, seed=None):
    """Normal draws of shape broadcast with mean and stddev (numbers or tensors)."""
    sizes = check.shape("normal", "shape", shape, sizes=True)
    centre, spread = _broadcast_value("normal", "mean", mean), _broadcast_value("normal", "stddev", stddev)
    full = np.broadcast_shapes(sizes, centre.shape, spread.shape)
    return constant(centre + spread * _generator("normal", seed).standard_normal(full), float32)


def uniform(shape, minval, maxval, seed=None, dtype=float32):
    """Uniform draws on [minval, maxval) of shape broadcast with the bounds; an int dtype draws ints."""
    sizes = check.shape("uniform", "shape", shape, sizes=True)
    low, high = _broadcast_value("uniform", "minval", minval), _broadcast_value("uniform", "maxval", maxval)
    result_dtype = check.dtype("uniform", "dtype", dtype)
    full = np.broadcast_shapes(sizes, low.shape, high.shape)
    generator = _generator("uniform", seed)
    draws = generator.integers(low, high, full) if not result_dtype.is_float else generator.uniform(low, high, full)
    return constant(draws, result_dtype)


def multinomial(input, num_samples, replacement=True, seed=None):
    """num_samples int64 class indices per row of the nonnegative weights input ([C] or [N, C])."""
    weights = check.tensor("multinomial", "input", input)
    count = check.integer("multinomial", "num_samples", num_samples, minimum=1)
    generator = _generator("multinomial", seed)
    rows = np.atleast_2d(weights.asnumpy()).astype(np.float64)
    if weights.ndim not in (1, 2) or (rows < 0).any() or not (rows.sum(axis=1) > 0).all():
        raise check.bad("multinomial", "input", input,
                        "nonnegative weights [C] or [N, C], each row with a positive sum")
    if not check.boolean("multinomial", "replacement", replacement) and count > rows.shape[1]:
        raise check.bad("multinomial", "num_samples", num_samples, f"at most {rows.shape[1]} without replacement")
    draws = np.stack([generator.choice(rows.shape[1], count, replace=replacement, p=row / row.sum()) for row in rows])
    return constant(draws if weights.ndim == 2 else draws[0], int64)


def dropout(input, p=0.5, training=True, seed=None):
    """MindSpore 2.x's functional dropout: when training, each element zeroed with probability p and
    the rest scaled by 1 / (1 - p), by the dropout op's mask for a (counter, seed) pair drawn from
    graphc.set_seed's generator (or from seed). Eager only, like the draws above; a compiled step
    uses nn.Dropout or ops.Dropout, which own a step counter."""
    x = check.tensor("dropout", "input", input)
    rate = check.number("dropout", "p", p)
    if not 0 <= rate < 1:
        raise check.bad("dropout", "p", p, "a probability in [0, 1)")
    if not training or rate == 0:
        return x
    counter, draw_seed = (int(v) for v in _generator("dropout", seed).integers(0, 1 << 62, size=2))
    return dropout_op(x, constant(counter, int64), keep_prob=1.0 - rate, seed=draw_seed)
