"""Common-subexpression elimination: of two nodes computing the same thing, keep the first.

Two nodes are the same when they have the same op, the same operands (in any order for a
commutative op) and the same attributes, compared through their IR spelling so that 0.0 and
-0.0 differ. Constants are the same when their dtype, shape and bytes are. Impure nodes,
graph inputs, parameters, fused regions and control-flow nodes are never merged.

Each control-flow region is a graph of its own, so CSE runs in it separately: nodes merge within
one iteration's body (or one branch), never across iterations, never with the enclosing graph.
"""
from __future__ import annotations

from .. import ops
from ..ir import Graph, Node
from ..ir.control import CONTROL_OPS
from ..ir.text import format_value
from .manager import PassContext, register_pass
from .rewrite import in_regions, is_impure

_NEVER_MERGED = ("input", "param", "fused") + CONTROL_OPS


@register_pass("cse")
def eliminate_common_subexpressions(graph: Graph, ctx: PassContext) -> bool:
    first: dict[tuple, Node] = {}
    changed = in_regions(eliminate_common_subexpressions, graph, ctx)
    for node in list(graph.order()):        # operands come first, so their duplicates are already gone
        if node.op in _NEVER_MERGED or is_impure(node):
            continue
        key = _key(node)
        if key in first:
            graph.replace_all_uses(node, first[key])
            graph.erase(node)
            changed = True
        else:
            first[key] = node
    return changed


def _key(node: Node) -> tuple:
    if node.op == "const":
        value = node.attrs["value"]
        return ("const", value.dtype.str, value.shape, value.tobytes())
    operands = [operand.id for operand in node.inputs]
    if node.op in ops.REGISTRY and ops.get(node.op).commutative:
        operands.sort()
    return (node.op, tuple(operands), format_value(tuple(node.attrs.items())))
