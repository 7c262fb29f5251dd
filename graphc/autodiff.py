"""graphc.grad and graphc.value_and_grad, MindSpore's gradient API.

While tracing, they record `grad` placeholder nodes (output, seed, wrt); the autodiff pass
(graphc/passes/autodiff.py) replaces them by the gradient subgraph. Called outside a trace, the
function is traced and compiled like a graph-mode function (through `tracing.graph_function`).
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from . import context, ops, pytree
from .errors import GraphcError
from .tracing import Tensor, current_trace, graph_function, symbolic


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
    wrt = [trace.node_of(args[p]) for p in positions] + [trace.node_of(w) for w in weights]
    outputs = _differentiated_outputs(value[0] if has_aux else value, trace, wrt)
    seeds = [_seed(out, sens) for out in outputs]
    grads = [_sum(ops.grad(out, seed, symbolic(w)) for out, seed in zip(outputs, seeds)) for w in wrt]
    input_grads, weight_grads = grads[:len(positions)], tuple(grads[len(positions):])
    if positions and weights:
        result = (input_grads[0] if isinstance(grad_position, int) else tuple(input_grads), weight_grads)
    elif weights:
        result = weight_grads
    else:
        result = input_grads[0] if isinstance(grad_position, int) else tuple(input_grads)
    return value, result


def _differentiated_outputs(out, trace, wrt) -> list[Tensor]:
    """The float Tensors of what is differentiated. Without has_aux, MindSpore differentiates every
    output of a tuple (or list), each with a sens of ones, and sums the gradients. An integer output
    computed from what is differentiated is refused: MindSpore passes a gradient back through a cast
    to an integer type, and graphc's cast has none, so the sums would differ."""
    leaves, _ = pytree.flatten(out, lambda leaf: isinstance(leaf, Tensor))
    for i, leaf in enumerate(leaves):
        if not leaf.dtype.is_float and any(nx.has_path(trace.graph.nx, w.id, trace.node_of(leaf).id) for w in wrt):
            raise GraphcError(f"output {i} of the differentiated function is {leaf.type}, an integer Tensor computed "
                              "from what is differentiated; MindSpore would add a gradient through its cast to an "
                              "integer type and graphc adds none: return it as an auxiliary output (has_aux=True) "
                              "or compute it outside the differentiated function")
    floats = [leaf for leaf in leaves if leaf.dtype.is_float]
    if not floats:
        raise GraphcError("the differentiated function must return a float Tensor or a tuple of Tensors "
                          f"with a float one, got {_describe(out)}")
    return floats


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return str(value.type)
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}({', '.join(_describe(v) for v in value)})"
    return type(value).__name__


def _seed(out: Tensor, sens) -> Tensor:
    return ops.broadcast_to(Tensor(np.asarray(1.0 if sens is None else sens, out.dtype.np)), shape=out.shape)


def _sum(tensors):
    total, *rest = tensors
    for tensor in rest:
        total = total + tensor
    return total


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
            compiled[backend] = graph_function(inner, name=f"grad_{getattr(fn, '__name__', type(fn).__name__)}",
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
