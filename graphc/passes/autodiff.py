"""The autodiff pass: reverse mode as a graph transformation.

While tracing, `graphc.grad` records `grad` placeholder nodes (output, seed, wrt). This pass
replaces them: `vjp` walks the graph in reverse topological order and calls each op's gradient
rule. The rules are written with ops, so they add ordinary nodes to the same graph (which can be
differentiated again: grad of grad). Gradients of a value used several times are summed with
explicit adds, except those of slices that tile it along one axis (split's pieces, an LSTM's
gates): they are joined with one concat, not summed over zero-filled copies (the memory plan then
computes each piece in its place). Every node added records the forward node it differentiates
(`grad_of`).
Control-flow nodes have rules of their own (control_vjp.py: cond branch-wise, scan as a reverse
scan, while refused).

The optimizer update needs no pass of its own: TrainOneStepCell traces it as assign nodes, so
after this pass one graph holds forward, backward and update.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from .. import ops
from ..errors import GraphcError
from ..ir import Graph, Node
from ..ir.control import is_control, regions
from ..ops.indexing import slice_ranges
from ..tracing import Tensor, Trace, current_trace, symbolic, tracing
from .control_vjp import CONTROL_VJPS, wanted
from .manager import PassContext, register_pass


@register_pass("autodiff")
def autodiff(graph: Graph, ctx: PassContext) -> bool:
    return expand_gradients(graph)


def expand_gradients(graph: Graph) -> bool:
    """Replace every `grad` placeholder by its gradient subgraph.

    Placeholders sharing (output, seed) are expanded by one reverse walk. Inner placeholders come
    first in topological order, so a grad of a grad walks through already-expanded nodes; those in
    control-flow regions come before the graph's own, so a region differentiated from outside holds none."""
    changed = False
    for node in graph.order():
        for region in (regions(node) if is_control(node) else ()):
            changed |= expand_gradients(region)
    with tracing(Trace(graph=graph)) as trace:
        while True:
            pending = graph.of_op("grad")
            if not pending:
                return changed
            output, seed = pending[0].inputs[:2]
            group = [g for g in pending if g.inputs[0] is output and g.inputs[1] is seed]
            results = vjp(graph, [(output, symbolic(seed))], [g.inputs[2] for g in group])
            for placeholder, result in zip(group, results):
                graph.replace_all_uses(placeholder, trace.node_of(result))
                graph.erase(placeholder)
            changed = True


def vjp(graph: Graph, seeds: list[tuple[Node, Tensor]], wrt: list[Node]) -> list[Tensor]:
    """Gradients of the sum of <output, cotangent> over the seeds with respect to each node in `wrt`
    (zeros if unreachable).

    Must run inside the trace that owns `graph`, so the rules' op calls land in it. The gradient of a
    control-flow node's results is kept per element (from the `get` nodes reading them) and handed to
    its rule (control_vjp.py) as a list."""
    trace = current_trace()
    assert trace is not None and trace.graph is graph, "vjp runs inside the trace of its graph"
    reachable = set().union(*(nx.descendants(graph.nx, w.id) | {w.id} for w in wrt)) if wrt else set()
    needed = reachable & set().union(*(nx.ancestors(graph.nx, out.id) | {out.id} for out, _ in seeds))
    grads: dict[int, object] = {}       # node id -> its gradient (for a control-flow node: {index: gradient})
    for out, cotangent in seeds:
        _accumulate(grads, out, cotangent)
    for node in reversed(graph.order()):
        if node.id not in needed or node.id not in grads or not node.inputs:
            continue
        trace.grad_of = node
        try:
            ct = _total(grads[node.id]) if not is_control(node) else {i: _total(p) for i, p in grads[node.id].items()}
            if node.op == "get":
                _accumulate(grads, node.inputs[0], ct, node.attrs["index"])
                continue
            for src, g in zip(node.inputs, _operand_gradients(graph, node, ct, needed)):
                if g is not None and wanted(src, needed):
                    if g.type != src.type:
                        raise AssertionError(f"the VJP of {node.op} gave a {g.type} gradient for a {src.type} operand")
                    trace.grad_of = src
                    _accumulate(grads, src, g)
                    trace.grad_of = node
        finally:
            trace.grad_of = None
    return [_gradient(trace, w, grads) for w in wrt]


def _gradient(trace: Trace, w: Node, grads: dict) -> Tensor:
    if w.id not in grads:
        return Tensor(np.zeros(w.type.shape, w.type.dtype.np))
    trace.grad_of = w
    try:
        return _total(grads[w.id])
    finally:
        trace.grad_of = None


def _accumulate(grads: dict, node: Node, g: Tensor, index: int | None = None) -> None:
    """Add g to the parts of node's gradient (of element `index` of a control-flow node's)."""
    key, table = (index, grads.setdefault(node.id, {})) if index is not None else (node.id, grads)
    table.setdefault(key, []).append(g)


def _total(parts: list[Tensor]) -> Tensor:
    """A gradient from its parts: the cotangents of slices laid side by side, else their sum in order."""
    joined = _joined_slices(parts)
    if joined is not None:
        return joined
    total = parts[0]
    for g in parts[1:]:
        total = ops.add(total, g)
    return total


def _joined_slices(parts: list[Tensor]) -> Tensor | None:
    """concat of the slices' cotangents when every part is a strided_slice_grad and their unit-step
    slices, each cut along one and the same axis, tile that axis."""
    nodes = [g._node for g in parts]
    if len(nodes) < 2 or any(n is None or n.op != "strided_slice_grad" for n in nodes):
        return None
    shape, pieces = nodes[0].type.shape, []
    for n in nodes:
        ranges = slice_ranges(shape, n.attrs["begin"], n.attrs["end"], n.attrs["strides"])
        cut = [axis for axis, (r, d) in enumerate(zip(ranges, shape)) if r != range(d)]
        if len(cut) != 1 or ranges[cut[0]].step != 1 or (pieces and cut[0] != pieces[0][0]):
            return None
        pieces.append((cut[0], ranges[cut[0]], n.inputs[0]))
    pieces.sort(key=lambda piece: piece[1].start)
    axis, ends = pieces[0][0], [r.stop for _, r, _ in pieces]
    if [r.start for _, r, _ in pieces] != [0] + ends[:-1] or ends[-1] != shape[axis]:
        return None
    return ops.concat([symbolic(ct) for _, _, ct in pieces], axis=axis)


def _operand_gradients(graph: Graph, node: Node, ct, needed: set[int]) -> list:
    if is_control(node):
        cotangents = [ct.get(index) for index in range(len(node.type.elements))]
        return CONTROL_VJPS[node.op](graph, node, cotangents, needed, vjp)
    op = ops.get(node.op)
    if op.vjp is None:
        raise GraphcError(f"op {node.op} has no gradient rule", loc=node.loc)
    return op.vjp(ct, *map(symbolic, node.inputs), out=symbolic(node), **node.attrs)
