"""Embedding: rows of a table picked by integer ids, as MindSpore's nn.Embedding."""
from __future__ import annotations

from ... import ops
from ...errors import ArgumentError
from ...types import dtype_of, float32, int32, int64
from ..cell import Cell
from ..init import initializer
from ..parameter import Parameter
from .checks import check_tensor, input_error

__all__ = ["Embedding"]


class Embedding(Cell):
    """ids of any shape -> ids.shape + (embedding_size,): row `id` of the Parameter `embedding_table`
    [vocab_size, embedding_size] (MindSpore's default init 'normal': N(0, 0.01²)).

    An id outside [0, vocab_size) is an error in every mode (ops.gather checks it, in the native step
    before it runs); MindSpore's PYNATIVE_MODE reads a negative id from the end and its use_one_hot
    path gives a row of zeros. use_one_hot=True, which MindSpore computes as one_hot(ids) @ table,
    gives the same values and gradient through gather here. padding_idx's row starts at zero (its
    gradient is not masked, as in MindSpore). dtype is the one-hot values' dtype in MindSpore, so it
    has no effect on the result."""

    def __init__(self, vocab_size, embedding_size, use_one_hot=False, embedding_table="normal", dtype=float32,
                 padding_idx=None):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_size", embedding_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"Embedding: {name} must be an int >= 1, got {value!r}")
        if not isinstance(use_one_hot, bool):
            raise ArgumentError(f"Embedding: use_one_hot must be a bool, got {use_one_hot!r}")
        if padding_idx is not None and (not isinstance(padding_idx, int) or not 0 <= padding_idx < vocab_size):
            raise ArgumentError(f"Embedding: padding_idx must be None or an int in [0, {vocab_size}), "
                                f"got {padding_idx!r}")
        self.vocab_size, self.embedding_size, self.use_one_hot = vocab_size, embedding_size, use_one_hot
        self.dtype, self.padding_idx = dtype_of(dtype), padding_idx
        table = initializer(embedding_table, (vocab_size, embedding_size)).asnumpy()
        if padding_idx is not None:
            table = table.copy()
            table[padding_idx] = 0
        self.embedding_table = Parameter(table, name="embedding_table")

    def construct(self, ids):
        check_tensor(self, ids)
        if ids.dtype not in (int32, int64):
            raise input_error(self, ids, "int32 or int64 ids", "cast the ids with ops.cast(ids, graphc.int32)")
        return ops.gather(self.embedding_table, ids, axis=0)

    def extend_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, use_one_hot={self.use_one_hot}, "
                f"embedding_table={self.embedding_table}, dtype={self.dtype.name}, padding_idx={self.padding_idx}")
