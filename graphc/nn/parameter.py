"""Parameter: a named, persistent Tensor that training updates in place."""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Iterable

import numpy as np

from ..tracing import Tensor

ALIGNMENT = 64   # bytes; native kernels declare their pointers `align 64`


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of array whose data starts on a 64-byte boundary."""
    array = np.asarray(array)
    raw = np.empty(array.nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    out = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


class ParameterSet:
    """Parameters that compiled steps use together, and the one lock that serializes those steps
    and every `set_data` on their members (a train step and the eval cell sharing its weights must
    not run at once, nor while a checkpoint is loaded into them).

    Sets only grow: `ParameterSet.of(params)` merges the sets of all its Parameters into one. A
    merged-away set forwards to the set that absorbed it, and `locked()` follows forwards until it
    holds the lock of a set that is still current."""
    _merging = threading.Lock()

    def __init__(self):
        self.lock = threading.RLock()          # reentrant: an interpreted step calls set_data itself
        self.members: list[Parameter] = []
        self.merged_into: ParameterSet | None = None
        _all_sets.add(self)

    def current(self) -> "ParameterSet":
        found = self
        while found.merged_into is not None:
            found = found.merged_into
        return found

    def acquire(self) -> "ParameterSet":
        """Lock the current set and return it (release its `lock` when done)."""
        while True:
            held = self.current()
            held.lock.acquire()
            if held.merged_into is None:
                return held
            held.lock.release()

    @contextmanager
    def locked(self):
        held = self.acquire()
        try:
            yield
        finally:
            held.lock.release()

    @classmethod
    def of(cls, params: Iterable["Parameter"]) -> "ParameterSet":
        """The one set holding all of `params` (a new, empty one when there are none)."""
        with cls._merging:
            sets = list({id(s): s for s in (p._set.current() for p in params)}.values())
            if not sets:
                return cls()
            sets.sort(key=lambda s: -len(s.members))
            target = sets[0]
            for other in sets[1:]:
                with other.lock:                 # nobody is inside `other` while it moves
                    for p in other.members:
                        p._set = target
                    target.members += other.members
                    other.members, other.merged_into = [], target
            return target


_all_sets: "weakref.WeakSet[ParameterSet]" = weakref.WeakSet()


def _fresh_locks_after_fork() -> None:
    """A forked child has only the forking thread: locks other threads held (a step running in a
    background thread) would never be released there."""
    ParameterSet._merging = threading.Lock()
    for parameter_set in list(_all_sets):
        parameter_set.lock = threading.RLock()


os.register_at_fork(after_in_child=_fresh_locks_after_fork)


class Parameter(Tensor):
    """A Tensor registered with a Cell. Its storage is stable: `set_data` copies into it, so
    compiled steps that hold its address keep seeing the current value."""
    is_parameter = True

    def __init__(self, default_input, name: str | None = None, requires_grad: bool = True):
        super().__init__(default_input)
        self._data = aligned_copy(self._data)
        self.name = name
        self.requires_grad = requires_grad
        self._set = ParameterSet()
        self._set.members.append(self)

    @property
    def data(self) -> "Parameter":
        return self

    def set_data(self, data) -> "Parameter":
        value = data.asnumpy() if isinstance(data, Tensor) else np.asarray(data)
        if value.shape != self._data.shape:
            raise ValueError(f"Parameter {self.name!r}: set_data with shape {list(value.shape)}, "
                             f"expected {list(self._data.shape)}")
        with self._set.locked():
            self._data[...] = value.astype(self._data.dtype, copy=False)
        return self

    def value(self) -> Tensor:
        """The current value, as a new Tensor (MindSpore's Parameter.value())."""
        return Tensor(self._data.copy())

    def _write(self, key, values: np.ndarray) -> None:
        with self._set.locked():       # into its stable storage, as set_data writes
            self._data[key] = values

    def clone(self, prefix: str, init: str | float = "same") -> "Parameter":
        """A new Parameter named `<prefix>.<name>`, e.g. optimizer state `moments.fc1.weight`."""
        value = self._data if init == "same" else np.full_like(self._data, {"zeros": 0, "ones": 1}.get(init, init))
        return Parameter(value, name=f"{prefix}.{self.name}", requires_grad=False)

    def __repr__(self) -> str:
        return f"Parameter (name={self.name}, shape={self.shape}, dtype={self.dtype}, " \
               f"requires_grad={self.requires_grad})"

    def __hash__(self):
        return id(self)




class ParameterTuple(tuple):
    """MindSpore's ParameterTuple: an immutable tuple of distinct Parameters, e.g.
    `ParameterTuple(net.trainable_params())`, the weights GradOperation(get_by_list=True) takes."""

    def __new__(cls, iterable=()):
        params = tuple(iterable)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"ParameterTuple holds Parameters only, got a {type(p).__name__}")
        names = [p.name for p in params]
        repeated = sorted({n for n in names if n is not None and names.count(n) > 1})
        if repeated:
            raise ValueError(f"ParameterTuple: the name(s) {', '.join(map(repr, repeated))} appear more than once")
        return super().__new__(cls, params)

    def clone(self, prefix: str, init: str | float = "same") -> "ParameterTuple":
        """Copies named `<prefix>.<name>`, as optimizer state is (init: 'same', 'zeros', 'ones' or a number)."""
        return ParameterTuple(p.clone(prefix, init) for p in self)
