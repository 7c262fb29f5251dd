"""Inference batch norm folded into the convolution before it (the inference pipeline's pass).

    %c = conv2d(%x, %w)                        %s4 = reshape(%scale) {shape=(O, 1, 1, 1)}
    %y = channel_affine(%c, %scale, %shift) ─▶ %w2 = mul(%w, %s4)
                                               %c2 = conv2d(%x, %w2)
                                               %y  = add(%c2, %shift)

In inference, batch norm's scale and shift are computed from its parameters only (the moving
statistics), so the product `w · scale` is computed from parameters too: once the parameters are
constants (an exported model's are), `fold` turns it into the folded weights and the normalisation
costs one bias add. In training the scale comes from the batch's statistics of the convolution's
own output, so the rewrite would be a cycle: it applies only where scale and shift depend on no
input. Results change in rounding only (w · s is rounded before the sums, not after), so the pass
belongs to the inference pipeline (graphc.export), not to the default one.
"""
from __future__ import annotations

from ..ir import Graph, Node
from ..types import TensorType
from .manager import PassContext, register_pass
from .rewrite import in_regions, replace_node


@register_pass("fold-batch-norm")
def fold_batch_norm(graph: Graph, ctx: PassContext) -> bool:
    changed = in_regions(fold_batch_norm, graph, ctx)
    for node in list(graph.order()):
        if node.op == "channel_affine" and _folds(graph, node):
            _fold(graph, node)
            changed = True
    return changed


def _folds(graph: Graph, affine: Node) -> bool:
    conv, scale, shift = affine.inputs
    only_use = graph.users(conv) == [affine] and not any(out is conv for out in graph.outputs)
    return conv.op == "conv2d" and only_use and _from_parameters(scale) and _from_parameters(shift)


def _from_parameters(node: Node) -> bool:
    """Whether the value depends on parameters and constants only (the same in every call's inputs)."""
    pending, seen = [node], set()
    while pending:
        current = pending.pop()
        if current.op == "input":
            return False
        if current.id not in seen:
            seen.add(current.id)
            pending.extend(current.inputs)
    return True


def _fold(graph: Graph, affine: Node) -> None:
    conv, scale, shift = affine.inputs
    x, w = conv.inputs
    channels = w.type.shape[0]

    def add(op, inputs, attrs, type):
        return graph.add(op, inputs, attrs, type, conv.scope, conv.loc)
    per_filter = add("reshape", [scale], {"shape": (channels, 1, 1, 1)}, TensorType((channels, 1, 1, 1), w.type.dtype))
    folded = add("conv2d", [x, add("mul", [w, per_filter], {}, w.type)], dict(conv.attrs), conv.type)
    replace_node(graph, affine, "add", [folded, shift], {})
    graph.erase(conv)
