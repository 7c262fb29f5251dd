"""The verifier: structural and type invariants every pass must keep."""
from __future__ import annotations

import networkx as nx

from .. import ops
from .graph import Graph


class VerifyError(ValueError):
    pass


def verify(graph: Graph) -> None:
    """Raise VerifyError naming the first broken node; return None if the graph is sound."""
    if not nx.is_directed_acyclic_graph(graph.nx):
        cycle = nx.find_cycle(graph.nx)
        raise VerifyError(f"@{graph.name}: cycle through " + " -> ".join(f"%{u}" for u, *_ in cycle))
    if set(graph.nx.nodes) != set(graph.nodes):
        raise VerifyError(f"@{graph.name}: networkx nodes and graph nodes disagree")
    for node in graph.order():
        _verify_node(graph, node)
    for out in graph.outputs:
        if graph.nodes.get(out.id) is not out:
            raise VerifyError(f"@{graph.name}: output %{out.id} is not a node of the graph")
    names = [n.attrs["name"] for n in graph.params]
    if len(names) != len(set(names)):
        raise VerifyError(f"@{graph.name}: a parameter name is bound by more than one param node")


def _verify_node(graph: Graph, node) -> None:
    where = f"@{graph.name} %{node.id} ({node.op})"
    edges = sorted((key, src) for src, _, key in graph.nx.in_edges(node.id, keys=True))
    if edges != [(i, src.id) for i, src in enumerate(node.inputs)]:
        raise VerifyError(f"{where}: operand list and networkx edges disagree")
    for src in node.inputs:
        if graph.nodes.get(src.id) is not src:
            raise VerifyError(f"{where}: operand %{src.id} is not in the graph")
    if node.op == "fused":
        return
    try:
        op = ops.get(node.op)
        expected = op.infer_type([i.type for i in node.inputs], node.attrs)
    except (KeyError, ValueError) as error:
        raise VerifyError(f"{where}: {error}") from None
    if expected != node.type:
        raise VerifyError(f"{where}: recorded type {node.type} but the shape rule gives {expected}")
    if op.impure and node.inputs[0].op != "param":
        raise VerifyError(f"{where}: the target of {node.op} must be a param node, got {node.inputs[0].op}")
