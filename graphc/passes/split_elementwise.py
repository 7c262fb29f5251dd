"""Elementwise work split along the pieces it is cut into or joined from, so that it fuses with them.

    f(concat(a, b), y)        -> concat(f(a, y[:n]), f(b, y[n:]))
    strided_slice(f(x, y))    -> f(strided_slice(x), strided_slice(y))

The first applies when the concat is read by f alone and each piece is the single-use result of an
elementwise or out-fusable node: each new f then fuses into its piece's kernel, which writes straight
into its place in the concat (a pack, memory.py), and the pass over the whole joined tensor is gone. An
LSTM's backward step is the case: the four gates' gradients, joined, times the gates' slope.

The second applies when every user of f's result is a slice that only elementwise nodes read: f is then
computed piece by piece inside their kernels rather than whole beforehand (the slope above is one).
Operands broadcast along a sliced axis are not sliced there. Both only move elementwise arithmetic to
other elements' loops, so results are bit for bit the same; positional ops (whose value depends on an
element's index) and impure ones stay where they are.
"""
from __future__ import annotations

from .. import ops
from ..ir import Graph, Node
from ..ops.core import ELEMENTWISE, OUT_FUSABLE
from ..ops.indexing import slice_ranges
from ..types import TensorType
from .manager import PassContext, register_pass
from .rewrite import in_regions, replace_node


@register_pass("split-elementwise")
def split_elementwise(graph: Graph, ctx: PassContext) -> bool:
    changed = in_regions(split_elementwise, graph, ctx)
    for node in list(graph.order()):
        if node.id in graph.nodes and (_split_over_concat(graph, node) or _slice_operands(graph, node)):
            changed = True
    return changed


def _movable(node: Node | None) -> bool:
    return node is not None and node.op in ops.REGISTRY and ops.get(node.op).pointwise


def _split_over_concat(graph: Graph, node: Node) -> bool:
    joined = [x for x in node.inputs if x.op == "concat"]
    if not _movable(node) or len(joined) != 1 or node.inputs.count(joined[0]) != 1:
        return False
    concat = joined[0]
    if concat.type.shape != node.type.shape or _readers(graph, concat) != [node] or \
            not all(_fusable_piece(graph, piece, concat) for piece in concat.inputs):
        return False
    axis, start, pieces = concat.attrs["axis"] % concat.type.ndim, 0, []
    for piece in concat.inputs:
        extent = piece.type.shape[axis]
        operands = [piece if x is concat else _sliced(graph, x, node.type.shape, axis, range(start, start + extent))
                    for x in node.inputs]
        pieces.append(graph.add(node.op, operands, dict(node.attrs),
                                TensorType(piece.type.shape, node.type.dtype), node.scope, node.loc, node.meta))
        start += extent
    replace_node(graph, node, "concat", pieces, dict(concat.attrs))
    graph.erase(concat)
    return True


def _fusable_piece(graph: Graph, piece: Node, concat: Node) -> bool:
    if piece.op not in ops.REGISTRY or ops.get(piece.op).kind not in (ELEMENTWISE, OUT_FUSABLE):
        return False
    return _readers(graph, piece) == [concat] and concat.inputs.count(piece) == 1


def _slice_operands(graph: Graph, node: Node) -> bool:
    users = _readers(graph, node)
    if not _movable(node) or not users or any(
            user.op != "strided_slice" or not all(map(_movable, _readers(graph, user) or [None])) for user in users):
        return False
    cuts = [slice_ranges(node.type.shape, **{k: user.attrs[k] for k in ("begin", "end", "strides")}) for user in users]
    # overlapping slices would compute twice; a backward range's end can read as counting from the end
    if sum(user.type.size for user in users) > node.type.size or any(r.step < 0 for cut in cuts for r in cut):
        return False
    for user, ranges in zip(users, cuts):
        operands = [_sliced_axes(graph, x, node.type.shape, ranges) for x in node.inputs]
        replace_node(graph, user, node.op, operands, dict(node.attrs))
    graph.erase(node)
    return True


def _readers(graph: Graph, node: Node) -> list[Node] | None:
    """The nodes that read node's value, or None when the graph also returns it."""
    return None if any(out is node for out in graph.outputs) else graph.users(node)


def _sliced(graph: Graph, x: Node, shape: tuple, axis: int, positions: range) -> Node:
    """x (broadcast to `shape`) cut to `positions` along `axis`."""
    return _sliced_axes(graph, x, shape, [positions if a == axis else range(d) for a, d in enumerate(shape)])


def _sliced_axes(graph: Graph, x: Node, shape: tuple, ranges: list[range]) -> Node:
    """x cut to `ranges` of the broadcast shape `shape`: axes x lacks or broadcasts (extent 1) stay whole."""
    lead = len(shape) - x.type.ndim
    own = [ranges[lead + a] if x.type.shape[a] == shape[lead + a] else range(x.type.shape[a])
           for a in range(x.type.ndim)]
    cut = [r != range(d) for r, d in zip(own, x.type.shape)]
    if not any(cut):
        return x
    kept = own[:max(a for a, c in enumerate(cut) if c) + 1]      # the axes after the last cut one stay whole
    attrs = {"begin": tuple(r.start for r in kept), "end": tuple(r.stop for r in kept),
             "strides": tuple(r.step for r in kept)}
    return graph.add("strided_slice", [x], attrs, TensorType(tuple(len(r) for r in own), x.type.dtype),
                     x.scope, x.loc)
