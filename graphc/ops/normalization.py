"""Batch norm's ops, on [N, C, ...] tensors with per-channel statistics over every axis but 1.

* `batch_stats(x)` = [mean; biased variance] ([2, C]): one op and one native kernel reading x once
  from memory, instead of a mean, a subtraction and a second mean. Its VJP, written with ops:
  d mean / dx = 1 / M and d var / dx = 2 (x - mean) / M, M = N · H · W.
* `channel_affine(x, scale, shift)` = x · scale + shift with [1, C, 1, ...] scale and shift: the
  normalisation, elementwise (it fuses with the activation or residual add after it). Its VJP
  takes the gradients of scale and shift from one `channel_sums(ct, x)` = [Σ ct; Σ ct · x], a single
  pass over ct and x, where mul and add's own VJPs would reduce ct twice.
"""
from __future__ import annotations

import numpy as np

from ..types import TensorType
from .core import ELEMENTWISE, OPAQUE, Op, OpError, register
from .elementwise import add, broadcast_shapes, mul, sub
from .indexing import strided_slice
from .shaping import reshape

__all__ = ["batch_stats", "channel_affine", "channel_row", "channel_sums"]


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
                         ([rng.standard_normal((2, 17, 3, 7))], {}), ([rng.standard_normal((2, 3, 9, 11))], {})],
    doc="[2, C]: the mean and the biased variance of x [N, C, ...] over every axis but 1 (batch norm's batch "
        "statistics)"))


# -- the normalisation and its gradient's sums -------------------------------------------------------------
def _per_channel_shape(x: TensorType) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _infer_channel_affine(x, scale, shift):
    if x.ndim < 2 or not x.dtype.is_float:
        raise OpError(f"x must be a float tensor [N, C, ...], got {x}")
    want = _per_channel_shape(x)
    if scale.shape != want or shift.shape != want or {scale.dtype, shift.dtype} != {x.dtype}:
        raise OpError(f"scale and shift must be {x.dtype.name}{list(want)} (one value per channel of x), got "
                      f"{scale} and {shift}; reshape them to [1, C, 1, ...]")
    return TensorType(broadcast_shapes(x.shape, want), x.dtype)


def _channel_affine_vjp(ct, x, scale, shift, out):
    sums = channel_sums(ct, x)
    return mul(ct, scale), channel_row(sums, 1, x.ndim), channel_row(sums, 0, x.ndim)


def _channel_affine_samples(rng):
    result = []
    for shape in ((3, 4, 5, 6), (5, 3), (2, 17, 3, 7)):
        per_channel = (1, shape[1]) + (1,) * (len(shape) - 2)
        result.append(([rng.standard_normal(shape), rng.standard_normal(per_channel),
                        rng.standard_normal(per_channel)], {}))
    return result


channel_affine = register(Op(
    "channel_affine", ("x", "scale", "shift"), _infer_channel_affine, lambda x, scale, shift: x * scale + shift,
    ELEMENTWISE, vjp=_channel_affine_vjp, lower=lambda e, x, scale, shift: e.add(e.mul(x, scale), shift),
    flops=lambda out, *operands: 2 * out.size, samples=_channel_affine_samples,
    doc="x * scale + shift with scale and shift [1, C, 1, ...] (batch norm's normalisation)"))


def _infer_channel_sums(dy, x):
    if dy != x:
        raise OpError(f"dy and x must have the same type, got {dy} and {x}")
    return _infer_batch_stats(x)


def _channel_sums_ref(dy, x):
    axes = _axes(x.ndim)
    return np.stack([dy.sum(axis=axes), (dy * x).sum(axis=axes)])


def _channel_sums_vjp(ct, dy, x, out):
    ct_sum, ct_dot = channel_row(ct, 0, x.ndim), channel_row(ct, 1, x.ndim)
    return add(ct_sum, mul(ct_dot, x)), mul(ct_dot, dy)


channel_sums = register(Op(
    "channel_sums", ("dy", "x"), _infer_channel_sums, _channel_sums_ref, OPAQUE, vjp=_channel_sums_vjp,
    lower=lambda k, dy, x, out: k.channel_sums(dy, x, out), flops=lambda out, dy, x: 3 * x.size,
    samples=lambda rng: [([rng.standard_normal(s), rng.standard_normal(s)], {})
                         for s in ((3, 4, 5, 6), (5, 3), (2, 3, 9, 11))],
    doc="[2, C]: Σ dy and Σ dy · x over every axis but 1 (the gradients of channel_affine's shift and scale)"))
