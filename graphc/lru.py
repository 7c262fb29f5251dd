"""A mapping bounded by a capacity that drops its least recently used entries: the caches of
compiled code (a function's executables, the process's object code).

The capacity is a function, read at every insertion, so that a setting (set_context) can change it
while the cache lives. No lock: a get or an insertion racing another thread's at worst misses (the
caller compiles again) or drops one entry more, and a forked child never inherits a held lock.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable


class LRU:
    """At most `capacity()` in total `weigh(value)` (1 each by default: a count), least recently
    used (`get` or insertion) dropped first. An entry heavier than the capacity is not kept."""

    def __init__(self, capacity: Callable[[], int], weigh: Callable[[Any], int] = lambda value: 1):
        self._capacity, self._weigh = capacity, weigh
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()   # key -> (value, weight)

    def get(self, key: Hashable, default=None):
        try:
            self._entries.move_to_end(key)
            return self._entries[key][0]
        except KeyError:              # absent, or dropped by another thread in between
            return default

    def __setitem__(self, key: Hashable, value) -> None:
        self._entries.pop(key, None)                      # a new insertion is the most recent
        self._entries[key] = (value, self._weigh(value))
        excess = self.weight() - self._capacity()
        while excess > 0:
            try:
                _, (_, weight) = self._entries.popitem(last=False)
            except KeyError:
                return
            excess -= weight

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list:
        """The values, least recently used first."""
        return [value for value, _ in list(self._entries.values())]

    def weight(self) -> int:
        """The entries' total weight (their count, without `weigh`)."""
        return sum(weight for _, weight in list(self._entries.values()))

    def clear(self) -> None:
        self._entries.clear()
