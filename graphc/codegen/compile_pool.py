"""Compiling many modules at once, on every core.

`CompileBatch(threads).submit(text, level)` optimizes and compiles one module's IR text to object
code on a worker thread and returns a Future of `(object bytes, CompileStats)`, so the caller goes
on emitting the next kernel while LLVM works on the earlier ones. Workers take the largest waiting
module first: LLVM is the bottleneck (the queue is never empty while lowering goes on), and a large
module taken last compiled alone on one core while the other idled (LeNet: 0.12 s of its 0.95 s).

ctypes releases the GIL around every call into LLVM, but llvmlite also serializes all its calls
behind one process-wide lock (`llvmlite.binding.ffi.lib._lock`), so threads alone would still
compile one module at a time. LLVM compiles concurrently when each thread has its own LLVMContext
and TargetMachine (in-process ThinLTO backends work that way), which is what a worker here owns:
its calls skip llvmlite's lock, every other thread's calls still take it (`_SkippedByWorkers`).
A worker shares nothing with other threads but LLVM's immutable target tables and option values
(`llvm.set_option` must not be called while a batch compiles). If llvmlite's lock is not where
this expects it, workers take the lock like everyone else: correct, and serial.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading
from concurrent.futures import Future

import llvmlite.binding as llvm
from llvmlite.binding import ffi

from . import machine

_worker = threading.local()          # .target_machine on compile workers


def compile_text(text: str, level: int) -> tuple[bytes, machine.CompileStats]:
    """Parse, verify, optimize at `level` and emit one module's object code, in this thread."""
    stats = machine.CompileStats("miss")
    tm = getattr(_worker, "target_machine", None)
    if tm is None:                                     # the calling thread: llvmlite's shared objects
        return machine.build_object(text, stats, level), stats
    context = llvm.create_context()
    try:
        return machine.build_object(text, stats, level, context, tm), stats
    finally:
        context.close()


class CompileBatch:
    """Modules compiled on `threads` threads (1: in the caller, when the result is asked for, so the
    compile report's phases still tell lowering from LLVM)."""

    def __init__(self, threads: int):
        self.threads = threads
        self.pool = _pool(threads) if threads > 1 else None

    def submit(self, text: str, level: int):
        """A Future, or on one thread a deferred call: `.result()` is (object bytes, CompileStats)."""
        if self.pool is not None:
            return self.pool.submit(text, level)
        return _Deferred(text, level)


class _Deferred:
    def __init__(self, text: str, level: int):
        self.text, self.level = text, level

    def result(self) -> tuple[bytes, machine.CompileStats]:
        return compile_text(self.text, self.level)


class _Workers:
    """`threads` compile threads serving a queue ordered by module size, largest first."""

    def __init__(self, threads: int):
        self.waiting: queue.PriorityQueue = queue.PriorityQueue()
        self.order = itertools.count()                # equal sizes: first come, first served
        for k in range(threads):
            threading.Thread(target=self._serve, name=f"graphc-compile-{k}", daemon=True).start()

    def submit(self, text: str, level: int) -> Future:
        future = Future()
        self.waiting.put((-len(text), next(self.order), text, level, future))
        return future

    def _serve(self) -> None:
        _start_worker()
        while True:
            _, _, text, level, future = self.waiting.get()
            try:
                future.set_result(compile_text(text, level))
            except BaseException as error:            # the caller sees it at .result()
                future.set_exception(error)


_pools: dict[int, _Workers] = {}
_pools_lock = threading.Lock()


def _pool(threads: int) -> _Workers:
    """The process's `threads` compile workers (idle workers cost nothing)."""
    with _pools_lock:
        if threads not in _pools:
            machine.target_machine()                      # LLVM's targets initialized once, by this thread
            _install_lock_skip()
            _pools[threads] = _Workers(threads)
        return _pools[threads]


def _forget_pools_after_fork() -> None:
    """A forked child has only the thread that forked: the parent's workers (and whoever held the
    pools' lock) did not come along, so the child starts pools of its own."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def _start_worker() -> None:
    _worker.target_machine = machine.new_target_machine()   # created under llvmlite's lock
    _worker.owns_llvm = _lock_skip_installed


class _SkippedByWorkers:
    """llvmlite's lock, not taken by compile workers (their LLVM objects are their own)."""

    def __init__(self, lock):
        self.lock = lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True if getattr(_worker, "owns_llvm", False) else self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        if not getattr(_worker, "owns_llvm", False):
            self.lock.release()


_lock_skip_installed = False


def _install_lock_skip() -> None:
    global _lock_skip_installed
    guard = getattr(getattr(ffi, "lib", None), "_lock", None)
    inner = getattr(guard, "_lock", None)
    if inner is not None and hasattr(inner, "acquire") and hasattr(inner, "release"):
        if not isinstance(inner, _SkippedByWorkers):
            guard._lock = _SkippedByWorkers(inner)
        _lock_skip_installed = True

