"""mindspore.dataset's samplers: which rows of a random-access source one pass reads, in what order.

A sampler gives `indices(n, rng)`, the row indices of one pass over n rows (repeats allowed), and
`size(n)`, how many. Random ones draw from `rng`, which the source derives from the dataset seed
and the pass, so every epoch draws afresh and a rebuilt pipeline replays the same epochs.

A source's `shuffle`, `num_shards`, `shard_id` and `num_samples` are shorthand for a sampler
(`from_options`). Sharding deals the pass order round-robin: shard k takes rows k, k + num_shards,
..., so every row of a pass is in exactly one shard and shard sizes differ by at most one.
"""
from __future__ import annotations

import numbers

import numpy as np

from graphc.errors import ArgumentError
from runtime.distributed import default_shards


def optional_count(owner: str, name: str, value) -> int | None:
    if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1):
        raise ArgumentError(f"{owner}: {name} must be a positive int or None (all), got {value!r}")
    return None if value is None else int(value)


class Sampler:
    """The base class: subclass it and define `__iter__` to yield the row indices of one pass."""

    def __init__(self, num_samples: int | None = None):
        self.num_samples = optional_count(type(self).__name__, "num_samples", num_samples)

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: a Sampler subclass defines __iter__, yielding row indices")

    def indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._first(np.fromiter(iter(self), dtype=np.int64))

    def size(self, n: int) -> int:
        return len(self.indices(n, np.random.default_rng(0)))

    def check(self, n: int, owner: str) -> None:
        """Raise if the sampler cannot read a source of n rows."""

    def _first(self, indices: np.ndarray) -> np.ndarray:
        return indices if self.num_samples is None else indices[:self.num_samples]


class SequentialSampler(Sampler):
    """Rows start_index, start_index + 1, ... in order."""

    def __init__(self, start_index: int | None = None, num_samples: int | None = None):
        super().__init__(num_samples)
        if start_index is not None and (not isinstance(start_index, numbers.Integral) or start_index < 0):
            raise ArgumentError(f"SequentialSampler: start_index must be an int >= 0, got {start_index!r}")
        self.start_index = start_index or 0

    def indices(self, n, rng):
        return self._first(np.arange(min(self.start_index, n), n))

    def size(self, n):
        return len(self.indices(n, None))


class RandomSampler(Sampler):
    """A fresh permutation each pass, or (replacement=True) independent draws; num_samples rows
    (at most n, as MindSpore caps it)."""

    def __init__(self, replacement: bool = False, num_samples: int | None = None):
        super().__init__(num_samples)
        self.replacement = bool(replacement)

    def indices(self, n, rng):
        if self.replacement:
            return rng.integers(0, n, self.size(n))
        return self._first(rng.permutation(n))

    def size(self, n):
        return min(n, self.num_samples or n)


class DistributedSampler(Sampler):
    """Shard `shard_id` of `num_shards` (round-robin over the pass order, shuffled if `shuffle`)."""

    def __init__(self, num_shards: int, shard_id: int, shuffle: bool = True, num_samples: int | None = None,
                 offset: int = -1):
        super().__init__(num_samples)
        if not isinstance(num_shards, numbers.Integral) or isinstance(num_shards, bool) or num_shards < 1:
            raise ArgumentError(f"num_shards must be a positive int, got {num_shards!r}")
        if not isinstance(shard_id, numbers.Integral) or isinstance(shard_id, bool) or not 0 <= shard_id < num_shards:
            raise ArgumentError(f"shard_id must be an int in [0, {num_shards}), got {shard_id!r}")
        if offset != -1:
            raise ArgumentError(f"DistributedSampler: offset={offset!r} is not supported (graphc deals rows "
                                "round-robin from the first shard); leave offset at -1")
        self.num_shards, self.shard_id, self.shuffle = int(num_shards), int(shard_id), bool(shuffle)

    def indices(self, n, rng):
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        return self._first(order[self.shard_id::self.num_shards])

    def size(self, n):
        return min(len(range(self.shard_id, n, self.num_shards)), self.num_samples or n)

    def check(self, n, owner):
        if n < self.num_shards:
            raise ArgumentError(f"{owner}: {n} rows cannot fill {self.num_shards} shards")


class SubsetSampler(Sampler):
    """The given row indices, in the given order."""

    def __init__(self, indices, num_samples: int | None = None):
        super().__init__(num_samples)
        self._indices = np.asarray(list(indices), dtype=np.int64).reshape(-1)

    def indices(self, n, rng):
        return self._first(self._indices)

    def size(self, n):
        return len(self.indices(n, None))


class SubsetRandomSampler(SubsetSampler):
    """The given row indices, in a fresh random order each pass."""

    def indices(self, n, rng):
        return self._first(self._indices[rng.permutation(len(self._indices))])


class WeightedRandomSampler(Sampler):
    """num_samples draws (default: one per weight) of rows 0 .. len(weights) - 1, row i with
    probability weights[i] / sum(weights)."""

    def __init__(self, weights, num_samples: int | None = None, replacement: bool = True):
        super().__init__(num_samples)
        self.weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if not len(self.weights) or np.any(self.weights < 0) or not self.weights.sum() > 0:
            raise ArgumentError(f"WeightedRandomSampler: weights must be >= 0 with a positive sum, got {weights!r}")
        self.replacement = bool(replacement)
        if not self.replacement and self.size(0) > np.count_nonzero(self.weights):
            raise ArgumentError(f"WeightedRandomSampler: {self.size(0)} draws without replacement need as many "
                                f"rows of positive weight; there are {np.count_nonzero(self.weights)}")

    def indices(self, n, rng):
        return rng.choice(len(self.weights), self.size(n), replace=self.replacement,
                          p=self.weights / self.weights.sum())

    def size(self, n):
        return self.num_samples or len(self.weights)


class _IndexedSampler(Sampler):
    """A user object with __getitem__ and __len__ standing for the row indices (MindSpore accepts one)."""

    def __init__(self, indexable):
        super().__init__()
        self._indexable = indexable

    def __iter__(self):
        return (self._indexable[i] for i in range(len(self._indexable)))


def as_sampler(sampler, owner: str) -> Sampler:
    """A Sampler from what MindSpore accepts as one: a Sampler, a list of row indices, or an object
    with __getitem__ and __len__."""
    if isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, (list, tuple, np.ndarray)):
        return SubsetSampler(sampler)
    if hasattr(sampler, "__getitem__") and hasattr(sampler, "__len__") and not isinstance(sampler, (str, bytes)):
        return _IndexedSampler(sampler)
    raise ArgumentError(f"{owner}: sampler must be a mindspore.dataset sampler (SequentialSampler, RandomSampler, "
                        f"DistributedSampler, SubsetSampler, SubsetRandomSampler, WeightedRandomSampler, a Sampler "
                        f"subclass), a list of row indices, or an object with __getitem__ and __len__; got "
                        f"{type(sampler).__name__}")


def from_options(owner: str, shuffle: bool, num_shards: int | None, shard_id: int | None,
                 num_samples: int | None) -> Sampler:
    """The sampler that a source's shuffle, num_shards, shard_id and num_samples stand for. Under data
    parallelism (runtime/distributed.py) a source given neither num_shards nor shard_id takes the
    process group's size and rank."""
    if num_shards is None and shard_id is None:
        num_shards, shard_id = default_shards()
    if (num_shards is None) != (shard_id is None):
        raise ArgumentError(f"{owner}: give both num_shards and shard_id, or neither")
    num_samples = optional_count(owner, "num_samples", num_samples)
    if num_shards is not None:
        return DistributedSampler(num_shards, shard_id, shuffle, num_samples)
    return RandomSampler(num_samples=num_samples) if shuffle else SequentialSampler(num_samples=num_samples)
