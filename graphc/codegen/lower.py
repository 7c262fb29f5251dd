"""Lowering: an optimized, memory-planned graph becomes one LLVM module with one entry

    void graphc_step(ptr ctx, i64 tid)

that every thread calls once per step. It runs one kernel per node of `memory_plan.schedule`
(a fused region is one kernel: a loop, or a conv/matmul with its epilogue, or a reduction with
its prologue), passing each the addresses of its buffers, with a barrier after a kernel whenever
the next one touches bytes it wrote or writes bytes it read (docs/codegen.md, "The step").

Buffers: graph inputs and parameters are pointers in `ctx` (parameters are updated in place);
temporaries sit at their planned offsets in one arena (a view, or an operand the plan placed in a
pack, at its offset in its owner's buffer); constants in one constant block; each kernel's scratch
in its own region of the scratch block (its size depends on the thread count). A collective (an
allreduce) is a kernel whose thread 0 calls the process group's transport through the function
pointer in ctx's TRANSPORT slot (codegen/executable.py installs it). ctx is an array of i64 slots,
laid out by the constants below.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from .. import ops
from ..inspect import node_flops
from ..ir import Graph, Node
from ..ir.control import is_control
from ..ops.core import BROADCAST, ELEMENTWISE, OUT_FUSABLE
from ..passes.manager import PassContext
from ..passes.memory import ALIGNMENT, MemoryPlan, plan_memory
from ..types import TensorType, float32
from .arch import emit_clock
from .kernel_cache import KERNEL, LOOP, KernelRef, KernelSet
from .kernels.contract import IR_TYPES, round_up
from .kernels.elementwise import Tensor, emit_elementwise
from .kernels.loops import counted_loop
from .kernels.simd import I8, I64, PTR, VOID, declare, elem_ptr, i64, load_scalar, store_scalar
from .library import ALIAS, EPILOGUE, PROLOGUE, InPlace, Pack, KernelLibrary, KernelSpec, Unsupported
from .machine import CodegenError
from .parallel import BARRIER_BYTES, emit_barrier
from .regions import Region, emit_loop, epilogue, prologue

STEP = "graphc_step"
NTHREADS = BARRIER_BYTES // 8                 # ctx slots: the barrier state comes first
ARENA, CONSTANTS, SCRATCH, COUNTERS, STATUS, TRANSPORT = (NTHREADS + k for k in range(1, 7))
POINTERS = NTHREADS + 7                       # then one pointer per graph input, then per parameter
COUNTER_SLOTS = 2                             # per kernel, when profiling: calls, cycles
# STATUS points to i64 words the step sets when it stops on bad data: the kernel call (index + 1),
# the offending value and the bound it broke; all zero after a good step.
STATUS_WORDS = 3


@dataclass(frozen=True)
class Buffer:
    """Bytes a kernel operand points to: `space` arena, constants, input or param (or transport: the
    collective callback, no bytes); `key` the input index or parameter name (None otherwise); offset
    and size in bytes."""
    space: str
    key: object
    offset: int
    nbytes: int

    def overlaps(self, other: "Buffer") -> bool:
        return (self.space, self.key) == (other.space, other.key) and \
            self.offset < other.offset + other.nbytes and other.offset < self.offset + self.nbytes


TRANSPORT_BUFFER = Buffer("transport", None, 0, 0)


@dataclass
class KernelCall:
    kernel: KernelRef
    buffers: tuple[Buffer, ...]          # one per kernel operand
    node: Node                           # the graph node it computes (or part of, for a split region)
    name: str                            # of the call, after its node, e.g. "n12.out-fusable"
    label: str                           # the ops it runs, e.g. "matmul+add+relu"
    flops: int                           # of those ops, by their `flops` rules

    @property
    def reads(self) -> list[Buffer]:
        return [b for b, op in zip(self.buffers, self.kernel.operands) if op.role in ("in", "inout")]

    @property
    def writes(self) -> list[Buffer]:
        return [b for b, op in zip(self.buffers, self.kernel.operands) if op.role in ("out", "inout")]


@dataclass
class Output:
    """Where a graph output's value is after (or, for a parameter's pre-step value, before) the step."""
    buffer: Buffer
    type: TensorType
    before_step: bool


@dataclass
class LoweredGraph:
    module: ir.Module | None             # the step's own module (its kernels are modules of their own);
    calls: list[KernelCall]              # None when the layout came from the step index
    barriers: list[bool]                 # barriers[i]: a barrier follows calls[i]
    inputs: list[TensorType]             # by input index
    params: list[str]                    # parameter names in ctx order
    arena_bytes: int
    constants: dict[int, tuple[int, np.ndarray]]   # const node id -> (offset in the constant block, value)
    constant_bytes: int
    outputs: list[Output]
    profile: bool
    kernels: KernelSet | None = None     # the step's kernels, when lowered in this process

    def scratch_bytes(self, nthreads: int) -> int:
        """The scratch block: each kernel's scratch for `nthreads` threads, in call order."""
        return sum(call.kernel.scratch.nbytes(nthreads) for call in self.calls)


def lower_graph(graph: Graph, profile: bool = False, kernels: KernelSet | None = None) -> LoweredGraph:
    """The step of an optimized graph (a graph without a memory plan gets one first). Its kernels
    come from `kernels` (default: emitted or found again, not compiled)."""
    return _Lowering(graph, memory_plan(graph), profile, kernels or KernelSet(None)).run()


def memory_plan(graph: Graph) -> MemoryPlan:
    """The graph's memory plan, planned now if the pipeline did not (e.g. a pipeline of autodiff only)."""
    if getattr(graph, "memory_plan", None) is None:
        plan_memory(graph, PassContext())
    return graph.memory_plan


class _Lowering:
    def __init__(self, graph: Graph, plan: MemoryPlan, profile: bool, kernels: KernelSet):
        self.graph, self.plan, self.profile, self.kernels = graph, plan, profile, kernels
        self.module = ir.Module(name=f"graphc.{graph.name}")
        self.library = KernelLibrary()
        self.params = [n.attrs["name"] for n in graph.params]
        self.arena_end = plan.arena_bytes
        self.constants: dict[int, tuple[int, np.ndarray]] = {}
        self.constant_end = 0
        self.calls: list[KernelCall] = []

    def run(self) -> LoweredGraph:
        for node_id in self.plan.schedule:
            self._lower(self.graph.nodes[node_id])
        barriers = place_barriers(self.calls)
        emit_step(self.module, self.calls, barriers, len(self.graph.inputs), self.params, self.profile)
        outputs = [self._output(out) for out in self.graph.outputs]      # may add constants
        return LoweredGraph(self.module, self.calls, barriers, [n.type for n in self.graph.inputs], self.params,
                            self.arena_end, dict(self.constants), self.constant_end, outputs, self.profile,
                            self.kernels)

    # -- buffers ------------------------------------------------------------------------------------
    def buffer(self, node: Node) -> Buffer:
        owner_id, offset = self.plan.aliases.get(node.id, (node.id, 0))
        owner, nbytes = self.graph.nodes[owner_id], node.type.nbytes
        if owner.op == "input":
            return Buffer("input", owner.attrs["index"], offset, nbytes)
        if owner.op == "param":
            return Buffer("param", owner.attrs["name"], offset, nbytes)
        if owner.op == "const":
            return Buffer("constants", None, self._constant(owner) + offset, nbytes)
        written = _written_param(owner)
        if written is not None:
            return self.buffer(written)
        return Buffer("arena", None, self.plan.offsets[owner.id][0] + offset, nbytes)

    def _constant(self, node: Node) -> int:
        if node.id not in self.constants:
            self.constants[node.id] = (self.constant_end, node.attrs["value"])
            self.constant_end += round_up(max(node.type.nbytes, 1), ALIGNMENT)
        return self.constants[node.id][0]

    def temporary(self, t: TensorType) -> Buffer:
        """Arena bytes past the plan for a value inside a region that is run as several kernels."""
        buffer = Buffer("arena", None, self.arena_end, t.nbytes)
        self.arena_end += round_up(max(t.nbytes, 1), ALIGNMENT)
        return buffer

    def _output(self, node: Node) -> Output:
        owner = self.plan.aliases.get(node.id, (node.id, 0))[0]
        return Output(self.buffer(node), node.type, before_step=self.graph.nodes[owner].op == "param")

    # -- nodes ----------------------------------------------------------------------------------------
    def _lower(self, node: Node) -> None:
        if node.op in ("input", "param", "const"):
            return
        if is_control(node):              # the driver runs such graphs on the interpreter (compiler.py)
            raise CodegenError(f"no native code for control flow yet (%{node.id} {node.op})")
        try:
            if node.op == "fused":
                self._fused(node)
            elif node.op == "assign" or ops.get(node.op).kind in (ELEMENTWISE, BROADCAST):
                sources = list(dict.fromkeys(node.inputs))
                buffers = {n.id: self.buffer(n) for n in sources}
                self._loop(node, Region(node.type.shape, sources, [node], node), buffers)
            else:
                self._kernel_op(node)
        except Unsupported as reason:
            raise CodegenError(f"no native code for %{node.id} = {node.op}("
                               f"{', '.join(str(i.type) for i in node.inputs)}) -> {node.type}"
                               f"{' in ' + node.scope if node.scope else ''}: {reason}") from None

    def _spec(self, node: Node) -> KernelSpec:
        op = ops.get(node.op)
        if op.lower is None:
            raise CodegenError(f"op '{node.op}' has no lowering (node %{node.id}: {node.type} from "
                               f"{', '.join(str(i.type) for i in node.inputs) or 'no operands'}"
                               f"{', scope ' + node.scope if node.scope else ''}); give it a `lower` rule "
                               "or run it on the interpreter (set_context(backend='interp'))")
        return op.lower(self.library, *(i.type for i in node.inputs), out=node.type, **node.attrs)

    def _kernel_op(self, node: Node) -> None:
        if node.id in self.plan.views:                # its bytes are its operand's: nothing to compute
            return
        spec = self._spec(node)
        if spec is ALIAS:                             # the value is the operand's, unless the plan kept them
            if node.id not in self.plan.aliases:      # apart (a reshape of a parameter)
                self._copy(node)
            return
        if isinstance(spec, Pack):
            self._pack(node, spec)
            return
        if isinstance(spec, InPlace):
            if node.id not in self.plan.aliases:      # the operand is read elsewhere: work on a copy
                self._copy(node)
            kernel = self.kernels.kernel(node, "in-place", lambda module, name: spec.emit(module, name))
            self._call(kernel, {"x": self.buffer(node), "transport": TRANSPORT_BUFFER}, node, [node])
            return
        buffers = {name: self.buffer(i) for name, i in zip(spec.inputs, node.inputs) if name}
        self._call(self._kernel(node, "op", spec, None), {**buffers, spec.output: self.buffer(node)}, node, [node])

    def _copy(self, node: Node, operand: Node | None = None, target: Buffer | None = None, suffix: str = "") -> None:
        """Copy `operand` (default: node's first) into `target` (default: node's buffer)."""
        operand = operand or node.inputs[0]
        flat = (operand.type.size,)
        tensor = lambda name: Tensor(name, flat, operand.type.dtype.short)
        kernel = self.kernels.kernel(node, "copy" + suffix, lambda module, name: emit_elementwise(
            module, name, flat, [tensor("x")], [tensor("y")], lambda b, values: values[0]), LOOP)
        self._call(kernel, {"x": self.buffer(operand), "y": target or self.buffer(node)}, node, [node], suffix)

    def _pack(self, node: Node, spec: Pack) -> None:
        """Each operand the plan did not compute in its place is copied there; the gaps are zeroed."""
        out = self.buffer(node)
        for k, (operand, offset) in enumerate(zip(node.inputs, spec.offsets)):
            place = Buffer(out.space, out.key, out.offset + offset, operand.type.nbytes)
            if self.buffer(operand) != place:
                self._copy(node, operand, place, suffix=f".part{k}")
        if spec.gaps is not None:
            self._call(self._kernel(node, "gaps", spec.gaps, None, LOOP), {"y": out}, node, [node], ".gaps")

    def _loop(self, node: Node, region: Region, sources: dict[int, Buffer], out: Buffer | None = None,
              suffix: str = "") -> None:
        buffers = {region.source_name(n): sources[n.id] for n in region.sources}
        buffers["out"] = out or self.buffer(node)
        kernel = self.kernels.kernel(node, "loop" + suffix, lambda module, name: emit_loop(module, name, region), LOOP)
        self._call(kernel, buffers, node, region.members, suffix)

    def _kernel(self, node: Node, variant: str, spec: KernelSpec, hook, level: int = KERNEL) -> KernelRef:
        """The kernel of `spec` with `hook` (an epilogue, a prologue or None) for `node`, optimized at `level`."""
        return self.kernels.kernel(node, variant, lambda module, name: spec.emit(module, name, hook), level)

    def _call(self, kernel: KernelRef, buffers: dict[str, Buffer], node: Node, computes: list[Node],
              suffix: str = "") -> None:
        """Record a call of `kernel` computing `computes` (nodes of the graph or of node's body)."""
        bound = tuple(buffers[op.name] for op in kernel.operands)
        self.calls.append(KernelCall(kernel, bound, node, _name(node) + suffix, _label(computes),
                                     sum(map(node_flops, computes))))

    # -- fused regions ------------------------------------------------------------------------------------
    def _fused(self, node: Node) -> None:
        body = node.attrs["body"]
        sources = sorted(body.inputs, key=lambda n: n.attrs["index"])
        buffers = {n.id: self.buffer(node.inputs[n.attrs["index"]]) for n in sources}
        members = [n for n in body.order() if n.op != "input"]
        result = body.outputs[0]
        if node.attrs["kind"] == "elementwise":
            self._loop(node, Region(result.type.shape, sources, members, result), buffers)
            return
        anchor = next(n for n in members if n.op not in ("assign", "const") and
                      ops.get(n.op).kind not in (ELEMENTWISE, BROADCAST))
        rest = [n for n in members if n is not anchor]
        if node.attrs["kind"] == OUT_FUSABLE:
            self._with_epilogue(node, anchor, Region(anchor.type.shape, sources, rest, result), buffers)
        else:
            self._with_prologue(node, anchor, Region(anchor.inputs[0].type.shape, sources, rest, anchor), buffers)

    def _with_epilogue(self, node: Node, anchor: Node, region: Region, buffers: dict[int, Buffer]) -> None:
        spec = self._spec(anchor)
        anchor_buffers = {name: buffers[i.id] for name, i in zip(spec.inputs, anchor.inputs) if name}
        if spec.hook == EPILOGUE and region.result.type.dtype == float32:
            kernel = self._kernel(node, "epilogue", spec, epilogue(region, anchor, spec.output))
            sources = {region.source_name(n): buffers[n.id] for n in region.sources}
            self._call(kernel, {**anchor_buffers, **sources, spec.output: self.buffer(node)}, node,
                       [anchor] + region.members)
            return
        staged = self.temporary(anchor.type)              # the anchor alone, then the rest as a loop
        self._call(self._kernel(node, "anchor", spec, None), {**anchor_buffers, spec.output: staged},
                   node, [anchor], ".anchor")
        split = Region(region.domain, region.sources + [anchor], region.members, region.result)
        self._loop(node, split, {**buffers, anchor.id: staged}, suffix=".epilogue")

    def _with_prologue(self, node: Node, anchor: Node, region: Region, buffers: dict[int, Buffer]) -> None:
        spec = self._spec(anchor)
        reduced = anchor.inputs[0]
        fusable = all(n.type.shape == region.domain and n.type.dtype == anchor.type.dtype for n in region.sources)
        if spec.hook == PROLOGUE and fusable:
            kernel = self._kernel(node, "prologue", spec, prologue(region, reduced))
            sources = {region.source_name(n): buffers[n.id] for n in region.sources}
            self._call(kernel, {**sources, spec.output: self.buffer(node)}, node, region.members + [anchor])
            return
        staged = self.temporary(reduced.type)           # the prologue as a loop, then the anchor alone
        self._loop(node, Region(region.domain, region.sources, region.members, reduced), buffers, out=staged,
                   suffix=".prologue")
        self._call(self._kernel(node, "anchor", spec, None), {spec.inputs[0]: staged, spec.output: self.buffer(node)},
                   node, [anchor])


def _written_param(node: Node) -> Node | None:
    """The param node whose storage holds this node's value: an assign's target, or the target of
    the assign a fused region returns."""
    if node.op == "assign":
        return node.inputs[0]
    if node.op == "fused":
        result = node.attrs["body"].outputs[0]
        if result.op == "assign":
            return node.inputs[result.inputs[0].attrs["index"]]
    return None


def _name(node: Node) -> str:
    return f"n{node.id}.{node.op if node.op != 'fused' else node.attrs['kind']}"


def _label(members: list[Node]) -> str:
    return "+".join(n.op for n in members if n.op not in ("input", "const"))


# -- barriers -----------------------------------------------------------------------------------------------
def place_barriers(calls: list[KernelCall]) -> list[bool]:
    """barriers[i] is True when calls[i + 1:] must wait for every thread to finish calls[i]: some
    later call (before the next barrier) reads bytes written since the last barrier, or writes bytes
    read or written since then. Kernels split their work between threads differently, so any such
    overlap is a race. Each kernel's scratch is its own, so scratch never forces a barrier."""
    barriers = [False] * len(calls)
    read: list[Buffer] = []
    written: list[Buffer] = []
    for i, call in enumerate(calls):
        if any(b.overlaps(w) for b in call.reads + call.writes for w in written) or \
                any(b.overlaps(r) for b in call.writes for r in read):
            barriers[i - 1] = True
            read, written = [], []
        read += call.reads
        written += call.writes
    return barriers


# -- the step function ----------------------------------------------------------------------------------------
def emit_step(module: ir.Module, calls: list[KernelCall], barriers: list[bool], inputs: int, params: list[str],
              profile: bool) -> None:
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), STEP)
    ctx, tid = fn.args
    ctx.name, tid.name = "ctx", "tid"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slot = lambda index, ty=PTR: b.load(elem_ptr(b, ctx, index, I64), typ=ty)
    nthreads = slot(NTHREADS, I64)
    bases = {"arena": slot(ARENA), "constants": slot(CONSTANTS), "transport": slot(TRANSPORT)}
    bases.update({("input", i): slot(POINTERS + i) for i in range(inputs)})
    bases.update({("param", name): slot(POINTERS + inputs + j) for j, name in enumerate(params)})
    scratch, counters = slot(SCRATCH), slot(COUNTERS) if profile else None
    scratch_shared = scratch_private = 0
    for index, call in enumerate(calls):
        args = [_address(b, bases, buffer) for buffer in call.buffers]
        if call.kernel.scratch:
            args.append(_scratch_address(b, scratch, nthreads, scratch_shared, scratch_private))
            scratch_shared += round_up(call.kernel.scratch.shared)
            scratch_private += round_up(call.kernel.scratch.per_thread)
        start = emit_clock(b) if profile else None
        if call.kernel.index_bounds:
            _emit_index_checks(b, ctx, tid, nthreads, slot(STATUS), index, call.kernel, args)
        signature = [PTR] * len(args) + [I64, I64, I64]
        for k, phase in enumerate(call.kernel.phases):
            if k:
                emit_barrier(b, ctx, nthreads)
            b.call(declare(module, phase, VOID, signature), args + [i64(call.kernel.batch), tid, nthreads])
        if barriers[index]:
            emit_barrier(b, ctx, nthreads)
        if profile:
            _count(b, counters, index, tid, start)
    b.ret_void()


def _address(b: ir.IRBuilder, bases: dict, buffer: Buffer) -> ir.Value:
    base = bases[buffer.space] if buffer.space in ("arena", "constants", "transport") else \
        bases[(buffer.space, buffer.key)]
    return elem_ptr(b, base, buffer.offset, I8) if buffer.offset else base


def _emit_index_checks(b: ir.IRBuilder, ctx, tid, nthreads, status, call_index: int, kernel: KernelRef, args) -> None:
    """Thread 0 checks the kernel's bounded operands; on the first value out of range it records
    the status, and after a barrier every thread leaves the step (the executable raises)."""
    positions = {operand.name: i for i, operand in enumerate(kernel.operands)}
    with b.if_then(b.icmp_signed("==", tid, i64(0))):
        for name, size in kernel.index_bounds:
            operand = kernel.operands[positions[name]]
            with counted_loop(b, 0, int(np.prod(operand.shape)), name="check") as i:
                value = load_scalar(b, args[positions[name]], i, IR_TYPES[operand.dtype])
                value = b.sext(value, I64) if value.type != I64 else value
                bad = b.or_(b.icmp_signed("<", value, i64(0)), b.icmp_signed(">=", value, i64(size)))
                first = b.icmp_signed("==", load_scalar(b, status, 0, I64), i64(0))
                with b.if_then(b.and_(bad, first)):
                    for word, item in enumerate((i64(call_index + 1), value, i64(size))):
                        store_scalar(b, item, status, word)
    emit_barrier(b, ctx, nthreads)
    stop, go = b.append_basic_block("bad_index"), b.append_basic_block("indices_ok")
    b.cbranch(b.icmp_signed("!=", load_scalar(b, status, 0, I64), i64(0)), stop, go)
    b.position_at_end(stop)
    b.ret_void()
    b.position_at_end(go)


def _scratch_address(b: ir.IRBuilder, base: ir.Value, nthreads: ir.Value, shared: int, private: int) -> ir.Value:
    """Kernel k's scratch: after the earlier kernels' shared parts and their private parts for every thread."""
    return elem_ptr(b, base, b.add(i64(shared), b.mul(nthreads, i64(private))), I8)


def _count(b: ir.IRBuilder, counters: ir.Value, index: int, tid: ir.Value, start: ir.Value) -> None:
    """Thread 0 adds one call and the cycles since `start` to kernel `index`'s counters."""
    elapsed = b.sub(emit_clock(b), start)
    with b.if_then(b.icmp_signed("==", tid, i64(0))):
        for offset, value in ((0, i64(1)), (1, elapsed)):
            slot = elem_ptr(b, counters, COUNTER_SLOTS * index + offset, I64)
            b.store(b.add(b.load(slot, typ=I64), value), slot)
