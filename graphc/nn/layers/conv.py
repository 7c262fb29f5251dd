"""Conv2d (NCHW), Conv1d (NCW, a Conv2d over inputs of height 1) and Conv2dTranspose (conv2d's input
gradient), with MindSpore's defaults (pad_mode='same', has_bias=False)."""
from __future__ import annotations

import numbers

from ... import ops
from ...errors import ArgumentError
from ...types import dtype_of, float32
from ..cell import Cell
from ..init import initializer, layer_defaults
from ..parameter import Parameter
from .checks import check_tensor, input_error, pair

__all__ = ["Conv1d", "Conv2d", "Conv2dTranspose"]

PAD_MODES = ("valid", "same", "pad")


def _padding(padding, pad_mode: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int or a 4-tuple; only pad_mode='pad' may pad explicitly."""
    pads = (padding,) * 4 if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(pads) != 4 or not all(isinstance(p, numbers.Integral) and p >= 0 for p in pads):
        raise ArgumentError(f"Conv2d: padding must be an int >= 0 or 4 of them (top, bottom, left, right), "
                            f"got {padding!r}")
    if pad_mode != "pad" and any(pads):
        raise ArgumentError(f"Conv2d: padding={padding!r} needs pad_mode='pad' (pad_mode={pad_mode!r} pads by itself)")
    return tuple(int(p) for p in pads)


class Conv2d(Cell):
    """2-D convolution of an [N, C, H, W] input with a weight of shape (out, in / group, kh, kw)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0, dilation=1,
                 group=1, has_bias=False, weight_init=None, bias_init=None):
        super().__init__()
        if pad_mode not in PAD_MODES:
            raise ArgumentError(f"Conv2d: pad_mode must be one of {', '.join(PAD_MODES)}, got {pad_mode!r}")
        if not isinstance(group, numbers.Integral) or isinstance(group, bool) or group < 1:
            raise ArgumentError(f"Conv2d: group must be an int >= 1, got {group!r}")
        if in_channels % group or out_channels % group:
            raise ArgumentError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                                f"divisible by group ({group}): each group convolves in_channels / group input "
                                f"channels into out_channels / group outputs; for a depthwise convolution use "
                                f"group=in_channels and a multiple of it as out_channels")
        self.in_channels, self.out_channels, self.group = in_channels, out_channels, group
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.dilation = pair(dilation, "Conv2d: dilation")
        self.pad_mode, self.padding = pad_mode, padding
        self._pads = _padding(padding, pad_mode)
        shape = (out_channels, in_channels // group) + self.kernel_size
        self.has_bias = has_bias
        self.weight_init, self.bias_init = layer_defaults(weight_init, bias_init, shape)
        self.weight = Parameter(initializer(self.weight_init, shape), name="weight")
        self.bias = Parameter(initializer(self.bias_init, (out_channels,)), name="bias") if has_bias else None

    def construct(self, x):
        self._check(x)
        return self._convolve(x)

    def _convolve(self, x):
        y = ops.get("conv2d")(x, self.weight, stride=self.stride, pad_mode=self.pad_mode, padding=self._pads,
                       dilation=self.dilation, group=self.group)
        return y + ops.reshape(self.bias, shape=(1, self.out_channels, 1, 1)) if self.has_bias else y

    def _check(self, x):
        check_tensor(self, x)
        expected = f"input [N, {self.in_channels}, H, W] (NCHW)"
        if x.ndim != 4:
            raise input_error(self, x, expected, "give it a 4-D batch of images (add the batch or channel axis "
                                                 "with reshape)")
        if x.shape[1] != self.in_channels:
            raise input_error(self, x, expected,
                              f"the input has {x.shape[1]} channels but the layer was built for {self.in_channels}: "
                              f"feed {self.in_channels}-channel images (NCHW layout) or build "
                              f"Conv2d({x.shape[1]}, {self.out_channels}, ...)")

    def extend_repr(self) -> str:
        return (f"input_channels={self.in_channels}, output_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
                f"padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}, "
                f"weight_init={self.weight_init}, bias_init={self.bias_init}, format=NCHW")


class Conv2dTranspose(Conv2d):
    """The transpose of a Conv2d from out_channels to in_channels with the same settings (a
    "deconvolution"): its weight is (in_channels, out_channels / group, kh, kw), as MindSpore's, and
    it is computed by the conv2d_grad_input op, so it runs on the convolution's kernels. The output
    size is H·stride ('same'), (H - 1)·stride + dilation·(kh - 1) + 1 ('valid'), and that less the
    padding ('pad'), plus output_padding rows and columns at the bottom and right that hold zeros (as
    MindSpore 2.10 gives them, bias included: it pads the result)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0,
                 output_padding=0, dilation=1, group=1, has_bias=False, weight_init=None, bias_init=None,
                 dtype=float32):
        super().__init__(out_channels, in_channels, kernel_size, stride, pad_mode, padding, dilation, group,
                         has_bias=False, weight_init=weight_init, bias_init=bias_init)
        if dtype_of(dtype) != float32:
            raise ArgumentError(f"Conv2dTranspose: dtype must be float32, got {dtype!r}")
        self.output_padding = pair(output_padding, "Conv2dTranspose: output_padding", minimum=0)
        if any(self.output_padding) and pad_mode != "pad":
            raise ArgumentError(f"Conv2dTranspose: output_padding={output_padding!r} needs pad_mode='pad'")
        if any(p >= max(s, d) for p, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ArgumentError(f"Conv2dTranspose: output_padding {self.output_padding} must be smaller than the "
                                f"stride {self.stride} or the dilation {self.dilation}")
        self.in_channels, self.out_channels, self.has_bias = in_channels, out_channels, has_bias
        self.bias = Parameter(initializer(self.bias_init, (out_channels,)), name="bias") if has_bias else None

    def _convolve(self, x):
        size = tuple(self._output_size(axis, d) for axis, d in enumerate(x.shape[2:]))
        y = ops.get("conv2d_grad_input")(x, self.weight, input_shape=(x.shape[0], self.out_channels) + size,
                                         stride=self.stride, pad_mode=self.pad_mode, padding=self._pads,
                                         dilation=self.dilation, group=self.group)
        if self.has_bias:
            y = y + ops.reshape(self.bias, shape=(1, self.out_channels, 1, 1))
        if any(self.output_padding):
            y = ops.get("pad")(y, paddings=((0, 0), (0, 0), (0, self.output_padding[0]), (0, self.output_padding[1])))
        return y

    def _output_size(self, axis: int, size: int) -> int:
        stride, extent = self.stride[axis], self.dilation[axis] * (self.kernel_size[axis] - 1) + 1
        if self.pad_mode == "same":
            return size * stride
        full = (size - 1) * stride + extent
        if self.pad_mode == "valid":
            return full
        return full - self._pads[2 * axis] - self._pads[2 * axis + 1]


class Conv1d(Conv2d):
    """1-D convolution of an [N, C, W] input: the Conv2d of [N, C, 1, W] with a kernel (1, kernel_size),
    so it runs on the same kernels. As in MindSpore, the Parameter `weight` is 4-D,
    (out_channels, in_channels / group, 1, kernel_size), and kernel_size, stride, dilation and padding
    (pad_mode='pad': that many zeros on each side) are ints. The initializers default to Conv2d's."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0, dilation=1,
                 group=1, has_bias=False, weight_init=None, bias_init=None, dtype=float32):
        for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation),
                            ("padding", padding)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise ArgumentError(f"Conv1d: {name} must be an int, got {value!r}")
        if padding and pad_mode != "pad":
            raise ArgumentError(f"Conv1d: padding={padding!r} needs pad_mode='pad' (pad_mode={pad_mode!r} pads by "
                                "itself)")
        if dtype_of(dtype) != float32:
            raise ArgumentError(f"Conv1d: dtype must be float32, got {dtype!r}")
        inits = {name: init for name, init in (("weight_init", weight_init), ("bias_init", bias_init))
                 if init is not None}
        super().__init__(in_channels, out_channels, (1, kernel_size), stride=(1, stride), pad_mode=pad_mode,
                         padding=(0, 0, padding, padding), dilation=(1, dilation), group=group, has_bias=has_bias,
                         **inits)

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise input_error(self, x, f"input [N, {self.in_channels}, W] (NCW)",
                              f"give it a 3-D batch of {self.in_channels}-channel signals")
        n, c, width = x.shape
        y = self._convolve(ops.reshape(x, shape=(n, c, 1, width)))
        return ops.reshape(y, shape=(n, self.out_channels, y.shape[3]))
