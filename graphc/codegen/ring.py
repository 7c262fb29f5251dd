"""The ring of staged batches: every step function runs a number of trips, each reading its graph
inputs from one slot of a ring that a producer thread fills while the native call runs.

A plain call is a run of one trip over a ring of one slot, staged before the call. A sink
(`NativeExecutable.sink`, MindSpore's dataset sink mode) is a run of N trips over a ring of up to
RING_SLOTS slots: the producer (a Python thread) stages batch k into slot k mod R once trip k - R has
finished, then publishes it; trip t waits until batch t is published. So the step, and the numbers
it computes, are the same as N calls; only the Python between them is gone (docs/codegen.md, "Trips
and the ring").

The control words (i64, the two that change during a run on cache lines of their own), at ctx[RING]:
TRIPS, the trips to run; SLOTS, the ring's length R; FILLED, the batches published (the producer's
release store); DONE, the trips finished (thread 0's release store after the trip's last barrier);
STOP, set by the producer after its last publication when it cannot stage the next batch (bad data,
an exhausted or failing iterator): every thread then skips the remaining trips (each sees the same
FILLED, so they agree on which trips run), and the executable raises its error.
"""
from __future__ import annotations

import ctypes
import functools
import threading
import time
from typing import Callable

from llvmlite import ir

from ..types import TensorType
from .kernels.contract import ALIGN, round_up
from .kernels.loops import counted_loop
from .kernels.simd import I64, PTR, VOID, elem_ptr, i64
from .machine import compile_module
from .parallel import spin_until

TRIPS, SLOTS, FILLED, DONE, STOP = 0, 1, 8, 16, 24
WORDS = 32
RING_SLOTS = 4             # slots of a sink's ring: enough for a producer whose batches take less than a step
POLL_SECONDS = 50e-6       # the producer's shortest wait for a free slot


def slot_bytes(t: TensorType) -> int:
    """The bytes between two slots of an input's ring: 64-byte aligned, as kernels read their operands."""
    return round_up(max(t.nbytes, 1), ALIGN)


def emit_trips(b: ir.IRBuilder, words: ir.Value, tid: ir.Value, trip: Callable[[ir.Value, ir.Value], None],
               barrier: Callable[[], None]) -> None:
    """for t in range(TRIPS): wait for batch t (or STOP); if it was published, trip(t, t mod SLOTS),
    a barrier, and thread 0 counts the trip DONE."""
    word = lambda index: elem_ptr(b, words, index, I64)
    published = lambda: b.load_atomic(word(FILLED), "acquire", 8, typ=I64)
    with counted_loop(b, 0, b.load(word(TRIPS), typ=I64), name="trip") as t:
        spin_until(b, lambda b: b.or_(b.icmp_signed(">", published(), t),
                                      b.icmp_signed("!=", b.load_atomic(word(STOP), "acquire", 8, typ=I64), i64(0))))
        with b.if_then(b.icmp_signed(">", published(), t)):
            trip(t, b.urem(t, b.load(word(SLOTS), typ=I64)))
            barrier()
            with b.if_then(b.icmp_signed("==", tid, i64(0))):
                b.atomic_rmw("xchg", word(DONE), b.add(t, i64(1)), "release")


def is_last(b: ir.IRBuilder, words: ir.Value, t: ir.Value) -> ir.Value:
    """Whether trip t is the run's last (every thread agrees: TRIPS does not change during a run)."""
    return b.icmp_signed("==", b.add(t, i64(1)), b.load(elem_ptr(b, words, TRIPS, I64), typ=I64))


@functools.lru_cache(maxsize=None)
def _publish():
    """void graphc_publish(ptr word, i64 value): a release store, so a trip that reads the count also
    sees the batch staged before it (NumPy's stores are plain ones, unordered on aarch64)."""
    module = ir.Module("graphc.ring")
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), "graphc_publish")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.atomic_rmw("xchg", fn.args[0], fn.args[1], "release")
    b.ret_void()
    return compile_module(module).cfunc("graphc_publish", None, ctypes.c_void_p, ctypes.c_int64)


class Producer(threading.Thread):
    """Stages `steps` batches from `batches` into the ring through `stage(slot, batch)`, each once its
    slot is free. The first exception (from the iterator or from stage) ends the staging: it is kept
    in `error`, with `failed` the index of the batch it concerns, and STOP is set."""

    def __init__(self, words, batches, steps: int, slots: int, stage: Callable[[int, tuple], None]):
        super().__init__(name="graphc-sink-producer", daemon=True)
        self.words, self.batches, self.steps, self.slots, self.stage = words, batches, steps, slots, stage
        self.error: BaseException | None = None
        self.failed = 0
        self.finished = False        # the native run is over (it stopped early on bad data of its own)
        self.publish = _publish()

    def run(self) -> None:
        k, start = 0, time.perf_counter()
        try:
            for k in range(self.steps):
                batch = next(self.batches, None)
                if batch is None:
                    raise ValueError(f"the batches ran out after {k} of the {self.steps} steps asked for")
                while k - int(self.words[DONE]) >= self.slots:
                    if self.finished:
                        return
                    # wait for half the ring to free up, a trip's time each: waking more often only takes a
                    # core from the step's threads (measured, the LeNet tutorial's epoch on 2 threads of 2
                    # cores: 1.30x its native steps polling every 50 us, 1.15x waking once a trip)
                    done = int(self.words[DONE])
                    trip = (time.perf_counter() - start) / done if done else 0.0
                    time.sleep(max(POLL_SECONDS, trip * (self.slots // 2)))
                self.stage(k % self.slots, batch)
                self.publish(self.words.ctypes.data + 8 * FILLED, k + 1)
        except BaseException as error:          # re-raised by the executable, on the caller's thread
            self.error, self.failed = error, k
            self.publish(self.words.ctypes.data + 8 * STOP, 1)

    def finish(self) -> None:
        """After the native run: let the producer go if it still waits for a slot, and join it."""
        self.finished = True
        self.join()
