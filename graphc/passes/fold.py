"""Constant folding: a pure node whose operands are all constants becomes a constant.

The value comes from the op's NumPy reference (`op.run`), the very function the interpreter
runs, so folding never changes a bit of any result. Size rule: a folded constant may hold at
most max(ctx.max_fold_elements, elements of its largest operand) elements, so folding never
makes the program much bigger than it was: `broadcast_to(0.5, shape=(32, 6, 28, 28))` stays a
broadcast, while shape arithmetic, casts and small tables fold.

Control flow: each region is folded as a graph of its own; a `cond` whose predicate is a constant
becomes the branch it takes (its nodes inlined), and a `while` whose condition region returns the
constant false becomes its initial carry.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ir import Graph, Node
from ..ir.control import STRUCTURAL
from .manager import PassContext, register_pass
from .rewrite import in_regions, is_impure, replace_node

# a gradient placeholder, a fused region (folded before fusion), control flow (folded by its own rules)
_NOT_COMPUTED = ("grad",) + STRUCTURAL


@register_pass("fold")
def fold_constants(graph: Graph, ctx: PassContext) -> bool:
    changed = in_regions(fold_constants, graph, ctx)
    for node in list(graph.order()):
        if node.id not in graph.nodes:       # inlined away with a cond folded before it
            continue
        if _foldable(node, ctx):
            _fold(graph, node)
            changed = True
        elif node.op == "cond" and node.inputs[0].op == "const":
            branch = "then_branch" if node.inputs[0].attrs["value"] else "else_branch"
            _take(graph, node, _inline(graph, node.attrs[branch], node.inputs[1:]))
            changed = True
        elif node.op == "while" and _constant_false(node.attrs["cond"]):
            _take(graph, node, node.inputs[:len(node.attrs["body"].outputs)])
            changed = True
    return changed


def _foldable(node: Node, ctx: PassContext) -> bool:
    if not node.inputs or node.op in _NOT_COMPUTED or is_impure(node):
        return False
    if any(operand.op != "const" for operand in node.inputs):
        return False
    largest_operand = max(operand.type.size for operand in node.inputs)
    return node.type.size <= max(ctx.max_fold_elements, largest_operand)


def _fold(graph: Graph, node: Node) -> None:
    with np.errstate(all="ignore"):       # inf and nan are values like any other here
        value = ops.get(node.op).run([operand.attrs["value"] for operand in node.inputs], node.attrs, node.type)
    replace_node(graph, node, "const", (), ops.const.check_attrs({"value": value}))


def _constant_false(region: Graph) -> bool:
    out = region.outputs[0]
    return out.op == "const" and not out.attrs["value"]


def _inline(graph: Graph, region: Graph, arguments) -> list[Node]:
    """Copies of the region's nodes in graph, its inputs bound to `arguments`; the copies of its outputs."""
    copies = {inner.id: arguments[inner.attrs["index"]] for inner in region.inputs}
    for inner in region.order():
        if inner.op != "input":
            copies[inner.id] = graph.add(inner.op, [copies[i.id] for i in inner.inputs], inner.attrs, inner.type,
                                         inner.scope, inner.loc, inner.meta)
    return [copies[out.id] for out in region.outputs]


def _take(graph: Graph, node: Node, results: list[Node]) -> None:
    """Replace a control-flow node by known results: each `get` of it by the value it stands for."""
    for user in graph.users(node):
        graph.replace_all_uses(user, results[user.attrs["index"]])
        graph.erase(user)
    graph.erase(node)
