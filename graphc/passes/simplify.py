"""Algebraic simplification: identities that hold bit for bit, NaN and signed zero included.

    x * 1, 1 * x, x / 1       -> x
    x + (-0.0), (-0.0) + x    -> x    (x + (+0.0) is NOT x: -0.0 + +0.0 = +0.0; for integers any 0)
    x - (+0.0)                -> x    (x - (-0.0) is NOT x, for the same reason)
    neg(neg(x))               -> x
    reshape(reshape(x))       -> reshape(x);  reshape, broadcast_to or cast to x's own type -> x
    transpose(transpose(x))   -> one transpose with the composed permutation; identity -> x
    cast(cast(x, B), C)       -> x when C is x's dtype, or cast(x, C) when C is a float or bool type,
                                 provided every value of x's dtype is exact in B (f32->f64, i32->i64,
                                 i32->f64, f16/bf16->f32/f64, bool->any): f64->f32->f64 rounds, so it stays

A rewrite keeps the node's type: x * ones(2, 3) with x of shape (3,) broadcasts, so it stays.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from ..types import DType, bfloat16, bool_, float16, float32, float64, int32, int64
from .manager import PassContext, register_pass
from .rewrite import in_regions, replace_node

_EXACT_CASTS = {(int32, int64), (int32, float64), (float32, float64), (float16, float32), (float16, float64),
                (bfloat16, float32), (bfloat16, float64)}                            # plus bool -> anything


@register_pass("simplify")
def simplify(graph: Graph, ctx: PassContext) -> bool:
    changed = in_regions(simplify, graph, ctx)      # each control-flow region, as a graph of its own
    for node in list(graph.order()):
        rule = _RULES.get(node.op)
        result = rule(node) if rule else None
        if isinstance(result, Node):
            graph.replace_all_uses(node, result)
            graph.erase(node)
        elif result is not None:
            replace_node(graph, node, *result)
        changed |= result is not None
    return changed


# Each rule returns an existing node with the same value, (op, operands, attrs) for a new node
# to take this node's place, or None.
def _drop_identity(node, left_identity, right_identity):
    """The operand x of `x op e` (or `e op x`) when e is all identity elements and x has node's type."""
    x, y = node.inputs
    if right_identity and _all(y, right_identity) and x.type == node.type:
        return x
    if left_identity and _all(x, left_identity) and y.type == node.type:
        return y
    return None


def _neg(node):
    x = node.inputs[0]
    return x.inputs[0] if x.op == "neg" else None


def _reshape(node):
    x = node.inputs[0]
    if x.op == "reshape":
        x = x.inputs[0]
    if x.type == node.type:
        return x
    return ("reshape", (x,), node.attrs) if x is not node.inputs[0] else None


def _transpose(node):
    x, perm = node.inputs[0], node.attrs["perm"]
    if x.op != "transpose":
        return x if _is_identity(perm) else None
    source, composed = x.inputs[0], tuple(x.attrs["perm"][p] for p in perm)
    return source if _is_identity(composed) else ("transpose", (source,), {"perm": composed})


def _same_type(node):
    x = node.inputs[0]
    return x if x.type == node.type else None


def _cast(node):
    x, dtype = node.inputs[0], node.attrs["dtype"]
    if x.type == node.type:
        return x
    if x.op != "cast" or not _exact_cast(x.inputs[0].type.dtype, x.type.dtype):
        return None
    source = x.inputs[0]
    if source.type.dtype == dtype:
        return source
    return ("cast", (source,), node.attrs) if dtype.is_float or dtype == bool_ else None


_RULES = {
    "mul": lambda node: _drop_identity(node, _is_one, _is_one),
    "add": lambda node: _drop_identity(node, _is_negative_zero, _is_negative_zero),
    "sub": lambda node: _drop_identity(node, None, _is_positive_zero),
    "div": lambda node: _drop_identity(node, None, _is_one),
    "neg": _neg, "reshape": _reshape, "transpose": _transpose, "broadcast_to": _same_type, "cast": _cast,
}


# -- helpers -------------------------------------------------------------------------------------------
def _constant(node: Node) -> np.ndarray | None:
    """The value of a constant, looking through a broadcast of one (fold keeps big broadcasts)."""
    if node.op == "broadcast_to":
        node = node.inputs[0]
    return node.attrs["value"] if node.op == "const" else None


def _all(node: Node, predicate) -> bool:
    value = _constant(node)
    return value is not None and bool(np.all(predicate(value)))


def _is_one(value: np.ndarray) -> np.ndarray:
    return value == 1


def _is_negative_zero(value: np.ndarray) -> np.ndarray:
    """The identity of addition: -0.0 for floats (as -0.0 + -0.0 = -0.0), 0 for integers."""
    return (value == 0) & np.signbit(value) if value.dtype.kind == "f" else value == 0


def _is_positive_zero(value: np.ndarray) -> np.ndarray:
    """The identity of subtraction: +0.0 for floats (as -0.0 - +0.0 = -0.0), 0 for integers."""
    return (value == 0) & ~np.signbit(value) if value.dtype.kind == "f" else value == 0


def _is_identity(perm: tuple[int, ...]) -> bool:
    return perm == tuple(range(len(perm)))


def _exact_cast(source: DType, target: DType) -> bool:
    return source == bool_ or source == target or (source, target) in _EXACT_CASTS
