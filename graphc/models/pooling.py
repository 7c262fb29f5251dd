"""GlobalAvgPooling: the mean over each feature map, as mindcv's classifiers end."""
from __future__ import annotations

from .. import ops
from ..nn.cell import Cell

__all__ = ["GlobalAvgPooling"]


class GlobalAvgPooling(Cell):
    """[N, C, H, W] -> [N, C] (or [N, C, 1, 1] with keep_dims)."""

    def __init__(self, keep_dims: bool = False):
        super().__init__()
        self.keep_dims = keep_dims

    def construct(self, x):
        return ops.reduce_mean(x, axis=(2, 3), keep_dims=self.keep_dims)
