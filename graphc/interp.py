"""The reference interpreter: runs any graph through the ops' NumPy references.

It defines what a graph means; every pass and the native backend are checked against it.
Parameter writes (assign nodes) take effect after the whole graph has run, so every read of a
parameter inside one call sees its value from before the call.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import ops
from .ir import Graph, Node


def run(graph: Graph, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray] | None = None,
        ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Evaluate graph; returns (outputs, {param name: new value}) without mutating `params`."""
    params = params or {}
    values: dict[int, np.ndarray] = {}
    updates: dict[str, np.ndarray] = {}
    for node in graph.order():
        if node.op == "fused":
            values[node.id] = _run_region(node, values, updates)
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
