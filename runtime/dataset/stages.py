"""Pipeline stages beyond map/shuffle/batch/repeat, as mindspore.dataset has them: take, skip, zip,
concat (and `+`), split, filter, project and rename.

They keep the block structure of pipeline.py: on an in-memory source a pass is one block (the
columns and an order), and take, skip, filter and split only narrow that order, so nothing is
copied and a following batch is still one gather per column. Once a pipeline is batched, take
and skip count batches. A bad stage raises when it is built, naming the stage and the user's line.
"""
from __future__ import annotations

import sys
from typing import Callable, Iterator, Sequence

import numpy as np

from graphc.errors import ArgumentError

from .pipeline import Dataset, _as_tuple, _concatenate, _Rows, get_seed

_SPLIT_SALT = 0x5EED5   # the split's random source: apart from the shuffles' (salted by depth)


def zip_datasets(datasets: Sequence[Dataset]) -> Dataset:
    """mindspore.dataset.zip: the datasets' rows side by side (see Dataset.zip)."""
    datasets = dataset_list("zip", datasets)
    return ZipDataset(datasets) if len(datasets) > 1 else datasets[0]


def dataset_list(stage: str, datasets) -> list[Dataset]:
    datasets = [datasets] if isinstance(datasets, Dataset) else list(datasets)
    for d in datasets:
        if not isinstance(d, Dataset):
            raise ArgumentError(f"{stage}: expected datasets, got a {type(d).__name__}")
    return datasets


def _count(stage: str, count: int, allow_all: bool) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < (-1 if allow_all else 0) or \
            (allow_all and count == 0):
        raise ArgumentError(f"{stage}: count must be {'a positive int or -1 (all)' if allow_all else 'an int >= 0'}, "
                            f"got {count!r}")
    return count


class _Window(Dataset):
    """take and skip: the rows (batches, once batched) of each pass from `start` to `stop`."""

    def __init__(self, parent: Dataset, start: int, stop: int | None):
        super().__init__(parent, parent._column_names)
        self._start, self._stop = start, stop

    def get_dataset_size(self) -> int:
        size = self._parent.get_dataset_size()
        return max(0, min(size, self._stop if self._stop is not None else size) - self._start)

    def _blocks(self) -> Iterator[_Rows]:
        seen = 0
        for block in self._parent._blocks():
            units = 1 if self._batched else len(block)
            first, last = max(self._start - seen, 0), units if self._stop is None else min(self._stop - seen, units)
            seen += units
            if first < last:
                yield block if (first, last) == (0, units) else block.select(slice(first, last))
            if self._stop is not None and seen >= self._stop:
                return


class TakeDataset(_Window):
    def __init__(self, parent: Dataset, count: int):
        count = _count("take", count, allow_all=True)
        super().__init__(parent, 0, None if count == -1 else count)


class SkipDataset(_Window):
    def __init__(self, parent: Dataset, count: int):
        super().__init__(parent, _count("skip", count, allow_all=False), None)


class _Joined(Dataset):
    """A stage over several datasets: each epoch of it is that epoch of each of them."""

    def __init__(self, stage: str, parents: list[Dataset], names: list[str]):
        super().__init__(None, names)
        batched = {p._batched for p in parents}
        if len(batched) != 1:
            raise ArgumentError(f"{stage}: some datasets are batched and some are not; {stage} them all before "
                                "batching, or all after")
        self._parents = parents
        self._depth = max(p._depth for p in parents) + 1
        self._batched = batched.pop()

    def set_epoch(self, epoch: int) -> None:
        for parent in self._parents:
            parent.set_epoch(epoch)

    def _upstream(self) -> list[Dataset]:
        return list(self._parents)


class ZipDataset(_Joined):
    """Rows side by side, as long as the shortest dataset; the column names must all differ."""

    def __init__(self, parents: list[Dataset]):
        names = [name for p in parents for name in p._column_names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ArgumentError(f"zip: the column name(s) {repeated} appear in more than one dataset; rename them "
                                "first (dataset.rename(...))")
        super().__init__("zip", parents, names)

    def get_dataset_size(self) -> int:
        return min(p.get_dataset_size() for p in self._parents)

    def _blocks(self) -> Iterator[_Rows]:
        streams = [_Cursor(p._blocks()) for p in self._parents]
        while all(s.ready() for s in streams):
            if self._batched:
                batches = [s.take_block() for s in streams]
                sizes = {len(b) for b in batches}
                if len(sizes) != 1:
                    raise ArgumentError(f"zip: the batches have different sizes {[len(b) for b in batches]}; zip "
                                        "before batching, or batch every dataset alike")
                yield _Rows(tuple(c for b in batches for c in b.columns))
            else:
                rows = min(s.remaining() for s in streams)
                yield _Rows(tuple(column for s in streams for column in s.take_rows(rows)))


class _Cursor:
    """Reads a stream of blocks a given number of rows at a time."""

    def __init__(self, blocks: Iterator[_Rows]):
        self._blocks, self._block, self._at = blocks, None, 0

    def ready(self) -> bool:
        while self._block is None or self._at == len(self._block):
            self._block, self._at = next(self._blocks, None), 0
            if self._block is None:
                return False
        return True

    def remaining(self) -> int:
        return len(self._block) - self._at

    def take_rows(self, rows: int) -> tuple[np.ndarray, ...]:
        self._at += rows
        return self._block.take(self._at - rows, self._at)

    def take_block(self) -> _Rows:
        self._at = len(self._block)
        return self._block


class ConcatDataset(_Joined):
    """The datasets' rows one after the other; they must have the same columns, in the same order."""

    def __init__(self, parents: list[Dataset]):
        first = parents[0]._column_names
        for index, p in enumerate(parents[1:], 1):
            if p._column_names != first:
                raise ArgumentError(f"concat: dataset {index} has the columns {p._column_names} but dataset 0 has "
                                    f"{first}; project or rename them to match")
        super().__init__("concat", parents, first)

    def get_dataset_size(self) -> int:
        return sum(p.get_dataset_size() for p in self._parents)

    def _blocks(self) -> Iterator[_Rows]:
        for parent in self._parents:
            yield from parent._blocks()


class FilterDataset(Dataset):
    """The rows for which predicate(*values) is true. A predicate marked `vectorized = True` gets
    whole columns and returns one bool per row; others get one row at a time."""

    def __init__(self, parent: Dataset, predicate: Callable, input_columns):
        super().__init__(parent, parent._column_names)
        if not callable(predicate):
            raise ArgumentError(f"filter: predicate must be callable, got {type(predicate).__name__}")
        self._predicate = predicate
        self._inputs = parent._column_indices(input_columns, "filter", parent._column_names)
        self._size: int | None = None

    def get_dataset_size(self) -> int:
        """Counted by running a pass (the count does not depend on the order), once."""
        if self._size is None:
            with self._passes_kept():
                self._size = sum(1 if self._batched else len(block) for block in self._blocks())
        return self._size

    def _blocks(self) -> Iterator[_Rows]:
        for block in self._parent._blocks():
            keep = self._mask(block)
            if keep.all():
                yield block
            elif keep.any():
                yield block.select(keep)

    def _mask(self, block: _Rows) -> np.ndarray:
        if self._batched or getattr(self._predicate, "vectorized", False):
            values = block.take(0, len(block))
            result = np.asarray(self._predicate(*(values[i] for i in self._inputs)), dtype=bool)
            return np.full(len(block), bool(result)) if self._batched else result.reshape(len(block))
        return np.fromiter((bool(_first(self._predicate(*(row[i] for i in self._inputs))))
                            for row in map(block.row, range(len(block)))), dtype=bool, count=len(block))


def _first(result):
    """A predicate may return a bool, a one-element array, or a tuple holding either."""
    result = _as_tuple(result)[0]
    return np.asarray(result).reshape(())


class ProjectDataset(Dataset):
    def __init__(self, parent: Dataset, columns: str | Sequence[str]):
        self._indices = parent._column_indices(columns, "project", [])
        if not self._indices or len(set(self._indices)) != len(self._indices):
            raise ArgumentError(f"project: columns {columns!r} must name each kept column once")
        super().__init__(parent, [parent._column_names[i] for i in self._indices])

    def _blocks(self) -> Iterator[_Rows]:
        for block in self._parent._blocks():
            yield _Rows(tuple(block.columns[i] for i in self._indices), block.order)


class RenameDataset(Dataset):
    def __init__(self, parent: Dataset, input_columns: str | Sequence[str], output_columns: str | Sequence[str]):
        indices = parent._column_indices(input_columns, "rename", [])
        new = [output_columns] if isinstance(output_columns, str) else list(output_columns)
        if len(new) != len(indices):
            raise ArgumentError(f"rename: {len(indices)} input column(s) but {len(new)} output column(s)")
        names = list(parent._column_names)
        for i, name in zip(indices, new):
            names[i] = name
        if len(set(names)) != len(names):
            raise ArgumentError(f"rename: the columns would be {names}, with a name twice")
        super().__init__(parent, names)

    def _blocks(self) -> Iterator[_Rows]:
        return self._parent._blocks()


# -- split --------------------------------------------------------------------------------------------------
def split(dataset: Dataset, sizes, randomize: bool = True) -> list[Dataset]:
    """MindSpore's Dataset.split: disjoint datasets of the given sizes (or fractions of the rows).
    Rows are told apart by where they are stored, so a split of a shuffled in-memory dataset keeps
    the same rows every epoch (each split still reshuffles them); randomize picks them at random
    (seeded by set_seed)."""
    if dataset._batched:
        raise ArgumentError("split: the dataset is batched; split the rows first, then batch each part")
    total = dataset.get_dataset_size()
    counts = _split_sizes(sizes, total)
    rows = np.random.default_rng([get_seed(), _SPLIT_SALT]).permutation(total) if randomize else np.arange(total)
    starts = np.cumsum([0] + counts)
    return [_SubsetDataset(dataset, rows[start:stop]) for start, stop in zip(starts[:-1], starts[1:])]


def _split_sizes(sizes, total: int) -> list[int]:
    """Row counts from ints (adding up to total) or fractions (adding up to 1), MindSpore's rounding:
    round each; add a shortfall to the first part, take an excess from the first part large enough."""
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else None
    if sizes and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        if sum(sizes) != total:
            raise ArgumentError(f"split: sizes {sizes} add up to {sum(sizes)}, but the dataset has {total} rows")
        return sizes
    if sizes and all(isinstance(s, float) and 0 < s <= 1 for s in sizes) and abs(sum(sizes) - 1) < 1e-6:
        counts = [round(s * total) for s in sizes]
        if 0 in counts:
            raise ArgumentError(f"split: fractions {sizes} of {total} rows leave a part empty")
        excess = sum(counts) - total
        if excess < 0:
            counts[0] -= excess
        elif excess > 0:
            part = next(i for i, c in enumerate(counts) if c > excess)
            counts[part] -= excess
        return counts
    raise ArgumentError(f"split: sizes must be positive ints adding up to the dataset's {total} rows, or fractions "
                        f"in (0, 1] adding up to 1; got {sizes!r}")


class _SubsetDataset(Dataset):
    """The rows of `parent` stored at `rows` (positions in the parent's unshuffled pass)."""

    def __init__(self, parent: Dataset, rows: np.ndarray):
        super().__init__(parent, parent._column_names)
        self._rows = rows
        self._members = np.zeros(parent.get_dataset_size(), dtype=bool)
        self._members[rows] = True

    def get_dataset_size(self) -> int:
        return len(self._rows)

    def _blocks(self) -> Iterator[_Rows]:
        blocks = list(self._parent._blocks())
        if len(blocks) == 1:
            block = blocks[0]
            stored = block.storage_order()
            if len(stored) != len(self._members):
                raise ArgumentError("split: the dataset's rows are not stored one per row (it was sharded or "
                                    "filtered); split before sharding or filtering")
            if block.order is None:
                yield block.select(self._rows)
            else:                      # the parent's (shuffled) order, restricted to this part's rows
                yield block.select(self._members[stored])
            return
        # rows from Python one by one: positions in the pass stand for the rows
        columns = _concatenate([b.take(0, len(b)) for b in blocks], self._column_names)
        yield _Rows(columns, self._rows)


Dataset._stages = sys.modules[__name__]
