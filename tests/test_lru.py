"""The bounded mapping behind the caches of compiled code (graphc/lru.py)."""
from graphc.lru import LRU


def test_the_least_recently_used_entry_goes_first():
    cache = LRU(lambda: 3)
    for key in "abc":
        cache[key] = key.upper()
    assert cache.get("a") == "A"              # a is now the most recent: b is the oldest
    cache["d"] = "D"
    assert "b" not in cache and cache.values() == ["C", "A", "D"]
    cache["c"] = "C2"                         # setting a key again makes it the most recent
    cache["e"] = "E"
    assert cache.values() == ["D", "C2", "E"] and cache.get("a") is None


def test_weights_bound_the_total_and_the_capacity_is_read_at_each_insertion():
    capacity = [10]
    cache = LRU(lambda: capacity[0], len)
    cache["x"], cache["y"] = b"1234", b"123456"
    assert cache.weight() == 10 and len(cache) == 2
    capacity[0] = 7
    cache["z"] = b"12"                        # 12 > 7: x then y go
    assert cache.values() == [b"12"] and cache.weight() == 2
    cache["big"] = b"12345678"                # heavier than the capacity: not kept, and takes z along
    assert len(cache) == 0 and cache.get("big") is None
