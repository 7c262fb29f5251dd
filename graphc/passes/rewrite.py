"""Helpers shared by the passes that rewrite nodes."""
from __future__ import annotations

from .. import ops
from ..ir import Graph, Node
from ..ir.control import is_control, regions


def is_impure(node: Node) -> bool:
    """True for a node with effects (an assign, or a fused region holding one): never removed or merged."""
    if node.op == "fused":
        return any(is_impure(inner) for inner in node.attrs["body"].nodes.values())
    return node.op in ops.REGISTRY and ops.get(node.op).impure


def in_regions(pass_fn, graph: Graph, ctx) -> bool:
    """Run a pass over the regions of the graph's control-flow nodes, each a graph of its own (the pass
    recurses into nested ones); whether it changed any. Fused bodies are left alone."""
    changed = False
    for node in graph.order():
        if is_control(node):
            for region in regions(node):
                changed |= pass_fn(region, ctx)
    return changed


def replace_node(graph: Graph, old: Node, op: str, inputs, attrs: dict, type=None) -> Node:
    """Put a new node computing the same value as `old` in its place, under old's id, so the
    rewritten IR reads like the original with one line changed (`type`: a new type, for a
    control-flow node given more results)."""
    inputs = tuple(inputs)

    def add(id=None):
        return graph.add(op, inputs, attrs, type or old.type, old.scope, old.loc, old.meta, id=id)
    stand_in = add()
    graph.replace_all_uses(old, stand_in)
    graph.erase(old)
    new = add(id=old.id)
    graph.replace_all_uses(stand_in, new)
    graph.erase(stand_in)
    return new
