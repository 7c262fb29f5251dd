"""Host target machine, O3 optimization, JIT loading and the object-code cache.

`compile_module(module)` turns an `llvmlite.ir.Module` (or IR text) into a `Library` whose
function addresses are callable through ctypes. Object code is cached in memory and on disk,
keyed by sha256(IR text, optimization level, llvmlite version, LLVM version, CPU name, CPU features); disk_cache.py
says how the disk entries are checked, kept private and bounded. The memory cache keeps the most
recently used objects up to `set_context(kernel_cache_bytes=...)` (64 MiB by default).
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
from llvmlite import ir

from .. import context
from ..lru import LRU
from . import disk_cache


class CodegenError(RuntimeError):
    """LLVM rejected a module (parse or verifier error); the message names the function and file."""


@functools.lru_cache(maxsize=None)
def target_machine() -> llvm.TargetMachine:
    """The shared host target machine used to optimize and generate code (never given to an engine)."""
    return new_target_machine()


def new_target_machine() -> llvm.TargetMachine:
    """The host CPU at -O3, static relocation and the JIT code model (as numba's JIT uses)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=host_features(),
                                        opt=3, reloc="static", jit=True)


@functools.lru_cache(maxsize=None)
def host_features() -> str:
    return llvm.get_host_cpu_features().flatten()


def has_dpbf16() -> bool:
    """Whether LLVM's host features include AVX512-BF16 (vdpbf16ps: bfloat16 pairs into float32)."""
    return llvm.get_host_cpu_features().get("avx512bf16", False)


@functools.lru_cache(maxsize=None)
def has_amx() -> bool:
    """Whether kernels may use AMX's bfloat16 tiles: LLVM's host features include amx-tile and amx-bf16,
    and Linux let this process use the tile data (arch_prctl ARCH_REQ_XCOMP_PERM: a process asks once,
    before its first tile instruction, which would otherwise fault; its forks inherit the permission).
    toolchain() includes it, so no cached step holding tile instructions is found by a process without."""
    features = llvm.get_host_cpu_features()
    if not (features.get("amx-tile", False) and features.get("amx-bf16", False)) or \
            not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(158, 0x1023, 18) == 0       # SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA


def half_path() -> str:
    """What graphc's kernels run on half types on this CPU (benchmarks print it)."""
    pairs = "vdpbf16ps (AVX512-BF16)" if has_dpbf16() else "bfloat16 widened in registers, 2 FMAs a pair"
    if has_amx():
        convolutions = ("ungrouped convolutions and their gradients (a strided input gradient by phases): AMX "
                        f"tiles (tdpbf16ps); matmul: {pairs}; other convolutions")
    else:
        convolutions = f"matmul and 1x1 convolutions: {pairs}; other convolutions"
    return (f"{convolutions} and the rest: float32 kernels behind cast loops, half results stored from their "
            "epilogues; float16: F16C conversions")


def optimize(module_ref: llvm.ModuleRef, level: int = 3, tm: llvm.TargetMachine | None = None) -> None:
    """The default module pipeline at `level` (0-3), in place; level 3 with loop and SLP vectorization."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=level)
    tuning.loop_vectorization = level == 3
    tuning.slp_vectorization = level == 3  # off by default even at level 3
    builder = llvm.create_pass_builder(tm or target_machine(), tuning)
    builder.getModulePassManager().run(module_ref, builder)


def emit_assembly(module: ir.Module | str, optimized: bool = True) -> str:
    """Host assembly for a module, as `graphc dump --emit asm` shows it."""
    module_ref = _parse_and_verify(with_host_target(module))
    if optimized:
        optimize(module_ref)
    return target_machine().emit_assembly(module_ref)


def optimized_ir(module: ir.Module | str) -> str:
    """The IR after the O3 pipeline, as `graphc dump --emit llvm` shows it."""
    module_ref = _parse_and_verify(with_host_target(module))
    optimize(module_ref)
    return str(module_ref)


@dataclass
class CompileStats:
    """Seconds spent per stage; `cache` is 'memory', 'disk' or 'miss'."""
    cache: str
    parse_verify: float = 0.0
    optimize: float = 0.0
    codegen: float = 0.0
    load: float = 0.0

    @property
    def total(self) -> float:
        return self.parse_verify + self.optimize + self.codegen + self.load


@dataclass
class Library:
    """A loaded object: function addresses and ctypes wrappers. Keep it alive while calling."""
    engine: llvm.ExecutionEngine
    stats: CompileStats
    object_code: bytes
    key: str = ""                          # the object cache key it was loaded under
    _addresses: dict[str, int] = field(default_factory=dict)

    def address(self, name: str) -> int:
        if name not in self._addresses:
            addr = self.engine.get_function_address(name)
            if not addr:
                raise KeyError(f"function {name!r} is not defined in this library")
            self._addresses[name] = addr
        return self._addresses[name]

    def cfunc(self, name: str, restype, *argtypes):
        """A ctypes CFUNCTYPE wrapper (it releases the GIL during the call). The wrapper keeps
        this library, and so the code it points to, alive."""
        function = ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))
        function.library = self
        return function


def compile_module(module: ir.Module | str) -> Library:
    """Optimize, generate and load `module`, through the memory and disk caches."""
    text = with_host_target(module)
    key = cache_key(text)
    library = cached_library(key)
    if library is not None:
        return library
    stats = CompileStats("miss")
    obj = build_object(text, stats)
    keep_object(key, obj)
    return _load(obj, stats, key)


def cached_library(key: str) -> Library | None:
    """The object cached under `key` (in memory, else on disk), loaded; None when absent."""
    found = cached_object(key)
    return _load(found[0], CompileStats(found[1]), key) if found else None


def cached_object(key: str) -> tuple[bytes, str] | None:
    """(object code, 'memory' or 'disk') cached under `key`; None when absent."""
    obj = _memory_cache.get(key)
    if obj is not None:
        return obj, "memory"
    obj = disk_cache.read_entry(key)
    if obj is None:
        return None
    _memory_cache[key] = obj
    return obj, "disk"


def keep_object(key: str, obj: bytes) -> None:
    """Cache a freshly compiled object in memory and on disk."""
    disk_cache.write_entry(key, obj)
    _memory_cache[key] = obj


def with_host_target(module: ir.Module | str) -> str:
    """IR text with the host triple and data layout set (LLVM's cost models need both)."""
    if isinstance(module, ir.Module):
        module.triple = llvm.get_process_triple()
        module.data_layout = _data_layout()
        return str(module)
    return module


@functools.lru_cache(maxsize=None)
def _data_layout() -> str:
    return str(target_machine().target_data)


def build_object(text: str, stats: CompileStats, level: int = 3, context: llvm.ContextRef | None = None,
                 tm: llvm.TargetMachine | None = None) -> bytes:
    """Object code of one module's IR text at optimization `level`, timed into `stats` (in an LLVM
    context and with a target machine of the caller's: the process's shared ones by default)."""
    start = time.perf_counter()
    module_ref = _parse_and_verify(text, context)
    stats.parse_verify = time.perf_counter() - start
    start = time.perf_counter()
    optimize(module_ref, level, tm)
    stats.optimize = time.perf_counter() - start
    start = time.perf_counter()
    obj = (tm or target_machine()).emit_object(module_ref)
    stats.codegen = time.perf_counter() - start
    module_ref.close()
    return obj


def link(objects: list[bytes], stats: CompileStats, key: str = "") -> Library:
    """Load object files into one engine: symbols one defines resolve in the others (the step's
    calls of its kernels)."""
    start = time.perf_counter()
    # An engine takes ownership of its target machine and frees it with itself: give it its own.
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_target_machine())
    for obj in objects:
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    stats.load = time.perf_counter() - start
    return Library(engine, stats, b"".join(objects), key)


def _load(obj: bytes, stats: CompileStats, key: str) -> Library:
    return link([obj], stats, key)


# --- verification errors -------------------------------------------------------------------

def _parse_and_verify(text: str, context: llvm.ContextRef | None = None) -> llvm.ModuleRef:
    try:
        module_ref = llvm.parse_assembly(text, context)
        module_ref.verify()
    except RuntimeError as error:
        path = _dump_failed_module(text)
        function = _function_named_by(str(error), text)
        raise CodegenError(f"LLVM rejected function {function}: {str(error).strip()}\n"
                           f"module IR written to {path}") from None
    return module_ref


def _function_named_by(message: str, text: str) -> str:
    """The function a parse or verifier message points at (by line number or quoted instruction)."""
    lines = text.splitlines()
    line_match = re.search(r"<string>:(\d+):", message)
    if line_match:
        return _enclosing_function(lines, int(line_match.group(1)) - 1)
    for quoted in message.splitlines()[1:]:
        needle = quoted.strip()
        for number, line in enumerate(lines):
            if needle and line.strip() == needle:
                return _enclosing_function(lines, number)
    return "<unknown>"


def _enclosing_function(lines: list[str], line_index: int) -> str:
    for line in reversed(lines[: line_index + 1]):
        match = re.match(r'define\b.*?@("?)([^"(\s]+)\1\s*\(', line)
        if match:
            return match.group(2)
    return "<unknown>"


def _dump_failed_module(text: str) -> Path:
    path = disk_cache.failed_dump_dir() / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.ll"
    path.write_text(text)
    return path


# --- object cache --------------------------------------------------------------------------

_memory_cache = LRU(lambda: context.get_context("kernel_cache_bytes"), len)   # key -> object code


def cache_key(ir_text: str, level: int = 3) -> str:
    """The key of the object code of `ir_text` optimized at `level` on this toolchain."""
    return hashlib.sha256("\0".join([ir_text, f"O{level}", *toolchain()]).encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def toolchain() -> tuple[str, ...]:
    """What else decides the object code of a module: llvmlite and LLVM versions, host CPU and features."""
    return (llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)), llvm.get_host_cpu_name(), host_features(),
            f"amx={has_amx()}")


def cache_info() -> dict:
    """The disk cache (disk_cache.info): entries, bytes, leftovers, bound, and whether it is unsafe."""
    return disk_cache.info()


def cache_clear() -> dict:
    """Empty the memory cache and the disk cache (libraries already loaded stay valid); returns
    what the disk cache held."""
    _memory_cache.clear()
    return disk_cache.clear()
