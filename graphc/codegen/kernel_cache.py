"""Kernels generated and compiled once: each kernel is a module of its own, found by fingerprint.

Lowering asks `KernelSet.kernel(node, variant, emit)` for every kernel a step calls. A kernel whose
fingerprint (fingerprint.kernel_fingerprint: what decides its IR) was seen before is reused
without emitting its IR: earlier in this step ("deduplicated": equal convolutions, or a train
step's forward in its own eval cell), earlier in this process ("memory") or in an earlier one
("disk": a disk_cache.KERNEL_INDEX entry naming its object). A new kernel is emitted into its own
module, its functions named after a hash of its IR (so equal code has equal names and one object,
and objects of different steps link together without clashing), and handed to a CompileBatch,
which compiles it on a worker thread while lowering goes on. Objects are cached by their IR's key
(machine.cache_key) as every module is; the index entry only saves emitting IR to learn that key.
A kernel that reads its batch size at run time (kernels/contract.py) has the same IR, hence the
same object, at every batch size: the partial batch of an epoch emits it but does not compile it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

from llvmlite import ir

from ..ir import Node
from ..lru import LRU
from . import disk_cache, machine
from .compile_pool import CompileBatch
from .fingerprint import kernel_fingerprint
from .kernels.contract import Kernel, Operand, Scratch

# Optimization levels (machine.optimize). The emitters write their vectors themselves (<16 x float>,
# register tiles), so LLVM's vectorizers find nothing to do: measured on LeNet's train step, one thread,
# per kernel, O2 without them runs as fast as O3 with them (621 vs 619 us summed over 29 kernels) for
# less compile time, and O1 is as fast for elementwise loops (memory-bound: 89 us at O1 and O3 on 1M
# elements) but 6% slower on convolutions and pooling gradients (conv2 dx 163 vs 142 us).
# The step's driver (calls, barriers, index checks: its time is in the kernels it calls) is not
# optimized, only compiled: ResNet-20's is 118 KB of IR, 0.55 s at O2 and 0.08 s at O0, and it is
# compiled last, after every kernel it calls is lowered, so its compile is on the critical path.
KERNEL, LOOP, DRIVER = 2, 1, 0


@dataclass(frozen=True)
class KernelRef:
    """A compiled (or compiling) kernel as a step calls it."""
    fingerprint: str
    phases: tuple[str, ...]          # its functions' symbols, called in order with a barrier between
    operands: tuple[Operand, ...]
    scratch: Scratch
    flops: int
    object_key: str                  # its module's object in the cache
    level: int = KERNEL
    index_bounds: tuple[tuple[str, int], ...] = ()   # Kernel.index_bounds: the step checks them first
    batch: int = 0                   # Kernel.batch: the `batch` argument of its calls
    prepare: int = 0                 # Kernel.prepare: its leading phases that only read the weights

    def encode(self) -> dict:
        return {"fingerprint": self.fingerprint, "phases": list(self.phases),
                "operands": [[o.name, list(o.shape), o.role, o.dtype] for o in self.operands],
                "scratch": [self.scratch.shared, self.scratch.per_thread], "flops": self.flops,
                "object": self.object_key, "level": self.level,
                "index_bounds": [list(bound) for bound in self.index_bounds], "batch": self.batch,
                "prepare": self.prepare}

    @staticmethod
    def decode(record: dict) -> "KernelRef":
        return KernelRef(record["fingerprint"], tuple(record["phases"]),
                         tuple(Operand(n, tuple(shape), role, dtype) for n, shape, role, dtype in record["operands"]),
                         Scratch(*record["scratch"]), record["flops"], disk_cache.check_key(record["object"]),
                         record["level"], tuple((name, size) for name, size in record["index_bounds"]),
                         record["batch"], record["prepare"])


@dataclass
class KernelCounts:
    """Where a step's kernels came from: `calls` in the step, `deduplicated` calls of a kernel the
    step already had, and each distinct kernel found in `memory`, on `disk`, or `compiled`."""
    calls: int = 0
    deduplicated: int = 0
    memory: int = 0
    disk: int = 0
    compiled: int = 0
    optimize: float = 0.0            # seconds of LLVM work summed over the compile threads
    codegen: float = 0.0


# The kernels this process lowered most recently, by fingerprint (about 1.7 KB each; LeNet's train
# step has 29, ResNet-20's 68): a kernel not among them is found through the disk index, or emitted again.
KNOWN_KERNELS = 4096
_known = LRU(lambda: KNOWN_KERNELS)


class KernelSet:
    """The kernels of one step. `batch` compiles new kernels (None: emit only, e.g. to list them or
    show their IR, kept in `texts`); `share=False` emits every distinct kernel of the step, cached
    or not (to show its IR)."""

    def __init__(self, batch: CompileBatch | None, share: bool = True):
        self.batch, self.share = batch, share
        self.refs: dict[str, KernelRef] = {}
        self.texts: list[str] = []       # each new kernel's IR, when not compiled
        self.counts = KernelCounts()
        self._objects: dict[str, bytes] = {}
        self._pending: dict[str, tuple[object, KernelRef | None]] = {}   # key -> (future, kernel)

    def kernel(self, node: Node, variant: str, emit: Callable[[ir.Module, str], Kernel],
               level: int = KERNEL) -> KernelRef:
        """The kernel `emit(module, name)` would add for `node` (`variant`: which of its kernels),
        optimized at `level`."""
        self.counts.calls += 1
        fingerprint = kernel_fingerprint(node, variant)
        if fingerprint in self.refs:
            self.counts.deduplicated += 1
            return self.refs[fingerprint]
        ref = self._cached(fingerprint) if self.share else None
        if ref is None:
            ref = self._emit(fingerprint, emit, level)
        self.refs[fingerprint] = _known[fingerprint] = ref
        return ref

    def _cached(self, fingerprint: str) -> KernelRef | None:
        ref = _known.get(fingerprint) or _read_index(fingerprint)
        found = machine.cached_object(ref.object_key) if ref else None
        if found is None:
            return None
        self._objects[ref.object_key], source = found
        setattr(self.counts, source, getattr(self.counts, source) + 1)
        if fingerprint not in _known:
            _known[fingerprint] = ref
        return ref

    def _emit(self, fingerprint: str, emit: Callable[[ir.Module, str], Kernel], level: int) -> KernelRef:
        module = ir.Module(name="graphc.kernel")
        kernel = emit(module, _UNNAMED)
        text = machine.with_host_target(module)
        name = symbol(hashlib.sha256(text.encode()).hexdigest())
        text = text.replace(_UNNAMED, name)
        if self.batch is None:           # compiled, the IR would be dead weight (ResNet-20's: 62 MB)
            self.texts.append(text)
        ref = KernelRef(fingerprint, tuple(fn.name.replace(_UNNAMED, name) for fn in kernel.phases), kernel.operands,
                        kernel.scratch, kernel.flops, machine.cache_key(text, level), level, kernel.index_bounds,
                        kernel.batch, kernel.prepare)
        if self.batch is not None:
            source = self.submit(ref.object_key, text, ref.level, ref)
            setattr(self.counts, source, getattr(self.counts, source) + 1)
        return ref

    def submit(self, object_key: str, text: str, level: int, ref: KernelRef | None = None) -> str:
        """Compile `text` unless its object is cached ('memory', 'disk'), else 'compiled' (`ref`: the
        kernel it is, indexed once its object is cached)."""
        found = machine.cached_object(object_key)
        if found is not None:
            self._objects[object_key], source = found
            if ref is not None:
                _write_index(ref)
            return source
        if object_key not in self._pending:
            self._pending[object_key] = self.batch.submit(text, level), ref
        return "compiled"

    def objects(self) -> dict[str, bytes]:
        """Every object of the step by key, once compiled (each new one is cached as it arrives)."""
        for key, (future, ref) in self._pending.items():
            obj, stats = future.result()
            machine.keep_object(key, obj)
            if ref is not None:
                _write_index(ref)
            self._objects[key] = obj
            self.counts.optimize += stats.optimize
            self.counts.codegen += stats.codegen
        self._pending.clear()
        return self._objects


# Kernels are emitted under this name, then renamed after their IR's hash: a name that occurs in no
# other identifier, so replacing it in the text renames the kernel's functions and nothing else.
_UNNAMED = "graphc.unnamed.kernel"


def symbol(digest: str) -> str:
    """A kernel's function name: the hash of its IR, so equal code has equal names."""
    return f"k{digest[:24]}"


def _write_index(ref: KernelRef) -> None:
    disk_cache.write_entry(ref.fingerprint, json.dumps(ref.encode()).encode(), disk_cache.KERNEL_INDEX)


def _read_index(fingerprint: str) -> KernelRef | None:
    payload = disk_cache.read_entry(fingerprint, disk_cache.KERNEL_INDEX)
    if payload is None:
        return None
    try:
        ref = KernelRef.decode(json.loads(payload))
    except (ValueError, KeyError, TypeError):
        return None
    return ref if ref.fingerprint == fingerprint else None
