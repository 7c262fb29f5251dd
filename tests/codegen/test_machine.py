"""machine.py: compile, cache (memory, disk, corruption), verification errors, assembly."""
import ctypes

import pytest
from llvmlite import ir

from graphc.codegen import disk_cache, machine

from .support import scale_module


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    machine.cache_clear()
    yield tmp_path
    machine.cache_clear()


def _call(lib, x):
    return lib.cfunc("scale", ctypes.c_int64, ctypes.c_int64)(x)


def test_compile_then_memory_then_disk_hits(cache_dir):
    first = machine.compile_module(scale_module(3))
    assert first.stats.cache == "miss" and _call(first, 7) == 21
    assert machine.compile_module(scale_module(3)).stats.cache == "memory"
    machine._memory_cache.clear()
    from_disk = machine.compile_module(scale_module(3))
    assert from_disk.stats.cache == "disk" and _call(from_disk, 5) == 15
    info = machine.cache_info()
    assert info["entries"] == 1 and info["bytes"] > 0 and info["dir"] == str(cache_dir)


@pytest.mark.parametrize("damage", ["truncate", "flip_payload", "foreign_key", "garbage"])
def test_damaged_entry_is_discarded_and_rebuilt(cache_dir, damage):
    machine.compile_module(scale_module(4))
    (entry,) = cache_dir.glob("*.gobj")
    blob = bytearray(entry.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip_payload":
        blob[-10] ^= 0xFF
    elif damage == "foreign_key":
        start = len(disk_cache._MAGIC)
        blob[start:start + 64] = b"0" * 64
    else:
        blob = bytearray(b"not an object file at all")
    entry.write_bytes(bytes(blob))
    machine._memory_cache.clear()
    rebuilt = machine.compile_module(scale_module(4))
    assert rebuilt.stats.cache == "miss" and _call(rebuilt, 2) == 8
    assert disk_cache.valid_payload(entry.read_bytes(), entry.stem) is not None   # rewritten whole


def test_key_depends_on_ir(cache_dir):
    assert machine.cache_key(str(scale_module(2))) != machine.cache_key(str(scale_module(3)))


def test_cache_clear(cache_dir):
    machine.compile_module(scale_module(5))
    machine.cache_clear()
    assert machine.cache_info()["entries"] == 0
    assert machine.compile_module(scale_module(5)).stats.cache == "miss"


def test_verifier_error_names_function_and_dumps_ir(cache_dir):
    text = """
define i32 @fine(i32 %a) {
  ret i32 %a
}
define i32 @broken(i32 %a) {
entry:
  br label %next
next:
  %y = add i32 %x, 1
  br label %last
last:
  %x = add i32 %a, 1
  ret i32 %y
}
"""
    with pytest.raises(machine.CodegenError) as error:
        machine.compile_module(text)
    message = str(error.value)
    assert "broken" in message and "does not dominate" in message
    path = message.rsplit("module IR written to ", 1)[1].strip()
    assert "@broken" in open(path).read()


def test_parse_error_names_function(cache_dir):
    with pytest.raises(machine.CodegenError, match="bad_type"):
        machine.compile_module("define i32 @bad_type(i32 %a) {\n  ret i64 0\n}\n")


def test_assembly_uses_avx512_registers():
    module = ir.Module()
    v16 = ir.VectorType(ir.FloatType(), 16)
    ptr = ir.PointerType()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr]), "add")
    b = ir.IRBuilder(fn.append_basic_block())
    value = b.load(fn.args[0], typ=v16, align=64)
    b.store(b.fadd(value, value), fn.args[1], align=64)
    b.ret_void()
    assert "zmm" in machine.emit_assembly(module)
    assert "<16 x float>" in machine.optimized_ir(module)   # what `graphc dump --emit llvm` shows
