"""Randomness as a pure function (DESIGN.md §5a): dropout from the Philox-4x32-10 generator.

Element i of a dropout at step `counter` with key `seed` draws the first word of
philox4x32_10(counter=(i_lo, i_hi, counter_lo, counter_hi), key=(seed_lo, seed_hi)) and is kept
when its top 24 bits are below round(keep_prob · 2²⁴). Nothing else goes in, so the mask is the
same in PYNATIVE mode, the interpreter and native code, on any number of threads, and a kernel
computes it per element where it is used (the op is `positional`: its lowering reads the element
index) instead of reading a stored mask. Its VJP is the same dropout of the cotangent.
"""
from __future__ import annotations

import numpy as np

from ..types import TensorType, int64
from .core import ELEMENTWISE, Op, OpError, register

__all__ = ["dropout", "keep_threshold", "philox4x32_10", "random24"]

PHILOX_M = (0xD2511F53, 0xCD9E8D57)     # round multipliers
PHILOX_W = (0x9E3779B9, 0xBB67AE85)     # key schedule (golden ratio, sqrt(3) - 1)
PHILOX_ROUNDS = 10
KEEP_BITS = 24                          # a draw compares its top 24 bits against the threshold


def philox4x32_10(counter, key) -> tuple[np.ndarray, ...]:
    """The four output words for counter words (c0, c1, c2, c3) (uint32 arrays, broadcast together)
    and key words (k0, k1) (ints); Salmon et al., SC'11 (Random123's philox4x32 with 10 rounds)."""
    c = [np.asarray(w, np.uint32) for w in counter]
    k = [int(w) & 0xFFFFFFFF for w in key]
    for round_ in range(PHILOX_ROUNDS):
        if round_:
            k = [(k[0] + PHILOX_W[0]) & 0xFFFFFFFF, (k[1] + PHILOX_W[1]) & 0xFFFFFFFF]
        p0 = np.uint64(PHILOX_M[0]) * c[0].astype(np.uint64)
        p1 = np.uint64(PHILOX_M[1]) * c[2].astype(np.uint64)
        hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), p0.astype(np.uint32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), p1.astype(np.uint32)
        c = [hi1 ^ c[1] ^ np.uint32(k[0]), lo1, hi0 ^ c[3] ^ np.uint32(k[1]), lo0]
    return tuple(c)


def keep_threshold(keep_prob: float) -> int:
    """Elements whose 24-bit draw is below this are kept (2²⁴ for keep_prob = 1: all of them)."""
    return int(round(keep_prob * (1 << KEEP_BITS)))


def _words(value: int) -> list[int]:
    """The low and high 32-bit words of a 64-bit value."""
    return [int(value) & 0xFFFFFFFF, (int(value) >> 32) & 0xFFFFFFFF]


def _keep_mask(shape, counter, seed: int, keep_prob: float) -> np.ndarray:
    index = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64).reshape(shape)
    return random24(index, counter, seed) < keep_threshold(keep_prob)


def random24(index: np.ndarray, counter, seed: int) -> np.ndarray:
    """The 24-bit draws (as int64) of elements `index` at step `counter` under key `seed`."""
    step = int(np.asarray(counter).astype(np.int64)) & 0xFFFFFFFFFFFFFFFF
    index = np.asarray(index, np.uint64)
    words = (index.astype(np.uint32), (index >> np.uint64(32)).astype(np.uint32), *map(np.uint32, _words(step)))
    return (philox4x32_10(words, _words(seed))[0] >> np.uint32(32 - KEEP_BITS)).astype(np.int64)


def _dropout_ref(x, counter, keep_prob, seed):
    kept = _keep_mask(x.shape, counter, seed, keep_prob)
    return np.where(kept, x * np.asarray(1.0 / keep_prob, x.dtype), np.zeros((), x.dtype))


def _infer_dropout(x, counter, keep_prob, seed):
    if not x.dtype.is_float:
        raise OpError(f"x must be a float tensor, got {x}; cast it first")
    if counter.shape != () or counter.dtype != int64:
        raise OpError(f"counter must be an int64 scalar (the step counter Parameter), got {counter}")
    return x


def _canon_dropout(attrs):
    keep_prob, seed = float(attrs["keep_prob"]), int(attrs["seed"])
    if not 0.0 < keep_prob <= 1.0:
        raise OpError(f"keep_prob must be in (0, 1], got {keep_prob}")
    if not 0 <= seed < 1 << 64:
        raise OpError(f"seed must be an int in [0, 2**64), got {seed}")
    return {"keep_prob": keep_prob, "seed": seed}


def _lower_dropout(e, x, counter, keep_prob, seed):
    kept = e.lt(e.random24(counter, seed), e.const(keep_threshold(keep_prob)))
    return e.select(kept, e.mul(x, e.const(1.0 / keep_prob)), e.const(0.0))


def _dropout_samples(rng):
    counter = np.array(7, np.int64)
    return [([rng.standard_normal((4, 37)), counter], {"keep_prob": 0.5, "seed": 1234}),
            ([rng.standard_normal((2, 3, 5, 5)), np.array(2 ** 33 + 5, np.int64)],
             {"keep_prob": 0.8, "seed": 2 ** 40 + 3}),
            ([rng.standard_normal((6,)), counter], {"keep_prob": 1.0, "seed": 0})]


dropout = register(Op(
    "dropout", ("x", "counter"), _infer_dropout, _dropout_ref, ELEMENTWISE,
    attrs={"keep_prob": 0.5, "seed": 0}, canon=_canon_dropout,
    vjp=lambda ct, x, counter, out, keep_prob, seed: (dropout(ct, counter, keep_prob=keep_prob, seed=seed), None),
    lower=_lower_dropout, positional=True, flops=lambda out, x, counter, **attrs: x.size,
    samples=_dropout_samples,
    doc="x / keep_prob where the Philox draw of (seed, counter, element index) keeps the element, else 0; the "
        "same mask for the same (seed, counter) in every mode and thread count"))
