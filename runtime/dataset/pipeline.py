"""Dataset pipelines in the style of mindspore.dataset: source -> map -> shuffle -> batch -> repeat.

Data flows as blocks of rows: whole numpy columns plus the order to read them in. An in-memory
source is one block per pass (its columns, and a permutation when shuffled), so a batch is one
fancy-index gather per column and a vectorized map runs once over the whole column. Rows from a
Python generator travel as one-row blocks: correct, but with per-sample Python costs.

Semantics worth knowing:
- A source's `shuffle=None` means shuffle when the source is random-access (as in MindSpore).
- Shuffling is seeded: the order of a pass depends only on the dataset seed (`set_seed`), the
  position of the shuffle in the pipeline and how many passes that shuffle has made, so every
  epoch is reshuffled, and a rebuilt pipeline replays the same epochs.
- `shuffle(buffer_size)` permutes rows within windows of at least `buffer_size` rows; an
  in-memory source arrives as one window, so it is fully permuted.
- Sharding (`num_shards`, `shard_id`; samplers.py) deals the pass order round-robin: shard k takes rows
  k, k + num_shards, ..., so every row of a pass is in exactly one shard and shard sizes differ by
  at most one. All shards must use the same seed so that they deal from the same permutation.
  Under data parallelism (runtime/distributed.py) a random-access source given neither takes
  the process group's size and rank.
- `map` hands operations marked `vectorized = True` whole columns, in chunks of rows (before
  `batch`), or whole batches (after), and other callables one sample at a time (before `batch`)
  or the batch arrays (after, as MindSpore does). The built-in transforms (operation.py) are
  vectorized through their `on_rows` method, their `__call__` being MindSpore's eager call on one
  sample; a `transforms.Compose` counts as the transforms it holds. Vectorized operations must map
  each row on its own. Deterministic ones are computed once on an in-memory column and reused each
  epoch, when the result takes at most GRAPHC_MAP_CACHE_BYTES (default 512 MiB; MNIST resized to
  32x32 float32 is 246 MB); a larger result is recomputed every pass rather than held.
- Operations marked `random = True` (RandomCrop, ...) are called with `rng=`, a generator that
  depends only on the dataset seed, the position of the map in the pipeline and the pass, and they
  run afresh every pass: each epoch sees new draws, and a resumed run the same ones.
- `map(..., output_columns=...)` names the last operation's results: as many as the inputs, they
  replace them in place; otherwise they come first, followed by the untouched columns (as in
  MindSpore). `column_order` (r1.7) then selects and orders the columns, as `project` does.
- `num_parallel_workers` is accepted for compatibility and ignored.

take, skip, zip, concat, split, filter, project and rename are in stages.py.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from graphc import Tensor, env
from graphc.errors import ArgumentError

from .pyobjects import batch_value, dict_value, is_batch_dict, is_dict_column, leaves_mapped

# Iterators built with output_numpy=False (the default, as in MindSpore) wrap each array in this
# class, when it takes the array's dtype (graphc's Tensor has no uint8, for one: such columns stay
# NumPy arrays); None yields numpy arrays.
TENSOR_TYPE: type | None = Tensor

_seed = 0
_CHUNK_ROWS = 4096  # rows per call of a vectorized operation on a whole column (16 MB of MNIST floats)


def map_cache_bytes() -> int:
    """The most a vectorized map keeps of its result between passes (GRAPHC_MAP_CACHE_BYTES)."""
    return env.get("GRAPHC_MAP_CACHE_BYTES")


def set_seed(seed: int) -> None:
    """Seed every dataset shuffle (MindSpore's mindspore.dataset.config.set_seed)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_seed: seed must be a non-negative int, got {seed!r}")
    global _seed
    _seed = seed


def get_seed() -> int:
    return _seed


def _pass_rng(salt: int, pass_index: int) -> np.random.Generator:
    return np.random.default_rng([_seed, salt, pass_index])


class _Rows:
    """A block of rows: `columns` (arrays with a leading row axis) read in `order` (None: as stored)."""

    __slots__ = ("columns", "order")

    def __init__(self, columns: tuple[np.ndarray, ...], order: np.ndarray | None = None):
        self.columns, self.order = columns, order

    def __len__(self) -> int:
        return len(self.columns[0]) if self.order is None else len(self.order)

    def take(self, start: int, stop: int) -> tuple[np.ndarray, ...]:
        if self.order is None:
            return tuple(column[start:stop] for column in self.columns)
        rows = self.order[start:stop]
        return tuple(column[rows] for column in self.columns)

    def row(self, i: int) -> tuple[np.ndarray, ...]:
        index = i if self.order is None else self.order[i]
        return tuple(column[index] for column in self.columns)

    def storage_order(self) -> np.ndarray:
        """The stored row behind each position: `order`, or 0, 1, ... when read as stored."""
        return np.arange(len(self.columns[0])) if self.order is None else self.order

    def select(self, positions) -> _Rows:
        """The rows at `positions` (a slice, indices or a mask), without copying the columns."""
        return _Rows(self.columns, self.storage_order()[positions])


class Dataset:
    """A pipeline stage. Build pipelines with the methods; iterate to run them."""
    # runtime.dataset.stages (take, skip, zip, ...): it builds on this module, so it installs itself here
    # when imported (runtime.dataset imports it) rather than being imported from here.
    _stages = None

    def __init__(self, parent: Dataset | None, column_names: Sequence[str]):
        self._parent = parent
        self._column_names = list(column_names)
        self._depth = 0 if parent is None else parent._depth + 1
        self._batched = parent is not None and parent._batched
        self._passes = 0   # passes started: what a shuffle, a source's sampler or a random map draws for

    # --- building -------------------------------------------------------------------------

    def map(self, operations: Callable | Sequence[Callable], input_columns: str | Sequence[str] | None = None,
            output_columns: str | Sequence[str] | None = None, num_parallel_workers: int | None = None, *,
            column_order: Sequence[str] | None = None, **kwargs) -> Dataset:
        """Apply operations, in order, to `input_columns` (default: the first column); the last one's
        results are named `output_columns` (default: the input columns). The positional arguments are
        MindSpore 2.x's; r1.x's `column_order` is taken by name."""
        _check_options("map", kwargs)
        mapped = _MapDataset(self, operations, input_columns, output_columns)
        return mapped if column_order is None else mapped.project(column_order)

    def shuffle(self, buffer_size: int) -> Dataset:
        return _ShuffleDataset(self, buffer_size)

    def batch(self, batch_size: int, drop_remainder: bool = False, num_parallel_workers: int | None = None,
              per_batch_map: Callable | None = None, input_columns: Sequence[str] | None = None,
              output_columns: Sequence[str] | None = None, column_order: Sequence[str] | None = None,
              **kwargs) -> Dataset:
        """Batches of `batch_size` rows. per_batch_map(*columns, batch_info) gets the rows of each
        input column (default: all) as a list and returns the output columns' rows."""
        _check_options("batch", kwargs)
        batched = _BatchDataset(self, batch_size, drop_remainder, per_batch_map, input_columns, output_columns)
        return batched if column_order is None else batched.project(column_order)

    def repeat(self, count: int | None = None) -> Dataset:
        """Run the pipeline `count` times (None or -1: forever), each run a new epoch."""
        return _RepeatDataset(self, count)

    def take(self, count: int = -1) -> Dataset:
        """The first `count` rows (batches, once batched) of each pass; -1: all."""
        return self._stages.TakeDataset(self, count)

    def skip(self, count: int) -> Dataset:
        """Each pass without its first `count` rows (batches, once batched)."""
        return self._stages.SkipDataset(self, count)

    def zip(self, datasets: Dataset | Sequence[Dataset]) -> Dataset:
        """Rows side by side: this dataset's columns, then the others'; as long as the shortest."""
        return self._stages.ZipDataset([self, *self._stages.dataset_list("zip", datasets)])

    def concat(self, datasets: Dataset | Sequence[Dataset]) -> Dataset:
        """This dataset's rows, then the others' (the same columns); also `a + b`."""
        return self._stages.ConcatDataset([self, *self._stages.dataset_list("concat", datasets)])

    def __add__(self, other: Dataset) -> Dataset:
        return self.concat(other)

    def split(self, sizes: Sequence[int] | Sequence[float], randomize: bool = True) -> list[Dataset]:
        """Datasets of disjoint rows with these sizes (ints) or fractions (floats adding up to 1)."""
        return self._stages.split(self, sizes, randomize)

    def filter(self, predicate: Callable, input_columns: str | Sequence[str] | None = None,
               num_parallel_workers: int | None = None) -> Dataset:
        """The rows for which predicate(*input columns) is true (default: every column)."""
        return self._stages.FilterDataset(self, predicate, input_columns)

    def project(self, columns: str | Sequence[str]) -> Dataset:
        """Only these columns, in this order."""
        return self._stages.ProjectDataset(self, columns)

    def rename(self, input_columns: str | Sequence[str], output_columns: str | Sequence[str]) -> Dataset:
        return self._stages.RenameDataset(self, input_columns, output_columns)

    # --- running --------------------------------------------------------------------------

    def create_tuple_iterator(self, columns: Sequence[str] | None = None, num_epochs: int = -1,
                              output_numpy: bool = False, do_copy: bool = False) -> DatasetIterator:
        """An iterator over passes: each `for` loop over it runs one epoch (-1: any number of them).
        `columns` picks and orders the columns (all by default). Arrays are always fresh (do_copy)."""
        dataset = self if columns is None else self.project(columns)
        return DatasetIterator(dataset, num_epochs, output_numpy, as_dict=False)

    def create_dict_iterator(self, num_epochs: int = -1, output_numpy: bool = False,
                             do_copy: bool = False) -> DatasetIterator:
        return DatasetIterator(self, num_epochs, output_numpy, as_dict=True)

    def __iter__(self) -> DatasetIterator:
        return self.create_tuple_iterator(num_epochs=1)

    def get_dataset_size(self) -> int:
        """Rows per pass, or batches per pass once batched (one repetition for an endless repeat)."""
        return self._parent.get_dataset_size()

    def get_col_names(self) -> list[str]:
        return list(self._column_names)

    def output_shapes(self, estimate: bool = False) -> list[list[int]]:
        """The shape of each column of the first row (batch, once batched)."""
        return [list(column.shape) for column in self._first_row()]

    def output_types(self) -> list[np.dtype]:
        """The NumPy dtype of each column."""
        return [column.dtype for column in self._first_row()]

    def get_batch_size(self) -> int:
        return self._parent.get_batch_size() if self._parent is not None else 1

    def get_repeat_count(self) -> int:
        return self._parent.get_repeat_count() if self._parent is not None else 1

    def _first_row(self) -> tuple[np.ndarray, ...]:
        with self._passes_kept():
            block = next(self._blocks())
        return block.take(0, len(block)) if self._batched else tuple(np.asarray(v) for v in block.row(0))

    @contextlib.contextmanager
    def _passes_kept(self):
        """Run a pass that does not count: the next real pass draws as it would have."""
        stages, pending = [], [self]
        while pending:
            stage = pending.pop()
            stages.append(stage)
            pending.extend(stage._upstream())
        passes = [stage._passes for stage in stages]
        try:
            yield
        finally:
            for stage, count in zip(stages, passes):
                stage._passes = count

    def __getattr__(self, name: str):
        if name in _NOT_PROVIDED:
            raise MissingApiError(f"Dataset.{name} is MindSpore's and graphc does not have it "
                                  f"(docs/mindspore.md): {_NOT_PROVIDED[name]}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def reset(self) -> None:
        """Prepare for the next epoch (MindSpore's hook); every pass already starts a fresh epoch."""

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch `epoch` (0-based): its order depends only on the seed and the
        epoch, so a run resumed at epoch k replays exactly what an uninterrupted run saw."""
        self._start_at_pass(epoch)
        if self._parent is not None:
            self._parent.set_epoch(self._parent_pass(epoch))

    def _start_at_pass(self, epoch: int) -> None:
        self._passes = epoch

    def _next_pass(self) -> int:
        """The number of the pass starting now, counting it."""
        self._passes += 1
        return self._passes - 1

    def _parent_pass(self, epoch: int) -> int:
        return epoch

    def _upstream(self) -> list[Dataset]:
        return [] if self._parent is None else [self._parent]

    def _blocks(self) -> Iterator[_Rows]:
        """One pass of the pipeline, as blocks of rows (after batch: one block per batch)."""
        raise NotImplementedError

    def _column_index(self, name: str, stage: str = "dataset") -> int:
        if name not in self._column_names:
            raise ArgumentError(f"{stage}: unknown column {name!r}; the columns are {self._column_names}")
        return self._column_names.index(name)

    def _column_indices(self, names: str | Sequence[str] | None, stage: str, default: Sequence[str]) -> list[int]:
        names = default if names is None else [names] if isinstance(names, str) else list(names)
        return [self._column_index(name, stage) for name in names]


class MissingApiError(ArgumentError, AttributeError):
    """A MindSpore Dataset method graphc does not have."""


# MindSpore's Dataset methods that graphc lacks, and what to do instead
_NOT_PROVIDED = {
    "save": "MindRecord files are not supported; keep the data with np.savez and read it back with "
            "NumpySlicesDataset",
    "padded_batch": "pad each row with a map of transforms.PadEnd(pad_shape, pad_value), then batch",
    "bucket_batch_by_length": "pad each row with a map of transforms.PadEnd(pad_shape, pad_value), then batch",
    "flat_map": "produce the rows with a GeneratorDataset over a Python generator",
    "apply": "call the function on the dataset: apply_func(dataset)",
    "sync_wait": "update the state a map reads from a callback instead",
    "sync_update": "update the state a map reads from a callback instead",
    "to_json": "graphc pipelines are Python objects; rebuild them in code",
    "device_que": "graphc feeds batches to the compiled step itself (dataset_sink_mode is accepted)",
    "send": "graphc feeds batches to the compiled step itself (dataset_sink_mode is accepted)",
}


# MindSpore's knobs for worker processes: accepted and ignored, as num_parallel_workers is
_PARALLELISM_OPTIONS = {"python_multiprocessing", "max_rowsize"}


def _check_options(stage: str, options: dict) -> None:
    unknown = sorted(set(options) - _PARALLELISM_OPTIONS)
    if unknown:
        raise ArgumentError(f"{stage}: unsupported argument(s) {', '.join(unknown)}; graphc's {stage} takes the "
                            f"arguments in docs/mindspore.md (and ignores {', '.join(sorted(_PARALLELISM_OPTIONS))})")


class DatasetIterator:
    """Yields tuples (or dicts) of arrays; runs a new pass whenever the previous one is used up."""

    def __init__(self, dataset: Dataset, num_epochs: int, output_numpy: bool, as_dict: bool):
        if not isinstance(num_epochs, int) or num_epochs == 0 or num_epochs < -1:
            raise ValueError(f"num_epochs must be a positive int or -1 (no limit), got {num_epochs!r}")
        self._dataset, self._num_epochs, self._as_dict = dataset, num_epochs, as_dict
        self._wrap = None if output_numpy else TENSOR_TYPE
        self._pass: Iterator[tuple[np.ndarray, ...]] | None = None
        self._passes_started = 0

    def __iter__(self) -> DatasetIterator:
        return self

    def __next__(self) -> tuple | dict:
        if self._pass is None:
            self._start_pass()
        try:
            arrays = next(self._pass)
        except StopIteration:
            self._pass = None
            raise
        if self._wrap is not None:
            arrays = tuple(map(self._wrapped, arrays))
        return dict(zip(self._dataset.get_col_names(), arrays)) if self._as_dict else arrays

    def _wrapped(self, array: np.ndarray | dict):
        if isinstance(array, dict):
            return leaves_mapped(array, self._wrapped)
        try:
            return self._wrap(array)
        except TypeError:          # a dtype the tensor type does not have
            return array

    def _start_pass(self) -> None:
        if self._passes_started == self._num_epochs:
            raise RuntimeError(f"the iterator was created with num_epochs={self._num_epochs} and has run them "
                               f"all; create it with a larger num_epochs (or -1)")
        self._passes_started += 1
        blocks = self._dataset._blocks()
        names = self._dataset.get_col_names()
        self._pass = _batches(blocks, names) if self._dataset._batched else _samples(blocks)


def _batches(blocks: Iterator[_Rows], names: Sequence[str]) -> Iterator[tuple[np.ndarray | dict, ...]]:
    for block in blocks:
        yield tuple(batch_value(name, column) if is_dict_column(column) else np.ascontiguousarray(column)
                    for name, column in zip(names, block.columns))


def _samples(blocks: Iterator[_Rows]) -> Iterator[tuple[np.ndarray | dict, ...]]:
    for block in blocks:
        for i in range(len(block)):
            yield tuple(value if isinstance(value, dict) else np.array(value) for value in block.row(i))


# ---------------------------------------------------------------------------------------------
# operations

class _MapDataset(Dataset):
    def __init__(self, parent: Dataset, operations: Callable | Sequence[Callable],
                 input_columns: str | Sequence[str] | None, output_columns: str | Sequence[str] | None):
        self._operations = _flattened(operations)
        for op in self._operations:
            if not callable(op):
                raise TypeError(f"map: operation {op!r} is not callable")
        self._inputs = parent._column_indices(input_columns, "map", parent._column_names[:1])
        self._merge = _ColumnMerge("map", parent._column_names, self._inputs, output_columns)
        super().__init__(parent, self._merge.names)
        self._whole_columns = self._batched or all(getattr(op, "vectorized", False) for op in self._operations)
        self._random = any(getattr(op, "random", False) for op in self._operations)
        self._cache: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None = None
        self._rng: np.random.Generator | None = None

    def _blocks(self) -> Iterator[_Rows]:
        pass_index = self._next_pass()
        if self._random:
            self._rng = _pass_rng(self._depth, pass_index)
        for block in self._parent._blocks():
            if self._whole_columns:
                yield _Rows(self._replace(block.columns, self._columns_result(block.columns)), block.order)
            else:
                yield from self._each_row(block)

    def _columns_result(self, columns: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        inputs = tuple(columns[i] for i in self._inputs)
        if self._random:
            return self._apply_in_chunks(inputs)
        # In-memory sources hand over the same column objects every pass: compute once.
        if self._cache is not None and all(a is b for a, b in zip(self._cache[0], inputs)):
            return self._cache[1]
        outputs = self._apply_in_chunks(inputs)
        fits = sum(output.nbytes for output in outputs) <= map_cache_bytes()
        self._cache = (inputs, outputs) if fits else None
        return outputs

    def _apply_in_chunks(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """Whole-column operations act row by row, so run them over chunks of rows into one output:
        temporaries stay chunk-sized (whole-column ones cost memory, page faults and cache misses)."""
        rows = len(inputs[0])
        outputs: tuple[np.ndarray, ...] = ()
        for start in range(0, rows, _CHUNK_ROWS):
            chunk = self._apply(tuple(column[start:start + _CHUNK_ROWS] for column in inputs), whole=True)
            if rows <= _CHUNK_ROWS:  # a batch or a small column: no copy
                return chunk
            outputs = outputs or tuple(np.empty((rows, *result.shape[1:]), result.dtype) for result in chunk)
            for output, result in zip(outputs, chunk):
                target = output[start:start + _CHUNK_ROWS]
                if result.shape != target.shape:
                    raise ValueError(f"map: {self._operation_names()} must turn each row into one row of a "
                                     f"fixed shape; rows {start}.. gave {result.shape}, expected {target.shape}")
                target[...] = result
        return outputs

    def _each_row(self, block: _Rows) -> Iterator[_Rows]:
        for i in range(len(block)):
            row = block.row(i)
            outputs = self._apply(tuple(row[column] for column in self._inputs), whole=False)
            yield _Rows(tuple(v[None] for v in self._replace(row, outputs)))

    def _apply(self, values: tuple, whole: bool) -> tuple[np.ndarray, ...]:
        for op in self._operations:
            vectorized = getattr(op, "vectorized", False)
            call = getattr(op, "on_rows", op) if vectorized else op   # the built-in transforms' column path
            if getattr(op, "random", False):
                call = functools.partial(call, rng=self._rng)
            if whole or not vectorized:
                result = call(*values)
            else:  # a vectorized op on one sample: give it a batch of one
                result = tuple(np.asarray(r)[0] for r in _as_tuple(call(*(np.asarray(v)[None] for v in values))))
            values = _as_tuple(result)
        return self._merge.check(tuple(dict_value(v) if isinstance(v, dict) else np.asarray(v) for v in values),
                                 self._operation_names())

    def _operation_names(self) -> str:
        return ", ".join(_name(op) for op in self._operations)

    def _replace(self, row: tuple, outputs: tuple) -> tuple:
        return self._merge(row, outputs)


class _ColumnMerge:
    """Where the results of a map (or a per_batch_map) go: named `output_columns` (default: the
    input columns); as many as the inputs, they replace them in place, otherwise they come first,
    followed by the untouched columns (MindSpore's rule)."""

    def __init__(self, stage: str, names: Sequence[str], inputs: list[int], output_columns):
        self.stage, self.inputs = stage, inputs
        outputs = [names[i] for i in inputs] if output_columns is None else \
            [output_columns] if isinstance(output_columns, str) else list(output_columns)
        self.in_place = len(outputs) == len(inputs)
        if self.in_place:
            merged = list(names)
            for i, name in zip(inputs, outputs):
                merged[i] = name
        else:
            merged = outputs + [name for i, name in enumerate(names) if i not in inputs]
        if len(set(merged)) != len(merged):
            raise ArgumentError(f"{stage}: output_columns {outputs} would give the columns {merged}, with a name "
                                f"twice; rename the outputs")
        self.outputs, self.names = outputs, merged

    def check(self, results: tuple, what: str) -> tuple:
        if len(results) != len(self.outputs):
            raise ArgumentError(f"{self.stage}: {what} returned {len(results)} value(s) for the output columns "
                                f"{self.outputs}; return one per column, or set output_columns")
        return results

    def __call__(self, row: tuple, results: tuple) -> tuple:
        if self.in_place:
            row = list(row)
            for i, value in zip(self.inputs, results):
                row[i] = value
            return tuple(row)
        return tuple(results) + tuple(value for i, value in enumerate(row) if i not in self.inputs)


def _flattened(operations) -> list:
    """The operations of a map, with each transforms.Compose replaced by the transforms it holds."""
    operations = list(operations) if isinstance(operations, (list, tuple)) else [operations]
    return [leaf for op in operations
            for leaf in (_flattened(op.transforms) if getattr(op, "composed", False) else [op])]


def _as_tuple(result: Any) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def _name(op: Callable) -> str:
    return getattr(op, "__name__", type(op).__name__)


class _ShuffleDataset(Dataset):
    def __init__(self, parent: Dataset, buffer_size: int):
        super().__init__(parent, parent._column_names)
        if self._batched:
            raise ValueError("shuffle after batch is not supported: shuffle the rows before batching")
        if not isinstance(buffer_size, int) or buffer_size < 2:
            raise ValueError(f"shuffle: buffer_size must be an int >= 2, got {buffer_size!r}")
        self._buffer_size = buffer_size

    def _blocks(self) -> Iterator[_Rows]:
        rng = _pass_rng(self._depth, self._next_pass())
        window: list[_Rows] = []
        rows = 0
        for block in self._parent._blocks():
            window.append(block)
            rows += len(block)
            if rows >= self._buffer_size:
                yield _shuffled(window, rng)
                window, rows = [], 0
        if window:
            yield _shuffled(window, rng)


def _shuffled(window: list[_Rows], rng: np.random.Generator) -> _Rows:
    if len(window) == 1 and window[0].order is not None:  # permute the order, not the data
        block = window[0]
        return _Rows(block.columns, block.order[rng.permutation(len(block.order))])
    columns = _concatenate([block.take(0, len(block)) for block in window])
    return _Rows(columns, rng.permutation(len(columns[0])))


class BatchInfo:
    """What a per_batch_map learns about its batch: both numbers count from 0."""

    def __init__(self, batch_num: int, epoch_num: int):
        self._batch_num, self._epoch_num = batch_num, epoch_num

    def get_batch_num(self) -> int:
        return self._batch_num

    def get_epoch_num(self) -> int:
        return self._epoch_num


class _BatchDataset(Dataset):
    def __init__(self, parent: Dataset, batch_size: int, drop_remainder: bool, per_batch_map: Callable | None = None,
                 input_columns: Sequence[str] | None = None, output_columns: Sequence[str] | None = None):
        if parent._batched:
            raise ArgumentError(f"batch: the dataset is already batched (batch after batch"
                                f"{' with per_batch_map' if per_batch_map else ''}); batch once, with the batch size "
                                "you want, and do per-batch work in that batch's per_batch_map")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ArgumentError(f"batch: batch_size must be a positive int, got {batch_size!r}")
        if per_batch_map is not None and not callable(per_batch_map):
            raise ArgumentError(f"batch: per_batch_map must be callable, got {type(per_batch_map).__name__}")
        if per_batch_map is None and (input_columns is not None or output_columns is not None):
            raise ArgumentError("batch: input_columns and output_columns name per_batch_map's columns; give "
                                "per_batch_map too")
        self._per_batch_map = per_batch_map
        self._inputs = parent._column_indices(input_columns, "batch", parent._column_names)
        self._merge = _ColumnMerge("batch", parent._column_names, self._inputs, output_columns)
        super().__init__(parent, self._merge.names)
        self._batch_size, self._drop_remainder = batch_size, drop_remainder
        self._batched = True

    def get_batch_size(self) -> int:
        return self._batch_size

    def get_dataset_size(self) -> int:
        rows = self._parent.get_dataset_size()
        return rows // self._batch_size if self._drop_remainder else -(-rows // self._batch_size)

    def _blocks(self) -> Iterator[_Rows]:
        epoch = self._next_pass()
        for number, batch in enumerate(self._batches()):
            yield _Rows(batch if self._per_batch_map is None else self._mapped(batch, BatchInfo(number, epoch)))

    def _mapped(self, batch: tuple[np.ndarray, ...], info: BatchInfo) -> tuple[np.ndarray, ...]:
        """per_batch_map's results for one batch: lists of rows (or arrays), stacked into columns; a
        dict is the whole batch's value of its column, as in MindSpore."""
        vectorized = getattr(self._per_batch_map, "vectorized", False)
        inputs = [batch[i] if vectorized else list(batch[i]) for i in self._inputs]
        results = self._merge.check(_as_tuple(self._per_batch_map(*inputs, info)), _name(self._per_batch_map))
        if 0 < sum(isinstance(r, dict) for r in results) < len(results):
            raise ArgumentError(f"batch: per_batch_map {_name(self._per_batch_map)} returned dicts for some columns "
                                "and not for others; as in MindSpore, return a dict for every column or for none")
        merged = self._merge(batch, tuple(dict_value(r) if isinstance(r, dict) else
                                          np.stack(r) if isinstance(r, (list, tuple)) else np.asarray(r)
                                          for r in results))
        rows = {name: len(c) if c.ndim else 0 for name, c in zip(self._column_names, merged)
                if not is_batch_dict(c)}
        if len(set(rows.values())) > 1:
            raise ArgumentError(f"batch: after per_batch_map {_name(self._per_batch_map)} the columns have "
                                f"different numbers of rows {rows}; every column of a batch needs one row per sample")
        return merged

    def _batches(self) -> Iterator[tuple[np.ndarray, ...]]:
        size = self._batch_size
        names = self._parent._column_names
        pending: list[tuple[np.ndarray, ...]] = []
        pending_rows = rows = batches = 0
        for block in self._parent._blocks():
            start, n = 0, len(block)
            rows += n
            while start < n:
                take = min(size - pending_rows, n - start)
                pending.append(block.take(start, start + take))
                pending_rows += take
                start += take
                if pending_rows == size:
                    yield _concatenate(pending, names)
                    pending, pending_rows = [], 0
                    batches += 1
        if pending and not self._drop_remainder:
            yield _concatenate(pending, names)
        elif batches == 0 and rows:
            raise ValueError(f"batch: batch_size={size} with drop_remainder=True drops all {rows} rows of a pass; "
                             f"use a smaller batch_size")


def _concatenate(pieces: list[tuple[np.ndarray, ...]], names: Sequence[str] = ()) -> tuple[np.ndarray, ...]:
    if len(pieces) == 1:  # the common case: a whole batch gathered from one block
        return pieces[0]
    columns = []
    for i, parts in enumerate(zip(*pieces)):
        try:
            columns.append(np.concatenate(parts))
        except ValueError:
            name = names[i] if i < len(names) else f"column {i}"
            shapes = sorted({p.shape[1:] for p in parts})
            raise ValueError(f"batch: rows of {name!r} have different shapes {shapes}; make them equal "
                             f"(for example with a map) before batching") from None
    return tuple(columns)


class _RepeatDataset(Dataset):
    def __init__(self, parent: Dataset, count: int | None):
        super().__init__(parent, parent._column_names)
        if count == -1:
            count = None
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError(f"repeat: count must be a positive int, or None / -1 for forever, got {count!r}")
        self._count = count

    def get_dataset_size(self) -> int:
        return self._parent.get_dataset_size() * (self._count or 1)

    def get_repeat_count(self) -> int:
        return -1 if self._count is None else self._count

    def _parent_pass(self, epoch: int) -> int:
        return epoch * (self._count or 1)

    def _blocks(self) -> Iterator[_Rows]:
        for _ in itertools.count() if self._count is None else range(self._count):
            yield from self._parent._blocks()

