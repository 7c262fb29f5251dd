"""DistributedGradReducer (MindSpore's nn.DistributedGradReducer): the gradients of a data-parallel
step summed (or averaged) over every rank, with one allreduce over one packed buffer.

Traced, it records `pack(gradients...) -> allreduce -> unpack` (then a multiply by 1/ranks for the
mean, which fuses into the optimizer's update loops). The memory plan computes each gradient straight
into its place in the pack and runs the allreduce in place, and unpack's slices are views, so the
reduction copies nothing (graphc/passes/memory.py).
"""
from __future__ import annotations

from .. import ops
from ..communication import get_group_size
from ..tracing import Tensor
from .cell import Cell

__all__ = ["DistributedGradReducer"]


class DistributedGradReducer(Cell):
    """construct(grads): each gradient summed over `degree` ranks, divided by degree when `mean`.
    with_loss(loss, grads) also returns the mean of the ranks' losses (in the same allreduce)."""

    def __init__(self, parameters, mean: bool = True, degree: int | None = None):
        super().__init__(auto_prefix=False)
        self.parameters = tuple(parameters)
        self.mean = mean
        self.degree = get_group_size() if degree is None else degree
        if not isinstance(self.degree, int) or self.degree < 1:
            raise ValueError(f"DistributedGradReducer: degree must be a positive int, got {self.degree!r}")

    def construct(self, grads):
        return self._reduced(tuple(grads))

    def with_loss(self, loss: Tensor, grads) -> tuple:
        """(the loss averaged over the ranks, the reduced gradients): one allreduce for both."""
        loss, *grads = self._reduced((loss,) + tuple(grads), scales=(True,) + (self.mean,) * len(grads))
        return loss, tuple(grads)

    def _reduced(self, values: tuple, scales: tuple | None = None) -> tuple:
        summed = ops.unpack(ops.allreduce(ops.pack(*values), ranks=self.degree), values)
        scales = scales or (self.mean,) * len(values)
        return tuple(v * (1.0 / self.degree) if scale and self.degree > 1 else v for v, scale in zip(summed, scales))
