"""The sources of mindspore.dataset that read Python data: NumpySlicesDataset and GeneratorDataset,
with MindSpore 2.x's arguments, in MindSpore's order.

A random-access source reads the rows its sampler picks (samplers.py; `shuffle`, `num_shards`,
`shard_id` and `num_samples` are shorthand for one, and `shuffle=None` shuffles, as in MindSpore).
An in-memory source is one block per pass: its columns and the pass's row order, so the stages
after it stay vectorized. Rows from Python travel as one-row blocks.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from graphc.errors import ArgumentError

from . import samplers
from .operation import numpy_dtype
from .pipeline import Dataset, _pass_rng, _Rows
from .pyobjects import dict_value, dicts_column

class RowOrder:
    """The rows one pass of a random-access source reads, in order: those of `sampler`, or of the
    shorthand options (a sampler with any of them is refused, as MindSpore refuses it)."""

    def __init__(self, n: int, owner: str, sampler=None, shuffle: bool | None = None, num_shards: int | None = None,
                 shard_id: int | None = None, num_samples: int | None = None):
        if sampler is not None:
            given = {name: value for name, value in (("shuffle", shuffle), ("num_shards", num_shards),
                                                     ("shard_id", shard_id), ("num_samples", num_samples))
                     if value is not None}
            if given:
                raise ArgumentError(f"{owner}: sampler decides which rows are read and in what order; "
                                    f"{', '.join(f'{k}={v!r}' for k, v in given.items())} conflicts with it. Give the "
                                    f"sampler those options (e.g. DistributedSampler(num_shards, shard_id, shuffle, "
                                    f"num_samples)), or drop the sampler")
            self._sampler = samplers.as_sampler(sampler, owner)
        else:
            self._sampler = samplers.from_options(owner, shuffle is not False, num_shards, shard_id, num_samples)
        self._sampler.check(n, owner)
        self._n, self._owner = n, owner

    def __len__(self) -> int:
        return self._sampler.size(self._n)

    def order(self, pass_index: int) -> np.ndarray:
        """The row indices of pass `pass_index`."""
        order = np.asarray(self._sampler.indices(self._n, _pass_rng(0, pass_index)), dtype=np.int64)
        if len(order) and (order.min() < 0 or order.max() >= self._n):
            bad = order[(order < 0) | (order >= self._n)][0]
            raise ArgumentError(f"{self._owner}: the sampler {type(self._sampler).__name__} picked row {bad}, but "
                                f"the source has rows 0 to {self._n - 1}")
        return order


class NumpySlicesDataset(Dataset):
    """Rows sliced from in-memory data along the first axis.

    `data` is an array or list (one column), a tuple of them (one column each) or a dict
    name -> column. Column names default to the dict keys, else "column_0", "column_1", ...
    """

    def __init__(self, data: Any, column_names: Sequence[str] | None = None, num_samples: int | None = None,
                 num_parallel_workers: int | None = 1, shuffle: bool | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None):
        names, columns = _columns_of(data, column_names)
        super().__init__(None, names)
        self._columns = columns
        self._order = RowOrder(len(columns[0]), type(self).__name__, sampler, shuffle, num_shards, shard_id,
                               num_samples)

    def get_dataset_size(self) -> int:
        return len(self._order)

    def _blocks(self) -> Iterator[_Rows]:
        yield _Rows(self._columns, self._order.order(self._next_pass()))


def _columns_of(data: Any, column_names: Sequence[str] | str | None) -> tuple[list[str], tuple[np.ndarray, ...]]:
    if isinstance(column_names, str):
        column_names = [column_names]
    if isinstance(data, dict):
        names, values = list(data), list(data.values())
    else:
        values = list(data) if isinstance(data, tuple) else [data]
        names = [f"column_{i}" for i in range(len(values))]
    names = list(column_names) if column_names is not None else names
    if len(names) != len(values):
        raise ArgumentError(f"NumpySlicesDataset: {len(values)} columns but {len(names)} column_names {names}")
    columns = [dicts_column(value) if _all_dicts(value) else _column_array("NumpySlicesDataset", name, value)
               for name, value in zip(names, values)]
    lengths = {name: (len(c) if c.ndim else 0) for name, c in zip(names, columns)}
    if len(set(lengths.values())) != 1:
        raise ArgumentError(f"NumpySlicesDataset: columns have different numbers of rows: {lengths}")
    if not columns or not next(iter(lengths.values())):
        raise ArgumentError("NumpySlicesDataset: the data has no rows")
    return names, tuple(columns)


def _all_dicts(value) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, dict) for v in value)


def _column_array(owner: str, name: str, value, copy: bool = False) -> np.ndarray:
    """A column's value as an array of numbers, bools, strings or bytes, or a dict (pyobjects.py), as
    MindSpore passes them. Other Python objects (nested lists of different lengths, a set) have no
    array form that the stages and the network could use."""
    if isinstance(value, dict):
        return dict_value(value)
    try:
        array = np.array(value) if copy else np.asarray(value)
    except ValueError:          # NumPy refuses nested lists of different lengths
        array = np.array([value], dtype=object)
    if array.dtype == object:
        sample = next((v for v in array.reshape(-1)), array)
        raise ArgumentError(f"{owner}: column {name!r} holds Python objects ({type(sample).__name__}); graphc's "
                            "columns hold arrays of numbers, bools, strings or bytes, each row of one shape, or "
                            "dicts of them. Pad rows of different lengths (or return "
                            "them one row at a time from a GeneratorDataset)")
    return array


class GeneratorDataset(Dataset):
    """Rows from Python: `source` is random-access (__getitem__ and __len__), a callable returning
    an iterable, or an iterable. A row is a tuple or list with one value per column, or the bare
    value of a one-column dataset. Only random-access sources take a sampler, shuffle or shards.

    `column_types` (deprecated in MindSpore 2.8) declares each column's dtype; a row of another
    dtype is an error, as in MindSpore. `schema` is refused: name the columns with column_names.
    """

    def __init__(self, source: Any, column_names: str | Sequence[str] | None = None, column_types=None,
                 schema=None, num_samples: int | None = None, num_parallel_workers: int | None = 1,
                 shuffle: bool | None = None, sampler=None, num_shards: int | None = None,
                 shard_id: int | None = None, python_multiprocessing: bool = True, max_rowsize=None,
                 batch_sampler=None, collate_fn=None):
        if schema is not None:
            raise ArgumentError("GeneratorDataset: schema is not supported (graphc reads no Schema files); name the "
                                "columns with column_names, and declare their dtypes with column_types if needed")
        if batch_sampler is not None or collate_fn is not None:
            raise ArgumentError("GeneratorDataset: batch_sampler and collate_fn are not supported; make rows with the "
                                "source and batch them with .batch(batch_size, per_batch_map=...)")
        if column_names is None:
            raise ArgumentError("GeneratorDataset: column_names is required: one name per value of a row")
        names = [column_names] if isinstance(column_names, str) else list(column_names)
        super().__init__(None, names)
        self._types = None if column_types is None else \
            [numpy_dtype(t, "GeneratorDataset: column_types") for t in column_types]
        if self._types is not None and len(self._types) != len(names):
            raise ArgumentError(f"GeneratorDataset: {len(self._types)} column_types for the {len(names)} columns "
                                f"{names}")
        self._source = source
        self._random_access = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        if self._random_access:
            if len(source) == 0:
                raise ArgumentError("GeneratorDataset: the source has no rows (len(source) == 0)")
            self._order = RowOrder(len(source), "GeneratorDataset", sampler, shuffle, num_shards, shard_id,
                                   num_samples)
        else:
            if shuffle or num_shards is not None or shard_id is not None or sampler is not None:
                raise ArgumentError("GeneratorDataset: sampler, shuffle and sharding need a random-access source "
                                    "(with __getitem__ and __len__); shuffle later with .shuffle(buffer_size)")
            if not (callable(source) or hasattr(source, "__iter__")):
                raise ArgumentError(f"GeneratorDataset: source must be random-access, callable or iterable, "
                                    f"got {type(source).__name__}")
            self._num_samples = samplers.optional_count("GeneratorDataset", "num_samples", num_samples)
        self._size: int | None = None

    def get_dataset_size(self) -> int:
        if self._random_access:
            return len(self._order)
        if self._size is None:
            self._size = sum(1 for _ in self._rows())
        return self._size

    def _blocks(self) -> Iterator[_Rows]:
        count = 0
        for row in self._rows():
            count += 1
            yield _Rows(self._row_columns(row))
        if count == 0:
            raise ArgumentError("GeneratorDataset: the source produced no rows")

    def _rows(self) -> Iterable:
        if self._random_access:
            return (self._source[int(i)] for i in self._order.order(self._next_pass()))
        rows = self._source() if callable(self._source) else iter(self._source)
        return rows if self._num_samples is None else itertools.islice(rows, self._num_samples)

    def _row_columns(self, row: Any) -> tuple[np.ndarray, ...]:
        values = tuple(row) if isinstance(row, (tuple, list)) else (row,)   # a tuple or list holds the columns
        if len(values) != len(self._column_names):
            raise ArgumentError(f"GeneratorDataset: a row has {len(values)} values for the "
                                f"{len(self._column_names)} columns {self._column_names}")
        arrays = tuple(_column_array("GeneratorDataset", name, value, copy=True)
                       for name, value in zip(self._column_names, values))
        for i, (name, array) in enumerate(zip(self._column_names, arrays)):
            if self._types is not None and array.dtype != self._types[i]:
                raise ArgumentError(f"GeneratorDataset: column {name!r} gave a {array.dtype} value but column_types "
                                    f"declares {self._types[i]}; return {self._types[i]} values, or drop column_types")
        return tuple(array[None] for array in arrays)
