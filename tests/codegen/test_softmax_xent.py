"""Sparse softmax cross-entropy and its gradient against float64 NumPy, plus edge rows."""
import numpy as np
import pytest

from graphc.codegen.kernels.softmax_xent import emit_sparse_softmax_cross_entropy, \
    emit_sparse_softmax_cross_entropy_grad

from .support import EPS32, random, run_threads


def _reference(logits, labels):
    x = logits.astype(np.float64)
    shift = x.max(1, keepdims=True)
    lse = (shift + np.log(np.exp(x - shift).sum(1, keepdims=True)))[:, 0]
    return lse - x[np.arange(len(labels)), labels], np.exp(x - lse[:, None]) - np.eye(x.shape[1])[labels]


@pytest.mark.parametrize("n,c", [(32, 10), (5, 37), (1, 1), (3, 16), (4, 100)])
def test_loss_and_gradient(n, c):
    logits = random((n, c), scale=5)
    labels = (np.arange(n) * 7 % c).astype(np.int32)
    scale = np.full(n, 1.0 / n, np.float32)
    loss = run_threads(lambda mod: emit_sparse_softmax_cross_entropy(mod, "xent", n, c),
                       {"logits": logits, "labels": labels}, ["loss"])["loss"]
    grad = run_threads(lambda mod: emit_sparse_softmax_cross_entropy_grad(mod, "xent_grad", n, c, scaled=True),
                       {"logits": logits, "labels": labels, "scale": scale}, ["dlogits"])["dlogits"]
    loss_ref, grad_ref = _reference(logits, labels)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-6, atol=1e-6 * np.abs(logits).max())
    # softmax = exp(x - lse): an absolute error of ~eps*|x| in the exponent is a relative one in p
    np.testing.assert_allclose(grad, grad_ref / n, rtol=0, atol=8 * EPS32 * (1 + np.abs(logits).max()) / n)


def test_edge_rows():
    logits = np.array([[1e30, -np.inf, 0], [-np.inf] * 3, [1, 2, 3], [np.nan, 1, 2], [1, 2, 3]], np.float32)
    labels = np.array([0, 1, 5, 1, -1], np.int32)   # rows 2 and 4: labels out of range match no class
    loss = run_threads(lambda mod: emit_sparse_softmax_cross_entropy(mod, "xent", 5, 3),
                       {"logits": logits, "labels": labels}, ["loss"])["loss"]
    log_sum_exp = np.log(np.exp([1.0, 2.0, 3.0]).sum())
    assert loss[0] == 0 and np.isnan(loss[1]) and np.isnan(loss[3])
    np.testing.assert_allclose(loss[[2, 4]], [log_sum_exp] * 2, rtol=4 * EPS32)
    grad = run_threads(lambda mod: emit_sparse_softmax_cross_entropy_grad(mod, "xent_grad", 5, 3),
                       {"logits": logits, "labels": labels}, ["dlogits"])["dlogits"]
    np.testing.assert_array_equal(grad[0], [0, 0, 0])
    softmax = np.exp(np.array([1.0, 2.0, 3.0]) - log_sum_exp)
    np.testing.assert_allclose(grad[[2, 4]], [softmax] * 2, rtol=8 * EPS32)
