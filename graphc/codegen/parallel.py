"""Multi-core execution with no Python between kernels.

Model: N threads call the same native entry `void step(ptr ctx, i64 tid)`. Thread 0 is the
caller; threads 1..N-1 are persistent daemon workers parked in native code. Inside the step,
kernels split their work by `split_range` and are separated by `emit_barrier` calls.

* `split_range` / `emit_split_range`: the static contiguous share [lo, hi) of n items.
* `emit_image_split`: a batch split by image, or, with fewer images than threads, inside each image.
* `emit_barrier(builder, state, nthreads)`: a sense-reversing barrier in IR. `state` points to
  BARRIER_BYTES zeroed, 64-byte-aligned bytes shared by all threads of the step.
* `ThreadRunner(nthreads)`: runs `step(ctx, tid)` on all threads and returns when every thread
  has finished; idle workers spin for about `spin_us` microseconds, then sleep on a futex.
  `shared_runner(nthreads)` is the process-wide one per thread count.
* `reset_in_forked_children(owner)`: a child forked while another thread runs a step has only the
  forking thread, and inherits that step's control words half-way (a barrier's arrival count, the
  runner's generation and lock); each registered owner's `reset_after_fork()` puts its own back to
  the state before any step, so the child's first step starts clean.
"""
from __future__ import annotations

import atexit
import ctypes
import functools
import os
import threading
import time
import weakref
from typing import Callable

import numpy as np
from llvmlite import ir

from .arch import emit_clock, emit_futex_wait, emit_futex_wake_all, emit_spin_hint
from .kernels.loops import entry_alloca
from .kernels.simd import I32, I64, PTR, VOID, declare, elem_ptr, i64
from .machine import compile_module

BARRIER_BYTES = 128        # arrival counter and sense word, on separate cache lines
_COUNT, _SENSE = 0, 16     # i32 slots in the barrier state
# Spins between sched_yield() calls while waiting. Measured with 3 threads on 2 cores: 8 us per
# barrier at 256 vs 104 us at 4096; 2 threads on 2 cores: 330 ns either way (1.7 us at 16).
_YIELD_EVERY = 256


# --- work split -------------------------------------------------------------------------------

def split_range(tid: int, nthreads: int, n: int) -> tuple[int, int]:
    """Thread `tid`'s contiguous share of n items: sizes differ by at most one."""
    return n * tid // nthreads, n * (tid + 1) // nthreads


def emit_split_range(builder: ir.IRBuilder, tid: ir.Value, nthreads: ir.Value, n) -> tuple[ir.Value, ir.Value]:
    """IR form of `split_range` (tid and nthreads runtime i64; n a python int or a runtime i64)."""
    n = i64(n) if isinstance(n, int) else n
    lo = builder.udiv(builder.mul(n, tid), nthreads)
    hi = builder.udiv(builder.mul(n, builder.add(tid, i64(1))), nthreads)
    return lo, hi


def emit_image_split(builder: ir.IRBuilder, tid: ir.Value, nthreads: ir.Value, batch: ir.Value
                     ) -> tuple[ir.Value, ir.Value, tuple[ir.Value, ir.Value]]:
    """How a kernel whose work items are images shares a batch: (first image, end, (tid, nthreads)
    of the work inside each image). With at least as many images as threads, the thread's images
    and each image whole ((0, 1)); with fewer (inference at batch 1), every image, each split
    between all threads, so the other threads are not idle. Either way each output is computed by
    one thread in one order: the results do not depend on the split."""
    lo, hi = emit_split_range(builder, tid, nthreads, batch)
    whole = builder.icmp_unsigned(">=", batch, nthreads)
    return (builder.select(whole, lo, i64(0)), builder.select(whole, hi, batch),
            (builder.select(whole, i64(0), tid), builder.select(whole, i64(1), nthreads)))


# --- barrier ----------------------------------------------------------------------------------

def emit_barrier(builder: ir.IRBuilder, state: ir.Value, nthreads: ir.Value) -> None:
    """Wait until all `nthreads` threads reach this point; plain stores before it are visible after.

    Why it is sound: every arrival is an acq_rel RMW on the counter, so the last arriver acquires
    all earlier arrivals' writes; its release store of the flipped sense synchronizes with each
    waiter's acquire load. The counter is reset before that release, so the next barrier starts
    from zero. Waiters read the sense with atomic loads (a plain load could be hoisted).
    """
    builder.call(_barrier_function(builder.module), [state, nthreads])


def _barrier_function(module: ir.Module) -> ir.Function:
    existing = module.globals.get("graphc.barrier")
    if existing is not None:
        return existing
    # The state parameter is a typed i32* because llvmlite 0.50's store_atomic reads
    # `ptr.type.pointee`, which opaque pointers lack; the parser upgrades it to `ptr`.
    fn = ir.Function(module, ir.FunctionType(VOID, [I32.as_pointer(), I64]), "graphc.barrier")
    fn.linkage = "internal"
    state, nthreads = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    single, arrive = fn.append_basic_block("single"), fn.append_basic_block("arrive")
    b.cbranch(b.icmp_signed("<=", nthreads, i64(1)), single, arrive)
    b.position_at_end(single)
    b.ret_void()
    b.position_at_end(arrive)
    count = b.gep(state, [i64(_COUNT)], inbounds=True)
    sense = b.gep(state, [i64(_SENSE)], inbounds=True)
    old_sense = b.load_atomic(sense, "monotonic", 4, typ=I32)
    arrived = b.atomic_rmw("add", count, ir.Constant(I32, 1), "acq_rel")
    last = b.icmp_signed("==", b.sext(arrived, I64), b.sub(nthreads, i64(1)))
    release, wait = fn.append_basic_block("release"), fn.append_basic_block("wait")
    b.cbranch(last, release, wait)
    b.position_at_end(release)
    b.store_atomic(ir.Constant(I32, 0), count, "monotonic", 4)
    b.store_atomic(b.xor(old_sense, ir.Constant(I32, 1)), sense, "release", 4)
    b.ret_void()
    b.position_at_end(wait)
    spin_until(b, lambda b: b.icmp_signed("!=", b.load_atomic(sense, "acquire", 4, typ=I32), old_sense))
    b.ret_void()
    return fn


def spin_until(b: ir.IRBuilder, condition: Callable[[ir.IRBuilder], ir.Value]) -> None:
    """Spin with the spin-wait hint until condition(b) (emitted in the loop) holds; sched_yield()
    every _YIELD_EVERY spins so a descheduled peer on a shared core can run."""
    sched_yield = declare(b.module, "sched_yield", I32, [])
    spins = entry_alloca(b, I64, "spins")
    b.store(i64(0), spins)
    loop, done = b.append_basic_block("spin"), b.append_basic_block("spin.done")
    b.branch(loop)
    b.position_at_end(loop)
    emit_spin_hint(b)
    satisfied = condition(b)
    count = b.add(b.load(spins, typ=I64), i64(1))
    b.store(count, spins)
    with b.if_then(b.icmp_signed("==", b.and_(count, i64(_YIELD_EVERY - 1)), i64(0))):
        b.call(sched_yield, [])
    b.cbranch(satisfied, done, loop)
    b.position_at_end(done)


# --- thread runner ----------------------------------------------------------------------------

# Pool control block: i32 slots, each hot word on its own cache line.
_GEN, _SLEEPERS, _DONE, _QUIT, _SPIN_TICKS = 0, 16, 32, 48, 64  # _SPIN_TICKS is an i64 slot
_FN, _CTX = 80, 96                                                # pointer-sized slots
_POOL_BYTES = 512


@functools.lru_cache(maxsize=None)
def _runtime():
    """The compiled runner: worker_loop, run, shutdown and a cycle-counter probe."""
    lib = compile_module(runtime_module())
    return lib, {
        "worker_loop": lib.cfunc("graphc_worker_loop", None, ctypes.c_void_p, ctypes.c_int64),
        "run": lib.cfunc("graphc_run", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64),
        "shutdown": lib.cfunc("graphc_shutdown", None, ctypes.c_void_p),
        "cycles": lib.cfunc("graphc_cycles", ctypes.c_int64),
    }


def runtime_module(triple: str = "") -> ir.Module:
    """The runner's IR for a target triple (the host when empty): see arch.py for what it changes."""
    module = ir.Module("graphc.runtime")
    module.triple = triple
    _emit_worker_loop(module)
    _emit_run(module)
    _emit_shutdown(module)
    _emit_cycle_counter(module)
    return module


def _slot(b: ir.IRBuilder, pool: ir.Value, index: int) -> ir.Value:
    return elem_ptr(b, pool, index, I32)


def _emit_worker_loop(module: ir.Module) -> None:
    """void graphc_worker_loop(pool, tid): run each new generation's step until quit is set."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), "graphc_worker_loop")
    pool, tid = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    seen = entry_alloca(b, I32, "seen")
    b.store(ir.Constant(I32, 0), seen)
    loop, work, leave = (fn.append_basic_block(n) for n in ("wait", "work", "leave"))
    b.branch(loop)
    b.position_at_end(loop)
    generation = _wait_for_generation(b, pool, b.load(seen, typ=I32))
    b.store(generation, seen)
    quit_flag = b.load_atomic(_slot(b, pool, _QUIT), "acquire", 4, typ=I32)
    b.cbranch(b.icmp_signed("!=", quit_flag, ir.Constant(I32, 0)), leave, work)
    b.position_at_end(work)
    _call_step(b, pool, tid)
    b.atomic_rmw("add", _slot(b, pool, _DONE), ir.Constant(I32, 1), "release")
    b.branch(loop)
    b.position_at_end(leave)
    b.ret_void()


def _wait_for_generation(b: ir.IRBuilder, pool: ir.Value, seen: ir.Value) -> ir.Value:
    """Spin with the hint for spin_ticks clock ticks, then sleep on the futex; returns the new generation.

    A sleeper registers in `sleepers` (seq_cst) before re-checking the generation, and `run` bumps
    the generation (seq_cst) before reading `sleepers`, so one of them always sees the other: no
    lost wake-up. FUTEX_WAIT itself re-checks the word atomically in the kernel.
    """
    fn = b.function
    gen_word = _slot(b, pool, _GEN)
    budget = b.load(_slot(b, pool, _SPIN_TICKS), typ=I64)
    deadline = b.add(emit_clock(b), budget)
    spin, check_time, sleep, done = (fn.append_basic_block(n) for n in ("spin", "spin.time", "sleep", "woken"))
    b.branch(spin)
    b.position_at_end(spin)
    emit_spin_hint(b)
    current = b.load_atomic(gen_word, "acquire", 4, typ=I32)
    b.cbranch(b.icmp_signed("!=", current, seen), done, check_time)
    b.position_at_end(check_time)
    b.cbranch(b.icmp_signed("<", emit_clock(b), deadline), spin, sleep)
    b.position_at_end(sleep)
    sleepers = _slot(b, pool, _SLEEPERS)
    b.atomic_rmw("add", sleepers, ir.Constant(I32, 1), "seq_cst")
    recheck = b.load_atomic(gen_word, "seq_cst", 4, typ=I32)
    with b.if_then(b.icmp_signed("==", recheck, seen)):
        emit_futex_wait(b, gen_word, seen)
    b.atomic_rmw("sub", sleepers, ir.Constant(I32, 1), "seq_cst")
    b.branch(spin)
    b.position_at_end(done)
    return current


def _call_step(b: ir.IRBuilder, pool: ir.Value, tid: ir.Value) -> None:
    step_type = ir.FunctionType(VOID, [PTR, I64])
    step = b.load(_slot(b, pool, _FN), typ=step_type.as_pointer())
    ctx = b.load(_slot(b, pool, _CTX), typ=PTR)
    b.call(step, [ctx, tid])


def _emit_run(module: ir.Module) -> None:
    """void graphc_run(pool, step, ctx, nworkers): publish, wake, run tid 0, wait for the workers."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, PTR, I64]), "graphc_run")
    pool, step, ctx, nworkers = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.store(step, _slot(b, pool, _FN))
    b.store(ctx, _slot(b, pool, _CTX))
    b.atomic_rmw("xchg", _slot(b, pool, _DONE), ir.Constant(I32, 0), "monotonic")
    _publish_generation(b, pool)
    _call_step(b, pool, i64(0))
    _wait_for_workers(b, pool, nworkers)
    b.ret_void()


def _publish_generation(b: ir.IRBuilder, pool: ir.Value) -> None:
    """Bump the generation (releasing fn/ctx) and wake futex sleepers if any registered."""
    gen_word = _slot(b, pool, _GEN)
    b.atomic_rmw("add", gen_word, ir.Constant(I32, 1), "seq_cst")
    sleepers = b.load_atomic(_slot(b, pool, _SLEEPERS), "seq_cst", 4, typ=I32)
    with b.if_then(b.icmp_signed("!=", sleepers, ir.Constant(I32, 0))):
        emit_futex_wake_all(b, gen_word)


def _wait_for_workers(b: ir.IRBuilder, pool: ir.Value, nworkers: ir.Value) -> None:
    done_word = _slot(b, pool, _DONE)
    spin_until(b, lambda b: b.icmp_signed(">=", b.sext(b.load_atomic(done_word, "acquire", 4, typ=I32), I64),
                                           nworkers))


def _emit_shutdown(module: ir.Module) -> None:
    """void graphc_shutdown(pool): set quit and wake every worker so worker_loop returns."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR]), "graphc_shutdown")
    (pool,) = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.atomic_rmw("xchg", _slot(b, pool, _QUIT), ir.Constant(I32, 1), "release")
    _publish_generation(b, pool)
    b.ret_void()


def _emit_cycle_counter(module: ir.Module) -> None:
    fn = ir.Function(module, ir.FunctionType(I64, []), "graphc_cycles")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(emit_clock(b))


def cycles() -> int:
    """The time counter native code reads (emit_clock), read from Python."""
    return _runtime()[1]["cycles"]()


@functools.lru_cache(maxsize=None)
def cycles_per_microsecond() -> float:
    """Time-counter ticks (the TSC on x86-64) per microsecond, measured over 20 ms."""
    t0, c0 = time.perf_counter(), cycles()
    while time.perf_counter() - t0 < 0.02:
        pass
    return (cycles() - c0) / ((time.perf_counter() - t0) * 1e6)


class ThreadRunner:
    """Run native `void step(ptr ctx, i64 tid)` on `nthreads` threads (tid 0 = the caller).

    `run(step_address, ctx_address)` returns after all threads returned from the step. Calls are
    serialized by a lock. Workers are daemon threads blocked inside native code; `close()` (or the
    context manager, or garbage collection) stops and joins them. A forked child inherits the
    runner but not its threads: its first `run` starts new workers on a new control block.
    """

    def __init__(self, nthreads: int, spin_us: float = 50.0):
        if nthreads < 1:
            raise ValueError(f"ThreadRunner needs at least one thread, got {nthreads}")
        self.nthreads, self._spin_us = nthreads, spin_us
        self._run_native = _runtime()[1]["run"]
        self._lock = threading.Lock()
        self._closed = False
        self._start_workers()
        reset_in_forked_children(self)

    def _start_workers(self) -> None:
        native = _runtime()[1]
        self._pool = np.zeros(_POOL_BYTES // 8, dtype=np.int64)
        self._pool[_SPIN_TICKS // 2] = int(self._spin_us * cycles_per_microsecond())
        self._pool_address = self._pool.ctypes.data
        self._workers = [threading.Thread(target=native["worker_loop"], args=(self._pool_address, tid),
                                          name=f"graphc-worker-{tid}", daemon=True)
                         for tid in range(1, self.nthreads)]
        for worker in self._workers:
            worker.start()
        self._finalizer = weakref.finalize(self, _stop_workers, native["shutdown"], self._pool,
                                           self._workers)

    def reset_after_fork(self) -> None:
        """In a forked child: the workers did not come along (and the control block may still
        count them as sleepers), so there is nothing to stop; the next run starts new ones."""
        self._finalizer.detach()
        self._lock = threading.Lock()         # a thread of the parent may have held it
        self._workers = None

    def run(self, step_address: int, ctx_address: int) -> None:
        with self._lock:
            if self._closed:  # the workers are gone: waiting for them would never return
                raise RuntimeError("ThreadRunner is closed")
            if self._workers is None:
                self._start_workers()
            self._run_native(self._pool_address, step_address, ctx_address, self.nthreads - 1)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> "ThreadRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_shared_runners: dict[int, ThreadRunner] = {}
_shared_lock = threading.Lock()


def shared_runner(nthreads: int) -> ThreadRunner:
    """One ThreadRunner per thread count for the whole process (calls on it are serialized),
    closed at interpreter exit."""
    with _shared_lock:
        if nthreads not in _shared_runners:
            _shared_runners[nthreads] = ThreadRunner(nthreads)
        return _shared_runners[nthreads]


@atexit.register
def _close_shared_runners() -> None:
    for runner in _shared_runners.values():
        runner.close()


_reset_after_fork: "weakref.WeakSet" = weakref.WeakSet()   # runners, executables: see reset_in_forked_children


def reset_in_forked_children(owner) -> None:
    """Call `owner.reset_after_fork()` in every child forked while `owner` lives (held weakly)."""
    _reset_after_fork.add(owner)


def _after_fork_in_child() -> None:
    global _shared_lock
    _shared_lock = threading.Lock()
    for owner in list(_reset_after_fork):
        owner.reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _stop_workers(shutdown, pool: np.ndarray, workers: list[threading.Thread]) -> None:
    shutdown(pool.ctypes.data)
    for worker in workers:
        worker.join()
