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

Control flow (docs/codegen.md, "Loops and branches"): a `scan` or `while` node is a loop of the step
function around its regions' kernels, a `cond` a branch on its predicate; every thread runs them,
reading the trip's predicate after a barrier. The values inside regions live in the REGIONS block,
each region planned as a graph of its own; carried values, scan slices and branch results are
copied (`Copy`: a chunk per thread). The step itself is the outermost loop: one trip per batch staged
in its inputs' ring (ring.py), one for a plain call, N for a sink.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from llvmlite import ir

from .. import ops
from ..inspect import node_flops
from ..ir import Graph, Node
from ..ir.control import is_control
from ..ops.core import BROADCAST, ELEMENTWISE, OUT_FUSABLE
from ..passes.manager import PassContext
from ..passes.memory import ALIGNMENT, MemoryPlan, element_offset, plan_memory
from ..types import TensorType, float32
from .arch import emit_clock
from .kernel_cache import KERNEL, LOOP, KernelRef, KernelSet
from .kernels.contract import IR_TYPES, round_up
from .kernels.elementwise import Tensor, emit_elementwise
from .kernels.loops import counted_loop
from .kernels.simd import I1, I8, I64, PTR, VOID, declare, elem_ptr, i64, load_scalar, store_scalar
from .library import ALIAS, EPILOGUE, PROLOGUE, InPlace, Pack, KernelLibrary, KernelSpec, Unsupported
from .machine import CodegenError
from .parallel import BARRIER_BYTES, emit_barrier
from . import ring
from .loop_merge import independent_parts, loop_member, merged, operands
from .regions import Region, emit_loop, epilogue, prologue

STEP = "graphc_step"
PREPARE = "graphc_prepare"           # with lower_graph(prepared=True): emit_step
NTHREADS = BARRIER_BYTES // 8                 # ctx slots: the barrier state comes first
ARENA, CONSTANTS, SCRATCH, COUNTERS, STATUS, TRANSPORT, REGIONS, RING, TRACE = (NTHREADS + k for k in range(1, 10))
POINTERS = NTHREADS + 10                      # then one pointer per graph input, then per parameter
CONCURRENT_FLOPS = 64_000_000                 # two_groups
CONCURRENT_BALANCE = 1.5
COUNTER_SLOTS = 2                             # per kernel, when profiling: calls, cycles
# TRACE (a profile build's) points to i64 words: [words per thread W], then W words per thread:
# [spans recorded this step, then (what, start, end) per span]; `what` is the kernel call's index,
# or -1 - index for the barrier wait after it; start and end are clock ticks. A thread counts the
# spans that did not fit too, so the reader knows how many were lost. The last span a thread records
# is the whole step as that thread ran it, `what` being IN_STEP.
TRACE_SPAN_WORDS = 3
IN_STEP = 1 << 62
# STATUS points to i64 words the step sets when it stops on bad data: the kernel call (index + 1),
# the offending value and the bound it broke; all zero after a good step.
STATUS_WORDS = 3


@dataclass(frozen=True)
class Buffer:
    """Bytes a kernel operand points to: `space` arena, regions (values inside loops and branches),
    constants, input or param (or transport: the collective callback, no bytes); `key` the input
    index or parameter name (None otherwise); offset and size in bytes. Inside a loop the bytes may
    move with the trip: each of `steps` (loop depth, bytes per trip, trips, period) adds the trip
    counter of the loop at that depth times its bytes, or with a period of 2 the counter's parity
    times them (one half of a ping-pong pair)."""
    space: str
    key: object
    offset: int
    nbytes: int
    steps: tuple[tuple[int, int, int, int], ...] = ()

    def span(self, parity: dict | None = None) -> tuple[int, int]:
        """The bytes it can cover over every trip of its loops; with `parity` (loop depth -> 0 or 1),
        over the trips of those parities."""
        start = self.offset + sum(stride * parity[depth] for depth, stride, _, period in self.steps
                                  if period and parity is not None)
        moves = [stride * (min(trips, period or trips) - 1) for _, stride, trips, period in self.steps
                 if trips and not (period and parity is not None)]
        return start + sum(min(m, 0) for m in moves), start + self.nbytes + sum(max(m, 0) for m in moves)

    @property
    def aligned(self) -> bool:
        """Where kernels may read it: 64-byte aligned on every trip."""
        return self.offset % ALIGNMENT == 0 and all(stride % ALIGNMENT == 0 for _, stride, _, _ in self.steps)

    def ever_overlaps(self, other: "Buffer") -> bool:
        """Whether they can share a byte, each on any trip of its loops."""
        return (self.space, self.key) == (other.space, other.key) and _intersect(self.span(), other.span())

    def overlaps(self, other: "Buffer") -> bool:
        """Whether they can share a byte on one trip: the halves of a ping-pong pair never do."""
        if (self.space, self.key) != (other.space, other.key):
            return False
        if self.steps == other.steps:       # they move together: on every trip as on the first
            return _intersect((self.offset, self.offset + self.nbytes), (other.offset, other.offset + other.nbytes))
        depths = sorted({depth for depth, _, _, period in self.steps + other.steps if period})
        return any(_intersect(self.span(parity), other.span(parity))
                   for parity in ({depth: (k >> i) & 1 for i, depth in enumerate(depths)} for k in range(2 ** len(depths))))


def _intersect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


TRANSPORT_BUFFER = Buffer("transport", None, 0, 0)


@dataclass
class KernelCall:
    kernel: KernelRef
    buffers: tuple[Buffer, ...]          # one per kernel operand
    node: Node                           # the graph node it computes (or part of, for a split region)
    name: str                            # of the call, after its node, e.g. "n12.out-fusable"
    label: str                           # the ops it runs, e.g. "matmul+add+relu"
    flops: int                           # of those ops, by their `flops` rules
    path: tuple = ()                     # node inside regions: (control node id, region name, ..., node id)

    @property
    def reads(self) -> list[Buffer]:
        return [b for b, op in zip(self.buffers, self.kernel.operands) if op.role in ("in", "inout")]

    @property
    def writes(self) -> list[Buffer]:
        return [b for b, op in zip(self.buffers, self.kernel.operands) if op.role in ("out", "inout")]


@dataclass(frozen=True)
class Copy:
    """`source`'s bytes copied to `target` in the step itself, each thread a chunk (llvm.memcpy, any
    alignment): a loop's initial and next carried values, a scan's unaligned slices, a branch's results."""
    source: Buffer
    target: Buffer

    @property
    def reads(self) -> list[Buffer]:
        return [self.source]

    @property
    def writes(self) -> list[Buffer]:
        return [self.target]


@dataclass
class Loop:
    """A loop of the step around `body` (call indices, Copies, Loops, Branches): `trips` times (a
    scan), or, when None (a while), while the bool[] at `predicate` that `check` computes is true."""
    trips: int | None
    body: list = field(default_factory=list)
    check: list = field(default_factory=list)
    predicate: Buffer | None = None


@dataclass
class Branch:
    """`then` when the bool[] at `predicate` is true, else `otherwise`."""
    predicate: Buffer
    then: list = field(default_factory=list)
    otherwise: list = field(default_factory=list)


@dataclass
class Output:
    """Where a graph output's value is after the step's last trip."""
    buffer: Buffer
    type: TensorType


@dataclass
class LoweredGraph:
    module: ir.Module | None             # the step's own module (its kernels are modules of their own);
    calls: list[KernelCall]              # None when the layout came from the step index
    barriers: list[bool]                 # barriers[i]: a barrier follows calls[i]
    inputs: list[TensorType]             # by input index
    params: list[str]                    # parameter names in ctx order
    arena_bytes: int
    constants: dict[tuple, tuple[int, np.ndarray]]   # const node path -> (offset in the constant block, value)
    constant_bytes: int
    outputs: list[Output]
    profile: bool
    region_bytes: int = 0                # the REGIONS block: values inside loops and branches
    kernels: KernelSet | None = None     # the step's kernels, when lowered in this process

    def scratch_bytes(self, nthreads: int) -> int:
        """The scratch block: each kernel's scratch for `nthreads` threads, in call order."""
        return sum(call.kernel.scratch.nbytes(nthreads) for call in self.calls)


def lower_graph(graph: Graph, profile: bool = False, kernels: KernelSet | None = None,
                prepared: bool = False) -> LoweredGraph:
    """The step of an optimized graph (a graph without a memory plan gets one first). Its kernels
    come from `kernels` (default: emitted or found again, not compiled). `prepared`: the weights never
    change, so the kernels' weight phases move to `graphc_prepare` (emit_step)."""
    return _Lowering(graph, memory_plan(graph), profile, kernels or KernelSet(None), depth=1,  # 0: the trips
                     prepared=prepared).run()


def memory_plan(graph: Graph) -> MemoryPlan:
    """The graph's memory plan, planned now if the pipeline did not (e.g. a pipeline of autodiff only)."""
    if getattr(graph, "memory_plan", None) is None:
        plan_memory(graph, PassContext())
    return graph.memory_plan


class _Lowering:
    """Lowers a graph's nodes in schedule order into `items`. A region of a control-flow node is
    lowered by a _Lowering of its own (`outer`: the one lowering that node; `where`: the path of
    (node id, region name) pairs to it; `depth`: the loops around it), its calls joining the same
    step, its inputs bound to `arguments`, its values in the REGIONS block."""

    def __init__(self, graph: Graph, plan: MemoryPlan, profile: bool, kernels: KernelSet,
                 outer: "_Lowering | None" = None, where: tuple = (), depth: int = 0, prepared: bool = False):
        self.graph, self.plan, self.profile, self.kernels, self.prepared = graph, plan, profile, kernels, prepared
        self.root = outer.root if outer else self
        self.where, self.depth = where, depth
        self.arguments: list[Buffer] = []
        self.pinned: dict[int, Buffer] = {}   # node id -> the buffer outside the region it is computed in
        self.items: list = []            # the program: call indices, Copies, Loops, Branches
        self.last_trip: list[Copy] = []  # copies of outputs the trips overwrite, made before the last trip
        if outer is None:
            self.module = ir.Module(name=f"graphc.{graph.name}")
            self.library = KernelLibrary()
            self.params = [n.attrs["name"] for n in graph.params]
            self.space, self.base, self.arena_end, self.region_end = "arena", 0, plan.arena_bytes, 0
            self.constants: dict[tuple, tuple[int, np.ndarray]] = {}
            self.constant_end = 0
            self.calls: list[KernelCall] = []
        else:
            self.library, self.calls = outer.library, outer.calls
            self.space, self.base = "regions", self.root.region_end
            self.root.region_end += round_up(plan.arena_bytes, ALIGNMENT)

    def run(self) -> LoweredGraph:
        self.lower_nodes()
        outputs = [self._output(out) for out in self.graph.outputs]
        program = placed(self.items, self.calls)
        barriers = [barrier for item, barrier in walk(program) if isinstance(item, int)]
        emit_step(self.module, self.calls, program, placed(self.last_trip, self.calls), len(self.graph.inputs),
                  self.params, self.profile, self.prepared)
        return LoweredGraph(self.module, self.calls, barriers, [n.type for n in self.graph.inputs], self.params,
                            self.arena_end, dict(self.constants), self.constant_end, outputs, self.profile,
                            self.region_end, self.kernels)

    def lower_nodes(self) -> None:
        run: list[Node] = []          # adjacent elementwise loops over one domain, lowered as one (loop_merge.py)
        for node_id in self.plan.schedule:
            node = self.graph.nodes[node_id]
            if node.op in ("input", "param", "const", "get") or node.id in self.plan.views:
                continue            # no code: a view's bytes are its operand's, a get's its node's results
            if run and loop_member(node) and self._extends(run, node):
                run.append(node)
                continue
            self._lower_run(run)
            run = [node] if loop_member(node) else []
            if not run:
                self._lower(node)
        self._lower_run(run)

    def _extends(self, run: list[Node], node: Node) -> bool:
        """Whether node may join the run: the same domain, and nothing the merged loop would write shares
        a byte with a buffer it reads."""
        members = run + [node]
        writes = [self.buffer(member) for member in members]
        reads = [self.buffer(x) for x in operands(members)]
        return node.type.shape == run[0].type.shape and \
            not any(w.overlaps(other) for k, w in enumerate(writes) for other in reads + writes[k + 1:])

    def _lower_run(self, run: list[Node]) -> None:
        for part in independent_parts(run):
            if len(part) == 1:
                self._lower(part[0])
            else:
                self._lower_merged(part)

    def _lower_merged(self, run: list[Node]) -> None:
        outputs = {out.id for out in self.graph.outputs}
        members = {member.id for member in run}
        stand_in, sources, region, stored = merged(run, lambda member: member.id in outputs or any(
            user.id not in members for user in self.graph.users(member)))
        buffers = {region.source_name(n): self.buffer(outer) for n, outer in zip(region.sources, sources)}
        buffers.update({f"out{k or ''}": self.buffer(member) for k, member in enumerate(stored)})
        kernel = self.kernels.kernel(stand_in, "loop", lambda module, name: emit_loop(module, name, region), LOOP)
        self._call(kernel, buffers, run[0], region.members, suffix=f"+{len(run) - 1}")

    # -- buffers ------------------------------------------------------------------------------------
    def buffer(self, node: Node) -> Buffer:
        owner_id, offset = self.plan.aliases.get(node.id, (node.id, 0))
        owner, nbytes = self.graph.nodes[owner_id], node.type.nbytes
        if owner_id in self.pinned:
            target = self.pinned[owner_id]
            return replace(target, offset=target.offset + offset, nbytes=nbytes)
        if owner.op == "input" and self.where:
            argument = self.arguments[owner.attrs["index"]]
            return replace(argument, offset=argument.offset + offset, nbytes=nbytes)
        if owner.op == "input":           # trip t reads ring slot t mod SLOTS (ring.py)
            return Buffer("input", owner.attrs["index"], offset, nbytes, ((0, ring.slot_bytes(owner.type), 1, 0),))
        if owner.op == "param":
            return Buffer("param", owner.attrs["name"], offset, nbytes)
        if owner.op == "const":
            return Buffer("constants", None, self._constant(owner) + offset, nbytes)
        written = _written_param(owner)
        if written is not None:
            return self.buffer(written)
        return Buffer(self.space, None, self.base + self.plan.offsets[owner.id][0] + offset, nbytes)

    def _constant(self, node: Node) -> int:
        root, key = self.root, self.where + (node.id,)
        if key not in root.constants:
            root.constants[key] = (root.constant_end, node.attrs["value"])
            root.constant_end += round_up(max(node.type.nbytes, 1), ALIGNMENT)
        return root.constants[key][0]

    def temporary(self, nbytes: int) -> Buffer:
        """Bytes past the plan (of the arena, or of the REGIONS block inside a region) for a value
        inside a region that is run as several kernels, or a staged copy."""
        root, size = self.root, round_up(max(nbytes, 1), ALIGNMENT)
        if self.where:
            root.region_end += size
            return Buffer("regions", None, root.region_end - size, nbytes)
        root.arena_end += size
        return Buffer("arena", None, root.arena_end - size, nbytes)

    def _output(self, node: Node) -> Output:
        """A parameter's value before the step (the step updates it in place) or an input's (its ring
        slot is refilled) is copied before the last trip: the output of the run's last step."""
        owner = self.plan.aliases.get(node.id, (node.id, 0))[0]
        if self.graph.nodes[owner].op not in ("param", "input"):
            return Output(self.buffer(node), node.type)
        copy = Copy(self.buffer(node), self.temporary(node.type.nbytes))
        self.last_trip.append(copy)
        return Output(copy.target, node.type)

    # -- nodes ----------------------------------------------------------------------------------------
    def _lower(self, node: Node) -> None:
        if is_control(node):
            self._control(node)
            return
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
            place = replace(out, offset=out.offset + offset, nbytes=operand.type.nbytes)   # with out's trip steps
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
        prefix = "".join(f"n{self.where[k]}.{self.where[k + 1]}." for k in range(0, len(self.where), 2))
        self.calls.append(KernelCall(kernel, bound, node, prefix + _name(node) + suffix, _label(computes),
                                     sum(map(node_flops, computes)), self.where + (node.id,)))
        self.items.append(len(self.calls) - 1)

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
        result = region.result.type.dtype
        if spec.hook == EPILOGUE and (result == anchor.type.dtype or spec.half_epilogue and result.is_half or
                                      spec.wide_epilogue and result == float32):
            kernel = self._kernel(node, "epilogue", spec, epilogue(region, anchor, spec.output))
            sources = {region.source_name(n): buffers[n.id] for n in region.sources}
            self._call(kernel, {**anchor_buffers, **sources, spec.output: self.buffer(node)}, node,
                       [anchor] + region.members)
            return
        staged = self.temporary(anchor.type.nbytes)              # the anchor alone, then the rest as a loop
        self._call(self._kernel(node, "anchor", spec, None), {**anchor_buffers, spec.output: staged},
                   node, [anchor], ".anchor")
        used = {i.id for member in region.members for i in member.inputs}
        split = Region(region.domain, [n for n in region.sources if n.id in used] + [anchor], region.members,
                       region.result)
        self._loop(node, split, {**buffers, anchor.id: staged}, suffix=".epilogue")

    def _with_prologue(self, node: Node, anchor: Node, region: Region, buffers: dict[int, Buffer]) -> None:
        spec = self._spec(anchor)
        reduced = anchor.inputs[0]
        fusable = all(n.type.shape == region.domain and (n.type.dtype == anchor.type.dtype or n.type.dtype.is_half)
                      for n in region.sources)
        if spec.hook == PROLOGUE and fusable:
            kernel = self._kernel(node, "prologue", spec, prologue(region, reduced))
            sources = {region.source_name(n): buffers[n.id] for n in region.sources}
            self._call(kernel, {**sources, spec.output: self.buffer(node)}, node, region.members + [anchor])
            return
        staged = self.temporary(reduced.type.nbytes)           # the prologue as a loop, then the anchor alone
        self._loop(node, Region(region.domain, region.sources, region.members, reduced), buffers, out=staged,
                   suffix=".prologue")
        self._call(self._kernel(node, "anchor", spec, None), {spec.inputs[0]: staged, spec.output: self.buffer(node)},
                   node, [anchor])


    # -- loops and branches ----------------------------------------------------------------------------
    def _control(self, node: Node) -> None:
        """The node's results lie one after the other in its buffer (memory.element_offset). A scan
        keeps each carried value in a ping-pong pair: trip t reads the half of t's parity and its body
        computes the new value straight into the other (pinned), and after the loop the final values
        are copied to the results. A while loop's trip count is known only at run time, so it keeps
        its carried values in its results, copying each trip's in after its body ran."""
        operands = [self.buffer(i) for i in node.inputs]
        start = self.base + self.plan.offsets[node.id][0]
        results = [Buffer(self.space, None, start + element_offset(node.type, k), t.nbytes)
                   for k, t in enumerate(node.type.elements)]
        if node.op == "cond":
            branch = Branch(operands[0])
            self.items.append(branch)
            self._region(node, "then_branch", operands[1:], results, branch.then, self.depth)
            self._region(node, "else_branch", operands[1:], results, branch.otherwise, self.depth)
            return
        if node.op == "while":
            carried = len(node.attrs["body"].outputs)
            loop = Loop(None)
            self.items += [Copy(source, target) for source, target in zip(operands, results[:carried])] + [loop]
            arguments = results + operands[carried:]
            [loop.predicate] = self._region(node, "cond", arguments, None, loop.check, self.depth + 1)
            self._region(node, "body", arguments, results, loop.body, self.depth + 1)
            return
        carried, scanned, length = node.attrs["carried"], node.attrs["scanned"], node.attrs["length"]
        pairs = [self._ping_pong(r.nbytes) for r in results[:carried]]
        loop = Loop(length)
        self.items += [Copy(source, first) for source, (first, _) in zip(operands, pairs)] + [loop]
        current = [replace(first, steps=((self.depth, second.offset - first.offset, 2, 2),)) for first, second in pairs]
        new = [replace(second, steps=((self.depth, first.offset - second.offset, 2, 2),)) for first, second in pairs]
        xs = [self._slice(node, b, i.type) for b, i in zip(operands[carried:], node.inputs[carried:carried + scanned])]
        ys = [self._slice(node, b, t) for b, t in zip(results[carried:], node.type.elements[carried:])]
        self._region(node, "body", current + xs + operands[carried + scanned:], new + ys, loop.body, self.depth + 1)
        self.items += [Copy(pair[length % 2], result) for pair, result in zip(pairs, results)]

    def _ping_pong(self, nbytes: int) -> tuple[Buffer, Buffer]:
        """Two aligned halves in the REGIONS block, at a distance that depends on nothing but nbytes (so a
        scan's IR does not depend on its length)."""
        root, size = self.root, round_up(max(nbytes, 1), ALIGNMENT)
        root.region_end += 2 * size
        return tuple(Buffer("regions", None, root.region_end - 2 * size + k * size, nbytes) for k in (0, 1))

    def _slice(self, node: Node, stacked: Buffer, t: TensorType) -> Buffer:
        """Slice t of a scan's stacked operand or result, t the trip (from the last when reverse)."""
        length, stride = node.attrs["length"], TensorType(t.shape[1:], t.dtype).nbytes
        first = (length - 1) * stride if node.attrs["reverse"] else 0
        step = (self.depth, -stride if node.attrs["reverse"] else stride, length, 0)
        return replace(stacked, offset=stacked.offset + first, nbytes=stride, steps=stacked.steps + (step,))

    def _region(self, node: Node, name: str, arguments: list[Buffer], targets: list[Buffer] | None,
                items: list, depth: int) -> list[Buffer]:
        """Lower region `name` of node into `items`, its outputs computed straight into `targets`
        where they can be (pinned), else copied there; the buffers of its outputs. An argument
        kernels cannot read in place (an unaligned slice) is copied first."""
        region = node.attrs[name]
        sub = _Lowering(region, memory_plan(region), self.profile, self.kernels, self, self.where + (node.id, name), depth)
        sub.items = items
        sub.arguments = [argument if argument.aligned else sub._staged(argument) for argument in arguments]
        if targets is not None:
            sub.pin(targets)
        sub.lower_nodes()
        outputs = [sub.buffer(out) for out in region.outputs]
        if targets is not None:
            sub._store([Copy(out, target) for out, target in zip(outputs, targets) if out != target])
        return outputs

    def pin(self, targets: list[Buffer]) -> None:
        """Have each output computed in its target: an output that is a value of its own (not an
        argument, a parameter, a constant, a view or another output's), when kernels may write the
        target (aligned) and the region reads none of its bytes (a while loop's body reads its carried
        values where it would write the new ones)."""
        for out, target in zip(self.graph.outputs, targets):
            if any(target.overlaps(argument) for argument in self.arguments):
                continue
            if out.id not in self.pinned and out.id not in self.plan.aliases and target.aligned and \
                    target.nbytes == out.type.nbytes and out.op not in ("input", "param", "const", "get") and \
                    not is_control(out) and _written_param(out) is None:
                self.pinned[out.id] = target

    def _store(self, copies: list[Copy]) -> None:
        """The copies in an order where none overwrites bytes a later one reads: first those whose
        target no other copy still reads (a carried value passed on as a y before the new value
        replaces it); a cycle (two carried values swapping) goes through a staged copy."""
        while copies:
            free = next((c for c in copies if not any(c.target.overlaps(o.source) for o in copies if o is not c)), None)
            if free is None:
                free = copies[0]
                copies[copies.index(free)] = Copy(self._staged(free.source), free.target)
                continue
            self.items.append(free)
            copies.remove(free)

    def _staged(self, buffer: Buffer) -> Buffer:
        copy = self.temporary(buffer.nbytes)
        self.items.append(Copy(buffer, copy))
        return copy


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
def place_barriers(calls: list) -> list[bool]:
    """barriers[i] is True when calls[i + 1:] must wait for every thread to finish calls[i] (a
    KernelCall or a Copy): some later call (before the next barrier) reads bytes written since the
    last barrier, or writes bytes read or written since then. Kernels split their work between
    threads differently, so any such overlap is a race. Each kernel's scratch is its own, so scratch
    never forces a barrier."""
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


def placed(items: list, calls: list[KernelCall]) -> list[tuple[object, bool]]:
    """The program with a barrier flag after each item: place_barriers within each straight run of
    calls and copies; every loop and branch is a barrier before (its predicate and operands are
    ready), after each trip or branch, and after it."""
    program, run = [], []

    def flush():
        program.extend(zip(run, place_barriers([calls[i] if isinstance(i, int) else i for i in run])))
        run.clear()
    for item in items:
        if isinstance(item, (int, Copy)):
            run.append(item)
            continue
        flush()
        if isinstance(item, Loop):
            item = replace(item, body=placed(item.body, calls), check=placed(item.check, calls))
        else:
            item = replace(item, then=placed(item.then, calls), otherwise=placed(item.otherwise, calls))
        program.append((item, True))
    flush()
    return program


def concurrent(items: list, calls: list[KernelCall]) -> list:
    """A placed program's straight run of items with the kernel calls between two barriers that run better
    at once (two_groups) joined as one item, the pair of their groups, which takes the last item's barrier
    flag; a copy of the run joins the one group whose kernels touch its bytes, if one does, and the run's
    other items go before the pair."""
    result, run = [], []
    owners: list[tuple[Buffer, int]] = []       # bytes a group wrote last, and which group

    def flush(barrier: bool) -> None:
        kernels = [p for p, item in enumerate(run) if isinstance(item, int)]
        picked = two_groups([calls[run[p]] for p in kernels], owners) if kernels else None
        groups = [[kernels[k] for k in group] for group in picked] if picked else []
        members = [[calls[run[p]] for p in group] for group in groups]       # each group's kernels
        for p in (p for p, item in enumerate(run) if isinstance(item, Copy)):
            sides = [side for side, kernels in enumerate(members) if any(_shares_bytes(run[p], c) for c in kernels)]
            if len(sides) == 1:
                groups[sides[0]].append(p)
        written = [w for item in run for w in _runnable(item, calls).writes]
        owners[:] = [(b, side) for b, side in owners if not any(b.overlaps(w) for w in written)]
        owners.extend((w, side) for side, group in enumerate(groups) for p in group
                      for w in _runnable(run[p], calls).writes)
        taken = {p for group in groups for p in group}
        rest = [item for p, item in enumerate(run) if p not in taken]
        joined = (tuple([run[p] for p in group] for group in groups),) if groups else (rest.pop(),) if rest else ()
        result.extend([(item, False) for item in rest] + [(item, barrier) for item in joined])
        run.clear()
    for item, barrier in items:
        if isinstance(item, (int, Copy)):
            run.append(item)
            if barrier:
                flush(True)
            continue
        flush(False)
        owners.clear()
        result.append((item, barrier))
    flush(False)
    return result


def _runnable(item, calls: list[KernelCall]):
    """A run's item as what it reads and writes: the kernel call of an index, or the Copy itself."""
    return calls[item] if isinstance(item, int) else item


def _shares_bytes(x, y) -> bool:
    return any(a.ever_overlaps(b) for a in x.reads + x.writes for b in y.reads + y.writes)


def two_groups(run: list[KernelCall], owners: list[tuple[Buffer, int]] = ()) -> tuple[list[int], list[int]] | None:
    """Positions in `run` (kernel calls that may run in any order) of two groups to run at once, each on
    half of the threads, or None (docs/codegen.md, "Barriers and threads", has the measurements). A kernel
    goes to the group whose threads wrote more of what it reads (`owners`: the buffers each group of the
    earlier pairs wrote last), so that a chain of kernels keeps its data in one half's caches (a recurrent
    layer's batch blocks); the others go largest first into the lighter group. The groups are taken when
    neither has more than CONCURRENT_BALANCE times the other's FLOPs nor more than CONCURRENT_FLOPS, else
    filled again by size alone. A kernel of several phases (a barrier between them) or with checked
    indices runs on every thread."""
    eligible = sorted(((call.flops, k) for k, call in enumerate(run)
                       if len(call.kernel.phases) == 1 and not call.kernel.index_bounds and call.flops), reverse=True)

    def writer(k: int) -> int | None:
        votes = [sum(r.overlaps(b) for r in run[k].reads for b, side in owners if side == group) for group in (0, 1)]
        return None if votes[0] == votes[1] else votes.index(max(votes))

    def fill(side_of) -> tuple[list[int], list[int]] | None:
        groups, loads = ([], []), [0, 0]
        for flops, k in eligible:
            side = side_of(k)
            side = loads.index(min(loads)) if side is None else side
            groups[side].append(k)
            loads[side] += flops
        if min(loads) == 0 or max(loads) > CONCURRENT_BALANCE * min(loads) or max(loads) > CONCURRENT_FLOPS:
            return None
        return sorted(groups[0]), sorted(groups[1])
    return fill(writer) or fill(lambda k: None)


def private_pairs(program: list, calls: list[KernelCall]) -> bool:
    """Whether a loop body (after `concurrent`) is pairs of groups alone, and no kernel of the first
    groups shares a byte, on any trip, with a kernel of the second groups when either writes it. Then
    neither half of the threads needs what the other half computes, on this trip or another, and with
    one thread to each half the loop needs no barrier inside (a recurrent layer's batch blocks)."""
    if not program or not all(isinstance(item, tuple) for item, _ in program):
        return False
    sides = [[_runnable(i, calls) for item, _ in program for i in item[side]] for side in (0, 1)]
    return not any(_writes_into(x, y) or _writes_into(y, x) for x in sides[0] for y in sides[1])


def _writes_into(x: KernelCall, y: KernelCall) -> bool:
    """Whether x writes a byte that y reads or writes, on any trips of theirs."""
    return any(w.ever_overlaps(other) for w in x.writes for other in y.reads + y.writes)


def walk(program: list[tuple[object, bool]]):
    """Every (item, barrier) of a placed program, nested ones in the order the step emits them."""
    for item, barrier in program:
        yield item, barrier
        nested = (item.check, item.body) if isinstance(item, Loop) else \
            (item.then, item.otherwise) if isinstance(item, Branch) else ()
        for part in nested:
            yield from walk(part)


# -- the step function ----------------------------------------------------------------------------------------
def emit_step(module: ir.Module, calls: list[KernelCall], program: list, last_trip: list, inputs: int,
              params: list[str], profile: bool, prepared: bool = False) -> None:
    """`graphc_step`: the program once per trip of the ring (ring.py), `last_trip` before the last; with
    `prepared`, also `graphc_prepare(ctx, tid)`, which runs once the kernels' weight phases
    (Kernel.prepare) on weights that never change (param or constant buffers: an exported library's),
    and which the step then leaves out. A profile build records spans in the TRACE block."""
    _, b, ctx, tid, nthreads, bases, scratch = _step_entry(module, STEP, inputs, params)
    counters, status = _slot(b, ctx, COUNTERS) if profile else None, _slot(b, ctx, STATUS)
    trace = _slot(b, ctx, TRACE) if profile else None
    entered = emit_clock(b) if profile else None
    scratch_at, shared, private = [], 0, 0        # each call's scratch, in call order
    for call in calls:
        scratch_at.append((shared, private))
        shared += round_up(call.kernel.scratch.shared)
        private += round_up(call.kernel.scratch.per_thread)
    memcpy = declare(module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
    skipped = [_prepared_phases(call) if prepared else 0 for call in calls]
    if prepared:
        _emit_prepare(module, calls, skipped, scratch_at, inputs, params)

    def call_kernel(index: int, trips: list, group: tuple | None = None) -> None:
        """`group`: the (thread index, thread count) the kernel splits its work by, when it runs on a
        group of the threads (call_groups)."""
        call = calls[index]
        args = _call_arguments(b, call, bases, trips, scratch, nthreads, scratch_at[index])
        start = emit_clock(b) if profile else None
        if call.kernel.index_bounds:
            _emit_index_checks(b, ctx, tid, nthreads, status, index, call.kernel, args)
        _call_phases(b, call.kernel, call.kernel.phases[skipped[index]:], args, ctx, *(group or (tid, nthreads)))
        if profile:
            end = emit_clock(b)
            _count(b, counters, index, tid, b.sub(end, start))
            _emit_span(b, trace, tid, i64(index), start, end)
            return end

    def predicate(buffer: Buffer, trips: list) -> ir.Value:
        emit_barrier(b, ctx, nthreads)
        return b.icmp_signed("!=", b.load(_address(b, bases, buffer, trips), typ=I8), ir.Constant(I8, 0))

    def call_groups(groups: tuple, trips: list):
        """Two groups of independent kernels at once, each group's one after the other on half of the threads
        (on one thread, all one after the other)."""
        half = b.udiv(nthreads, i64(2))
        with b.if_else(b.icmp_unsigned("==", half, i64(0))) as (alone, split):
            with alone:
                run_group(groups[0] + groups[1], trips, (tid, nthreads))
            with split:
                with b.if_else(b.icmp_unsigned("<", tid, half)) as (lower, upper):
                    with lower:
                        run_group(groups[0], trips, (tid, half))
                    with upper:
                        run_group(groups[1], trips, (b.sub(tid, half), b.sub(nthreads, half)))
        return emit_clock(b) if profile else None

    def run_group(group: list, trips: list, threads: tuple) -> None:
        for item in group:
            if isinstance(item, Copy):
                _emit_copy(b, memcpy, _address(b, bases, item.source, trips), _address(b, bases, item.target, trips),
                           item.target.nbytes, *threads)
            else:
                call_kernel(item, trips, threads)

    def sync(paired: bool) -> None:
        """A barrier; in a loop body of private pairs (private_pairs), only where a group has more than
        one thread: with one each, a group's own order is all that its kernels need."""
        if not paired:
            emit_barrier(b, ctx, nthreads)
            return
        with b.if_then(b.icmp_unsigned(">", nthreads, i64(2))):
            emit_barrier(b, ctx, nthreads)

    def emit(items: list, trips: list, paired: bool = False) -> None:
        """`trips`: the trip counter of each enclosing loop (None for a while loop's)."""
        for item, barrier in concurrent(items, calls):
            if isinstance(item, tuple):
                kernel_end = call_groups(item, trips)
                item = [i for i in item[0] + item[1] if isinstance(i, int)][-1]   # the barrier's span: a call's
            elif isinstance(item, int):
                kernel_end = call_kernel(item, trips)
            elif isinstance(item, Copy):
                _emit_copy(b, memcpy, _address(b, bases, item.source, trips), _address(b, bases, item.target, trips),
                           item.target.nbytes, tid, nthreads)
            elif isinstance(item, Branch):
                with b.if_else(predicate(item.predicate, trips)) as (then, otherwise):
                    with then:
                        emit(item.then, trips)
                    with otherwise:
                        emit(item.otherwise, trips)
            else:
                emit_barrier(b, ctx, nthreads)
                _emit_loop(b, item, trips, lambda inner, loop=item: trip(loop, inner),
                           lambda inner, loop=item: check(loop, inner))
            if barrier:
                sync(paired)
                if profile and isinstance(item, int):
                    _emit_span(b, trace, tid, i64(-1 - item), kernel_end, emit_clock(b))

    def trip(loop: Loop, trips: list) -> None:
        # a while loop's check reads the body's results on every thread: its trips keep their barriers
        paired = loop.trips is not None and private_pairs(concurrent(loop.body, calls), calls)
        emit(loop.body, trips, paired)
        sync(paired)

    def check(loop: Loop, trips: list) -> ir.Value:
        emit(loop.check, trips)
        return predicate(loop.predicate, trips)

    def run_trip(t: ir.Value, ring_slot: ir.Value) -> None:
        if last_trip:
            with b.if_then(ring.is_last(b, words, t)):
                emit(last_trip, [ring_slot])
                emit_barrier(b, ctx, nthreads)
        emit(program, [ring_slot])
    words = _slot(b, ctx, RING)
    ring.emit_trips(b, words, tid, run_trip, lambda: emit_barrier(b, ctx, nthreads))
    if profile:
        _emit_span(b, trace, tid, i64(IN_STEP), entered, emit_clock(b))
    b.ret_void()


def _step_entry(module: ir.Module, name: str, inputs: int, params: list[str]):
    """A `void name(ptr ctx, i64 tid)` function and, in its entry block, the buffer bases it reads from ctx."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), name)
    ctx, tid = fn.args
    ctx.name, tid.name = "ctx", "tid"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    bases = {space: _slot(b, ctx, index) for space, index in
             (("arena", ARENA), ("constants", CONSTANTS), ("transport", TRANSPORT), ("regions", REGIONS))}
    bases.update({("input", i): _slot(b, ctx, POINTERS + i) for i in range(inputs)})
    bases.update({("param", name): _slot(b, ctx, POINTERS + inputs + j) for j, name in enumerate(params)})
    return fn, b, ctx, tid, _slot(b, ctx, NTHREADS, I64), bases, _slot(b, ctx, SCRATCH)


def _slot(b: ir.IRBuilder, ctx: ir.Value, index: int, ty=PTR) -> ir.Value:
    return b.load(elem_ptr(b, ctx, index, I64), typ=ty)


def _call_arguments(b: ir.IRBuilder, call: KernelCall, bases: dict, trips: list, scratch: ir.Value,
                    nthreads: ir.Value, scratch_at: tuple[int, int]) -> list[ir.Value]:
    args = [_address(b, bases, buffer, trips) for buffer in call.buffers]
    if call.kernel.scratch:
        args.append(_scratch_address(b, scratch, nthreads, *scratch_at))
    return args


def _call_phases(b: ir.IRBuilder, kernel: KernelRef, phases, args: list, ctx, tid, nthreads) -> None:
    signature = [PTR] * len(args) + [I64, I64, I64]
    for k, phase in enumerate(phases):
        if k:
            emit_barrier(b, ctx, nthreads)
        b.call(declare(b.module, phase, VOID, signature), args + [i64(kernel.batch), tid, nthreads])


def _prepared_phases(call: KernelCall) -> int:
    """How many leading phases graphc_prepare runs for the call: its weight phases, when the weights
    are a parameter's or a constant's (a computed operand `w` may change from step to step)."""
    weights = [buffer for buffer, operand in zip(call.buffers, call.kernel.operands) if operand.name == "w"]
    return call.kernel.prepare if weights and weights[0].space in ("param", "constants") else 0


def _emit_prepare(module: ir.Module, calls: list[KernelCall], skipped: list[int], scratch_at: list, inputs: int,
                  params: list[str]) -> None:
    """`graphc_prepare(ctx, tid)`: each call's prepared phases (every thread), then a barrier."""
    _, b, ctx, tid, nthreads, bases, scratch = _step_entry(module, PREPARE, inputs, params)
    for call, count, at in zip(calls, skipped, scratch_at):     # each writes its own scratch: no barrier between
        if count:    # the weight phases read no operand that moves with a trip: address each at trip 0
            trips = [i64(0)] * (1 + max((step[0] for buffer in call.buffers for step in buffer.steps), default=0))
            args = _call_arguments(b, call, bases, trips, scratch, nthreads, at)
            _call_phases(b, call.kernel, call.kernel.phases[:count], args, ctx, tid, nthreads)
    emit_barrier(b, ctx, nthreads)
    b.ret_void()


def _emit_copy(b: ir.IRBuilder, memcpy, source: ir.Value, target: ir.Value, nbytes: int, tid, nthreads) -> None:
    """Each thread copies its own 64-byte aligned chunk of the bytes (llvm.memcpy)."""
    chunk = b.and_(b.add(b.udiv(i64(nbytes + ALIGNMENT - 1), nthreads), i64(ALIGNMENT - 1)), i64(-ALIGNMENT))
    start = b.mul(tid, chunk)
    with b.if_then(b.icmp_signed("<", start, i64(nbytes))):
        size = b.sub(i64(nbytes), start)
        size = b.select(b.icmp_signed("<", chunk, size), chunk, size)
        b.call(memcpy, [elem_ptr(b, target, start, I8), elem_ptr(b, source, start, I8), size, ir.Constant(I1, 0)])


def _emit_loop(b: ir.IRBuilder, loop: Loop, trips: list, body, check) -> None:
    """A scan's counted loop, or a while loop that leaves when `check` gives false; `body` and
    `check` emit their part given the trip counters with this loop's."""
    if loop.trips is not None:
        with counted_loop(b, 0, loop.trips, name=f"trip{len(trips)}") as trip:
            body(trips + [trip])
        return
    header, inside, after = (b.append_basic_block(f"while{len(trips)}.{part}") for part in ("head", "body", "exit"))
    b.branch(header)
    b.position_at_end(header)
    b.cbranch(check(trips + [None]), inside, after)
    b.position_at_end(inside)
    body(trips + [None])
    b.branch(header)
    b.position_at_end(after)


def _address(b: ir.IRBuilder, bases: dict, buffer: Buffer, trips: list) -> ir.Value:
    base = bases[buffer.space] if buffer.space in ("arena", "constants", "transport", "regions") else \
        bases[(buffer.space, buffer.key)]
    offset = i64(buffer.offset)
    for depth, stride, _, period in buffer.steps:
        trip = b.and_(trips[depth], i64(1)) if period == 2 else trips[depth]
        offset = b.add(offset, b.mul(trip, i64(stride)))
    return elem_ptr(b, base, offset, I8) if buffer.offset or buffer.steps else base


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


def _count(b: ir.IRBuilder, counters: ir.Value, index: int, tid: ir.Value, elapsed: ir.Value) -> None:
    """Thread 0 adds one call and `elapsed` cycles to kernel `index`'s counters."""
    with b.if_then(b.icmp_signed("==", tid, i64(0))):
        for offset, value in ((0, i64(1)), (1, elapsed)):
            slot = elem_ptr(b, counters, COUNTER_SLOTS * index + offset, I64)
            b.store(b.add(b.load(slot, typ=I64), value), slot)


def _emit_span(b: ir.IRBuilder, trace: ir.Value, tid: ir.Value, what: ir.Value, start: ir.Value, end: ir.Value) -> None:
    """This thread's next span in the TRACE block (see TRACE_SPAN_WORDS)."""
    b.call(_span_function(b.module), [trace, tid, what, start, end])


def _span_function(module: ir.Module) -> ir.Function:
    existing = module.globals.get("graphc.span")
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64, I64, I64, I64]), "graphc.span")
    fn.linkage = "internal"
    trace, tid, what, start, end = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    words = load_scalar(b, trace, 0, I64)
    area = b.add(i64(1), b.mul(tid, words))            # this thread's first word
    count = load_scalar(b, trace, area, I64)
    first = b.add(area, b.add(i64(1), b.mul(count, i64(TRACE_SPAN_WORDS))))
    with b.if_then(b.icmp_signed("<=", b.add(first, i64(TRACE_SPAN_WORDS)), b.add(area, words))):
        for k, value in enumerate((what, start, end)):
            store_scalar(b, value, trace, b.add(first, i64(k)))
    store_scalar(b, b.add(count, i64(1)), trace, area)
    b.ret_void()
    return fn
