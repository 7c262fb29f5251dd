"""The statistics behind `graphc inspect`: what a graph computes (op histogram, FLOPs per call), what
it holds (inputs, parameters, outputs), what it exchanges with the other ranks of a job (collectives),
and every node with its type, FLOPs and scope (the nodes inside a fused region indented under it),
printed as plain aligned text tables."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import ops
from .ir import Graph, Node
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
    region_ops: dict[str, tuple[int, int]]  # the same for the computation inside fused regions
    nodes: list["NodeRow"]                  # every node in order, each fused region's body under it
    collectives: list[tuple[str, TensorType, int]]   # (value, type, ranks) of each allreduce

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
    # a region's body inputs only stand for the fused node's operands
    inside = [inner for n in order if _body(n) for inner in _body(n).order() if inner.op != "input"]
    return GraphStats(
        name=graph.name,
        inputs=[(n.attrs["name"], n.type) for n in graph.inputs],
        params=[(n.attrs["name"], n.type) for n in graph.params],
        outputs=[(f"%{n.id}", n.type) for n in graph.outputs],
        ops=_op_totals(order),
        region_ops=_op_totals(inside),
        nodes=_node_rows(order, depth=0),
        collectives=[(f"%{n.id}", n.type, n.attrs["ranks"]) for n in order if n.op == "allreduce"])


@dataclass
class NodeRow:
    depth: int       # 0 for the graph's own nodes, 1 inside a fused region, ...
    value: str
    op: str
    type: TensorType
    flops: int
    scope: str


def _node_rows(order: list[Node], depth: int) -> list[NodeRow]:
    rows = []
    for node in order:
        body = _body(node)
        rows.append(NodeRow(depth, f"%{node.id}", node.op, node.type, node_flops(node), node.scope))
        if body:
            rows += _node_rows([inner for inner in body.order() if inner.op != "input"], depth + 1)
    return rows


def _body(node: Node) -> Graph | None:
    body = node.attrs.get("body")
    return body if isinstance(body, Graph) else None


def _op_totals(nodes: list[Node]) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for node in nodes:
        count, flops = totals.get(node.op, (0, 0))
        totals[node.op] = (count + 1, flops + node_flops(node))
    return totals


def node_flops(node: Node) -> int:
    """Floating-point operations of one call of node, from its op's `flops` rule."""
    if _body(node):                      # a fused region costs what its body computes
        return sum(node_flops(inner) for inner in _body(node).order())
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
        f"FLOPs per call: {stats.total_flops:,}\n" + _ops_table(stats),
        "nodes\n" + _nodes_table(stats.nodes),
    ]
    if stats.collectives:
        sections.insert(-1, "collectives per call\n" + _collectives_table(stats.collectives))
    return "\n\n".join(sections)


def _nodes_table(rows: list[NodeRow]) -> str:
    return table(["value", "op", "type", "FLOPs", "scope"],
                 [["  " * row.depth + row.value, row.op, str(row.type), f"{row.flops:,}", row.scope or "-"]
                  for row in rows])


def _types_table(named: list[tuple[str, TensorType]]) -> str:
    return table(["name", "type"], [[name, str(t)] for name, t in named]) if named else "  (none)"


def _ops_table(stats: GraphStats) -> str:
    """One row per op, most FLOPs first; the ops inside fused regions follow the `fused` row, indented."""
    total = stats.total_flops
    rows = []
    for op in _ranked(stats.ops):
        rows.append(_op_row(op, stats.ops[op], total))
        if op == "fused":
            rows += [_op_row(f"  {inner}", stats.region_ops[inner], total) for inner in _ranked(stats.region_ops)]
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
