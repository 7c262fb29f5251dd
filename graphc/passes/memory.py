"""Memory planning: a schedule, the lifetime of every temporary in it, and offsets in one arena.

The schedule is the graph's deterministic topological order (smallest ready id first) with one
more kind of edge: every other reader of a parameter runs before the node that assigns it, so
native code may write parameters in place. Temporaries are the values of all nodes except
inputs, parameters and constants (they have buffers of their own) and assigns, including fused
regions whose result is an assign (their value is the parameter they write). A reshape is a view:
it shares its operand's buffer (`aliases`), unless that buffer is a parameter's, which an in-place
update could change under the view. A temporary is live from the step that computes it to the last
step that reads it or a view of it; graph outputs (and values viewed by one) stay live to the end.
Offsets come from greedy best-fit by size: largest first, each into the smallest gap left by the
temporaries whose lifetimes overlap its own; every offset is a multiple of 64 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..ir import Graph, Node
from .manager import PassContext, register_pass

ALIGNMENT = 64
_OWN_BUFFERS = ("input", "param", "const")


@dataclass
class MemoryPlan:
    schedule: list[int]                        # node ids in the order native code runs them
    offsets: dict[int, tuple[int, int]]        # temporary's node id -> (arena offset, nbytes)
    arena_bytes: int                           # the planned peak: the arena's size
    naive_bytes: int                           # one 64-byte aligned buffer per temporary
    aliases: dict[int, int] = field(default_factory=dict)   # reshape's node id -> the node whose buffer it views

    def summary(self) -> str:
        return (f"memory: {len(self.offsets)} temporaries, naive {self.naive_bytes:,} bytes, "
                f"planned arena {self.arena_bytes:,} bytes")


@register_pass("plan-memory")
def plan_memory(graph: Graph, ctx: PassContext) -> bool:
    """Record graph.memory_plan; changed when the plan differs from the one already recorded."""
    schedule = _schedule(graph)
    aliases = {node.id: viewed.id for node in schedule if (viewed := viewed_node(node)) is not None}
    lifetimes = _lifetimes(graph, schedule, aliases)
    offsets = _offsets(lifetimes)
    sizes = {node.id: _aligned(node.type.nbytes) for node, _, _ in lifetimes}
    plan = MemoryPlan([n.id for n in schedule], offsets,
                      arena_bytes=max((offsets[i][0] + size for i, size in sizes.items()), default=0),
                      naive_bytes=sum(sizes.values()), aliases=aliases)
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
    return [graph.nodes[i] for i in nx.lexicographical_topological_sort(order)]


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


def viewed_node(node: Node) -> Node | None:
    """The node whose buffer a reshape views (following chains of reshapes), or None: not a
    reshape, or a reshape of a parameter's value, which gets a buffer of its own."""
    if node.op != "reshape":
        return None
    source = viewed_node(node.inputs[0]) or node.inputs[0]
    return None if _holds_parameter(source) else source


def _holds_parameter(node: Node) -> bool:
    return node.op in ("param", "assign") or (node.op == "fused" and not _is_temporary(node))


def _is_temporary(node: Node) -> bool:
    if node.op == "fused":
        return node.attrs["body"].outputs[0].op != "assign"
    return node.op not in _OWN_BUFFERS and node.op != "assign"


def _lifetimes(graph: Graph, schedule: list[Node], aliases: dict[int, int]) -> list[tuple[Node, int, int]]:
    """(node, first step, last step) of each temporary; a use of a view is a use of its buffer."""
    step = {node.id: i for i, node in enumerate(schedule)}
    last = {node.id: step[node.id] for node in schedule}
    for node in schedule:
        for operand in node.inputs:
            owner = aliases.get(operand.id, operand.id)
            last[owner] = max(last[owner], step[node.id])
    for out in graph.outputs:
        last[aliases.get(out.id, out.id)] = len(schedule)
    return [(node, step[node.id], last[node.id]) for node in schedule
            if _is_temporary(node) and node.id not in aliases]


def _offsets(lifetimes: list[tuple[Node, int, int]]) -> dict[int, tuple[int, int]]:
    placed: list[tuple[int, int, int, int]] = []     # (offset, aligned size, first, last)
    offsets = {}
    for node, first, last in sorted(lifetimes, key=lambda t: (-t[0].type.nbytes, t[1], t[0].id)):
        size = _aligned(node.type.nbytes)
        busy = sorted(p for p in placed if p[2] <= last and first <= p[3])
        offset = _best_fit(busy, size)
        placed.append((offset, size, first, last))
        offsets[node.id] = (offset, node.type.nbytes)
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


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGNMENT) * ALIGNMENT
