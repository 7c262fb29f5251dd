"""MaxPool2d and AvgPool2d over NCHW (or CHW) inputs, with MindSpore 2.x's arguments.

pad_mode 'valid' and 'same' run the pooling ops as they are. pad_mode='pad' (with `padding`,
`ceil_mode`, and for AvgPool2d `count_include_pad` and `divisor_override`) pads the input with the
pad op (-inf for the maximum, zeros for the average) and pools it 'valid'; an average then rescales
each window by a constant map from the window geometry, so both keep the ops' kernels and gradients.
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import ops
from ...ops.function.nn_func import window_argmax
from ...ops.pad import pad_op
from ...errors import ArgumentError
from ...tracing import Tensor
from ..cell import Cell
from .checks import check_tensor, input_error, pair

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d"]


def _symmetric_padding(padding, kind: str) -> tuple[int, int]:
    """(rows, columns) padded on both sides, from an int or MindSpore's (h, w) or (p,)."""
    values = (padding,) if isinstance(padding, numbers.Integral) else tuple(padding)
    values = values * 2 if len(values) == 1 else values
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
                                   for v in values):
        raise ArgumentError(f"{kind}: padding must be an int >= 0 or a pair (h, w) of them, got {padding!r}")
    return int(values[0]), int(values[1])


def _padded_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> tuple[int, int]:
    """(outputs, extra zeros after the input and its padding) along one axis. With ceil_mode the last
    window may run past the padded input, but must start inside it (PyTorch's and MindSpore's rule)."""
    span = size + 2 * pad - kernel
    outputs = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (outputs - 1) * stride >= size + pad:
        outputs -= 1
    return outputs, max((outputs - 1) * stride + kernel - (size + 2 * pad), 0)


def _window_counts(size: int, kernel: int, stride: int, pad: int, outputs: int, include_pad: bool) -> np.ndarray:
    """How many elements each window covers along one axis: of the input and its padding, or of the
    input alone (never the ceil_mode overrun)."""
    starts = np.arange(outputs) * stride - pad
    low, high = (-pad, size + pad) if include_pad else (0, size)
    return np.clip(starts + kernel, low, high) - np.clip(starts, low, high)


class _Pool2d(Cell):
    _PAD_VALUE = 0.0

    def __init__(self, kernel_size=1, stride=1, pad_mode="valid", padding=0, ceil_mode=False, data_format="NCHW"):
        super().__init__()
        kind = type(self).__name__
        if not isinstance(pad_mode, str) or pad_mode.lower() not in ("valid", "same", "pad"):
            raise ArgumentError(f"{kind}: pad_mode must be 'valid', 'same' or 'pad', got {pad_mode!r}")
        if data_format != "NCHW":
            raise ArgumentError(f"{kind}: only data_format='NCHW' is supported, got {data_format!r}")
        self.kernel_size = pair(kernel_size, f"{kind}: kernel_size")
        self.stride = pair(stride, f"{kind}: stride")
        self.pad_mode, self.padding = pad_mode.lower(), _symmetric_padding(padding, kind)
        self.ceil_mode = bool(ceil_mode)
        if self.pad_mode != "pad" and any(self.padding):
            raise ArgumentError(f"{kind}: padding={padding!r} needs pad_mode='pad' (pad_mode={pad_mode!r})")
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ArgumentError(f"{kind}: padding {self.padding} must be at most half the kernel {self.kernel_size} "
                                "on each axis, so that every window holds an input element")

    def _refuse_unless_padded(self, *options) -> None:
        """options: (name, value, default); MindSpore takes those not at their default only with pad_mode='pad'."""
        given = [f"{name}={value!r}" for name, value, default in options if value != default]
        if given and self.pad_mode != "pad":
            raise ArgumentError(f"{type(self).__name__}: {', '.join(given)} needs pad_mode='pad' "
                                f"(pad_mode={self.pad_mode!r})")

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim not in (3, 4):
            raise input_error(self, x, "input [N, C, H, W] (NCHW) or [C, H, W]", "give it a batch of feature maps")
        batch = x if x.ndim == 4 else ops.reshape(x, shape=(1,) + x.shape)
        y = self._pool_padded(batch) if self.pad_mode == "pad" else self._pool(batch, **self._window)
        if x.ndim == 4:
            return y
        return tuple(ops.reshape(t, shape=t.shape[1:]) for t in y) if isinstance(y, tuple) else \
            ops.reshape(y, shape=y.shape[1:])

    def _pool_padded(self, x):
        """Pools x padded by `padding` (and the ceil_mode overrun) with _PAD_VALUE, 'valid'."""
        padded, outputs = self._padded(x)
        return self._rescale(self._pool(padded, kernel_size=self.kernel_size, stride=self.stride, pad_mode="valid"),
                             x, outputs)

    def _padded(self, x):
        """(x padded by `padding` and the ceil_mode overrun with _PAD_VALUE, the outputs along H and W)."""
        geometry = [_padded_size(size, k, s, p, self.ceil_mode)
                    for size, k, s, p in zip(x.shape[2:], self.kernel_size, self.stride, self.padding)]
        pads = tuple((p, p + extra) for p, (_, extra) in zip(self.padding, geometry))
        return pad_op(x, paddings=((0, 0), (0, 0)) + pads, value=self._PAD_VALUE), [outputs for outputs, _ in geometry]

    def _rescale(self, pooled, x, outputs):
        return pooled

    @property
    def _window(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "pad_mode": self.pad_mode}

    def extend_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}"
        return text + (f", padding={self.padding}, ceil_mode={self.ceil_mode}" if self.pad_mode == "pad" else "")


class MaxPool2d(_Pool2d):
    """The maximum of each window. pad_mode='pad' pads with -inf, so padding never wins."""
    _PAD_VALUE = -np.inf

    def __init__(self, kernel_size=1, stride=1, pad_mode="valid", padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, data_format="NCHW"):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode, data_format)
        self._refuse_unless_padded(("ceil_mode", ceil_mode, False), ("return_indices", return_indices, False))
        if dilation != 1:
            raise ArgumentError(f"MaxPool2d: dilation={dilation!r} is not supported (graphc's max pooling has no "
                                "dilation); use dilation=1")
        self.return_indices = bool(return_indices)

    def _pool(self, x, **window):
        return ops.get("max_pool2d")(x, **window)

    def _pool_padded(self, x):
        """The maxima, and with return_indices also their int64 indices in each input plane (row · W + column)."""
        values = super()._pool_padded(x)
        if not self.return_indices:
            return values
        return values, window_argmax(self._padded(x)[0], self.kernel_size, self.stride, self.padding, x.shape[3])


class AvgPool2d(_Pool2d):
    """The mean of each window. pad_mode='pad' divides by the window's elements inside the input and
    its padding (count_include_pad=True) or inside the input alone, or by divisor_override; a
    ceil_mode overrun never counts."""

    def __init__(self, kernel_size=1, stride=1, pad_mode="valid", padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, data_format="NCHW"):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode, data_format)
        self._refuse_unless_padded(("ceil_mode", ceil_mode, False), ("count_include_pad", count_include_pad, True),
                                   ("divisor_override", divisor_override, None))
        if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override < 1):
            raise ArgumentError(f"AvgPool2d: divisor_override must be None or an int >= 1, got {divisor_override!r}")
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override

    def _pool(self, x, **window):
        return ops.get("avg_pool2d")(x, **window)

    def _rescale(self, pooled, x, outputs):
        """avg_pool2d divided each window by kh·kw; multiply by kh·kw / the divisor MindSpore uses."""
        window = self.kernel_size[0] * self.kernel_size[1]
        if self.divisor_override is not None:
            return pooled * (window / self.divisor_override)
        counts = [_window_counts(size, k, s, p, n, self.count_include_pad)
                  for size, k, s, p, n in zip(x.shape[2:], self.kernel_size, self.stride, self.padding, outputs)]
        return pooled * Tensor((window / np.outer(*counts)).astype(x.dtype.np))


class AdaptiveAvgPool2d(Cell):
    """The mean over windows that split H and W of [N, C, H, W] or [C, H, W] into output_size (an int,
    a pair, None keeps that size). Window i along an axis of n elements spans [floor(i·n/out),
    ceil((i+1)·n/out)), as MindSpore's: equal windows (one avg_pool2d) where out divides n, overlapping
    ones otherwise."""

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
        if x.ndim not in (3, 4):
            raise input_error(self, x, "input [N, C, H, W] (NCHW) or [C, H, W]", "give it 3-D or 4-D feature maps")
        out = tuple(size if want is None else want for size, want in zip(x.shape[-2:], self.output_size))
        if out == (1, 1):
            return ops.reduce_mean(x, axis=(-2, -1), keep_dims=True)
        if any(size % want for size, want in zip(x.shape[-2:], out)):
            for axis, want in zip((x.ndim - 2, x.ndim - 1), out):
                x = _adaptive_means(x, axis, want)
            return x
        window = tuple(size // want for size, want in zip(x.shape[-2:], out))
        batch = x if x.ndim == 4 else ops.expand_dims(x, 0)
        pooled = ops.get("avg_pool2d")(batch, kernel_size=window, stride=window)
        return pooled if x.ndim == 4 else ops.squeeze(pooled, 0)

    def extend_repr(self) -> str:
        return f"output_size={self.output_size}"


def _adaptive_means(x, axis: int, out: int):
    """The means of out windows along axis, window i spanning [floor(i·n/out), ceil((i+1)·n/out))."""
    n = x.shape[axis]
    windows = [(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]
    return ops.cat([ops.reduce_mean(x[(slice(None),) * axis + (slice(start, stop),)], axis=axis, keep_dims=True)
                    for start, stop in windows], axis)
