"""MindSpore's sparse tensor containers: CSRTensor, COOTensor and RowTensor.

Each holds its index and value Tensors and the dense shape, checks that they agree, and converts its
values' dtype (`astype`). graphc has no sparse kernels: `to_dense()` builds the dense tensor with
NumPy, on concrete values (in PYNATIVE mode, or outside a traced function).
"""
from __future__ import annotations

import numpy as np

from .errors import GraphcError
from .tracing import Tensor


def _shape(owner: str, shape, rank: int | None = None) -> tuple[int, ...]:
    if (not isinstance(shape, (tuple, list)) or (rank is not None and len(shape) != rank)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        wanted = f"{rank} positive ints" if rank is not None else "a tuple of positive ints"
        raise GraphcError(f"{owner}: shape {shape!r} is not valid; give {wanted}")
    return tuple(shape)


def _tensor(owner: str, name: str, value, ndim: int) -> Tensor:
    tensor = value if isinstance(value, Tensor) else Tensor(value)
    if tensor.ndim != ndim:
        raise GraphcError(f"{owner}: {name} must be a {ndim}-D tensor, got {tensor.type}")
    return tensor


def _dense(owner: str, shape: tuple[int, ...], positions: np.ndarray, values: Tensor) -> Tensor:
    """A dense tensor of shape holding values at positions ([nnz, k] ints: the first k axes), zero
    elsewhere; values at one position add up, as MindSpore's scatter-add gives them."""
    if values.is_symbolic:
        raise GraphcError(f"{owner}.to_dense: graphc builds dense tensors from sparse ones on concrete values only; "
                          "call it in PYNATIVE mode or outside the traced function")
    if positions.size and ((positions < 0).any() or (positions >= np.array(shape[:positions.shape[1]])).any()):
        raise GraphcError(f"{owner}.to_dense: an index is outside the shape {shape}: {positions.tolist()}")
    dense = np.zeros(shape, values.dtype.np)
    np.add.at(dense, tuple(positions.T), values.asnumpy())
    return Tensor(dense)


class _Sparse:
    """What CSRTensor and COOTensor share: a dense `shape`, and `values` deciding dtype and size."""
    shape: tuple[int, ...]
    values: Tensor

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def size(self) -> int:
        """The number of stored values, as MindSpore's."""
        return self.values.size

    @property
    def ndim(self) -> int:
        return len(self.shape)


class CSRTensor(_Sparse):
    """A 2-D matrix in compressed sparse rows: row i holds values[indptr[i]:indptr[i + 1]] at the
    columns indices[indptr[i]:indptr[i + 1]]."""

    def __init__(self, indptr, indices, values, shape):
        self.shape = _shape("CSRTensor", shape, rank=2)
        self.indptr = _tensor("CSRTensor", "indptr", indptr, 1)
        self.indices = _tensor("CSRTensor", "indices", indices, 1)
        self.values = _tensor("CSRTensor", "values", values, 1)
        if self.indptr.shape[0] != self.shape[0] + 1:
            raise GraphcError(f"CSRTensor: indptr has {self.indptr.shape[0]} entries; a matrix of shape {self.shape} "
                              f"needs 1 + shape[0] = {self.shape[0] + 1}")
        if self.indices.shape != self.values.shape:
            raise GraphcError(f"CSRTensor: indices {self.indices.type} and values {self.values.type} must have one "
                              "entry each per stored value")

    def astype(self, dtype) -> "CSRTensor":
        return CSRTensor(self.indptr, self.indices, self.values.astype(dtype), self.shape)

    def to_dense(self) -> Tensor:
        indptr = self.indptr.asnumpy()
        rows = np.repeat(np.arange(self.shape[0]), np.diff(indptr))
        return _dense("CSRTensor", self.shape, np.stack([rows, self.indices.asnumpy()], axis=1), self.values)

    def __repr__(self) -> str:
        return (f"CSRTensor(shape={list(self.shape)}, dtype={self.dtype}, indptr={self.indptr}, "
                f"indices={self.indices}, values={self.values})")


class COOTensor(_Sparse):
    """A sparse tensor as coordinates: values[k] sits at indices[k] (a row of ndim ints)."""

    def __init__(self, indices, values, shape):
        self.shape = _shape("COOTensor", shape)
        self.indices = _tensor("COOTensor", "indices", indices, 2)
        self.values = _tensor("COOTensor", "values", values, 1)
        if self.indices.shape != (self.values.shape[0], len(self.shape)):
            raise GraphcError(f"COOTensor: indices {self.indices.type} must be [number of values, rank of the shape] "
                              f"= [{self.values.shape[0]}, {len(self.shape)}] for values {self.values.type} and "
                              f"shape {self.shape}")

    def astype(self, dtype) -> "COOTensor":
        return COOTensor(self.indices, self.values.astype(dtype), self.shape)

    def to_dense(self) -> Tensor:
        return _dense("COOTensor", self.shape, self.indices.asnumpy(), self.values)

    def __repr__(self) -> str:
        return f"COOTensor(shape={list(self.shape)}, dtype={self.dtype}, indices={self.indices}, " \
               f"values={self.values})"


class RowTensor:
    """Some rows of a dense tensor: values[k] is row indices[k] of a tensor of dense_shape (the
    gradient of a gather). The rows given must fit dense_shape."""

    def __init__(self, indices, values, dense_shape):
        self.dense_shape = _shape("RowTensor", dense_shape)
        self.indices = _tensor("RowTensor", "indices", indices, 1)
        self.values = values if isinstance(values, Tensor) else Tensor(values)
        if self.values.shape != (self.indices.shape[0],) + self.dense_shape[1:]:
            raise GraphcError(f"RowTensor: values {self.values.type} must be one row of dense_shape "
                              f"{self.dense_shape} per index, [{self.indices.shape[0]}, "
                              f"{', '.join(map(str, self.dense_shape[1:]))}]")

    @property
    def dtype(self):
        return self.values.dtype

    def to_dense(self) -> Tensor:
        return _dense("RowTensor", self.dense_shape, self.indices.asnumpy()[:, None], self.values)

    def __repr__(self) -> str:
        return f"RowTensor(dense_shape={list(self.dense_shape)}, indices={self.indices}, values={self.values})"
