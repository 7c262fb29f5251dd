"""MindSpore's sparse tensor containers: their parts, astype, to_dense (against dense arrays written out
here) and the checks on indices, values and shape."""
import re

import numpy as np
import pytest

import graphc
from graphc import COOTensor, CSRTensor, GraphcError, RowTensor, Tensor


def test_csr_tensor_parts_astype_and_dense():
    csr = CSRTensor(Tensor([0, 2, 2, 3]), Tensor([1, 3, 0]), Tensor([5.0, 6.0, 7.0]), (3, 4))
    assert (csr.shape, csr.dtype, csr.size, csr.ndim) == ((3, 4), graphc.float32, 3, 2)
    assert csr.astype(graphc.float64).dtype == graphc.float64 and csr.indptr.asnumpy().tolist() == [0, 2, 2, 3]
    np.testing.assert_array_equal(csr.to_dense().asnumpy(), [[0, 5, 0, 6], [0, 0, 0, 0], [7, 0, 0, 0]])


def test_coo_tensor_adds_values_at_one_position():
    coo = COOTensor(Tensor(np.array([[0, 1], [2, 3], [0, 1]], np.int32)), Tensor([1.0, 2.0, 4.0]), (3, 4))
    assert (coo.shape, coo.dtype, coo.astype(graphc.float64).dtype) == ((3, 4), graphc.float32, graphc.float64)
    expected = np.zeros((3, 4), np.float32)
    expected[0, 1], expected[2, 3] = 5.0, 2.0
    np.testing.assert_array_equal(coo.to_dense().asnumpy(), expected)


def test_row_tensor_holds_rows_of_its_dense_shape():
    rows = RowTensor(Tensor([2]), Tensor([[1.0, 2.0]]), (3, 2))
    assert rows.dense_shape == (3, 2) and rows.indices.asnumpy().tolist() == [2]
    np.testing.assert_array_equal(rows.to_dense().asnumpy(), [[0, 0], [0, 0], [1, 2]])


@pytest.mark.parametrize("build, message", [
    (lambda: CSRTensor(Tensor([0, 1]), Tensor([0, 1]), Tensor([1.0, 2.0]), (2, 4)),
     "CSRTensor: indptr has 2 entries; a matrix of shape (2, 4) needs 1 + shape[0] = 3"),
    (lambda: CSRTensor(Tensor([0, 1, 2]), Tensor([0]), Tensor([1.0, 2.0]), (2, 4)), "one entry each per stored value"),
    (lambda: CSRTensor(Tensor([0, 1]), Tensor([0]), Tensor([1.0]), (1, 2, 3)), "shape (1, 2, 3) is not valid"),
    (lambda: COOTensor(Tensor([[0, 1]]), Tensor([1.0, 2.0]), (3, 4)), "must be [number of values, rank of the shape]"),
    (lambda: COOTensor(Tensor([[0, 5]]), Tensor([1.0]), (3, 4)).to_dense(), "an index is outside the shape (3, 4)"),
    (lambda: RowTensor(Tensor([0]), Tensor([[1.0, 2.0, 3.0]]), (3, 2)), "one row of dense_shape (3, 2) per index"),
    (lambda: graphc.jit(lambda v: COOTensor(Tensor([[0, 1]]), v, (3, 4)).to_dense())(Tensor([1.0])),
     "on concrete values only"),
])
def test_bad_sparse_tensors_are_refused(build, message):
    with pytest.raises(GraphcError, match=re.escape(message)):
        build()
