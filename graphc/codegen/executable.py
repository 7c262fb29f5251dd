"""The native executable: a step module linked with its kernels' objects, plus the memory it runs on.

Per call: copy the inputs into their aligned slots (slot 0 of each input's ring, ring.py), run
`graphc_step` for one trip on every thread through one native call (the runner releases the GIL
and returns when all threads are done), raise if the step stopped on an index out of range, copy
the outputs out of the arena. `sink` runs N steps in one native call, a producer thread staging
their batches into the ring meanwhile. A step with collectives calls back into the
process group's transport from thread 0 (`_transport_callback`). The
argument block (ctx) is built once; only the thread count and parameter addresses are re-checked
per call, and a parameter whose storage was replaced (never done by Parameter, whose set_data
copies in place) is re-bound rather than updated behind the user's back.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import time
import traceback
from typing import Iterator, Mapping, Sequence

import numpy as np

from .. import context
from ..errors import GraphcError, SinkError
from ..ops import collective
from ..ir import Graph, Node
from ..nn.parameter import ParameterSet
from ..ops.indexing import index_out_of_range
from ..ops.nn import label_out_of_range
from . import step_index
from .kernels.contract import ALIGN
from .kernels.launch import aligned_empty
from .compile_pool import CompileBatch
from .kernel_cache import DRIVER, KernelCounts, KernelSet
from . import ring
from .lower import ARENA, CONSTANTS, COUNTER_SLOTS, COUNTERS, NTHREADS, POINTERS, REGIONS, RING, SCRATCH, STATUS, \
    STATUS_WORDS, STEP, TRACE, TRACE_SPAN_WORDS, TRANSPORT, TRANSPORT_BUFFER, Buffer, LoweredGraph, lower_graph, \
    memory_plan
from .machine import CodegenError, CompileStats, Library, cache_key, cached_object, link, with_host_target
from .report import CompileReport
from .parallel import cycles, reset_in_forked_children, shared_runner
from . import trace

log = logging.getLogger("graphc.codegen")


class NativeExecutable:
    """Runs a lowered graph; `graph` is the optimized graph, `lowered` its step module's layout."""

    def __init__(self, graph: Graph, params: Mapping[str, object], lowered: LoweredGraph, library: Library,
                 report: CompileReport):
        self.graph, self.lowered, self.library, self.report = graph, lowered, library, report
        self._step = library.address(STEP)
        self._params = [params[name] for name in lowered.params]
        self._parameter_set = ParameterSet.of(self._params)   # also keeps two calls off one arena
        self._arena = self._fresh(lowered.arena_bytes)
        self._regions = self._fresh(lowered.region_bytes)
        self._constants = constant_block(lowered)
        self._words = aligned_empty((ring.WORDS,), np.int64)
        self._words[:] = 0
        self.counters = np.zeros(max(1, COUNTER_SLOTS * len(lowered.calls)), np.int64)   # a profile build's
        self._trace = None                                                                 # also (_set_threads)
        self._status = np.zeros(STATUS_WORDS, np.int64)
        self._label_checks = _label_checks(graph)
        self._transport = _transport_callback(lowered)
        self._ctx = self._argument_block()
        self._ctx_address = self._ctx.ctypes.data
        self._allocate_ring(1)
        self._bind_params()
        self._nthreads = 0
        self._set_threads(context.num_threads())
        reset_in_forked_children(self)

    @property
    def nthreads(self) -> int:
        return self._nthreads

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        with self._parameter_set.locked():
            record = trace.recorder() if self.lowered.profile else None
            entered = cycles() if record else 0
            self._prepare()
            self._stage(0, inputs)
            self._arm(trips=1, slots=1, filled=1)
            start = cycles() if record else 0
            end, spans = self._run()
            outputs = [view.copy() for view in self._outputs]
            if record:
                record(self, (entered, start, end, cycles()), spans)
            return outputs

    def sink(self, batches: Iterator[Sequence[np.ndarray]], steps: int) -> list[np.ndarray]:
        """`steps` steps in one native call, step k's inputs being the k-th of `batches`, which a
        producer thread stages into the ring meanwhile (ring.py); the last step's outputs. A batch
        that cannot be staged (another shape or dtype, a label out of range, the iterator failing or
        running out) raises SinkError: the steps before it ran, each whole, and it and the rest did not."""
        with self._parameter_set.locked():
            self._prepare()
            slots = min(steps, ring.RING_SLOTS)
            if len(self._ring) < slots:
                self._allocate_ring(slots)
            producer = ring.Producer(self._words, iter(batches), steps, slots, self._stage)
            self._arm(trips=steps, slots=slots, filled=0)
            producer.start()
            try:
                self._run()
            finally:
                producer.finish()
            if producer.error is not None:
                raise SinkError(producer.failed, steps, producer.error) from producer.error
            return [view.copy() for view in self._outputs]

    def _prepare(self) -> None:
        if context.num_threads() != self._nthreads:
            self._set_threads(context.num_threads())
        if any(p._data is not bound for p, bound in zip(self._params, self._bound)):
            self._bind_params()

    def _arm(self, trips: int, slots: int, filled: int) -> None:
        """The ring's control words for a run (before its producer starts)."""
        words = self._words
        words[ring.TRIPS], words[ring.SLOTS], words[ring.FILLED], words[ring.DONE], words[ring.STOP] = \
            trips, slots, filled, 0, 0

    def _run(self) -> tuple[int, list | None]:
        """Run the step on every thread; for a profile build, the cycle counter when it returned and
        the spans (taken before a status is raised)."""
        self._runner.run(self._step, self._ctx_address)
        end = cycles() if self._trace is not None else 0
        spans = self._take_spans() if self._trace is not None else None
        if self._status[0]:
            self._raise_status()
        return end, spans

    def _argument_block(self) -> np.ndarray:
        """ctx as lower.py lays it out: the barrier state (zeros), then addresses; the thread count,
        the inputs' rings and the parameters' addresses are filled in by _set_threads, _allocate_ring
        and _bind_params."""
        ctx = aligned_empty((POINTERS + len(self.lowered.inputs) + len(self._params),), np.int64)
        ctx[:] = 0
        ctx[ARENA], ctx[CONSTANTS], ctx[COUNTERS], ctx[STATUS], ctx[REGIONS], ctx[RING] = (
            a.ctypes.data for a in (self._arena, self._constants, self.counters, self._status, self._regions,
                                    self._words))
        ctx[TRANSPORT] = ctypes.cast(self._transport, ctypes.c_void_p).value if self._transport else 0
        return ctx

    def _allocate_ring(self, slots: int) -> None:
        """`slots` slots for each input, in one array per input; self._ring[k] views slot k's inputs."""
        types = self.lowered.inputs
        storage = [aligned_empty((slots * ring.slot_bytes(t),), np.uint8) for t in types]
        self._ring = [[block[k * ring.slot_bytes(t):][:t.nbytes].view(t.dtype.np).reshape(t.shape)
                       for block, t in zip(storage, types)] for k in range(slots)]
        self._ctx[POINTERS:POINTERS + len(types)] = [block.ctypes.data for block in storage]

    def reset_after_fork(self) -> None:
        """In a child forked while another thread ran this step: the barrier state and the status
        are as that step left them half-way (a thread counted as arrived that the child lacks)."""
        self._ctx[:NTHREADS] = 0           # the barrier state: ctx's first slots (lower.py)
        self._status[:] = 0

    def _stage(self, slot: int, inputs: Sequence[np.ndarray]) -> None:
        """Copy a step's inputs into ring slot `slot` and check its labels."""
        arrays = self._ring[slot]
        if len(inputs) != len(arrays):
            raise ValueError(f"the compiled graph takes {len(arrays)} inputs, got {len(inputs)}")
        for array, value in zip(arrays, inputs):
            if value.shape != array.shape:
                raise ValueError(f"input of shape {list(value.shape)} where the compiled graph expects "
                                 f"{list(array.shape)}")
            np.copyto(array, value, casting="no")
        self._check_labels(arrays)

    def _check_labels(self, arrays: list[np.ndarray]) -> None:
        """Native cross-entropy cannot raise, so class labels are checked before the step runs."""
        for index, classes, node in self._label_checks:
            labels = arrays[index]
            if labels.size and (labels.min() < 0 or labels.max() >= classes):
                bad = labels[(labels < 0) | (labels >= classes)]
                raise GraphcError(f"{label_out_of_range(node.op, int(bad[0]), classes)} (input {index}, "
                                  f"{self.lowered.inputs[index]}, holds {bad.size} such label(s): "
                                  f"{sorted(set(bad.tolist()))[:5]}); check the dataset's labels or the network's "
                                  "number of classes", loc=node.loc)

    def _raise_status(self) -> None:
        """The step stopped before a kernel whose index operand was out of range (lower.py): raise
        what the reference raises, at the user's line."""
        call, value, size = (int(v) for v in self._status)
        self._status[:] = 0
        node = self.lowered.calls[call - 1].node
        raise GraphcError(index_out_of_range(node.op, value, size), loc=node.loc)

    def _bind_params(self) -> None:
        self._bound = [p._data for p in self._params]
        for array, name in zip(self._bound, self.lowered.params):
            if array.ctypes.data % ALIGN or not array.flags.c_contiguous:
                raise CodegenError(f"parameter {name!r}: its storage is not a 64-byte aligned C-contiguous array")
        first = POINTERS + len(self.lowered.inputs)
        self._ctx[first:first + len(self._bound)] = [array.ctypes.data for array in self._bound]
        self._outputs = [self._view(out.buffer, out.type) for out in self.lowered.outputs]

    def _set_threads(self, nthreads: int) -> None:
        self._runner = shared_runner(nthreads)
        self._scratch = self._fresh(self.lowered.scratch_bytes(nthreads))
        self._ctx[SCRATCH], self._ctx[NTHREADS] = self._scratch.ctypes.data, nthreads
        self._nthreads = nthreads
        if self.lowered.profile:     # room for a kernel and a barrier span per call, and for loops' repeats
            words = 1 + TRACE_SPAN_WORDS * (8 * len(self.lowered.calls) + 64)
            self._trace = np.zeros(1 + nthreads * words, np.int64)
            self._trace[0] = words
            self._ctx[TRACE] = self._trace.ctypes.data

    def _take_spans(self) -> list[tuple[np.ndarray, int]]:
        """This step's spans per thread (see lower.TRACE), as (what, start, end) rows and how many did
        not fit; the areas are emptied for the next step."""
        words = int(self._trace[0])
        areas = self._trace[1:].reshape(self._nthreads, words)
        threads = []
        for area in areas:
            kept = min(int(area[0]), (words - 1) // TRACE_SPAN_WORDS)
            threads.append((area[1:1 + TRACE_SPAN_WORDS * kept].reshape(kept, TRACE_SPAN_WORDS).copy(),
                            int(area[0]) - kept))
        areas[:, 0] = 0
        return threads

    def _view(self, buffer: Buffer, t) -> np.ndarray:
        """A NumPy view of a buffer's bytes with the output's type (the storage stays ours)."""
        if buffer.space == "param":
            storage = self._bound[self.lowered.params.index(buffer.key)]
        else:
            storage = {"arena": self._arena, "constants": self._constants}[buffer.space]
        raw = storage.reshape(-1).view(np.uint8)[buffer.offset:buffer.offset + buffer.nbytes]
        return raw.view(t.dtype.np).reshape(t.shape)

    def _fresh(self, nbytes: int) -> np.ndarray:
        """Aligned bytes for the arena or scratch. A profile build touches them now: the first step
        writing fresh pages pays their faults (68 MB take 0.15 s on this VM), which would be charged
        to whichever kernels touch them first (resnet20's elementwise loops: 32 ms/step in a 5-step
        profile, 11 ms without the faults). Other builds leave that to the first step."""
        buffer = aligned_empty((max(nbytes, ALIGN),), np.uint8)
        if self.lowered.profile:
            buffer.fill(0)
        return buffer

    def profile(self) -> list[tuple[int, int]]:
        """(calls, cycles) measured on thread 0 per kernel call (a profile build only)."""
        return [tuple(pair) for pair in self.counters[:COUNTER_SLOTS * len(self.lowered.calls)].reshape(-1, 2)]


def _label_checks(graph: Graph) -> list[tuple[int, int, Node]]:
    """(input index, class count, node) for every cross-entropy whose labels are a graph input."""
    checks = []

    def visit(g: Graph, outer_operands):
        for node in g.order():
            if node.op == "fused":
                visit(node.attrs["body"], node.inputs)
            elif node.op.startswith("sparse_softmax_cross_entropy"):
                labels = node.inputs[1]
                if labels.op == "input" and outer_operands is not None:
                    labels = outer_operands[labels.attrs["index"]]
                if labels.op == "input" and labels.attrs["index"] not in checked:
                    checked.add(labels.attrs["index"])
                    checks.append((labels.attrs["index"], node.inputs[0].type.shape[-1], node))

    checked: set[int] = set()
    visit(graph, None)
    return checks


_TRANSPORT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)


def _transport_callback(lowered: LoweredGraph):
    """The C function the step's collectives call (a ctypes callback: it takes the GIL), or None.
    An exception cannot unwind through the native step, so it is printed and the job aborted:
    the other ranks would otherwise wait in the collective forever."""
    ranks = {call.node.attrs["ranks"] for call in lowered.calls if TRANSPORT_BUFFER in call.buffers}
    if not ranks:
        return None
    transport = collective.transport(*ranks)

    def allreduce(address: int, count: int) -> None:
        try:
            transport.allreduce(np.frombuffer(_float_array(count).from_address(address), np.float32))
        except BaseException:
            traceback.print_exc()
            transport.abort("failed in the native step's allreduce")
    return _TRANSPORT_CALLBACK(allreduce)


@functools.lru_cache(maxsize=None)
def _float_array(count: int):
    return ctypes.c_float * count


def constant_block(lowered: LoweredGraph) -> np.ndarray:
    block = aligned_empty((max(lowered.constant_bytes, ALIGN),), np.uint8)
    for offset, value in lowered.constants.values():
        block[offset:offset + value.nbytes] = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
    return block


def build(graph: Graph, params: Mapping[str, object], profile: bool = False,
          seconds: Mapping[str, float] | None = None) -> NativeExecutable:
    """Compile and load the optimized graph's step (`seconds`: time spent on it before, by phase)."""
    lowered, library, report = compile_step(graph, profile, seconds)
    log.info("%s", report.line())
    return NativeExecutable(graph, params, lowered, library, report)


def compile_step(graph: Graph, profile: bool = False, seconds: Mapping[str, float] | None = None
                 ) -> tuple[LoweredGraph, Library, CompileReport]:
    """Lower the graph's step and compile its new kernels on every core, then link them into one
    library; a warm cache skips lowering (step_index.py)."""
    report = CompileReport(graph.name, context.num_threads(), dict(seconds or {}))
    start = time.perf_counter()
    memory_plan(graph)
    key = step_index.fingerprint(graph, profile)
    found = step_index.load(key, graph, profile)
    objects = _cached_objects(found, report.counts) if found else None
    if objects is not None:
        step_key, lowered = found
        report.warm = True
    else:
        kernels = KernelSet(CompileBatch(report.threads))
        lowered = lower_graph(graph, profile, kernels)
        step_text = with_host_target(lowered.module)
        step_key = cache_key(step_text, DRIVER)
        kernels.submit(step_key, step_text, DRIVER)
        report.seconds["lower"] = time.perf_counter() - start
        start = time.perf_counter()
        by_key = kernels.objects()
        report.counts = kernels.counts
        report.seconds["compile"] = time.perf_counter() - start
        objects = [by_key[step_key]] + [by_key[ref.object_key] for ref in kernels.refs.values()]
        step_index.store(key, step_key, lowered)
    start = time.perf_counter()
    library = link(objects, CompileStats(report.cache, optimize=report.counts.optimize,
                                         codegen=report.counts.codegen), step_key)
    report.seconds["link"] = time.perf_counter() - start
    return lowered, library, report


def _cached_objects(found: tuple[str, LoweredGraph], counts: KernelCounts) -> list[bytes] | None:
    """The step's and its kernels' objects, from memory or disk; None if any is gone."""
    step_key, lowered = found
    kernels = {call.kernel.object_key: call.kernel for call in lowered.calls}
    objects = []
    counts.calls, counts.deduplicated = len(lowered.calls), len(lowered.calls) - len(kernels)
    for key in [step_key, *kernels]:
        cached = cached_object(key)
        if cached is None:
            return None
        objects.append(cached[0])
        if key in kernels:
            setattr(counts, cached[1], getattr(counts, cached[1]) + 1)
    return objects
