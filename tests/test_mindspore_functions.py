"""MindSpore 2.x's functional API (graphc/ops/function/). Each case is the `Examples:` section of the
function's MindSpore 2.10 docstring, written out here as a call on NumPy inputs with the output the
docstring prints (its values and MindSpore's dtype), and run both eagerly (PYNATIVE) and compiled
(graphc.jit: traced and run natively). Then what differs from a docstring on purpose, the random
functions, gradients of the compositions, and bad arguments, which name the function, the parameter
and the value at the user's line."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor, ops
from gradcheck import check_vjp
from mindspore_reference.functions import CASES

F32, F64, I32, I64, BOOL = np.float32, np.float64, np.int32, np.int64, np.bool_
LINE = rf"^\S*{os.path.basename(__file__)}:\d+: "


def a(values, dtype):
    return np.array(values, dtype)


def _arrays(result) -> list[np.ndarray]:
    results = result if isinstance(result, (tuple, list)) else (result,)
    return [r.asnumpy() for r in results]


def both_modes(fn, *arrays) -> dict[str, list[np.ndarray]]:
    """fn's results eagerly (PYNATIVE) and compiled (graphc.jit), as NumPy arrays."""
    tensors = [Tensor(x) for x in arrays]
    return {"PYNATIVE": _arrays(fn(*tensors)), "GRAPH": _arrays(graphc.jit(fn)(*tensors))}


def check(fn, arrays, expected, tolerance=1e-6):
    expected = expected if isinstance(expected, tuple) else (expected,)
    for mode, results in both_modes(fn, *arrays).items():
        assert len(results) == len(expected), f"{mode}: {len(results)} results, expected {len(expected)}"
        for got, want in zip(results, expected):
            assert got.dtype == want.dtype, f"{mode}: dtype {got.dtype}, MindSpore gives {want.dtype}"
            np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance, err_msg=mode)
            assert got.shape == want.shape, f"{mode}: shape {got.shape}, MindSpore gives {want.shape}"


SCORES = a([[9, 3, 4, 5], [5, 2, 7, 4], [8, 1, 3, 6]], I64)            # max, mean, argmax, prod's input
SIGNED = a([[2, 5, 1, 6], [3, -7, -2, 4], [8, -4, 1, -3]], I64)        # min, argmin's input
LAYERS = a([[[1] * 6, [2] * 6, [3] * 6], [[4] * 6, [5] * 6, [6] * 6], [[7] * 6, [8] * 6, [9] * 6]], F32)
SPREAD = a([[1, 3, 4, 2], [4, 2, 5, 3], [5, 4, 2, 3]], F32)            # std, var's input
TOPK = a([[8, 2, 1], [5, 9, 3], [4, 6, 7]], I64)
MASKS = a([[0, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0]], BOOL)
ALTERNATING = a([[-1, 4, -8], [2, -5, 9]], F32)
GRID = a([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]] * 3, F32)

# (id, function of the input tensors, input arrays, MindSpore 2.10's output(s))
DOCSTRING_EXAMPLES = [
    ("mean", lambda x: ops.mean(x), [SCORES], a(4, I64)),
    ("mean-axis", lambda x: ops.mean(x, axis=1), [SCORES], a([5, 4, 4], I64)),
    ("mean-keep", lambda x: ops.mean(x, axis=1, keep_dims=True), [SCORES], a([[5], [4], [4]], I64)),
    ("sum", lambda x: ops.sum(input=x), [LAYERS], a(270, F32)),
    ("sum-dim", lambda x: ops.sum(input=x, dim=1), [LAYERS], a([[6] * 6, [15] * 6, [24] * 6], F32)),
    ("sum-dims", lambda x: ops.sum(input=x, dim=[1, 2]), [LAYERS], a([36, 90, 144], F32)),
    ("sum-keep", lambda x: ops.sum(input=x, dim=2, keepdim=True), [LAYERS],
     a([[[6], [12], [18]], [[24], [30], [36]], [[42], [48], [54]]], F32)),
    ("max", lambda x: ops.max(x), [SCORES], (a(9, I64), a(0, I64))),
    ("max-axis", lambda x: ops.max(x, axis=1), [SCORES], (a([9, 7, 8], I64), a([0, 2, 0], I64))),
    ("max-keep", lambda x: ops.max(x, axis=1, keepdims=True), [SCORES], (a([[9], [7], [8]], I64),
                                                                         a([[0], [2], [0]], I64))),
    ("max-where", lambda x, w: ops.max(x, axis=1, keepdims=True, initial=0, where=w), [SCORES, MASKS],
     (a([[4], [7], [8]], I64), a([[2], [2], [0]], I64))),
    ("max-where-none", lambda x, w: ops.max(x, axis=0, keepdims=True, initial=0, where=w),
     [SCORES, a([[False], [False], [False]], BOOL)], (a([[0, 0, 0, 0]], I64), a([[0, 0, 0, 0]], I64))),
    ("min", lambda x: ops.min(x), [SIGNED], (a(-7, I64), a(0, I64))),
    ("min-axis", lambda x: ops.min(x, axis=1), [SIGNED], (a([1, -7, -4], I64), a([2, 1, 1], I64))),
    ("min-where", lambda x, w: ops.min(x, axis=1, keepdims=True, initial=0, where=w),
     [SIGNED, a([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0]], BOOL)], (a([[0], [-2], [-4]], I64),
                                                                     a([[0], [2], [1]], I64))),
    ("argmax", lambda x: ops.argmax(x), [SCORES], a(0, I64)),
    ("argmax-dim", lambda x: ops.argmax(x, dim=1), [SCORES], a([0, 2, 0], I64)),
    ("argmax-keep", lambda x: ops.argmax(x, dim=1, keepdim=True), [SCORES], a([[0], [2], [0]], I64)),
    ("argmin", lambda x: ops.argmin(x), [SIGNED], a(5, I32)),
    ("argmin-axis", lambda x: ops.argmin(x, axis=1), [SIGNED], a([2, 1, 1], I32)),
    ("argmin-keep", lambda x: ops.argmin(x, axis=1, keepdims=True), [SIGNED], a([[2], [1], [1]], I32)),
    ("ones", lambda: ops.ones(4), [], np.ones(4, F32)),
    ("ones-shape", lambda: ops.ones((2, 3)), [], np.ones((2, 3), F32)),
    ("ones-tensor", lambda: ops.ones(Tensor(a([1, 2, 3], I64))), [], np.ones((1, 2, 3), F32)),
    ("zeros", lambda: ops.zeros(4), [], np.zeros(4, F32)),
    ("zeros-shape", lambda: ops.zeros((2, 3)), [], np.zeros((2, 3), F32)),
    ("ones_like", lambda: ops.ones_like(ops.arange(4)), [], np.ones(4, I64)),
    ("zeros_like", lambda: ops.zeros_like(ops.arange(4)), [], np.zeros(4, I64)),
    ("cat", lambda x, y: ops.cat((x, y)), [a([[0, 1], [2, 1]], F32)] * 2, a([[0, 1], [2, 1], [0, 1], [2, 1]], F32)),
    ("cat-axis", lambda x, y: ops.cat((x, y), 1), [a([[0, 1], [2, 1]], F32)] * 2, a([[0, 1, 0, 1], [2, 1, 2, 1]], F32)),
    ("tile", lambda x: ops.tile(x, (2, 3)), [a([[1, 2], [3, 4]], I64)], np.tile(a([[1, 2], [3, 4]], I64), (2, 3))),
    ("tile-more", lambda x: ops.tile(x, (2, 3, 2)), [a([[1, 2], [3, 4]], I64)],
     np.tile(a([[1, 2], [3, 4]], I64), (2, 3, 2))),
    ("arange", lambda: ops.arange(4), [], a([0, 1, 2, 3], I64)),
    ("arange-start", lambda: ops.arange(1, 6), [], a([1, 2, 3, 4, 5], I64)),
    ("arange-float", lambda: ops.arange(0, 2, 0.5), [], a([0, 0.5, 1, 1.5], F32)),
    ("square", lambda x: ops.square(x), [a([1, 2, 3], F32)], a([1, 4, 9], F32)),
    ("unsqueeze", lambda x: ops.unsqueeze(x, 0), [a([1, 2, 3, 4], I64)], a([[1, 2, 3, 4]], I64)),
    ("unsqueeze-1", lambda x: ops.unsqueeze(x, 1), [a([1, 2, 3, 4], I64)], a([[1], [2], [3], [4]], I64)),
    ("cumsum", lambda x: ops.cumsum(x, axis=0), [a([[1, 2, 3], [4, 5, 6]], I32)], a([[1, 2, 3], [5, 7, 9]], I32)),
    ("cumsum-1", lambda x: ops.cumsum(x, axis=1), [a([[1, 2, 3], [4, 5, 6]], I32)], a([[1, 3, 6], [4, 9, 15]], I32)),
    ("topk", lambda x: ops.topk(x, 2), [TOPK], (a([[8, 2], [9, 5], [7, 6]], I64), a([[0, 1], [1, 0], [2, 1]], I32))),
    ("topk-dim", lambda x: ops.topk(x, 2, dim=0), [TOPK], (a([[8, 9, 7], [5, 6, 3]], I64),
                                                           a([[0, 1, 2], [1, 2, 1]], I32))),
    ("topk-smallest", lambda x: ops.topk(x, 2, dim=0, largest=False), [TOPK], (a([[4, 2, 1], [5, 6, 3]], I64),
                                                                               a([[2, 0, 0], [1, 2, 1]], I32))),
    ("clip_by_value", lambda x, low, high: ops.clip_by_value(x, low, high),
     [a([[1, 25, 5, 7], [4, 11, 6, 21]], F32), a(5, F32), a(20, F32)], a([[5, 20, 5, 7], [5, 11, 6, 20]], F32)),
    ("clip_by_value-list", lambda x, y: ops.clip_by_value([x, y], 5, 20),
     [a([[1, 25, 5, 7], [4, 11, 6, 21]], F32)] * 2, (a([[5, 20, 5, 7], [5, 11, 6, 20]], F32),) * 2),
    ("interpolate", lambda x: ops.interpolate(x, size=(6,), mode="nearest"), [a([[[1, 2, 3], [4, 5, 6]]], F32)],
     a([[[1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6]]], F32)),
    ("binary_cross_entropy_with_logits", lambda x, y, w, p: ops.binary_cross_entropy_with_logits(x, y, w, p),
     [a([[-0.8, 1.2, 0.7], [-0.1, -0.4, 0.7]], F32), a([[0.3, 0.8, 1.2], [-0.6, 0.1, 2.2]], F32), np.ones(3, F32),
      np.ones(3, F32)], a(0.3463612, F32)),
    ("kl_div", lambda x, y: ops.kl_div(x, y, "mean"), [a([0.2, 0.7, 0.1], F32), a([0, 1, 0], F32)],
     a(-0.23333333, F32)),
    ("binary_cross_entropy", lambda p, y, w: ops.binary_cross_entropy(p, y, w),
     [a([0.2, 0.7, 0.1], F32), a([0, 1, 0], F32), a([1, 2, 2], F32)], a(0.38240486, F32)),
    ("reshape", lambda x: ops.reshape(x, (3, 2)), [a([[-0.1, 0.3, 3.6], [0.4, 0.5, -3.2]], F32)],
     a([[-0.1, 0.3], [3.6, 0.4], [0.5, -3.2]], F32)),
    ("reshape-infer", lambda x: ops.reshape(x, (-1, 6)), [a([[-0.1, 0.3, 3.6], [0.4, 0.5, -3.2]], F32)],
     a([[-0.1, 0.3, 3.6, 0.4, 0.5, -3.2]], F32)),
    ("transpose", lambda x: ops.transpose(x, (0, 2, 1)), [np.arange(1, 13, dtype=F32).reshape(2, 2, 3)],
     a([[[1, 4], [2, 5], [3, 6]], [[7, 10], [8, 11], [9, 12]]], F32)),
    ("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3)), [a([1, 2, 3], F32)], a([[1, 2, 3], [1, 2, 3]], F32)),
    ("broadcast_to-keep", lambda x: ops.broadcast_to(x, (-1, 2)), [a([[1], [2]], F32)], a([[1, 1], [2, 2]], F32)),
    ("cast", lambda x: ops.cast(x, graphc.float64), [a([1, 2, 3], I32)], a([1, 2, 3], F64)),
    ("gather", lambda x, i: ops.gather(x, i, 0), [np.arange(1, 8, dtype=F32), a([0, 2, 4, 2, 6], I32)],
     a([1, 3, 5, 3, 7], F32)),
    ("gather-2d-index", lambda x, i: ops.gather(x, i, 0), [np.arange(1, 8, dtype=F32), a([[0, 2], [2, 6]], I32)],
     a([[1, 3], [3, 7]], F32)),
    ("gather-rows", lambda x, i: ops.gather(x, i, 0), [np.arange(1, 13, dtype=F32).reshape(3, 4), a([0, 2], I32)],
     a([[1, 2, 3, 4], [9, 10, 11, 12]], F32)),
    ("gather-batch_dims", lambda x, i: ops.gather(x, i, 1, 1), [np.arange(1, 13, dtype=F32).reshape(3, 4),
                                                               a([0, 2, 1], I32)], a([1, 7, 10], F32)),
    ("softmax", lambda x: ops.softmax(x), [a([1, 2, 3, 4, 5], F32)],
     a([0.01165623, 0.03168492, 0.08612854, 0.23412167, 0.6364086], F32)),
    ("gelu", lambda x: ops.gelu(x, approximate="none"), [a([1, 2, 3], F32)], a([0.8413447, 1.9544997, 2.9959505], F32)),
    ("matmul", lambda x, y: ops.matmul(x, y), [np.arange(24, dtype=F32).reshape(2, 3, 4),
                                               np.arange(20, dtype=F32).reshape(4, 5)],
     np.arange(24, dtype=F32).reshape(2, 3, 4) @ np.arange(20, dtype=F32).reshape(4, 5)),
    ("matmul-vector", lambda: ops.matmul(ops.ones([1, 2]), ops.ones([2])), [], a([2], F32)),
    ("tuple_to_array", lambda: ops.tuple_to_array((1, 2, 3)), [], a([1, 2, 3], I32)),
    ("scalar_to_tensor", lambda: ops.scalar_to_tensor(1, graphc.float32), [], a(1, F32)),
    ("norm", lambda x: ops.norm(x), [a([3, 4, 12], F32)], a(13, F32)),
    ("norm-1", lambda x: ops.norm(x, ord=1), [a([3, 4, 12], F32)], a(19, F32)),
    ("norm-0", lambda x: ops.norm(x, ord=0), [a([3, 4, 12], F32)], a(3, F32)),
    ("norm-fro", lambda x: ops.norm(x), [a([[1, 2, 3], [4, 5, 7]], F32)], a(10.198039, F32)),
    ("norm-matrix-1", lambda x: ops.norm(x, ord=1), [a([[1, 2, 3], [4, 5, 7]], F32)], a(10, F32)),
    ("norm-dim", lambda x: ops.norm(x, dim=1), [a([[1, 2, 3], [4, 5, 7]], F32)], a([3.74165726, 9.48683262], F32)),
    ("range", lambda: ops.range(0, 6, 2), [], a([0, 2, 4], I64)),
    ("fill", lambda: ops.fill(graphc.float32, (2, 3), 1.2), [], np.full((2, 3), 1.2, F32)),
    ("full", lambda: ops.full((2, 3), 1.2), [], np.ones((2, 3), I64)),
    ("full-dtype", lambda: ops.full((2, 3), 1.2, dtype=graphc.float32), [], np.full((2, 3), 1.2, F32)),
    ("full_like", lambda: ops.full_like(ops.arange(4), 1.2), [], np.ones(4, I64)),
    ("full_like-dtype", lambda: ops.full_like(ops.arange(4), 1.2, dtype=graphc.float32), [], np.full(4, 1.2, F32)),
    ("linspace", lambda: ops.linspace(3, 10, 5), [], a([3, 4.75, 6.5, 8.25, 10], F32)),
    ("linspace-symmetric", lambda: ops.linspace(-10, 10, 5), [], a([-10, -5, 0, 5, 10], F32)),
    ("linspace-one", lambda: ops.linspace(-10, 10, 1), [], a([-10], F32)),
    ("repeat_elements", lambda x: ops.repeat_elements(x, rep=2, axis=0), [a([[0, 1, 2], [3, 4, 5]], I32)],
     a([[0, 1, 2], [0, 1, 2], [3, 4, 5], [3, 4, 5]], I32)),
    ("repeat_elements-1", lambda x: ops.repeat_elements(x, rep=2, axis=1), [a([[0, 1, 2], [3, 4, 5]], I32)],
     a([[0, 0, 1, 1, 2, 2], [3, 3, 4, 4, 5, 5]], I32)),
    ("masked_fill", lambda x, m: ops.masked_fill(x, m, 0.5), [a([1, 2, 3, 4], F32), a([1, 1, 0, 1], BOOL)],
     a([0.5, 0.5, 3, 0.5], F32)),
    ("clip_by_global_norm", lambda x, y: ops.clip_by_global_norm((x, y), 1.0),
     [a([[2, 3], [1, 2]], F32), a([[1, 4], [3, 1]], F32)],
     (a([[2.98142403e-01, 4.47213590e-01], [1.49071202e-01, 2.98142403e-01]], F32),
      a([[1.49071202e-01, 5.96284807e-01], [4.47213590e-01, 1.49071202e-01]], F32))),
    ("tensor_dot", lambda x, y: ops.tensor_dot(x, y, ((0, 1), (1, 2))), [np.ones((1, 2, 3), F32),
                                                                        np.ones((3, 1, 2), F32)],
     np.full((3, 3), 2, F32)),
    ("cos-int", lambda x: ops.cos(x), [a([0, 1, 2], I32)], a([1, 5.40302306e-01, -4.16146837e-01], F32)),
    ("cos-f64", lambda x: ops.cos(x), [a([0.74, 0.04, 0.30, 0.56], F64)],
     a([7.38468559e-01, 9.99200107e-01, 9.55336489e-01, 8.47255111e-01], F64)),
    ("sin", lambda x: ops.sin(x), [a([0.62, 0.28, 0.43, 0.62], F32)],
     a([0.58103514, 0.27635565, 0.4168708, 0.58103514], F32)),
    ("floor", lambda x: ops.floor(x), [a([1.1, 2.5, -1.5], F32)], a([1, 2, -2], F32)),
    ("bmm", lambda x, y: ops.bmm(x, y), [np.arange(24, dtype=F32).reshape(2, 4, 1, 3),
                                         np.arange(72, dtype=F32).reshape(2, 4, 3, 3)],
     a([[[[15, 18, 21]], [[150, 162, 174]], [[447, 468, 489]], [[906, 936, 966]]],
        [[[1527, 1566, 1605]], [[2310, 2358, 2406]], [[3255, 3312, 3369]], [[4362, 4428, 4494]]]], F32)),
    ("gather_elements", lambda x, i: ops.gather_elements(x, 1, i), [a([[1, 2], [3, 4]], I32), a([[0, 0], [1, 0]], I32)],
     a([[1, 1], [4, 3]], I32)),
    ("flatten", lambda x: ops.flatten(x), [np.ones((1, 2, 3, 4), F32)], np.ones((1, 24), F32)),
    ("eye", lambda: ops.eye(3), [], np.eye(3, dtype=F32)),
    ("eye-rectangle", lambda: ops.eye(3, 4), [], np.eye(3, 4, dtype=F32)),
    ("unstack", lambda x: ops.unstack(x, 0), [a([[1, 1, 1, 1], [2, 2, 2, 2]], I64)],
     (a([1] * 4, I64), a([2] * 4, I64))),
    ("narrow", lambda x: ops.narrow(x, 0, 0, 2), [np.arange(1, 10, dtype=I32).reshape(3, 3)],
     a([[1, 2, 3], [4, 5, 6]], I32)),
    ("narrow-1", lambda x: ops.narrow(x, 1, 1, 2), [np.arange(1, 10, dtype=I32).reshape(3, 3)],
     a([[2, 3], [5, 6], [8, 9]], I32)),
    ("one_hot", lambda i: ops.one_hot(i, depth=5), [a([0, 1, 2, 4], I64)], np.eye(5, dtype=I64)[[0, 1, 2, 4]]),
    ("one_hot-short", lambda i: ops.one_hot(i, depth=3), [a([0, 1, 2, 4], I64)],
     a([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], I64)),
    ("one_hot-values", lambda i: ops.one_hot(i, depth=3, on_value=10, off_value=4, axis=-1),
     [a([[0, 2], [1, -1]], I64)],
     a([[[10, 4, 4], [4, 4, 10]], [[4, 10, 4], [4, 4, 4]]], I64)),
    ("one_hot-axis0", lambda i: ops.one_hot(i, depth=3, on_value=10, off_value=4, axis=0), [a([[0, 2], [1, -1]], I64)],
     a([[[10, 4], [4, 4]], [[4, 4], [10, 4]], [[4, 10], [4, 4]]], I64)),
    ("prod", lambda x: ops.prod(x), [SCORES], a(21772800, I64)),
    ("prod-axis", lambda x: ops.prod(x, axis=1), [SCORES], a([540, 280, 144], I64)),
    ("prod-keep", lambda x: ops.prod(x, axis=1, keep_dims=True), [SCORES], a([[540], [280], [144]], I64)),
    ("std", lambda x: ops.std(x), [SPREAD], a(1.2133516, F32)),
    ("std-axis", lambda x: ops.std(x, axis=0), [SPREAD], a([1.6996732, 0.8164966, 1.2472192, 0.4714045], F32)),
    ("std-ddof", lambda x: ops.std(x, axis=0, keepdims=True, ddof=1), [SPREAD],
     a([[2.081666, 1, 1.5275253, 0.57735026]], F32)),
    ("std-ddof-true", lambda x: ops.std(x, axis=0, keepdims=True, ddof=True), [SPREAD],
     a([[2.081666, 1, 1.5275253, 0.57735026]], F32)),
    ("var", lambda x: ops.var(x), [SPREAD], a(1.4722221, F32)),
    ("var-axis", lambda x: ops.var(x, axis=0, keepdims=True), [SPREAD],
     a([[2.8888888, 0.6666667, 1.5555557, 0.2222222]], F32)),
    ("var-ddof", lambda x: ops.var(x, axis=0, keepdims=True, ddof=1), [SPREAD],
     a([[4.3333335, 1, 2.3333335, 0.3333333]], F32)),
    ("any", lambda x: ops.any(x), [a([[1, 0], [1, 1]], BOOL)], a(True, BOOL)),
    ("any-axis", lambda x: ops.any(x, axis=1), [a([[1, 0], [1, 1]], BOOL)], a([True, True], BOOL)),
    ("any-keep", lambda x: ops.any(x, axis=[0, 1], keep_dims=True), [a([[1, 0], [1, 1]], BOOL)], a([[True]], BOOL)),
    ("all", lambda x: ops.all(x), [a([[1, 0], [1, 1]], BOOL)], a(False, BOOL)),
    ("all-axis", lambda x: ops.all(x, axis=1), [a([[1, 0], [1, 1]], BOOL)], a([False, True], BOOL)),
    ("all-keep", lambda x: ops.all(x, axis=[0, 1], keep_dims=True), [a([[1, 0], [1, 1]], BOOL)], a([[False]], BOOL)),
    ("isnan", lambda x: ops.isnan(x), [a([-1, 3, np.inf, -np.inf, np.nan], F32)], a([0, 0, 0, 0, 1], BOOL)),
    ("logical_and", lambda x, y: ops.logical_and(x, y), [a([1, 0, 1], BOOL), a([1, 1, 0], BOOL)], a([1, 0, 0], BOOL)),
    ("logical_and-python", lambda y: ops.logical_and(True, y), [a([1, 0], BOOL)], a([1, 0], BOOL)),
    ("logical_or", lambda x, y: ops.logical_or(x, y), [a([1, 0, 1], BOOL), a([1, 1, 0], BOOL)], a([1, 1, 1], BOOL)),
    ("logical_or-scalar", lambda x, y: ops.logical_or(x, y), [a(1, BOOL), a(0, BOOL)], a(True, BOOL)),
    ("logical_not", lambda x: ops.logical_not(x), [a([1, 0, 1], BOOL)], a([0, 1, 0], BOOL)),
    ("sort", lambda x: ops.sort(x), [TOPK.astype(F32)], (a([[1, 2, 8], [3, 5, 9], [4, 6, 7]], F32),
                                                          a([[2, 1, 0], [2, 0, 1], [0, 1, 2]], I32))),
    ("addn", lambda x, y: ops.addn([x, y, x, y]), [a([1, 2, 3], I64), a([4, 5, 6], I64)], a([10, 14, 18], I64)),
    ("relu6", lambda x: ops.relu6(x), [ALTERNATING], a([[0, 4, 0], [2, 0, 6]], F32)),
    ("softplus", lambda x: ops.softplus(x), [a([0.1, 0.2, 30, 25], F32)], a([0.7443967, 0.79813886, 30, 25], F32)),
    ("elu", lambda x: ops.elu(x), [ALTERNATING], a([[-0.63212055, 4, -0.99966455], [2, -0.99326205, 9]], F32)),
    ("leaky_relu", lambda x: ops.leaky_relu(x, alpha=0.2), [ALTERNATING], a([[-0.2, 4, -1.6], [2, -1, 9]], F32)),
    ("mish", lambda x: ops.mish(x), [ALTERNATING],
     a([[-3.0340147e-01, 3.9974129e+00, -2.68311895e-03], [1.9439590e+00, -3.3576239e-02, 8.99999990e+00]], F32)),
    ("mish-scalar", lambda x: ops.mish(x), [a(2.1, F32)], a(2.050599, F32)),
    ("log_softmax", lambda x: ops.log_softmax(x), [a([1, 2, 3, 4, 5], F32)],
     a([-4.4519143, -3.4519143, -2.4519143, -1.4519144, -0.4519144], F32)),
    ("dense", lambda x, w, b: ops.dense(x, w, b),
     [a([[-1, 1, 2], [-3, -3, 1]], F32), a([[-2, -2, -2], [0, -1, 0]], F32), a([0, 1], F32)],
     a([[-4, 0], [10, 4]], F32)),
    ("adaptive_avg_pool2d-none", lambda x: ops.adaptive_avg_pool2d(x, (None, 2)), [GRID],
     a([[[1.5, 2.5], [4.5, 5.5], [7.5, 8.5]]] * 3, F32)),
    ("adaptive_avg_pool2d", lambda x: ops.adaptive_avg_pool2d(x, 2), [GRID], a([[[3, 4], [6, 7]]] * 3, F32)),
    ("adaptive_avg_pool2d-row", lambda x: ops.adaptive_avg_pool2d(x, (1, 2)), [GRID], a([[[4.5, 5.5]]] * 3, F32)),
    ("layer_norm", lambda x, g, b: ops.layer_norm(x, (3,), g, b, 1e-7), [a([[1, 2, 3], [1, 2, 3]], F32),
                                                                         np.ones(3, F32), np.zeros(3, F32)],
     a([[-1.2247448, 0, 1.2247448]] * 2, F32)),
    ("chunk", lambda: ops.chunk(ops.arange(0, 9, dtype=graphc.float32), 3), [],
     (a([0, 1, 2], F32), a([3, 4, 5], F32), a([6, 7, 8], F32))),
    ("expand_dims", lambda x: ops.expand_dims(x, 0), [a([[2, 2], [2, 2]], F32)], a([[[2, 2], [2, 2]]], F32)),
    ("squeeze", lambda: ops.squeeze(ops.ones(shape=[3, 2, 1])), [], np.ones((3, 2), F32)),
    ("sqrt", lambda x: ops.sqrt(x), [a([1, 4, 9], F32)], a([1, 2, 3], F32)),
    ("exp", lambda x: ops.exp(x), [a([0, 1, 3], F32)], a([1, 2.7182817, 20.085537], F32)),
    ("log", lambda x: ops.log(x), [a([1, 2, 4], F32)], a([0, 0.6931472, 1.3862944], F32)),
    ("abs", lambda x: ops.abs(x), [a([-1, 1, 0], F32)], a([1, 1, 0], F32)),
    ("pow", lambda x: ops.pow(x, 3.0), [a([1, 2, 4], F32)], a([1, 8, 64], F32)),
    ("pow-tensor", lambda x, y: ops.pow(x, y), [a([1, 2, 4], F32), a([2, 4, 3], F32)], a([1, 16, 64], F32)),
    ("where", lambda x, y: ops.where(x < 3, x, y), [a([[0, 1], [2, 3]], I64), a([[1, 1], [1, 1]], I64)],
     a([[0, 1], [2, 1]], I64)),
    ("select", lambda c, x, y: ops.select(c, x, y), [a([1, 0], BOOL), a([2, 3], F32), a([1, 2], F32)], a([2, 2], F32)),
    ("select-numbers", lambda c: ops.select(c, input=1, other=2), [a([1, 0], BOOL)], a([1, 2], I64)),
    ("select-mixed", lambda c, x: ops.select(c, x, other=3), [a([1, 0], BOOL), a([2, 3], F32)], a([2, 3], F32)),
    ("maximum", lambda x, y: ops.maximum(x, y), [a([1, 5, 3], F32), a([4, 2, 6], F32)], a([4, 5, 6], F32)),
    ("minimum", lambda x, y: ops.minimum(x, y), [a([1, 5, 3], F32), a([4, 2, 6], F32)], a([1, 2, 3], F32)),
    ("sigmoid", lambda x: ops.sigmoid(x), [a([1, 2, 3, 4, 5], F32)],
     a([0.7310586, 0.880797, 0.95257413, 0.98201376, 0.9933072], F32)),
    ("relu", lambda x: ops.relu(x), [ALTERNATING], a([[0, 4, 0], [2, 0, 9]], F32)),
    ("tanh", lambda x: ops.tanh(x), [a([1, 2, 3, 4, 5], F32)],
     a([0.7615942, 0.9640276, 0.9950548, 0.9993293, 0.9999092], F32)),
    ("stack", lambda x, y: ops.stack((x, y), 0), [a([0, 1], F32), a([2, 3], F32)], a([[0, 1], [2, 3]], F32)),
    ("split", lambda: ops.split(tensor=ops.arange(10).astype(graphc.float32), split_size_or_sections=3), [],
     (a([0, 1, 2], F32), a([3, 4, 5], F32), a([6, 7, 8], F32), a([9], F32))),
    ("split-sections", lambda: ops.split(tensor=ops.arange(10).astype(graphc.float32),
                                         split_size_or_sections=[3, 3, 4]), [],
     (a([0, 1, 2], F32), a([3, 4, 5], F32), a([6, 7, 8, 9], F32))),
    ("intopk", lambda x, t: ops.intopk(x, t, 3), [a([[1, 8, 5, 2, 7], [4, 9, 1, 3, 5]], F32), a([1, 3], I32)],
     a([True, False], BOOL)),
    ("count_nonzero", lambda x: ops.count_nonzero(x=x, axis=[0, 1], keep_dims=True, dtype=graphc.int32),
     [a([[0, 1, 0], [1, 1, 0]], F32)], a([[3]], I32)),
    ("count_nonzero-default", lambda x: ops.count_nonzero(x=x), [a([[0, 1, 0], [1, 1, 0]], F32)], a(3, I32)),
    ("count_nonzero-axis", lambda x: ops.count_nonzero(x=x, axis=[0]), [a([[0, 1, 0], [1, 1, 0]], F32)],
     a([1, 2, 0], I32)),
    ("count_nonzero-keep", lambda x: ops.count_nonzero(x=x, axis=[0], keep_dims=True), [a([[0, 1, 0], [1, 1, 0]], F32)],
     a([[1, 2, 0]], I32)),
    ("meshgrid", lambda x, y, z: ops.meshgrid(x, y, z, indexing="xy"),
     [a([1, 2, 3, 4], I32), a([5, 6, 7], I32), a([8, 9, 0, 1, 2], I32)],
     tuple(np.meshgrid(a([1, 2, 3, 4], I32), a([5, 6, 7], I32), a([8, 9, 0, 1, 2], I32), indexing="xy"))),
    ("dot", lambda: ops.dot(ops.ones([2, 3]), ops.ones([1, 3, 2])), [], np.full((2, 1, 2), 3, F32)),
    ("dot-batched", lambda: ops.dot(ops.ones([3, 2, 3]), ops.ones([2, 1, 3, 2])), [], np.full((3, 2, 2, 1, 2), 3, F32)),
    ("clamp", lambda x: ops.clamp(x, 5, 20), [a([[1, 25, 5, 7], [4, 11, 6, 21]], I64)],
     a([[5, 20, 5, 7], [5, 11, 6, 20]], I64)),
    ("clamp-tensors", lambda x, low, high: ops.clamp(x, low, high),
     [a([[1, 25, 5, 7], [4, 11, 6, 21]], I64), a([2, 4, 6, 8], I64), a([10, 12, 14, 18], I64)],
     a([[2, 12, 6, 8], [4, 11, 6, 18]], I64)),
    ("inv", lambda x: ops.inv(x), [a([0.25, 0.4, 0.31, 0.52], F32)], a([4, 2.5, 3.2258065, 1.923077], F32)),
    ("permute", lambda x: ops.permute(x, (0, 2, 1)), [np.arange(1, 13, dtype=F32).reshape(2, 2, 3)],
     a([[[1, 4], [2, 5], [3, 6]], [[7, 10], [8, 11], [9, 12]]], F32)),
    ("reduce_min", lambda x: ops.reduce_min(x, 1), [LAYERS], a([[1] * 6, [4] * 6, [7] * 6], F32)),
    ("reduce_sum", lambda x: ops.reduce_sum(x, 0), [LAYERS], a([[12] * 6, [15] * 6, [18] * 6], F32)),
    ("ger", lambda x, y: ops.ger(x, y), [a([1, 2, 3], F32), a([1, 2], F32)], a([[1, 2], [2, 4], [3, 6]], F32)),
    ("sequence_mask", lambda x: ops.sequence_mask(x, 5), [a([1, 2, 3, 4], I64)],
     np.arange(5) < a([1, 2, 3, 4], I64)[:, None]),
    ("sequence_mask-2d", lambda x: ops.sequence_mask(x, 5), [a([[1, 3], [2, 0]], I64)],
     np.arange(5) < a([[1, 3], [2, 0]], I64)[..., None]),
    ("avg_pool2d", lambda x: ops.avg_pool2d(x, kernel_size=2, stride=1), [np.arange(36, dtype=F32).reshape(1, 3, 3, 4)],
     a([[[[2.5, 3.5, 4.5], [6.5, 7.5, 8.5]], [[14.5, 15.5, 16.5], [18.5, 19.5, 20.5]],
         [[26.5, 27.5, 28.5], [30.5, 31.5, 32.5]]]], F32)),
    ("conv2d", lambda x, w: ops.conv2d(x, w), [np.ones((2, 3, 6, 6), F32), np.ones((4, 3, 3, 3), F32)],
     np.full((2, 4, 4, 4), 27, F32)),
    ("depend", lambda x, y: ops.softmax(ops.depend(y, x * y)), [np.ones((4, 5), F32)] * 2, np.full((4, 5), 0.2, F32)),
    ("stop_gradient", lambda x: graphc.grad(lambda t: ops.stop_gradient(t) ** 2)(x), [a(3, F32)], a(0, F32)),
]


@pytest.mark.parametrize("fn, arrays, expected", [pytest.param(*case[1:], id=case[0]) for case in DOCSTRING_EXAMPLES])
def test_docstring_example(fn, arrays, expected):
    check(fn, arrays, expected)


# Examples whose docstring computes in float16 (MindSpore's CPU prints 4 digits): graphc computes in float32,
# compared with the docstring's values at float16's precision.
HALF_PRECISION_EXAMPLES = [
    ("hardswish", lambda x: ops.hardswish(x), [a([-1, -2, 0, 2, 1], F32)],
     a([-0.3333, -0.3333, 0, 1.667, 0.6665], F32)),
    ("hardsigmoid", lambda x: ops.hardsigmoid(x), [a([-1, -2, 0, 2, 1], F32)],
     a([0.3333, 0.1666, 0.5, 0.8335, 0.6665], F32)),
    ("silu", lambda x: ops.silu(x), [a([-1, 2, -3, 2, -1], F32)], a([-0.269, 1.762, -0.1423, 1.762, -0.269], F32)),
]


@pytest.mark.parametrize("fn, arrays, expected", [pytest.param(*case[1:], id=case[0])
                                                  for case in HALF_PRECISION_EXAMPLES])
def test_half_precision_docstring_example(fn, arrays, expected):
    check(fn, arrays, expected, tolerance=1e-3)


# Results MindSpore 2.10 gave for the calls of mindspore_reference/functions.py (recorded by
# record_functions.py beside them): loss options, resizing modes, where/initial, ties, result dtypes.
with open(os.path.join(os.path.dirname(__file__), "mindspore_reference", "functions.json")) as _file:
    RECORDED = json.load(_file)["cases"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_recorded_mindspore(name):
    expected = tuple(np.array(r["values"], r["dtype"]).reshape(r["shape"]) for r in RECORDED[name])
    check(lambda: CASES[name](graphc), [], expected, tolerance=2e-6)


def test_shape_rank_size_dtype_are_python_values():
    x = ops.ones(shape=[3, 2, 1])
    assert ops.shape(x) == (3, 2, 1) and ops.rank(x) == 3 and ops.size(x) == 6 and ops.dtype(x) == graphc.float32


def test_sequence_mask_reads_the_largest_length_eagerly():
    np.testing.assert_array_equal(ops.sequence_mask(Tensor(a([[1, 3], [2, 4]], I64))).asnumpy(),
                                  np.arange(4) < a([[1, 3], [2, 4]], I64)[..., None])
    with pytest.raises(GraphcError, match=LINE + r"ops\.sequence_mask: cannot run inside a compiled function"):
        graphc.jit(lambda x: ops.sequence_mask(x))(Tensor(a([1, 2], I64)))


def test_constexpr_and_add_flags_return_the_function():
    double = ops.constexpr(lambda n: 2 * n)
    assert double(3) == 6 and ops.add_flags(has_effect=True)(double) is double
    with pytest.raises(GraphcError, match=LINE + r"ops\.add_flags: flag\(s\) no_recursive are not supported"):
        ops.add_flags(double, no_recursive=True)


def test_make_range_and_partial():
    assert ops.make_range(3) == (0, 1, 2) and ops.make_range(1, 7, 2) == (1, 3, 5)
    show = ops.partial(lambda x, y, z: (x, y, z), 1)
    assert show(2, 3) == (1, 2, 3) and show(3, 4) == (1, 3, 4)


def test_masked_select_runs_eagerly_and_is_refused_when_compiled():
    x, mask = Tensor(a([1, 2, 3, 4], I64)), Tensor(a([1, 0, 1, 0], BOOL))
    np.testing.assert_array_equal(ops.masked_select(x, mask).asnumpy(), a([1, 3], I64))
    with pytest.raises(GraphcError, match=LINE + r"ops\.masked_select: cannot run inside a compiled function"):
        graphc.jit(lambda x, m: ops.masked_select(x, m))(x, mask)


def test_assign_add_updates_the_parameter():
    step = Parameter(a([1], I64), name="global_step")
    ops.assign_add(step, Tensor(a([100], I64)))
    np.testing.assert_array_equal(step.asnumpy(), [101])


# -- random tensors: MindSpore's shapes and distributions, graphc's generator --------------------------------------
@pytest.mark.parametrize("draw, shape", [
    (lambda: ops.randn((2, 2)), (2, 2)), (lambda: ops.randn(2, 3), (2, 3)), (lambda: ops.rand((2, 3)), (2, 3)),
    (lambda: ops.standard_normal((4, 4)), (4, 4)),
    (lambda: ops.normal((3, 1, 2), Tensor(a([[3, 4], [5, 6]], F32)), Tensor(a(1, F32))), (3, 2, 2)),
    (lambda: ops.uniform((3, 1, 2), Tensor(a([[3, 4], [5, 6]], F32)), Tensor(a([8, 10], F32))), (3, 2, 2)),
])
def test_random_functions_follow_set_seed(draw, shape):
    graphc.set_seed(7)
    first = draw().asnumpy()
    graphc.set_seed(7)
    again = draw().asnumpy()
    assert first.shape == shape and first.dtype == F32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, draw().asnumpy())


def test_random_distributions():
    graphc.set_seed(0)
    normal = ops.randn(20000).asnumpy()
    uniform = ops.rand(20000).asnumpy()
    assert abs(normal.mean()) < 0.03 and abs(normal.std() - 1) < 0.03
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01
    shifted = ops.normal((20000,), 3.0, 2.0, seed=5).asnumpy()
    assert abs(shifted.mean() - 3) < 0.06 and abs(shifted.std() - 2) < 0.06
    ints = ops.uniform((1000,), Tensor(a(1, I32)), Tensor(a(4, I32)), seed=5, dtype=graphc.int32).asnumpy()
    assert ints.dtype == I32 and set(np.unique(ints)) == {1, 2, 3}


def test_random_functions_are_refused_when_compiled():
    with pytest.raises(GraphcError, match=LINE + r"ops\.randn: cannot run inside a compiled function \(GRAPH_MODE or "
                                                 r"graphc\.jit\): a random draw there would be made once"):
        graphc.jit(lambda x: x + ops.randn(3))(Tensor(np.zeros(3, F32)))


# -- gradients of the compositions, against finite differences (float64) ---------------------------------------------
RNG = np.random.default_rng(20)
IMAGES = RNG.standard_normal((2, 3, 4, 5))
DISTINCT = RNG.permutation(24).reshape(4, 6) * 0.25 - 2.9     # no ties and no kinks (0, 2): smooth here
PROBS = RNG.uniform(0.1, 0.9, (3, 4))
CLASSES = Tensor(a([2, 0, 3], I32))

GRADIENT_CASES = [
    ("interpolate-bilinear", lambda x: ops.interpolate(x, size=(7, 3), mode="bilinear"), [IMAGES]),
    ("interpolate-corners", lambda x: ops.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True), [IMAGES]),
    ("interpolate-nearest", lambda x: ops.interpolate(x, size=(8, 3), mode="nearest"), [IMAGES]),
    ("interpolate-area", lambda x: ops.interpolate(x, size=(3, 2), mode="area"), [IMAGES]),
    ("adaptive_avg_pool2d", lambda x: ops.adaptive_avg_pool2d(x, (3, 2)), [IMAGES]),
    ("max_pool2d", lambda x: ops.max_pool2d(x, 3, 2, 1), [RNG.permutation(50).reshape(1, 2, 5, 5) * 0.1]),
    ("avg_pool2d", lambda x: ops.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [IMAGES]),
    ("conv2d", lambda x, w, b: ops.conv2d(x, w, b, 2, "pad", (1, 2)), [IMAGES, RNG.standard_normal((2, 3, 3, 3)),
                                                                      RNG.standard_normal(2)]),
    ("cumsum", lambda x: ops.cumsum(x, 1), [DISTINCT]),
    ("topk", lambda x: ops.topk(x, 3)[0], [DISTINCT]),
    ("sort", lambda x: ops.sort(x, axis=0, descending=True)[0], [DISTINCT]),
    ("max", lambda x: ops.max(x, axis=1)[0], [DISTINCT]),
    ("min-keep", lambda x: ops.min(x, axis=0, keepdims=True)[0], [DISTINCT]),
    ("gather_elements", lambda x: ops.gather_elements(x, 1, Tensor(a([[0, 5], [2, 2], [1, 0], [4, 3]], I32))),
     [DISTINCT]),
    ("gather-batch_dims", lambda x: ops.gather(x, Tensor(a([[5, 0], [1, 1], [2, 3], [0, 4]], I32)), 1, 1), [DISTINCT]),
    ("norm", lambda x: ops.norm(x, dim=1), [DISTINCT]),
    ("norm-p3", lambda x: ops.norm(x, ord=3, dim=0, keepdim=True), [DISTINCT]),
    ("norm-inf", lambda x: ops.norm(x, ord=float("inf"), dim=1), [DISTINCT]),
    ("norm-matrix-inf", lambda x: ops.norm(x, ord=-float("inf")), [RNG.standard_normal((3, 4))]),
    ("norm-matrix-1", lambda x: ops.norm(x, ord=1), [DISTINCT]),
    ("prod", lambda x: ops.prod(x, axis=(0, 1), keep_dims=True), [DISTINCT[:3, :3]]),
    ("prod-odd", lambda x: ops.prod(x, axis=0), [DISTINCT[:3]]),
    ("std", lambda x: ops.std(x, axis=1, ddof=1), [DISTINCT]),
    ("var", lambda x: ops.var(x), [DISTINCT]),
    ("layer_norm", lambda x, g, b: ops.layer_norm(x, (6,), g, b), [DISTINCT, RNG.standard_normal(6),
                                                                    RNG.standard_normal(6)]),
    ("cross_entropy", lambda x, w: ops.cross_entropy(x, CLASSES, w, label_smoothing=0.2), [PROBS, PROBS[0]]),
    ("cross_entropy-probabilities", lambda x, p: ops.cross_entropy(x, p, reduction="sum"), [PROBS, PROBS[::-1]]),
    ("nll_loss", lambda x: ops.nll_loss(x, CLASSES, reduction="none"), [PROBS]),
    ("binary_cross_entropy_with_logits", lambda x, y, w: ops.binary_cross_entropy_with_logits(x, y, pos_weight=w),
     [DISTINCT[:3, :4], PROBS, PROBS[0]]),
    ("binary_cross_entropy", lambda p, y: ops.binary_cross_entropy(p, y, reduction="sum"), [PROBS, PROBS[::-1]]),
    ("kl_div", lambda x, y: ops.kl_div(x, y, "batchmean"), [DISTINCT[:3, :4], PROBS]),
    ("elu", lambda x: ops.elu(x, 0.5), [DISTINCT]),
    ("softplus", lambda x: ops.softplus(x, beta=2, threshold=4), [DISTINCT]),
    ("mish", lambda x: ops.mish(x), [DISTINCT]),
    ("matmul-batched", lambda x, y: ops.matmul(x, y), [RNG.standard_normal((2, 1, 3, 4)),
                                                       RNG.standard_normal((3, 4, 2))]),
    ("matmul-vectors", lambda x, y: ops.matmul(x, y), [RNG.standard_normal(4), RNG.standard_normal((2, 4, 3))]),
    ("bmm", lambda x, y: ops.bmm(x, y), [RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 2))]),
    ("tensor_dot", lambda x, y: ops.tensor_dot(x, y, ((0, 2), (2, 0))), [RNG.standard_normal((2, 3, 4)),
                                                                          RNG.standard_normal((4, 5, 2))]),
    ("dense", lambda x, w, b: ops.dense(x, w, b), [RNG.standard_normal((2, 3, 4)), RNG.standard_normal((5, 4)),
                                                   RNG.standard_normal(5)]),
    ("tile", lambda x: ops.tile(x, (2, 1, 3)), [DISTINCT]),
    ("repeat_elements", lambda x: ops.repeat_elements(x, 3, axis=1), [DISTINCT]),
    ("masked_fill", lambda x: ops.masked_fill(x, Tensor(DISTINCT > 0), 2.0), [DISTINCT]),
    ("clip_by_global_norm", lambda x, y: ops.clip_by_global_norm((x, y), 1.5)[1], [DISTINCT, PROBS]),
]


@pytest.mark.parametrize("fn, arrays", [pytest.param(*case[1:], id=case[0]) for case in GRADIENT_CASES])
def test_gradient_matches_finite_differences(fn, arrays):
    check_vjp(fn, arrays, np.random.default_rng(3))


# -- bad arguments: the function, the parameter, what was given, at the user's line -----------------------------------
X = Tensor(np.zeros((2, 3), F32))
IMAGE = Tensor(np.zeros((1, 1, 4, 4), F32))

BAD_CALLS = [
    (lambda: ops.reshape(X, "a"), "ops.reshape: shape='a' is not valid; expected a tuple of ints"),
    (lambda: ops.transpose(X, (0, 0)), "ops.transpose: dims=(0, 0) is not valid; expected a permutation of the 2 axes "
                                       "of f32[2,3]"),
    (lambda: ops.transpose(X, (0, -5)), "ops.transpose: dims=(0, -5) is not valid; expected a permutation"),
    (lambda: ops.permute(X, (1, 1)), "ops.permute: axis=(1, 1) is not valid; expected a permutation"),
    (lambda: ops.gather(X, Tensor(a([0], I32)), "a"), "ops.gather: axis='a' is not valid; expected an int in [-2, 2)"),
    (lambda: ops.softmax(X, 0.5), "ops.softmax: axis=0.5 is not valid; expected an int"),
    (lambda: ops.argmax(X, 5), "ops.argmax: dim=5 is not valid; expected an int in [-2, 2)"),
    (lambda: ops.zeros((2, -1)), "ops.zeros: size=(2, -1) is not valid; expected a tuple of ints >= 0 (or one int)"),
    (lambda: ops.cast(X, "float8"), "ops.cast: dtype='float8' is not valid; expected a dtype (unsupported dtype"),
    (lambda: ops.gelu(X, approximate="exact"), "ops.gelu: approximate='exact' is not valid; expected one of 'none', "
                                               "'tanh'"),
    (lambda: ops.topk(X, 4), "ops.topk: k=4 is not valid; expected at most the size of axis 1 of f32[2,3]"),
    (lambda: ops.one_hot(Tensor(a([0], I32)), 3, axis=5),
     "ops.one_hot: axis=5 is not valid; expected an int in [-2, 2)"),
    (lambda: ops.cross_entropy(X, Tensor(a([0, 1], I32)), reduction="avg"),
     "ops.cross_entropy: reduction='avg' is not valid; expected one of 'mean', 'sum', 'none'"),
    (lambda: ops.cross_entropy(X, Tensor(a([0, 1, 2], I32))), "cross_entropy: labels must be int32 or int64 class "
                                                              "indices of shape [2] for scores f32[2,3], got i32[3]"),
    (lambda: ops.interpolate(IMAGE, size=(8, 8), mode="bicubic"),
     "ops.interpolate: mode='bicubic' is not supported for a rank-4 input; graphc has 'nearest', 'bilinear', 'area'"),
    (lambda: ops.interpolate(IMAGE, scale_factor=2.0, mode="bilinear"),
     "ops.interpolate: scale_factor needs recompute_scale_factor=True"),
    (lambda: ops.interpolate(IMAGE, size=(8, 8), align_corners=True),
     "ops.interpolate: align_corners=True is not valid; expected None with mode='nearest'"),
    (lambda: ops.norm(X, "nuc"), "ops.norm: ord='nuc' is not supported"),
    (lambda: ops.norm(X, 2), "ops.norm: the matrix norm ord=2 needs an SVD"),
    (lambda: ops.clip_by_global_norm((X,), use_norm=1.0), "ops.clip_by_global_norm: use_norm=1.0 is not supported"),
    (lambda: ops.max(X, where=Tensor(np.ones((2, 3), BOOL))), "ops.max: initial=None is not valid; expected a number"),
    (lambda: ops.tuple_to_array((1, "2")), "ops.tuple_to_array: input_x=(1, '2') is not valid"),
    (lambda: ops.max_pool2d(IMAGE, 2, dilation=2), "ops.max_pool2d: dilation is not supported"),
    (lambda: ops.avg_pool2d(IMAGE, 3, ceil_mode=True), "ops.avg_pool2d: ceil_mode=True is not supported"),
    (lambda: ops.flatten(X, start_dim=1, end_dim=0), "ops.flatten: end_dim=0 is not valid; expected an axis at or "
                                                     "after start_dim=1"),
]


@pytest.mark.parametrize("call, message", [pytest.param(*case, id=case[1].split(":")[0]) for case in BAD_CALLS])
def test_bad_argument_names_function_parameter_and_value(call, message):
    with pytest.raises(GraphcError) as caught:
        call()
    text = str(caught.value)
    assert re.match(rf"^\S*{os.path.basename(__file__)}:{call.__code__.co_firstlineno}: ", text), text
    assert message in text


def test_depend_primitive_returns_its_value():
    x, y = Tensor(a([1.0, 2.0], F32)), Tensor(a([3.0, 4.0], F32))
    assert ops.Depend()(x, y * x) is x


def test_ops_grad_is_mindspores_function_and_stop_gradient_takes_a_number():
    assert ops.grad is graphc.grad and ops.value_and_grad is graphc.value_and_grad
    assert float(ops.stop_gradient(3.0) ** 2) == 9.0
    assert float(ops.grad(lambda x: ops.stop_gradient(x) ** 2)(Tensor(3.0))) == 0.0
    assert float(ops.grad(lambda x: x ** 2)(Tensor(3.0))) == 6.0


def test_div_rounding_mode_is_checked():
    with pytest.raises(GraphcError, match=LINE + r"ops\.div: rounding_mode='round' is not valid; expected one of "
                                                 r"None, 'floor', 'trunc'"):
        ops.div(Tensor(a([1.0], F32)), 2.0, rounding_mode="round")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_gradients_match_finite_differences(mode):
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 4))
    check_vjp(lambda t: ops.pad(t, (2, 1, 1, 2), mode=mode), [x], np.random.default_rng(5))


def test_pad_mode_refuses_more_than_the_axis_holds():
    with pytest.raises(GraphcError, match=LINE + r"pad: mode 'reflect' pads an axis of 3 element\(s\) by at most 2, "
                                                 r"got \(3, 0\)"):
        ops.pad(Tensor(a([1.0, 2.0, 3.0], F32)), (3, 0), mode="reflect")
