"""The statistics behind `graphc inspect`: what a graph computes (op histogram, FLOPs per call), what
it holds (inputs, parameters, outputs), what it exchanges with the other ranks of a job (collectives),
and every node with its type, FLOPs and scope (the nodes inside a fused region or a control-flow
region indented under it), printed as plain aligned text tables.

A region's FLOPs count once per run of it: a scan's body `length` times, a cond's costlier branch
(an upper bound: one branch runs), and a while loop's condition and body once, as its trip count is
not known before it runs (the report names such loops)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import ops
from .ir import Graph, Node
from .ir.control import is_control, regions
from .types import TensorType


class StatsError(ValueError):
    """A graph whose statistics cannot be computed (an op without a FLOPs rule)."""


@dataclass
class GraphStats:
    name: str
    inputs: list[tuple[str, TensorType]]
    params: list[tuple[str, TensorType]]
    outputs: list[tuple[str, TensorType]]
    ops: dict[str, tuple[int, int]]         # op -> (nodes, FLOPs per call)
    # op owning regions (fused, scan, ...) -> the same for the nodes inside its regions, FLOPs per call
    region_ops: dict[str, dict[str, tuple[int, int]]]
    nodes: list["NodeRow"]                  # every node in order, each region's nodes under it
    collectives: list[tuple[str, TensorType, int]]   # (value, type, ranks) of each allreduce
    while_loops: list[str]                  # the while loops (at any depth), their FLOPs counted for one trip

    @property
    def param_values(self) -> int:
        return sum(t.size for _, t in self.params)

    @property
    def param_bytes(self) -> int:
        return sum(t.nbytes for _, t in self.params)

    @property
    def total_flops(self) -> int:
        return sum(flops for _, flops in self.ops.values())


def graph_stats(graph: Graph) -> GraphStats:
    order = graph.order()
    region_ops: dict[str, dict[str, tuple[int, int]]] = {}
    for node in order:
        for region in regions(node):
            _op_totals(_computed(region), region_ops.setdefault(node.op, {}), trips(node) or 1)
    return GraphStats(
        name=graph.name,
        inputs=[(n.attrs["name"], n.type) for n in graph.inputs],
        params=[(n.attrs["name"], n.type) for n in graph.params],
        outputs=[(f"%{n.id}", n.type) for n in graph.outputs],
        ops=_op_totals(order, {}),
        region_ops=region_ops,
        nodes=_node_rows(order, depth=0),
        collectives=[(f"%{n.id}", n.type, n.attrs["ranks"]) for n in order if n.op == "allreduce"],
        while_loops=_while_loops(graph))


@dataclass
class NodeRow:
    depth: int       # 0 for the graph's own nodes, 1 inside a fused region, ...
    value: str
    op: str
    type: TensorType
    flops: int
    scope: str


def _node_rows(order: list[Node], depth: int) -> list[NodeRow]:
    """A row per node; under a fused node its body's nodes, under a control-flow node a row per region
    (`@name`, with its trips: `x 28`, `x ?` for a while loop, `branch`) and that region's nodes."""
    rows = []
    for node in order:
        rows.append(NodeRow(depth, f"%{node.id}", node.op, node.type, node_flops(node), node.scope))
        if node.op == "fused":
            rows += _node_rows(_computed(node.attrs["body"]), depth + 1)
        for region in (regions(node) if is_control(node) else ()):
            runs = "branch" if node.op == "cond" else f"x {trips(node) if trips(node) is not None else '?'}"
            rows.append(NodeRow(depth + 1, f"@{region.name}", runs, "", _region_flops(region), ""))
            rows += _node_rows(_computed(region), depth + 2)
    return rows


def _computed(region: Graph) -> list[Node]:
    """A region's nodes but its inputs, which only stand for the node's operands."""
    return [inner for inner in region.order() if inner.op != "input"]


def trips(node: Node) -> int | None:
    """How often a node's regions run per call of it: a scan's length, once for a fused body or a cond's
    branch, None (not known before it runs) for a while loop."""
    return node.attrs["length"] if node.op == "scan" else None if node.op == "while" else 1


def _while_loops(graph: Graph) -> list[str]:
    found = []
    for node in graph.order():
        if node.op == "while":
            found.append(f"%{node.id}" + (f" at {node.loc}" if node.loc else ""))
        for region in regions(node):
            found += _while_loops(region)
    return found


def _op_totals(nodes: list[Node], totals: dict, runs: int = 1) -> dict[str, tuple[int, int]]:
    """Add (1, FLOPs x runs) per node to totals[op]."""
    for node in nodes:
        count, flops = totals.get(node.op, (0, 0))
        totals[node.op] = (count + 1, flops + runs * node_flops(node))
    return totals


def _region_flops(region: Graph) -> int:
    return sum(node_flops(inner) for inner in region.order())


def node_flops(node: Node) -> int:
    """Floating-point operations of one call of node, from its op's `flops` rule; a node with regions
    costs what they compute (see the module's docstring)."""
    if node.op == "get":
        return 0
    if node.op == "cond":
        return max(_region_flops(region) for region in regions(node))
    if regions(node):
        return (trips(node) or 1) * sum(_region_flops(region) for region in regions(node))
    op = ops.get(node.op)
    if op.flops is None:
        operands = ", ".join(str(i.type) for i in node.inputs) or "no operands"
        raise StatsError(f"op '{node.op}' has no flops rule, so FLOPs cannot be counted "
                         f"(node %{node.id}: {node.type} from {operands}); add flops= to its definition")
    return int(op.flops(node.type, *(i.type for i in node.inputs), **node.attrs))


# -- presentation -------------------------------------------------------------------------------------
def format_stats(stats: GraphStats) -> str:
    top_level = sum(row.depth == 0 for row in stats.nodes)
    sections = [
        f"graph @{stats.name}: {top_level} nodes",
        "inputs\n" + _types_table(stats.inputs),
        f"parameters: {len(stats.params)} tensors, {stats.param_values:,} values, "
        f"{stats.param_bytes:,} bytes ({human_bytes(stats.param_bytes)})\n" + _types_table(stats.params),
        "outputs\n" + _types_table(stats.outputs),
        f"FLOPs per call: {stats.total_flops:,}" + _while_note(stats) + "\n" + _ops_table(stats),
        "nodes\n" + _nodes_table(stats.nodes),
    ]
    if stats.collectives:
        sections.insert(-1, "collectives per call\n" + _collectives_table(stats.collectives))
    return "\n\n".join(sections)


def _while_note(stats: GraphStats) -> str:
    return f" (while loops counted for one trip: {', '.join(stats.while_loops)})" if stats.while_loops else ""


def _nodes_table(rows: list[NodeRow]) -> str:
    return table(["value", "op", "type", "FLOPs", "scope"],
                 [["  " * row.depth + row.value, row.op, str(row.type), f"{row.flops:,}", row.scope or "-"]
                  for row in rows])


def _types_table(named: list[tuple[str, TensorType]]) -> str:
    return table(["name", "type"], [[name, str(t)] for name, t in named]) if named else "  (none)"


def _ops_table(stats: GraphStats) -> str:
    """One row per op, most FLOPs first; the ops inside the regions of fused (or scan, ...) nodes follow
    that op's row, indented."""
    total = stats.total_flops
    rows = []
    for op in _ranked(stats.ops):
        rows.append(_op_row(op, stats.ops[op], total))
        inside = stats.region_ops.get(op, {})
        rows += [_op_row(f"  {inner}", inside[inner], total) for inner in _ranked(inside)]
    rows.append(_op_row("total", (sum(row.depth == 0 for row in stats.nodes), total), total))
    return table(["op", "nodes", "FLOPs", "share"], rows)


def _collectives_table(collectives: list[tuple[str, TensorType, int]]) -> str:
    """Each allreduce's payload, and what a ring allreduce sends (and receives) per rank: 2 (N - 1) / N
    of it (docs/distributed.md)."""
    rows = [[value, "allreduce", str(t), str(ranks), f"{t.nbytes:,}", f"{ring_bytes(t.nbytes, ranks):,}"]
            for value, t, ranks in collectives]
    return table(["value", "op", "type", "ranks", "bytes", "ring bytes sent per rank"], rows)


def ring_bytes(nbytes: int, ranks: int) -> int:
    """Bytes one rank sends in a ring allreduce of nbytes over `ranks` ranks."""
    return 2 * (ranks - 1) * nbytes // ranks


def _ranked(ops: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(ops, key=lambda op: (-ops[op][1], -ops[op][0], op))


def _op_row(label: str, totals: tuple[int, int], total_flops: int) -> list[str]:
    nodes, flops = totals
    return [label, f"{nodes:,}", f"{flops:,}", _share(flops, total_flops)]


def _share(part: int, total: int) -> str:
    return f"{part / total:.1%}" if total else "-"


def human_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 ** 2:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 ** 2:.1f} MiB"


_NUMBER = re.compile(r"^[-+]?[\d,.]+%?$|^-$")


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, indented two spaces; numeric columns align right."""
    columns = list(zip(header, *rows))
    widths = [max(map(len, column)) for column in columns]
    numeric = [bool(rows) and all(_NUMBER.match(cell) for cell in column[1:]) for column in columns]

    def line(cells):
        padded = [cell.rjust(w) if right else cell.ljust(w) for cell, w, right in zip(cells, widths, numeric)]
        return ("  " + "  ".join(padded)).rstrip()

    return "\n".join(line(row) for row in [header, *rows])
