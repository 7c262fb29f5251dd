"""Reverse-mode autodiff as a graph transformation, and the grad / value_and_grad API.

While tracing, `graphc.grad` records `grad` placeholder nodes (output, seed, wrt). The autodiff
pass (`expand_gradients`) replaces them: `vjp` walks the graph in reverse topological order and
calls each op's gradient rule. The rules are written with ops, so they add ordinary nodes to
the same graph (which can be differentiated again: grad of grad). Gradients of a value used
several times are summed with explicit adds. Every node added records the forward node it
differentiates (`grad_of`).
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from . import context, ops
from .errors import GraphcError
from .ir import Graph, Node
from .tracing import Tensor, Trace, current_trace, symbolic, tracing


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


def expand_gradients(graph: Graph) -> bool:
    """The autodiff pass: replace every `grad` placeholder by its gradient subgraph.

    Placeholders sharing (output, seed) are expanded by one reverse walk. Inner placeholders come
    first in topological order, so a grad of a grad walks through already-expanded nodes."""
    changed = False
    with tracing(Trace(graph=graph)):
        while True:
            pending = graph.of_op("grad")
            if not pending:
                return changed
            output, seed = pending[0].inputs[:2]
            group = [g for g in pending if g.inputs[0] is output and g.inputs[1] is seed]
            results = vjp(graph, output, symbolic(seed), [g.inputs[2] for g in group])
            for placeholder, result in zip(group, results):
                graph.replace_all_uses(placeholder, _node_of(current_trace(), result))
                graph.erase(placeholder)
            changed = True


def _node_of(trace, tensor: Tensor) -> Node:
    return tensor._node if tensor.is_symbolic else trace.lift(tensor)


def _check_weights(weights, fn):
    """The weights as a list; each must be a Parameter, and one of fn's own when fn is a Cell (a
    Parameter the network never reads would silently get a zero gradient)."""
    if weights is None:
        return []
    weights = list(weights) if isinstance(weights, (list, tuple)) else [weights]
    owned = {id(p) for p in fn.get_parameters()} if hasattr(fn, "get_parameters") else None
    for w in weights:
        if not getattr(w, "is_parameter", False):
            raise GraphcError(f"weights must be Parameters (e.g. net.trainable_params()), got {type(w).__name__}")
        if owned is not None and id(w) not in owned:
            raise GraphcError(f"weight {w.name!r} is not a Parameter of the {type(fn).__name__} being differentiated; "
                              "pass that network's own Parameters (e.g. net.trainable_params())")
    return weights


def _positions(grad_position, count):
    if grad_position is None:
        return ()
    positions = (grad_position,) if isinstance(grad_position, int) else tuple(grad_position)
    for p in positions:
        if not -count <= p < count:
            raise GraphcError(f"grad_position {p} is out of range: the function was called with {count} "
                              f"positional argument(s)")
    return tuple(p % count for p in positions)


def _differentiate(fn, args, grad_position, weights, has_aux, sens=None):
    """Inside a trace: (value, grads) of fn at args, grads shaped like MindSpore's."""
    trace = current_trace()
    positions = _positions(grad_position, len(args))
    for p in positions:
        if not isinstance(args[p], Tensor):
            raise GraphcError(f"argument {p} is a {type(args[p]).__name__}; only Tensor arguments can be differentiated")
    value = fn(*args)
    out = value[0] if has_aux or isinstance(value, tuple) else value
    if not isinstance(out, Tensor) or not out.dtype.is_float:
        raise GraphcError("the differentiated function must return a float Tensor (or a tuple whose first item is one)")
    seed = ops.broadcast_to(Tensor(np.asarray(1.0 if sens is None else sens, out.dtype.np)), shape=out.shape)
    wrt = [_node_of(trace, args[p]) for p in positions] + [_node_of(trace, w) for w in weights]
    grads = [ops.grad(out, seed, symbolic(w)) for w in wrt]
    input_grads, weight_grads = grads[:len(positions)], tuple(grads[len(positions):])
    if positions and weights:
        result = (input_grads[0] if isinstance(grad_position, int) else tuple(input_grads), weight_grads)
    elif weights:
        result = weight_grads
    else:
        result = input_grads[0] if isinstance(grad_position, int) else tuple(input_grads)
    return value, result


def value_and_grad(fn, grad_position=0, weights=None, has_aux=False):
    """MindSpore's value_and_grad: returns a function giving (fn(*args), gradients)."""
    weights = _check_weights(weights, fn)
    if grad_position is None and not weights:
        raise GraphcError("grad_position is None and no weights were given: there is nothing to differentiate")
    compiled = {}     # backend -> JitFunction: later calls reuse the graph compiled for their signature

    def inner(*args):
        return _differentiate(fn, args, grad_position, weights, has_aux)

    def call(*args):
        if current_trace() is not None:
            return inner(*args)
        backend = None if context.get_context("mode") == context.GRAPH_MODE else "interp"
        if backend not in compiled:
            from .jit import JitFunction
            compiled[backend] = JitFunction(inner, name=f"grad_{getattr(fn, '__name__', type(fn).__name__)}",
                                            backend=backend)
        return compiled[backend](*args)

    return call


def grad(fn, grad_position=0, weights=None, has_aux=False):
    """MindSpore's grad: the gradients only (and the aux outputs when has_aux)."""
    both = value_and_grad(fn, grad_position, weights, has_aux)

    def call(*args):
        value, grads = both(*args)
        return (grads, tuple(value[1:])) if has_aux else grads

    return call
