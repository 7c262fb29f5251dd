"""Helpers shared by the passes that rewrite nodes."""
from __future__ import annotations

from .. import ops
from ..ir import Graph, Node


def is_impure(node: Node) -> bool:
    """True for a node with effects (an assign, or a fused region holding one): never removed or merged."""
    if node.op == "fused":
        return any(is_impure(inner) for inner in node.attrs["body"].nodes.values())
    return node.op in ops.REGISTRY and ops.get(node.op).impure


def replace_node(graph: Graph, old: Node, op: str, inputs, attrs: dict) -> Node:
    """Put a new node computing the same value as `old` in its place, under old's id, so the
    rewritten IR reads like the original with one line changed."""
    inputs = tuple(inputs)

    def add(id=None):
        return graph.add(op, inputs, attrs, old.type, old.scope, old.loc, old.meta, id=id)
    stand_in = add()
    graph.replace_all_uses(old, stand_in)
    graph.erase(old)
    new = add(id=old.id)
    graph.replace_all_uses(stand_in, new)
    graph.erase(stand_in)
    return new
