"""Dead-code elimination: remove every node with no path to a graph output or an impure node.

Unused `input` nodes stay: they are the graph's signature, which callers bind by index."""
from __future__ import annotations

import networkx as nx

from ..ir import Graph
from .manager import PassContext, register_pass
from .rewrite import is_impure


@register_pass("dce")
def eliminate_dead_code(graph: Graph, ctx: PassContext) -> bool:
    live = _live(graph)
    dead = [node for node in reversed(graph.order()) if node.id not in live]   # users before their operands
    for node in dead:
        graph.erase(node)
    return bool(dead)


def _live(graph: Graph) -> set[int]:
    """Ids of the graph outputs, the impure nodes, the inputs, and everything they depend on."""
    live: set[int] = set()
    roots = [out.id for out in graph.outputs] + [node.id for node in graph.order()
                                                 if is_impure(node) or node.op == "input"]
    for root in roots:
        if root not in live:
            live |= nx.ancestors(graph.nx, root) | {root}
    return live
