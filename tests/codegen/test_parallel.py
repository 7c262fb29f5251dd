"""parallel.py: work split, the IR barrier under stress, and the thread runner's life cycle."""
import threading
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st
from llvmlite import ir

from graphc.codegen import machine, parallel
from graphc.codegen.kernels.loops import counted_loop
from graphc.codegen.kernels.simd import I64, PTR, VOID, elem_ptr, i64

# ctx slots (i64): barrier state, nthreads, iterations, data pointer, error counts pointer
NTHREADS, ITERATIONS, DATA, ERRORS = 16, 17, 18, 19
STRIDE = 16   # i64 slots between per-thread words: one cache line each


@given(st.integers(1, 8), st.integers(0, 1000))
def test_split_range_covers_each_item_once(nthreads, n):
    shares = [parallel.split_range(t, nthreads, n) for t in range(nthreads)]
    assert shares[0][0] == 0 and shares[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
    sizes = [hi - lo for lo, hi in shares]
    assert max(sizes) - min(sizes) <= 1


def _stress_module() -> ir.Module:
    """step(ctx, tid): per iteration, write i to my word; barrier; every other thread's word must
    be i; barrier (so nobody overwrites a word before all have checked it)."""
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), "stress")
    ctx, tid = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slot = lambda index, typ: b.load(elem_ptr(b, ctx, index, I64), typ=typ)
    nthreads, iterations, data, errors = slot(NTHREADS, I64), slot(ITERATIONS, I64), slot(DATA, PTR), slot(ERRORS, PTR)
    word = lambda base, t: elem_ptr(b, base, b.mul(t, i64(STRIDE)), I64)
    with counted_loop(b, 0, iterations, name="it") as iteration:
        b.store(iteration, word(data, tid))
        parallel.emit_barrier(b, ctx, nthreads)
        with counted_loop(b, 0, nthreads, name="other") as other:
            seen = b.load(word(data, other), typ=I64)
            with b.if_then(b.icmp_signed("!=", seen, iteration)):
                counter = word(errors, tid)
                b.store(b.add(b.load(counter, typ=I64), i64(1)), counter)
        parallel.emit_barrier(b, ctx, nthreads)
    b.ret_void()
    return module


@pytest.fixture(scope="module")
def stress_step():
    lib = machine.compile_module(_stress_module())
    return lib, lib.address("stress")


def _run_stress(runner, step, nthreads, iterations):
    ctx = np.zeros(32, np.int64)
    data = np.full(STRIDE * nthreads, -1, np.int64)
    errors = np.zeros(STRIDE * nthreads, np.int64)
    ctx[NTHREADS], ctx[ITERATIONS], ctx[DATA], ctx[ERRORS] = nthreads, iterations, data.ctypes.data, errors.ctypes.data
    runner.run(step, ctx.ctypes.data)
    return data[::STRIDE], errors[::STRIDE]


@pytest.mark.parametrize("nthreads", [1, 2, 3])
def test_barrier_stress(stress_step, nthreads):
    _, step = stress_step
    iterations = 20000 if nthreads <= 2 else 2000   # 3 threads oversubscribe the 2 cores
    with parallel.ThreadRunner(nthreads) as runner:
        data, errors = _run_stress(runner, step, nthreads, iterations)
    assert errors.sum() == 0
    assert list(data) == [iterations - 1] * nthreads


def test_runner_repeated_calls_and_idle_sleep(stress_step):
    _, step = stress_step
    with parallel.ThreadRunner(2, spin_us=5) as runner:
        for _ in range(200):
            _, errors = _run_stress(runner, step, 2, 3)
            assert errors.sum() == 0
        time.sleep(0.05)          # workers go from spinning to the futex sleep
        _, errors = _run_stress(runner, step, 2, 100)
        assert errors.sum() == 0


def test_idle_workers_sleep_instead_of_spinning(stress_step):
    _, step = stress_step
    with parallel.ThreadRunner(2, spin_us=50) as runner:
        _run_stress(runner, step, 2, 10)
        time.sleep(0.05)                       # past the spin window
        cpu_before = time.process_time()
        time.sleep(0.5)
        assert time.process_time() - cpu_before < 0.05   # a spinning worker would burn ~0.5 s


def test_close_joins_workers(stress_step):
    _, step = stress_step
    runner = parallel.ThreadRunner(3)
    _run_stress(runner, step, 3, 10)
    workers = list(runner._workers)
    runner.close()
    assert not any(w.is_alive() for w in workers)
    with pytest.raises(RuntimeError, match="closed"):
        runner.run(step, 0)
    runner.close()   # idempotent


def test_exception_around_calls_does_not_hang(stress_step):
    _, step = stress_step
    with pytest.raises(KeyError):
        with parallel.ThreadRunner(2) as runner:
            _run_stress(runner, step, 2, 10)
            raise KeyError("user code failed between steps")
    assert not any(w.is_alive() for w in runner._workers)
    with parallel.ThreadRunner(2) as runner:   # a fresh runner works afterwards
        _, errors = _run_stress(runner, step, 2, 10)
        assert errors.sum() == 0


def test_concurrent_callers_are_serialized(stress_step):
    _, step = stress_step
    failures = []
    with parallel.ThreadRunner(2) as runner:
        def caller():
            for _ in range(50):
                _, errors = _run_stress(runner, step, 2, 20)
                failures.append(int(errors.sum()))
        threads = [threading.Thread(target=caller) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert len(failures) == 150 and sum(failures) == 0


def test_emit_split_range_matches_python():
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64, I64]), "share")
    out, tid, nthreads = fn.args
    b = ir.IRBuilder(fn.append_basic_block())
    lo, hi = parallel.emit_split_range(b, tid, nthreads, 37)
    b.store(lo, out)
    b.store(hi, elem_ptr(b, out, 1, I64))
    b.ret_void()
    import ctypes
    share = machine.compile_module(module).cfunc("share", None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
    result = np.zeros(2, np.int64)
    for nthreads in (1, 2, 3, 5):
        for t in range(nthreads):
            share(result.ctypes.data, t, nthreads)
            assert tuple(result) == parallel.split_range(t, nthreads, 37)
