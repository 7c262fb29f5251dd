"""Batch statistics for batch norm: `batch_stats(x)` = [mean, biased variance] per channel.

x is [N, C, ...]; the statistics are over every axis but the channel axis 1. One op (and one
native kernel reading x once from memory) instead of a mean, a subtraction and a second mean; the
normalisation itself stays elementwise, so it fuses with the activation after it. The VJP is
written with ops: d mean / dx = 1 / M and d var / dx = 2 (x - mean) / M, M = N · H · W.
"""
from __future__ import annotations

import numpy as np

from ..types import TensorType
from .core import OPAQUE, Op, OpError, register
from .elementwise import add, mul, sub
from .indexing import strided_slice
from .shape import reshape

__all__ = ["batch_stats", "channel_row"]


def _axes(ndim: int) -> tuple[int, ...]:
    return (0,) + tuple(range(2, ndim))


def _infer_batch_stats(x):
    if x.ndim < 2 or not x.dtype.is_float:
        raise OpError(f"x must be a float tensor [N, C, ...], got {x}")
    return TensorType((2, x.shape[1]), x.dtype)


def _batch_stats_ref(x):
    mean = x.mean(axis=_axes(x.ndim), keepdims=True)
    variance = np.square(x - mean).mean(axis=_axes(x.ndim))
    return np.stack([mean.reshape(-1), variance])


def channel_row(stats, row: int, ndim: int):
    """Row `row` of a [2, C] statistics tensor, shaped [1, C, 1, ...] to broadcast against [N, C, ...]."""
    channels = stats.shape[1]
    return reshape(strided_slice(stats, begin=(row,), end=(row + 1,)), shape=(1, channels) + (1,) * (ndim - 2))


def _batch_stats_vjp(ct, x, out):
    count = x.size // x.shape[1]
    mean, ct_mean, ct_var = (channel_row(t, row, x.ndim) for t, row in ((out, 0), (ct, 0), (ct, 1)))
    return (add(mul(ct_mean, 1.0 / count), mul(sub(x, mean), mul(ct_var, 2.0 / count))),)


batch_stats = register(Op(
    "batch_stats", ("x",), _infer_batch_stats, _batch_stats_ref, OPAQUE, vjp=_batch_stats_vjp,
    lower=lambda k, x, out: k.batch_stats(x, out), flops=lambda out, x: 4 * x.size,
    samples=lambda rng: [([rng.standard_normal((3, 4, 5, 6)) * 2 + 1], {}), ([rng.standard_normal((5, 3))], {}),
                         ([rng.standard_normal((2, 17, 3, 7))], {})],
    doc="[2, C]: the mean and the biased variance of x [N, C, ...] over every axis but 1 (batch norm's batch "
        "statistics)"))
