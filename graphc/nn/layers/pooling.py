"""MaxPool2d and AvgPool2d over NCHW inputs."""
from __future__ import annotations

from ... import ops
from ...errors import ArgumentError
from ..cell import Cell
from .checks import check_tensor, input_error, pair

__all__ = ["AvgPool2d", "MaxPool2d"]


class _Pool2d(Cell):
    def __init__(self, kernel_size=1, stride=1, pad_mode="valid"):
        super().__init__()
        kind = type(self).__name__
        if pad_mode.lower() not in ("valid", "same"):
            raise ArgumentError(f"{kind}: pad_mode must be 'valid' or 'same', got {pad_mode!r}")
        self.kernel_size = pair(kernel_size, f"{kind}: kernel_size")
        self.stride = pair(stride, f"{kind}: stride")
        self.pad_mode = pad_mode.lower()

    def _check(self, x):
        check_tensor(self, x)
        if x.ndim != 4:
            raise input_error(self, x, "input [N, C, H, W] (NCHW)", "give it a 4-D batch of feature maps")

    @property
    def _window(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "pad_mode": self.pad_mode}

    def extend_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}"


class MaxPool2d(_Pool2d):
    def construct(self, x):
        self._check(x)
        return ops.max_pool2d(x, **self._window)


class AvgPool2d(_Pool2d):
    def construct(self, x):
        self._check(x)
        return ops.avg_pool2d(x, **self._window)
