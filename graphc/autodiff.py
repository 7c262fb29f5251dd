"""graphc.grad and graphc.value_and_grad, MindSpore's gradient API.

While tracing, they record `grad` placeholder nodes (output, seed, wrt); the autodiff pass
(graphc/passes/autodiff.py) replaces them by the gradient subgraph. Called outside a trace, the
function is traced and compiled like a graph-mode function (through `tracing.graph_function`).
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from . import context, ops, pytree
from .autograph import convert
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
    grads = [_sum(ops.get("grad")(out, seed, symbolic(w)) for out, seed in zip(outputs, seeds)) for w in wrt]
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


def value_and_grad(fn, grad_position=0, weights=None, has_aux=False, return_ids=False, sens_param=False):
    """MindSpore's value_and_grad: returns a function giving (fn(*args), gradients).

    return_ids pairs each gradient with its input position or its Parameter's name; sens_param
    takes the output's gradient (sens) as one more, last, argument (or as the keyword `sens`)."""
    weights = _check_weights(weights, fn)
    if grad_position is None and not weights:
        raise GraphcError("grad_position is None and no weights were given: there is nothing to differentiate")
    compiled = {}     # backend -> JitFunction: later calls reuse the graph compiled for their signature

    def inner(*args):
        count = len(args) - sens_param           # the inputs of fn: a position may not name the sens
        traced = convert(fn)                     # it runs traced: its Python control flow over tensors compiles
        if not sens_param:
            value, grads = _differentiate(traced, args, grad_position, weights, has_aux)
        else:
            _positions(grad_position, count)
            (_, value), grads = _differentiate(_seeded(traced, has_aux), args, grad_position, weights, True)
        return value, _with_ids(grads, grad_position, weights, count) if return_ids else grads

    def call(*args, **kwargs):
        args = args + _sens_keyword(kwargs, sens_param)
        if current_trace() is not None:
            return inner(*args)
        backend = None if context.get_context("mode") == context.GRAPH_MODE else "interp"
        if backend not in compiled:
            # a Cell's training flags decide what it traces to (dropout, batch norm): they key the graph
            owner = fn if hasattr(fn, "training_modes") else None
            compiled[backend] = graph_function(inner, name=f"grad_{getattr(fn, '__name__', type(fn).__name__)}",
                                               owner=owner, backend=backend)
        return compiled[backend](*args)

    return call


def grad(fn, grad_position=0, weights=None, has_aux=False, return_ids=False, sens_param=False):
    """MindSpore's grad: the gradients only (and the aux outputs when has_aux)."""
    both = value_and_grad(fn, grad_position, weights, has_aux, return_ids, sens_param)

    def call(*args, **kwargs):
        value, grads = both(*args, **kwargs)
        return (grads, tuple(value[1:])) if has_aux else grads

    return call


# -- sens_param: the output's gradient given by the caller ------------------------------------------------
def _sens_keyword(kwargs: dict, sens_param: bool) -> tuple:
    """The sens given as the keyword `sens` (MindSpore's other spelling), as a last argument."""
    if kwargs.keys() - {"sens"} or (kwargs and not sens_param):
        raise GraphcError(f"a gradient function takes its inputs positionally, got keyword(s) {', '.join(kwargs)}"
                          + ("" if sens_param else "; to pass the output's gradient (sens), set sens_param=True"))
    return (kwargs["sens"],) if kwargs else ()


def _seeded(fn, has_aux: bool):
    """fn taking its output's gradient (sens) as a last argument: it returns (<output, sens>, fn's
    output). The backward pass is linear in its seed, so the gradient of that inner product is
    the backward pass seeded with sens. With has_aux only the first output is seeded."""
    def seeded(*args):
        *inputs, sens = args
        value = fn(*inputs)
        return _seed_product(value[0] if has_aux else value, sens), value
    return seeded


def _seed_product(out, sens):
    """<out, sens>, over tuples of outputs item by item. As MindSpore 2.10: a sens must have the
    output's shape and dtype, except that a scalar output takes a sens of any shape and uses its sum
    (PYNATIVE_MODE) and a 0-d sens is broadcast to the output (GRAPH_MODE); graphc does both in both."""
    if isinstance(out, (tuple, list)):
        if not isinstance(sens, (tuple, list)) or len(sens) != len(out):
            raise GraphcError(f"the function returns {len(out)} outputs, so sens must be a tuple of {len(out)} "
                              f"gradients, one per output; got {_describe(sens)}")
        products = [_seed_product(o, s) for o, s in zip(out, sens)]
        return sum(products[1:], products[0])
    if not isinstance(sens, Tensor) or sens.dtype != out.dtype or not (
            sens.shape == out.shape or out.ndim == 0 or sens.ndim == 0):
        raise GraphcError(f"sens (the gradient of the output) is {_describe(sens)} but the output is {out.type}; "
                          "pass a Tensor of the output's shape and dtype")
    if out.ndim == 0 and sens.ndim:
        return out * ops.reduce_sum(sens)
    return ops.reduce_sum(out * sens)


# -- return_ids -------------------------------------------------------------------------------------------
def _with_ids(grads, grad_position, weights, count: int):
    """MindSpore's return_ids: each gradient paired with its input position or its Parameter's name,
    in the same structure as the gradients."""
    names = tuple(zip((w.name for w in weights), grads[-1] if grad_position is not None else grads)) \
        if weights else ()
    if grad_position is None:
        return names
    inputs = grads[0] if weights else grads
    positions = _positions(grad_position, count)
    inputs = (positions[0], inputs) if isinstance(grad_position, int) else tuple(zip(positions, inputs))
    return (inputs, names) if weights else inputs
