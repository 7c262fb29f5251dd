"""Constant folding: a pure node whose operands are all constants becomes a constant.

The value comes from the op's NumPy reference (`op.run`), the very function the interpreter
runs, so folding never changes a bit of any result. Size rule: a folded constant may hold at
most max(ctx.max_fold_elements, elements of its largest operand) elements, so folding never
makes the program much bigger than it was: `broadcast_to(0.5, shape=(32, 6, 28, 28))` stays a
broadcast, while shape arithmetic, casts and small tables fold.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ir import Graph, Node
from .manager import PassContext, register_pass
from .rewrite import is_impure, replace_node

_NOT_COMPUTED = ("grad", "fused")   # a gradient placeholder, or a region (folded before fusion)


@register_pass("fold")
def fold_constants(graph: Graph, ctx: PassContext) -> bool:
    changed = False
    for node in list(graph.order()):
        if _foldable(node, ctx):
            _fold(graph, node)
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
