"""The driver: a traced graph goes through the pass pipeline and becomes an Executable.

An Executable runs one call of the graph on NumPy arrays and writes the parameters it assigns
back into their Parameters (in place, so their storage never moves).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import context, interp
from .autodiff import expand_gradients
from .ir import Graph


class InterpExecutable:
    """Runs the graph on the reference interpreter."""

    def __init__(self, graph: Graph, params: Mapping[str, object]):
        self.graph, self.params = graph, dict(params)

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        values = {name: p.asnumpy() for name, p in self.params.items()}
        outputs, updates = interp.run(self.graph, inputs, values)
        for name, value in updates.items():
            self.params[name].set_data(value)
        return outputs


def compile_graph(graph: Graph, params: Mapping[str, object], backend: str | None = None):
    """Optimise `graph` and build an executable for it on `backend` (default: the context's)."""
    backend = backend or context.get_context("backend")
    expand_gradients(graph)
    if backend == "interp":
        return InterpExecutable(graph, params)
    # The LLVM backend lands with the codegen issue; until then graphs run on the interpreter.
    return InterpExecutable(graph, params)
