"""Dead-code elimination: remove every node with no path to a graph output or an impure node.

Unused `input` nodes stay: they are the graph's signature, which callers bind by index. Each
control-flow region is cleaned as a graph of its own (its outputs are the node's results)."""
from __future__ import annotations

from ..ir import Graph
from .manager import PassContext, register_pass
from .rewrite import in_regions, is_impure


@register_pass("dce")
def eliminate_dead_code(graph: Graph, ctx: PassContext) -> bool:
    live = _live(graph)
    dead = [node for node in reversed(graph.order()) if node.id not in live]   # users before their operands
    for node in dead:
        graph.erase(node)
    return in_regions(eliminate_dead_code, graph, ctx) or bool(dead)


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
