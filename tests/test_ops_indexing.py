"""x[...] (getitem), strided_slice and gather against NumPy's own indexing and hand values."""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import graphc
from graphc import Tensor, ops
from graphc.interp import run
from graphc.jit import trace

X = np.arange(60, dtype=np.float32).reshape(3, 4, 5)

INDEXES = [1, -1, slice(1, 3), slice(None, None, -1), (slice(None), None, 2), (Ellipsis, 1), None,
           (1, Ellipsis, slice(None, None, -2)), slice(-10, 10, 2), (slice(2, 0, -1), slice(None), -2), (),
           (Ellipsis, None), (0, 0, 0), (slice(None, -5, -1),), (slice(3, 1),), (None, 2, None, slice(1, None))]


@pytest.mark.parametrize("index", INDEXES, ids=repr)
def test_getitem_matches_numpy_eagerly_and_traced(index):
    expected = X[index]
    np.testing.assert_array_equal(Tensor(X)[index].asnumpy(), expected)
    traced = trace(lambda x: x[index], (X,))
    [result], _ = run(traced.graph, [X])
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)


def test_getitem_emits_no_op_for_whole_axes():
    traced = trace(lambda x: (x[:], x[...], x[:, :, ::1], x[-100:100]), (X,))
    assert [node.op for node in traced.graph.order()] == ["input"]


def test_getitem_gradient_scatters_into_zeros():
    grad = graphc.grad(lambda x: ops.reduce_sum(x[1:3, None, ::-2]))(Tensor(np.zeros((4, 5), np.float32)))
    expected = np.zeros((4, 5))
    expected[1:3, [4, 2, 0]] = 1
    np.testing.assert_array_equal(grad.asnumpy(), expected)


@pytest.mark.parametrize("index, problem", [
    (Tensor(np.array(1, np.int32)), "ops.gather"),
    (np.array([0, 1]), "ops.gather"),
    ((0, 0, 0, 0), "4 axes are indexed but the tensor has rank 3"),
    (3, "index 3 is out of range for axis 0 of size 3"),
    (1.5, "float is not a static index"),
    ((Ellipsis, Ellipsis), "only one Ellipsis"),
    (slice(None, None, 0), "step cannot be zero"),
    (True, "bool is not a static index"),
])
def test_unsupported_indexes_are_clear_errors(index, problem):
    with pytest.raises(graphc.GraphcError) as caught:
        line = inspect.currentframe().f_lineno + 1
        Tensor(X)[index]
    message = str(caught.value)
    assert f"{os.path.basename(__file__)}:{line}" in message
    assert "getitem" in message and "f32[3,4,5]" in message and problem in message


def test_strided_slice_normalises_like_numpy():
    assert ops.slice_ranges((5, 4), (-10, -1), (10, -5), (3, -1)) == (range(0, 5, 3), range(3, -1, -1))
    y = ops.strided_slice(Tensor(X), begin=(-10,), end=(10,), strides=(2,))
    np.testing.assert_array_equal(y.asnumpy(), X[0:3:2])


def test_gather_picks_a_learning_rate_by_step():
    learning_rates = Tensor(np.array([0.1, 0.05, 0.01], np.float32))
    assert float(ops.gather(learning_rates, Tensor(np.array(1, np.int32)), 0)) == np.float32(0.05)
    table = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    index = np.array([[2, 0], [1, 1]], np.int64)
    np.testing.assert_array_equal(ops.gather(Tensor(table), Tensor(index), axis=1).asnumpy(),
                                  np.stack([table[:, [2, 0]], table[:, [1, 1]]], axis=1))


def test_gather_gradient_adds_repeated_indices():
    index = Tensor(np.array([1, 1, 3], np.int32))
    grad = graphc.grad(lambda t: ops.reduce_sum(ops.gather(t, index, 0)))(Tensor(np.zeros(4, np.float32)))
    np.testing.assert_array_equal(grad.asnumpy(), [0, 2, 0, 1])


def test_gather_out_of_range_is_a_clear_error():
    with pytest.raises(graphc.GraphcError, match=r"index 3 is out of range for an axis of size 3; indices must be in "
                                                 r"\[0, 3\)"):
        ops.gather(Tensor(np.zeros(3, np.float32)), Tensor(np.array([0, 3], np.int32)), 0)
