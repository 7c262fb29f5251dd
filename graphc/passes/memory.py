"""Memory planning: a schedule, the lifetime of every buffer in it, and offsets in one arena.

The schedule is the graph's deterministic topological order, level by level (a node's level is the
longest path to it), smallest id first within a level, so that independent chains (the batch blocks of
a recurrent layer, nn/layers/rnn.py) advance together and their kernels fall between the same barriers.
Its graph has one more kind of edge: every other reader of a parameter runs before the node that
assigns it, so native code may write parameters in place. Temporaries are the values of all nodes except
inputs, parameters and constants (they have buffers of their own) and assigns, including fused
regions whose result is an assign (their value is the parameter they write).

Some values are bytes of another value's buffer (`aliases`: node -> (owner, byte offset)), so
computing them copies nothing:
- a view: a reshape (offset 0) or a strided_slice of one contiguous range of its operand starting
  64-byte aligned (kernels assume aligned buffers); never of a parameter's buffer, which an
  in-place update could change under the view;
- an in-place op: an allreduce whose operand is a temporary that nothing else reads;
- a placed operand: a temporary (or its chain of reshapes) whose only use is one operand of a
  pack, or of a concat or stack whose operands are whole aligned slabs of the result (slab_offsets),
  is computed straight into its place in that buffer, which is how the gradients a data-parallel
  step allreduces come to lie side by side, and how the gradients of an LSTM's four gates form one
  tensor without a copy;
- a control-flow result: a control-flow node is planned as a unit, one buffer holding all its
  results one after the other (each 64-byte aligned), and each `get` is a view of its element. The
  values inside its regions are not planned here: native lowering plans each region as a graph of
  its own and keeps a loop's carried values in the node's buffer (docs/codegen.md, "Loops and
  branches").
An owner's buffer is live from the first step that writes any value aliasing it to the last step
that reads one; graph outputs stay live to the end. Offsets come from greedy best-fit by size:
largest first, each into the smallest gap left by the buffers whose lifetimes overlap its own;
every offset is a multiple of 64 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import networkx as nx

from ..ir import Graph, Node
from ..ops.indexing import pack_offsets, slice_ranges
from ..ops.join import slab_offsets
from ..types import TensorType, TupleType
from .manager import PassContext, register_pass

ALIGNMENT = 64
_OWN_BUFFERS = ("input", "param", "const")


@dataclass
class MemoryPlan:
    schedule: list[int]                        # node ids in the order native code runs them
    offsets: dict[int, tuple[int, int]]        # temporary's node id -> (arena offset, nbytes)
    arena_bytes: int                           # the planned peak: the arena's size
    naive_bytes: int                           # one 64-byte aligned buffer per temporary
    # node id -> (the node owning the buffer its value is part of, byte offset in that buffer)
    aliases: dict[int, tuple[int, int]] = field(default_factory=dict)
    views: frozenset[int] = frozenset()    # aliases whose bytes are there already: nothing computes them

    def summary(self) -> str:
        return (f"memory: {len(self.offsets)} temporaries, naive {self.naive_bytes:,} bytes, "
                f"planned arena {self.arena_bytes:,} bytes, {len(self.aliases)} values in other values' buffers")


@register_pass("plan-memory")
def plan_memory(graph: Graph, ctx: PassContext) -> bool:
    """Record graph.memory_plan; changed when the plan differs from the one already recorded."""
    schedule = _schedule(graph)
    aliases, views = _aliases(graph, schedule)
    lifetimes = _lifetimes(graph, schedule, aliases)
    offsets = _offsets(lifetimes)
    sizes = {node.id: _aligned(buffer_bytes(node.type)) for node, _, _ in lifetimes}
    plan = MemoryPlan([n.id for n in schedule], offsets,
                      arena_bytes=max((offsets[i][0] + size for i, size in sizes.items()), default=0),
                      naive_bytes=sum(sizes.values()), aliases=aliases, views=frozenset(views))
    changed = plan != getattr(graph, "memory_plan", None)
    graph.memory_plan = plan
    return changed


def _schedule(graph: Graph) -> list[Node]:
    order = nx.DiGraph(graph.nx)
    writers: dict[int, Node] = {}
    for writer in graph.order():
        for target in assigned_params(writer):
            if writers.setdefault(target.id, writer) is not writer:
                raise ValueError(f"parameter {target.attrs['name']!r} is assigned by both %{writers[target.id].id} "
                                 f"and %{writer.id}: assign each parameter at most once per step")
            for reader in graph.users(target):
                if reader is not writer:
                    _read_before_write(graph, order, reader, writer, target)
    level = {i: k for k, generation in enumerate(nx.topological_generations(order)) for i in generation}
    return [graph.nodes[i] for i in nx.lexicographical_topological_sort(order, key=lambda i: (level[i], i))]


def _read_before_write(graph: Graph, order: nx.DiGraph, reader: Node, writer: Node, target: Node) -> None:
    if nx.has_path(graph.nx, writer.id, reader.id):
        raise ValueError(f"%{reader.id} ({reader.op}) reads parameter {target.attrs['name']!r} but depends on "
                         f"%{writer.id}, which assigns it: a step must read a parameter before assigning it")
    order.add_edge(reader.id, writer.id)


def assigned_params(node: Node) -> list[Node]:
    """The param nodes an assign, or a fused region holding assigns, writes."""
    if node.op == "assign":
        return [node.inputs[0]]
    if node.op == "fused":
        return [node.inputs[a.inputs[0].attrs["index"]] for a in node.attrs["body"].of_op("assign")]
    return []


# -- aliases ---------------------------------------------------------------------------------------------
def _aliases(graph: Graph, schedule: list[Node]) -> tuple[dict[int, tuple[int, int]], set[int]]:
    """(each aliasing node -> (its buffer's owner, byte offset), the views among them)."""
    outputs = {out.id for out in graph.outputs}
    links: dict[int, tuple[int, int]] = {}           # one step: node -> (node, offset)
    views = set()
    for node in schedule:
        offsets = _joined_offsets(node)
        if offsets is not None:
            links.update(_placements(graph, node, offsets, outputs, links))
            continue
        viewed = _viewed(graph, node, outputs, links)
        if viewed is not None:
            operand, offset, computed = viewed
            links[node.id] = (operand, offset)
            if not computed:
                views.add(node.id)
    return {node: _resolve(links, node) for node in links}, views


def _resolve(links: dict[int, tuple[int, int]], node: int) -> tuple[int, int]:
    offset = 0
    while node in links:
        node, step = links[node]
        offset += step
    return node, offset


def _viewed(graph: Graph, node: Node, outputs: set[int], links) -> tuple[int, int, bool] | None:
    """(operand id, byte offset, computed) when node's value is bytes of its operand's buffer;
    computed: a kernel still writes it there (in place), else it is a view and nothing does."""
    computed = node.op == "allreduce"
    if node.op == "reshape":
        offset = 0
    elif node.op == "get":
        offset = element_offset(node.inputs[0].type, node.attrs["index"])
    elif node.op == "strided_slice":
        offset = _contiguous_slice_offset(node)
    elif computed:
        operand = node.inputs[0]
        in_place = operand.id not in links and operand.id not in outputs and _is_temporary(operand) and \
            graph.users(operand) == [node]
        offset = 0 if in_place else None
    else:
        offset = None
    if offset is None:
        return None
    owner = graph.nodes[_resolve(links, node.inputs[0].id)[0]]
    return None if _holds_parameter(owner) else (node.inputs[0].id, offset, computed)


def _contiguous_slice_offset(node: Node) -> int | None:
    """The byte offset of a strided_slice that keeps one contiguous range of its operand, else None:
    unit steps, whole axes after the first cut one, one index on the axes before it."""
    shape = node.inputs[0].type.shape
    ranges = slice_ranges(shape, node.attrs["begin"], node.attrs["end"], node.attrs["strides"])
    cut = [axis for axis, (r, d) in enumerate(zip(ranges, shape)) if r != range(d)]
    first = cut[0] if cut else len(shape)
    if any(r.step != 1 for r in ranges) or any(ranges[a] != range(shape[a]) for a in range(first + 1, len(shape))) \
            or any(len(ranges[a]) != 1 for a in range(first)):
        return None
    strides = [prod(shape[a + 1:]) for a in range(len(shape))]
    offset = sum((r.start if len(r) else 0) * s for r, s in zip(ranges, strides)) * node.type.dtype.itemsize
    return offset if offset % ALIGNMENT == 0 else None


def _joined_offsets(node: Node) -> tuple[int, ...] | None:
    """The byte offset of each operand in the result of a pack, or of a concat (or stack) of whole slabs."""
    types = [x.type for x in node.inputs]
    if node.op == "pack":
        return tuple(start * node.type.dtype.itemsize for start in pack_offsets(types))
    if node.op in ("concat", "stack"):      # the axes before a stack's new one are its operands' first ones
        return slab_offsets(types, node.attrs["axis"] % node.type.ndim)
    return None


def _placements(graph: Graph, joined: Node, offsets, outputs: set[int], links) -> dict[int, tuple[int, int]]:
    """{root of an operand: (the joining node, byte offset)} for each operand that can be computed in
    its place: a temporary (seen through a chain of reshapes) used only there, once, and not a graph
    output."""
    placed = {}
    for operand, offset in zip(joined.inputs, offsets):
        root = _single_use_chain_root(graph, operand, joined, outputs, links)
        if root is not None and root.id not in placed and joined.inputs.count(operand) == 1:
            placed[root.id] = (joined.id, offset)
    return placed


def _single_use_chain_root(graph: Graph, operand: Node, user: Node, outputs: set[int], links) -> Node | None:
    """The temporary whose whole buffer `operand` is, when every value from it to operand has one user
    (the next one; operand's is `user`) and none is a graph output; else None."""
    node, next_user = operand, user
    while True:
        if node.id in outputs or graph.users(node) != [next_user]:
            return None
        if node.id not in links:
            break
        next_user, (owner, offset) = node, links[node.id]
        if offset:
            return None
        node = graph.nodes[owner]
    return node if _is_temporary(node) and buffer_bytes(node.type) == operand.type.nbytes else None


def _holds_parameter(node: Node) -> bool:
    return node.op in ("param", "assign") or (node.op == "fused" and not _is_temporary(node))


def _is_temporary(node: Node) -> bool:
    if node.op == "fused":
        return node.attrs["body"].outputs[0].op != "assign"
    return node.op not in _OWN_BUFFERS and node.op != "assign"


def _lifetimes(graph: Graph, schedule: list[Node], aliases: dict[int, tuple[int, int]]) -> list[tuple[Node, int, int]]:
    """(owner, first step, last step) of each temporary buffer: from the first step writing any value
    in it to the last step reading one."""
    owner = {node.id: aliases.get(node.id, (node.id, 0))[0] for node in schedule}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for step, node in enumerate(schedule):
        first[owner[node.id]] = min(first.get(owner[node.id], step), step)
        for used in [node] + list(node.inputs):
            last[owner[used.id]] = max(last.get(owner[used.id], step), step)
    for out in graph.outputs:
        last[owner[out.id]] = len(schedule)
    return [(node, first[node.id], last[node.id]) for node in schedule
            if _is_temporary(node) and node.id not in aliases]


def _offsets(lifetimes: list[tuple[Node, int, int]]) -> dict[int, tuple[int, int]]:
    placed: list[tuple[int, int, int, int]] = []     # (offset, aligned size, first, last)
    offsets = {}
    for node, first, last in sorted(lifetimes, key=lambda t: (-buffer_bytes(t[0].type), t[1], t[0].id)):
        size = _aligned(buffer_bytes(node.type))
        busy = sorted(p for p in placed if p[2] <= last and first <= p[3])
        offset = _best_fit(busy, size)
        placed.append((offset, size, first, last))
        offsets[node.id] = (offset, buffer_bytes(node.type))
    return offsets


def _best_fit(busy: list[tuple[int, int, int, int]], size: int) -> int:
    """The start of the smallest gap between busy blocks (sorted by offset) that holds size; else
    the first offset past them all."""
    best, best_gap, cursor = None, None, 0
    for offset, block, _, _ in busy:
        gap = offset - cursor
        if gap >= size and (best_gap is None or gap < best_gap):
            best, best_gap = cursor, gap
        cursor = max(cursor, offset + block)
    return cursor if best is None else best


def buffer_bytes(t: TensorType | TupleType) -> int:
    """The bytes of a value's buffer: a control-flow node's holds all its results, each aligned."""
    return element_offset(t, len(t.elements)) if isinstance(t, TupleType) else t.nbytes


def element_offset(t: TupleType, index: int) -> int:
    """Where result `index` of a control-flow node starts in its buffer."""
    return sum(_aligned(element.nbytes) for element in t.elements[:index])


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGNMENT) * ALIGNMENT
