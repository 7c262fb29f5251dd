"""FLOPs of a network's forward pass, counted on its traced graph by each op's `flops` rule."""
from __future__ import annotations

from ..inspect import node_flops
from ..nn.cell import Cell
from ..tracing import Trace, symbolic, tracing
from ..types import TensorType, float32

__all__ = ["count_flops"]


def count_flops(network: Cell, input_shape: tuple[int, ...]) -> int:
    """Floating-point operations (a multiply-add counts 2) of one inference forward pass of `network`
    on a float32 input of `input_shape`, e.g. (1, 3, 32, 32) for one CIFAR-size image.

    The network is traced in eval mode (batch norm uses its moving statistics, dropout is the
    identity) and nothing runs; its training flag is restored afterwards."""
    modes = [(cell, cell.training) for _, cell in network.cells_and_names()]
    network.set_train(False)
    trace = Trace("flops")
    try:
        with tracing(trace):
            shape = tuple(input_shape)
            x = trace.graph.add("input", (), {"name": "x", "index": 0, "type": TensorType(shape, float32)},
                                TensorType(shape, float32))
            network(symbolic(x))
    finally:
        for cell, training in modes:
            cell.training = training
    return sum(node_flops(node) for node in trace.graph.order())
