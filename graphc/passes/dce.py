"""Dead-code elimination: remove every node with no path to a graph output or an impure node.

Unused `input` nodes stay: they are the graph's signature, which callers bind by index. Each
control-flow region is cleaned as a graph of its own (its outputs are the node's results), after a
scan's stacked results that nothing reads are dropped from it (a layer's per-step outputs when only
its last state is used: otherwise every trip would still write them)."""
from __future__ import annotations

from ..ir import Graph
from ..types import TupleType
from .manager import PassContext, register_pass
from .rewrite import in_regions, is_impure, replace_node


@register_pass("dce")
def eliminate_dead_code(graph: Graph, ctx: PassContext) -> bool:
    live = _live(graph)
    dead = [node for node in reversed(graph.order()) if node.id not in live]   # users before their operands
    for node in dead:
        graph.erase(node)
    dropped = _drop_unread_stacked_results(graph)
    return in_regions(eliminate_dead_code, graph, ctx) or bool(dead) or dropped


def _drop_unread_stacked_results(graph: Graph) -> bool:
    """Remove each scan's stacked results (after its carries) that no `get` reads, with the body
    outputs computing them; the remaining gets are renumbered."""
    changed = False
    for node in graph.of_op("scan"):
        results = node.type.elements
        read = {user.attrs["index"] for user in graph.users(node)}
        keep = [i for i in range(len(results)) if i < node.attrs["carried"] or i in read]
        if len(keep) == len(results):
            continue
        body = node.attrs["body"]
        body.outputs = [body.outputs[i] for i in keep]
        scan = replace_node(graph, node, "scan", node.inputs, node.attrs, TupleType([results[i] for i in keep]))
        for get in graph.users(scan):
            replace_node(graph, get, "get", (scan,), {"index": keep.index(get.attrs["index"])})
        changed = True
    return changed


def _live(graph: Graph) -> set[int]:
    """Ids of the graph outputs, the impure nodes, the inputs, and everything they depend on: one
    walk up the operands from all of them, each node visited once (one networkx ancestor set per
    root re-walked the whole forward pass for every parameter update)."""
    live: set[int] = set()
    pending = list(graph.outputs) + [node for node in graph.order() if is_impure(node) or node.op == "input"]
    while pending:
        node = pending.pop()
        if node.id not in live:
            live.add(node.id)
            pending.extend(node.inputs)
    return live
