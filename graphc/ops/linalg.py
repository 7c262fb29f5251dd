"""Matrix multiplication. Its gradients are matmuls with other transpose flags."""
from __future__ import annotations

from ..types import TensorType
from .core import OUT_FUSABLE, Op, OpError, register


def _infer_matmul(a, b, transpose_a, transpose_b):
    if a.ndim != 2 or b.ndim != 2:
        raise OpError(f"matmul takes 2-D operands, got {list(a.shape)} and {list(b.shape)}; reshape first")
    if a.dtype != b.dtype or not a.dtype.is_float:
        raise OpError(f"matmul needs two float operands of one dtype, got {a.dtype.name} and {b.dtype.name}")
    m, k = a.shape[::-1] if transpose_a else a.shape
    k2, n = b.shape[::-1] if transpose_b else b.shape
    if k != k2:
        raise OpError(f"inner dimensions differ: {list(a.shape)}{'ᵀ' if transpose_a else ''} @ "
                      f"{list(b.shape)}{'ᵀ' if transpose_b else ''} contracts {k} with {k2}; transpose or reshape "
                      "an operand (or set transpose_a/transpose_b) so that they agree")
    return TensorType((m, n), a.dtype)


def _matmul_ref(a, b, transpose_a, transpose_b):
    return (a.T if transpose_a else a) @ (b.T if transpose_b else b)


def _matmul_vjp(ct, a, b, out, transpose_a, transpose_b):
    # out = A·B with A = aᵀ if transpose_a, B = bᵀ if transpose_b; dA = ct·Bᵀ, dB = Aᵀ·ct.
    da = matmul(b, ct, transpose_a=transpose_b, transpose_b=True) if transpose_a else \
        matmul(ct, b, transpose_a=False, transpose_b=not transpose_b)
    db = matmul(ct, a, transpose_a=True, transpose_b=transpose_a) if transpose_b else \
        matmul(a, ct, transpose_a=not transpose_a, transpose_b=False)
    return da, db


def _matmul_flops(out, a, b, transpose_a, transpose_b) -> int:
    contracted = a.shape[0] if transpose_a else a.shape[1]
    return 2 * out.size * contracted


def _matmul_samples(rng):
    shapes = {False: ((3, 4), (4, 5)), True: ((4, 3), (5, 4))}
    return [([rng.standard_normal(shapes[ta][0]), rng.standard_normal(shapes[tb][1])],
             {"transpose_a": ta, "transpose_b": tb}) for ta in (False, True) for tb in (False, True)]


matmul = register(Op("matmul", ("a", "b"), _infer_matmul, _matmul_ref, OUT_FUSABLE,
                     attrs={"transpose_a": False, "transpose_b": False},
                     canon=lambda a: {k: bool(v) for k, v in a.items()},
                     vjp=_matmul_vjp, flops=_matmul_flops, samples=_matmul_samples,
                     lower=lambda k, a, b, out, **flags: k.matmul(a, b, out, **flags), half_kernel=lambda *types, **flags: True,
                     doc="2-D matrix product with optional transposed operands, as MindSpore's MatMul"))
