"""MaxPool2d and AvgPool2d over NCHW inputs."""
from __future__ import annotations

from ... import ops
from ...errors import ArgumentError
from ..cell import Cell
from .checks import check_tensor, input_error, pair

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d"]


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
        return ops.get("max_pool2d")(x, **self._window)


class AvgPool2d(_Pool2d):
    def construct(self, x):
        self._check(x)
        return ops.get("avg_pool2d")(x, **self._window)


class AdaptiveAvgPool2d(Cell):
    """The mean over windows that split H and W into output_size (an int, a pair, None keeps that
    size). (1, 1) is global average pooling, a mean over H and W; other sizes must divide the input."""

    def __init__(self, output_size):
        super().__init__()
        sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) \
            else tuple(output_size)
        if len(sizes) != 2 or not all(s is None or (isinstance(s, int) and s >= 1) for s in sizes):
            raise ArgumentError(f"AdaptiveAvgPool2d: output_size must be an int >= 1, None or a pair of them, "
                                f"got {output_size!r}")
        self.output_size = sizes

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim != 4:
            raise input_error(self, x, "input [N, C, H, W] (NCHW)", "give it a 4-D batch of feature maps")
        out = tuple(size if want is None else want for size, want in zip(x.shape[2:], self.output_size))
        if out == (1, 1):
            return ops.reduce_mean(x, axis=(2, 3), keep_dims=True)
        if any(size % want for size, want in zip(x.shape[2:], out)):
            raise input_error(self, x, f"H and W divisible by output_size {out}",
                              "windows of unequal size are not supported yet; choose an output_size that divides "
                              "the input size, or (1, 1) for global pooling")
        window = tuple(size // want for size, want in zip(x.shape[2:], out))
        return ops.get("avg_pool2d")(x, kernel_size=window, stride=window)

    def extend_repr(self) -> str:
        return f"output_size={self.output_size}"
