"""nn.GraphCell: a Cell that runs a loaded graph (what graphc.load returns), as MindSpore's.

The graph's nodes are graphc ops, so construct replays them through the ops: in PYNATIVE_MODE each
runs its NumPy reference at once; in GRAPH_MODE the Cell is traced like any other, so the replay
records the same nodes and the graph compiles through the normal path. The weights become the
Cell's Parameters under the names the file gives them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from ..errors import ArgumentError
from ..ir import Graph
from ..tracing import Tensor
from .cell import Cell
from .parameter import Parameter

__all__ = ["GraphCell", "LoadedGraph"]


@dataclass(frozen=True)
class LoadedGraph:
    """A graph read from a file: graphc ops, its weights by parameter name, and the file it came from."""
    graph: Graph
    params: dict[str, np.ndarray]
    file: str


class GraphCell(Cell):
    def __init__(self, graph: LoadedGraph, params_init: dict | None = None):
        super().__init__()
        if not isinstance(graph, LoadedGraph):
            raise ArgumentError(f"GraphCell takes the graph graphc.load(file_name) returns, got {type(graph).__name__}")
        self.loaded = graph
        values = dict(graph.params, **{k: np.asarray(v.asnumpy() if hasattr(v, "asnumpy") else v)
                                       for k, v in (params_init or {}).items()})
        for name, value in values.items():
            self._params[name] = Parameter(Tensor(value), name=name)

    def construct(self, *inputs):
        graph = self.loaded.graph
        self._check(inputs)
        values = {}
        for node in graph.order():
            if node.op == "input":
                values[node.id] = inputs[node.attrs["index"]]
            elif node.op == "param":
                values[node.id] = self._params[node.attrs["name"]]
            elif node.op == "const":
                values[node.id] = Tensor(node.attrs["value"])
            else:
                values[node.id] = ops.get(node.op)(*[values[i.id] for i in node.inputs], **node.attrs)
        outputs = tuple(values[out.id] for out in graph.outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def _check(self, inputs) -> None:
        expected = [node.attrs["type"] for node in self.loaded.graph.inputs]
        if len(inputs) != len(expected):
            raise ArgumentError(f"GraphCell({self.loaded.file}) takes {len(expected)} inputs "
                                f"({', '.join(map(str, expected))}), got {len(inputs)}")
        for k, (x, want) in enumerate(zip(inputs, expected)):
            got = getattr(x, "type", None)
            if got is None or tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
                shown = got if got is not None else type(x).__name__
                raise ArgumentError(f"GraphCell({self.loaded.file}): input {k} is {shown} but the graph was exported "
                                    f"for {want}; pass a Tensor of shape {list(want.shape)} and dtype {want.dtype} "
                                    "(or export again with inputs of this shape)")
