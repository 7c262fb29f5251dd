"""disk_cache.py: a private directory (0700; another user's or a group-writable one is never read
nor written), keys checked before they become paths, leftovers counted and cleared, a size bound
with least-recently-used eviction."""
import ctypes
import json
import os
import warnings

import pytest

from graphc import env
from graphc.codegen import disk_cache, kernel_cache, machine, step_index
from graphc.codegen.kernel_cache import KernelRef
from graphc.codegen.kernels.contract import Scratch
from graphc.ir import Graph

from .support import scale_module


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(directory))
    monkeypatch.setattr(disk_cache, "_warned", set())
    machine._memory_cache.clear()
    yield directory
    machine._memory_cache.clear()


def _compile(factor: int):
    machine._memory_cache.clear()
    library = machine.compile_module(scale_module(factor))
    assert library.cfunc("scale", ctypes.c_int64, ctypes.c_int64)(2) == 2 * factor
    return library.stats.cache


def test_a_new_cache_directory_is_private(cache):
    old = os.umask(0)                     # even with a permissive umask
    try:
        _compile(3)
    finally:
        os.umask(old)
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)


@pytest.mark.parametrize("unsafe", ["group-writable", "world-writable", "another user's"])
def test_an_unsafe_directory_is_never_read_nor_written(cache, unsafe):
    assert _compile(3) == "miss" and _compile(3) == "disk"          # a valid entry is there
    if unsafe == "another user's":
        os.chown(cache, os.getuid() + 4242, -1)
    else:
        cache.chmod(0o770 if unsafe == "group-writable" else 0o707)
    before = sorted(os.listdir(cache))
    with pytest.warns(RuntimeWarning, match=f"not using the compiled-code cache {cache}: .*only you can write"):
        assert _compile(3) == "miss"                                  # not loaded from it
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                # warned once only
        assert _compile(4) == "miss"
    assert sorted(os.listdir(cache)) == before                        # nothing written


def test_keys_are_checked_before_they_become_paths(cache):
    for key in ("../" * 8 + "etc/passwd", "A" * 64, "0" * 63, 7):
        with pytest.raises(ValueError, match="64 lowercase hex digits"):
            disk_cache.read_entry(key)
    graph = Graph("g")
    record = {"object": "../../../../tmp/evil", "calls": [], "barriers": [], "arena_bytes": 0, "constants": [],
              "constant_bytes": 0, "outputs": [], "region_bytes": 0}
    disk_cache.write_entry("a" * 64, json.dumps(record).encode(), disk_cache.STEP_INDEX)
    assert step_index.load("a" * 64, graph, False) is None          # a stale index: lowered again
    record["object"] = "b" * 64
    disk_cache.write_entry("a" * 64, json.dumps(record).encode(), disk_cache.STEP_INDEX)
    assert step_index.load("a" * 64, graph, False)[0] == "b" * 64


def test_a_kernel_index_entry_is_keyed_and_checked_like_the_others(cache):
    """A .gkern entry lives under its fingerprint, and one naming anything but an object key is stale."""
    ref = KernelRef("c" * 64, ("kc",), (), Scratch(), 0, "../../../../tmp/evil", index_bounds=(("index", 4),))
    disk_cache.write_entry(ref.fingerprint, json.dumps(ref.encode()).encode(), disk_cache.KERNEL_INDEX)
    assert kernel_cache._read_index(ref.fingerprint) is None                   # emitted again
    ref = KernelRef("c" * 64, ("kc",), (), Scratch(), 0, "d" * 64, index_bounds=(("index", 4),))
    kernel_cache._write_index(ref)
    assert kernel_cache._read_index(ref.fingerprint) == ref                    # index bounds included
    assert (cache / f"{ref.fingerprint}{disk_cache.KERNEL_INDEX}").exists() and disk_cache.info()["entries"] == 1
    with pytest.raises(ValueError, match="64 lowercase hex digits"):
        disk_cache.read_entry("../" * 8 + "etc/passwd", disk_cache.KERNEL_INDEX)


def test_info_and_clear_count_leftovers(cache):
    _compile(5)
    (cache / f"{disk_cache.TEMPORARY}interrupted").write_bytes(b"x" * 7)
    (cache / disk_cache.FAILED).mkdir()
    (cache / disk_cache.FAILED / "0123.ll").write_text("define")
    info = machine.cache_info()
    assert (info["entries"], info["leftovers"], info["leftover_bytes"]) == (1, 2, 13)
    assert machine.cache_clear()["leftovers"] == 2
    assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == []


def test_the_cache_evicts_the_least_recently_used_entries(cache, monkeypatch):
    payload = b"p" * 1000
    for i, key in enumerate("abc"):
        disk_cache.write_entry(key * 64, payload)
        os.utime(cache / f"{key * 64}.gobj", ns=(i * 10**9, i * 10**9))      # a, then b, then c
    assert disk_cache.read_entry("a" * 64) == payload                         # a is now the most recent
    entry = (cache / f"{'a' * 64}.gobj").stat().st_size
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", str(3 * entry))
    disk_cache.write_entry("d" * 64, payload)
    assert sorted(p.name[0] for p in cache.glob("*.gobj")) == ["a", "c", "d"]
    assert env.VARIABLES["GRAPHC_CACHE_MAX_BYTES"].default == 1 << 30 and machine.cache_info()["max_bytes"] == 3 * entry


def test_writes_under_the_bound_list_the_directory_once_per_process(cache, monkeypatch):
    listed = []
    entries = disk_cache._entries
    monkeypatch.setattr(disk_cache, "_entries", lambda directory: listed.append(1) or entries(directory))
    monkeypatch.setattr(disk_cache, "_sizes", {})
    for i in range(20):
        disk_cache.write_entry(f"{i:064x}", b"p" * 100)
    assert len(listed) == 1
    size = (cache / f"{0:064x}.gobj").stat().st_size
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", str(10 * size))
    disk_cache.write_entry("e" * 64, b"p" * 100)                  # past the bound: listed and evicted
    assert len(listed) == 2 and len(list(cache.glob("*.gobj"))) == 10
    assert disk_cache.read_entry("e" * 64) == b"p" * 100


@pytest.mark.parametrize("bound", ["foo", "1GB", "-1"])
def test_a_bad_bound_is_an_error_at_the_caches_first_use_read_or_write(cache, monkeypatch, bound):
    """Not only at the first write (a warm cache never wrote, so 'foo' went unnoticed), and never
    a negative bound (which evicted everything)."""
    _compile(3)
    before = sorted(os.listdir(cache))
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", bound)
    expected = rf"GRAPHC_CACHE_MAX_BYTES='{bound}' is not valid: expected an integer >= 0 \(bytes\)"
    for factor in (3, 4):                                 # a read of the entry, then a new one
        with pytest.raises(ValueError, match=expected):
            _compile(factor)
    assert sorted(os.listdir(cache)) == before


def test_the_cache_command_reports_leftovers_the_bound_and_an_unsafe_directory(cache, capsys):
    from graphc.cli import main
    _compile(6)
    (cache / f"{disk_cache.TEMPORARY}x").write_bytes(b"12345")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "entries   1\n" in out and "leftovers 1 (5 bytes" in out and f"bound     {1 << 30} bytes" in out
    cache.chmod(0o777)
    assert main(["cache", "info"]) == 0
    assert "not used: group or others can write to it (mode 0777)" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 2                       # someone else's files are left alone
    assert "left" in capsys.readouterr().err and (cache / f"{disk_cache.TEMPORARY}x").exists()
    cache.chmod(0o700)
    assert main(["cache", "clear"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out and not any(cache.iterdir())
