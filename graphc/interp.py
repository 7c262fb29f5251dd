"""The reference interpreter: runs any graph through the ops' NumPy references.

It defines what a graph means; every pass and the native backend are checked against it.
Parameter writes (assign nodes) take effect after the whole graph has run, so every read of a
parameter inside one call sees its value from before the call. A control-flow node's value is the
tuple of its results (docs/ir.md, "Control flow"); its regions run as graphs of their own.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import ops
from .ir import Graph, Node
from .ir.control import STRUCTURAL


def run(graph: Graph, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray] | None = None,
        ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Evaluate graph; returns (outputs, {param name: new value}) without mutating `params`."""
    params = params or {}
    values: dict[int, np.ndarray] = {}
    updates: dict[str, np.ndarray] = {}
    for node in graph.order():
        if node.op == "fused":
            values[node.id] = _run_region(node, values, updates)
        elif node.op in STRUCTURAL:
            values[node.id] = _run_control(node, [values[i.id] for i in node.inputs])
        else:
            values[node.id] = _evaluate(node, values, inputs, params)
        if node.op == "assign":
            updates[node.inputs[0].attrs["name"]] = values[node.id]
    return [values[out.id] for out in graph.outputs], updates


def _evaluate(node: Node, values, inputs, params) -> np.ndarray:
    if node.op == "input":
        return inputs[node.attrs["index"]]
    if node.op == "param":
        return params[node.attrs["name"]]
    op = ops.get(node.op)
    return op.run([values[i.id] for i in node.inputs], node.attrs, node.type)


def _run_region(node: Node, values, updates) -> np.ndarray:
    """A fused node runs its body; the body's assigns target inputs named after their parameters."""
    outputs, written = run(node.attrs["body"], [values[i.id] for i in node.inputs])
    updates.update(written)
    return outputs[0]


def _run_control(node: Node, operands: list):
    """A get node's element, or a control-flow node's results as a tuple of arrays."""
    attrs = node.attrs
    if node.op == "get":
        return operands[0][attrs["index"]]
    if node.op == "cond":
        return tuple(_call(attrs["then_branch"] if operands[0] else attrs["else_branch"], operands[1:]))
    if node.op == "while":
        carried = len(attrs["body"].outputs)
        carry, consts = operands[:carried], operands[carried:]
        while _call(attrs["cond"], carry + consts)[0]:
            carry = _call(attrs["body"], carry + consts)
        return tuple(carry)
    return _run_scan(node, operands)


def _run_scan(node: Node, operands: list) -> tuple:
    """Step t reads slice t of each scanned operand and writes slice t of each stacked result, in
    order of t (from the last step when reverse)."""
    k, n, length = node.attrs["carried"], node.attrs["scanned"], node.attrs["length"]
    carry, xs, consts = operands[:k], operands[k:k + n], operands[k + n:]
    stacked = [np.empty(t.shape, t.dtype.np) for t in node.type.elements[k:]]
    for step in (reversed(range(length)) if node.attrs["reverse"] else range(length)):
        outputs = _call(node.attrs["body"], carry + [x[step] for x in xs] + consts)
        carry = outputs[:k]
        for result, y in zip(stacked, outputs[k:]):
            result[step] = y
    return tuple(carry) + tuple(stacked)


def _call(region: Graph, arguments: list) -> list[np.ndarray]:
    """A control-flow region's outputs (regions are pure: they read no parameters and write none)."""
    return run(region, arguments)[0]
