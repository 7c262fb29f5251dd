"""The inference graph every export format starts from (docs/export.md).

`inference_graph(net, inputs, file_format, pipeline)` traces `net` as Model.predict runs it (batch
norm on its moving statistics, dropout off; the network's mode is restored after) on float32 sample
inputs, and optimizes it with `pipeline` on the interpreter backend, so nothing is JIT-compiled:
the pipeline predict compiles with by default (what the native library runs), or an earlier stage
of it for a format that lowers graph ops rather than graphc's fused kernels.
"""
from __future__ import annotations

from inspect import Parameter, signature
from typing import Sequence

import numpy as np

from ..compiler import compile_graph
from ..errors import ArgumentError, GraphcError
from ..jit import trace
from ..passes.rewrite import replace_node
from ..types import float32

# ops with no meaning outside the process that traced them, whatever the format
NOT_PORTABLE = {"allreduce": "a collective needs the process group of a distributed job"}


def inference_graph(net, inputs: Sequence, file_format: str, pipeline: str | None = None, frozen: bool = False):
    """(the optimized inference graph, its parameters by name) of `net` on arrays shaped as `inputs`.
    frozen: the parameters it only reads become constants before the pipeline runs (_freeze)."""
    if not isinstance(inputs, (list, tuple)):
        raise ArgumentError(f"inputs must be a list or tuple of sample inputs (one per construct argument), got "
                            f"{type(inputs).__name__}; e.g. [np.zeros((1, 1, 32, 32), np.float32)]")
    arrays = [np.asarray(x.asnumpy() if hasattr(x, "asnumpy") else x) for x in inputs]
    for k, array in enumerate(arrays):
        if array.dtype != np.float32:
            raise ArgumentError(f"input {k} is {array.dtype}{list(array.shape)}: file_format={file_format!r} takes "
                                "float32 inputs; pass float32 sample inputs (cast in the network if it needs "
                                "another type)")
    training = getattr(net, "training", False)
    net.set_train(False)
    try:
        traced = trace(net, tuple(arrays), name=type(net).__name__)
    finally:
        net.set_train(training)
    for node, name in zip(traced.graph.inputs, _argument_names(net, len(arrays))):
        node.attrs["name"] = name          # an ONNX or MindIR input is fed by name: construct's, not arg0
    if frozen:
        _freeze(traced.graph, traced.params)
    graph = compile_graph(traced.graph, traced.params, backend="interp", pipeline=pipeline).graph
    for k, out in enumerate(graph.outputs):
        if out.type.dtype != float32:
            raise GraphcError(f"output {k} of {type(net).__name__} is {out.type}: file_format={file_format!r} "
                              "returns float32 outputs; cast it in construct", loc=out.loc)
    return graph, traced.params


def _freeze(graph, params) -> None:
    """An exported model's weights never change, so as constants `fold` computes everything that
    depends on them alone (batch norm's scale and shift, and with fold-batch-norm the folded weights).
    A parameter the network assigns stays one (the format then refuses the assign); meta["param"]
    keeps each constant's parameter name."""
    assigned = {node.inputs[0].id for node in graph.of_op("assign")}
    for node in graph.params:
        if node.id not in assigned:
            name = node.attrs["name"]
            node.meta["param"] = name
            replace_node(graph, node, "const", (), {"value": params[name].asnumpy().copy()})


def _argument_names(net, count: int) -> list[str]:
    """construct's positional parameter names (a *args parameter's inputs: args0, args1, ...)."""
    names = []
    for parameter in signature(net.construct).parameters.values():
        if parameter.kind in (Parameter.POSITIONAL_ONLY, Parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
        elif parameter.kind == Parameter.VAR_POSITIONAL:
            names += [f"{parameter.name}{k}" for k in range(count - len(names))]
    return (names + [f"arg{k}" for k in range(len(names), count)])[:count]


def cannot_express(node, file_format: str, why: str) -> GraphcError:
    """The error for a node a format has no way to write, at the user's line that made it."""
    return GraphcError(f"file_format={file_format!r} cannot express op {node.op} (node %{node.id}: {node.type}, "
                       f"scope {node.scope or 'top level'}): {why}; export the network without it", loc=node.loc)
