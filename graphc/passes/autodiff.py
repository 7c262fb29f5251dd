"""The autodiff pass: reverse mode as a graph transformation.

While tracing, `graphc.grad` records `grad` placeholder nodes (output, seed, wrt). This pass
replaces them: `vjp` walks the graph in reverse topological order and calls each op's gradient
rule. The rules are written with ops, so they add ordinary nodes to the same graph (which can be
differentiated again: grad of grad). Gradients of a value used several times are summed with
explicit adds. Every node added records the forward node it differentiates (`grad_of`).

The optimizer update needs no pass of its own: TrainOneStepCell traces it as assign nodes, so
after this pass one graph holds forward, backward and update.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from .. import ops
from ..errors import GraphcError
from ..ir import Graph, Node
from ..tracing import Tensor, Trace, current_trace, symbolic, tracing
from .manager import PassContext, register_pass


@register_pass("autodiff")
def autodiff(graph: Graph, ctx: PassContext) -> bool:
    return expand_gradients(graph)


def expand_gradients(graph: Graph) -> bool:
    """Replace every `grad` placeholder by its gradient subgraph.

    Placeholders sharing (output, seed) are expanded by one reverse walk. Inner placeholders come
    first in topological order, so a grad of a grad walks through already-expanded nodes."""
    changed = False
    with tracing(Trace(graph=graph)) as trace:
        while True:
            pending = graph.of_op("grad")
            if not pending:
                return changed
            output, seed = pending[0].inputs[:2]
            group = [g for g in pending if g.inputs[0] is output and g.inputs[1] is seed]
            results = vjp(graph, output, symbolic(seed), [g.inputs[2] for g in group])
            for placeholder, result in zip(group, results):
                graph.replace_all_uses(placeholder, trace.node_of(result))
                graph.erase(placeholder)
            changed = True


def vjp(graph: Graph, output: Node, cotangent: Tensor, wrt: list[Node]) -> list[Tensor]:
    """Gradients of <output, cotangent> with respect to each node in `wrt` (zeros if unreachable).

    Must run inside the trace that owns `graph`, so the rules' op calls land in it."""
    trace = current_trace()
    assert trace is not None and trace.graph is graph, "vjp runs inside the trace of its graph"
    reachable = set().union(*(nx.descendants(graph.nx, w.id) | {w.id} for w in wrt)) if wrt else set()
    needed = reachable & (nx.ancestors(graph.nx, output.id) | {output.id})
    grads: dict[int, Tensor] = {output.id: cotangent}
    for node in reversed(graph.order()):
        if node.id not in needed or node.id not in grads or not node.inputs:
            continue
        ct = grads[node.id]
        trace.grad_of = node
        try:
            op = ops.get(node.op)
            if op.vjp is None:
                raise GraphcError(f"op {node.op} has no gradient rule", loc=node.loc)
            operand_grads = op.vjp(ct, *map(symbolic, node.inputs), out=symbolic(node), **node.attrs)
            for src, g in zip(node.inputs, operand_grads):
                if g is not None and src.id in needed and src.type.dtype.is_float:
                    if g.type != src.type:
                        raise AssertionError(f"the VJP of {node.op} gave a {g.type} gradient for a {src.type} operand")
                    trace.grad_of = src
                    grads[src.id] = g if src.id not in grads else ops.add(grads[src.id], g)
                    trace.grad_of = node
        finally:
            trace.grad_of = None
    return [grads.get(w.id) if w.id in grads else Tensor(np.zeros(w.type.shape, w.type.dtype.np)) for w in wrt]
