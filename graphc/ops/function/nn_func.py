"""MindSpore 2.x's neural-network functions (`ops.softmax(x, axis)`, `ops.gelu(x, approximate)`,
`ops.interpolate`, `ops.adaptive_avg_pool2d`, `ops.layer_norm`, `ops.dense`, ...), as compositions of
registered ops. Resizing and adaptive pooling are linear maps along each spatial axis: each is one
matmul with a constant [out, in] matrix per axis, so their gradients are matmuls too."""
from __future__ import annotations

import math

import numpy as np

from .. import elementwise as ew
from ..activation import gelu as gelu_op
from ..activation import hsigmoid, hswish
from ..indexing import strided_slice
from ..join import stack
from ..linalg import matmul as matmul_op
from ..nn import avg_pool2d as avg_pool2d_op
from ..nn import conv2d as conv2d_op
from ..nn import log_softmax as log_softmax_op
from ..nn import max_pool2d as max_pool2d_op
from ..nn import softmax as softmax_op
from ..pad import pad_op
from ..reduction import argmax as argmax_op
from ..reduction import reduce_mean
from ..shaping import cast as cast_op
from ..shaping import reshape as reshape_op
from ...types import int64
from . import arguments as check
from .array_func import constant, move_axis

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "conv2d", "dense", "elu", "gelu", "hardsigmoid", "hardswish",
           "interpolate", "layer_norm", "log_softmax", "max_pool2d", "mish", "softmax", "softplus"]

hardswish, hardsigmoid = hswish, hsigmoid


def softmax(input, axis=-1, *, dtype=None):
    x = check.tensor("softmax", "input", input)
    x = x if dtype is None else cast_op(x, dtype=check.dtype("softmax", "dtype", dtype))
    return softmax_op(x, axis=check.integer("softmax", "axis", axis))


def log_softmax(logits, axis=-1):
    x = check.tensor("log_softmax", "logits", logits)
    return log_softmax_op(x, axis=check.integer("log_softmax", "axis", axis))


def gelu(input, approximate="none"):
    """x · Φ(x) with Φ from erf ('none', the default), or its tanh approximation ('tanh')."""
    mode = check.choice("gelu", "approximate", approximate, ("none", "tanh"))
    return gelu_op(check.tensor("gelu", "input", input), approximate=mode == "tanh")


def elu(input_x, alpha=1.0):
    """x where x > 0, else alpha · (exp(x) - 1)."""
    x = check.tensor("elu", "input_x", input_x)
    below = ew.mul(ew.sub(ew.exp(ew.minimum(x, 0.0)), 1.0), float(check.number("elu", "alpha", alpha)))
    return ew.select(ew.gt(x, 0.0), x, below)


def softplus(input, beta=1, threshold=20):
    """log(1 + exp(beta · x)) / beta, and x itself where beta · x > threshold."""
    x = check.tensor("softplus", "input", input)
    scale = float(check.number("softplus", "beta", beta))
    limit = float(check.number("softplus", "threshold", threshold))
    scaled = ew.mul(x, scale)
    smooth = ew.div(ew.log(ew.add(ew.exp(ew.minimum(scaled, limit)), 1.0)), scale)
    return ew.select(ew.gt(scaled, limit), x, smooth)


def mish(x):
    """x · tanh(softplus(x))."""
    return ew.mul(x, ew.tanh(softplus(check.tensor("mish", "x", x))))


def dense(input, weight, bias=None):
    """input @ weightᵀ + bias over the last axis of input (weight [out, in])."""
    x, w = check.tensor("dense", "input", input), check.tensor("dense", "weight", weight)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise check.bad("dense", "weight", weight,
                        f"a matrix [out, {x.shape[-1] if x.ndim else '?'}] for input {x.type}")
    rows = matmul_op(reshape_op(x, shape=(-1, w.shape[1])), w, transpose_b=True)
    y = reshape_op(rows, shape=x.shape[:-1] + (w.shape[0],))
    return y if bias is None else ew.add(y, bias)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """(x - mean) / sqrt(var + eps) · weight + bias over the last len(normalized_shape) axes (the
    biased variance)."""
    x = check.tensor("layer_norm", "input", input)
    shape = check.shape("layer_norm", "normalized_shape", normalized_shape)
    if not shape or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise check.bad("layer_norm", "normalized_shape", normalized_shape, f"the last axes of input {x.type}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = ew.sub(x, reduce_mean(x, axis=axes, keep_dims=True))
    variance = reduce_mean(ew.mul(centred, centred), axis=axes, keep_dims=True)
    y = ew.div(centred, ew.sqrt(ew.add(variance, float(check.number("layer_norm", "eps", eps)))))
    y = y if weight is None else ew.mul(y, weight)
    return y if bias is None else ew.add(y, bias)


# -- convolution and pooling, NCHW --------------------------------------------------------------------------------
def conv2d(input, weight, bias=None, stride=1, pad_mode="valid", padding=0, dilation=1, groups=1):
    """The 2-D convolution of input [N, C, H, W] with weight [O, C / groups, kh, kw], plus bias [O];
    padding (with pad_mode='pad') an int, (h, w) or (top, bottom, left, right)."""
    pads = (padding[0], padding[0], padding[1], padding[1]) if isinstance(padding, (tuple, list)) and \
        len(padding) == 2 else padding
    y = conv2d_op(check.tensor("conv2d", "input", input), check.tensor("conv2d", "weight", weight), stride=stride,
                  pad_mode=pad_mode, padding=pads, dilation=dilation,
                  group=check.integer("conv2d", "groups", groups, minimum=1))
    return y if bias is None else ew.add(y, reshape_op(bias, shape=(1, -1, 1, 1)))


def _pool_pads(function, padding) -> tuple[int, int]:
    """(rows, columns) padded on each side, from an int or (h, w)."""
    pads = (padding, padding) if check.is_int(padding) else padding
    if not isinstance(pads, (tuple, list)) or len(pads) != 2 or not all(check.is_int(p) and p >= 0 for p in pads):
        raise check.bad(function, "padding", padding, "an int >= 0 or a pair of them (h, w)")
    return int(pads[0]), int(pads[1])


def _pool_padding(function, x, padding, value):
    """x [N, C, H, W] padded symmetrically by padding (an int or (h, w)) with value."""
    pads = _pool_pads(function, padding)
    if not any(pads):
        return x
    return pad_op(x, paddings=((0, 0), (0, 0), (pads[0], pads[0]), (pads[1], pads[1])), value=value)


def window_argmax(padded, kernel_size, stride, padding, width: int):
    """MindSpore's max-pooling indices: for each kernel_size window of padded [N, C, H', W'], stride
    apart, the int64 index row · width + column, in the unpadded input's plane, of its first maximum;
    padding is (top, left), the rows and columns the input was padded by (with -inf, so they never
    win). Composed of strided slices, stack and argmax (an index has no gradient)."""
    (kh, kw), (sh, sw), (top, left) = kernel_size, stride, padding
    n, c, h, w = padded.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    taps = [strided_slice(padded, begin=(0, 0, i, j), end=(n, c, i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1),
                          strides=(1, 1, sh, sw)) for i in range(kh) for j in range(kw)]
    tap = cast_op(argmax_op(stack(taps, axis=4), axis=4), dtype=int64)
    rows = constant(np.arange(oh)[:, None] * sh - top, int64)
    columns = constant(np.arange(ow) * sw - left, int64)
    return ew.add(ew.mul(ew.add(rows, ew.floor_div(tap, kw)), width), ew.add(columns, ew.floor_mod(tap, kw)))


def _refuse_ceil_mode(function, ceil_mode):
    if check.boolean(function, "ceil_mode", ceil_mode):
        raise check.refuse(function, "ceil_mode=True is not supported (windows past the edge); pad the input so "
                                     "that the windows fit, or leave ceil_mode False")


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
    """The maximum of each kernel_size window of x [N, C, H, W], stride (default: kernel_size) apart,
    the input padded by padding with -inf."""
    t = check.tensor("max_pool2d", "x", x)
    if dilation not in (1, (1, 1)):
        raise check.refuse("max_pool2d", "dilation is not supported; graphc pools undilated windows")
    _refuse_ceil_mode("max_pool2d", ceil_mode)
    padded = _pool_padding("max_pool2d", t, padding, -math.inf)
    values = max_pool2d_op(padded, kernel_size=kernel_size, stride=kernel_size if stride is None else stride)
    if not check.boolean("max_pool2d", "return_indices", return_indices):
        return values
    kernel, step = (tuple(v) if isinstance(v, (tuple, list)) else (v, v) for v in (kernel_size, stride or kernel_size))
    return values, window_argmax(padded, kernel, step, _pool_pads("max_pool2d", padding), t.shape[3])


def avg_pool2d(input_x, kernel_size=1, stride=1, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=0):
    """The mean of each window of input_x [N, C, H, W], the input padded by padding with zeros that
    count in the mean (count_include_pad) or not; divisor_override divides the window sums instead."""
    x = check.tensor("avg_pool2d", "input_x", input_x)
    _refuse_ceil_mode("avg_pool2d", ceil_mode)
    window = {"kernel_size": kernel_size, "stride": stride}
    mean = avg_pool2d_op(_pool_padding("avg_pool2d", x, padding, 0.0), **window)
    if divisor_override:
        size = math.prod((kernel_size,) * 2 if check.is_int(kernel_size) else kernel_size)
        return ew.mul(mean, size / check.integer("avg_pool2d", "divisor_override", divisor_override, 1))
    if check.boolean("avg_pool2d", "count_include_pad", count_include_pad):
        return mean
    ones = constant(np.ones((1, 1) + tuple(x.shape[2:])), x.dtype)
    return ew.div(mean, avg_pool2d_op(_pool_padding("avg_pool2d", ones, padding, 0.0), **window))


# -- resizing and adaptive pooling: one [out, in] matrix per spatial axis -----------------------------------------
def _nearest(size_in: int, size_out: int) -> np.ndarray:
    """Output i takes input floor(i · in / out)."""
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), np.minimum(np.arange(size_out) * size_in // size_out, size_in - 1)] = 1.0
    return matrix


def _linear(size_in: int, size_out: int, align_corners: bool) -> np.ndarray:
    """Output i interpolates between the two inputs around source position i · (in - 1) / (out - 1)
    (align_corners) or (i + 0.5) · in / out - 0.5, clamped at 0 (half-pixel centres)."""
    out = np.arange(size_out, dtype=np.float64)
    if align_corners:
        source = out * ((size_in - 1) / (size_out - 1)) if size_out > 1 else np.zeros(size_out)
    else:
        source = np.maximum((out + 0.5) * (size_in / size_out) - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(int), size_in - 1)
    high, weight = np.minimum(low + 1, size_in - 1), source - low
    matrix = np.zeros((size_out, size_in))
    np.add.at(matrix, (np.arange(size_out), low), 1.0 - weight)
    np.add.at(matrix, (np.arange(size_out), high), weight)
    return matrix


def _area(size_in: int, size_out: int) -> np.ndarray:
    """Output i averages the inputs floor(i · in / out) .. ceil((i + 1) · in / out) - 1."""
    matrix = np.zeros((size_out, size_in))
    for i in range(size_out):
        start, end = i * size_in // size_out, -(-(i + 1) * size_in // size_out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _along(x, matrices):
    """x with each of its last len(matrices) axes mapped by its [out, in] matrix (None: unchanged)."""
    first = x.ndim - len(matrices)
    for axis, matrix in enumerate(matrices, first):
        if matrix is None or (matrix.shape[0] == matrix.shape[1] and np.array_equal(matrix, np.eye(len(matrix)))):
            continue
        last = move_axis(x, axis, x.ndim - 1)
        rows = matmul_op(reshape_op(last, shape=(-1, matrix.shape[1])), constant(matrix, x.dtype), transpose_b=True)
        x = move_axis(reshape_op(rows, shape=last.shape[:-1] + (matrix.shape[0],)), x.ndim - 1, axis)
    return x


_LINEAR_MODES = {3: "linear", 4: "bilinear", 5: "trilinear"}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """input [N, C, *spatial] (1 to 3 spatial axes) resized to `size`, or to floor(spatial ·
    scale_factor) with recompute_scale_factor=True. Modes: 'nearest' (output i takes input
    floor(i · in / out)), 'linear' / 'bilinear' / 'trilinear' (by the input's rank; align_corners
    maps the corner pixels onto each other, else pixel centres), 'area' (adaptive average pooling)."""
    x = check.tensor("interpolate", "input", input)
    if x.ndim not in _LINEAR_MODES or not x.dtype.is_float:
        raise check.bad("interpolate", "input", input, "a float tensor [N, C, L], [N, C, H, W] or [N, C, D, H, W]")
    modes = ("nearest", _LINEAR_MODES[x.ndim], "area")
    if mode not in modes:
        raise check.refuse("interpolate", f"mode={mode!r} is not supported for a rank-{x.ndim} input; graphc has "
                                          + ", ".join(map(repr, modes)))
    linear = mode == _LINEAR_MODES[x.ndim]
    if align_corners is not None and not linear:
        raise check.bad("interpolate", "align_corners", align_corners, f"None with mode={mode!r} (it applies to "
                                                                       "the linear modes)")
    spatial = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise check.bad("interpolate", "size", size, "a size or a scale_factor (exactly one of them)")
    if size is not None:
        target = check.shape("interpolate", "size", (size,) * len(spatial) if check.is_int(size) else size, sizes=True)
    elif recompute_scale_factor is not True:
        raise check.refuse("interpolate", "scale_factor needs recompute_scale_factor=True (graphc places samples "
                                          "from the output size, as MindSpore does then), or give size instead")
    else:
        factors = (scale_factor,) * len(spatial) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        target = tuple(math.floor(d * float(f)) for d, f in zip(spatial, factors))
    if len(target) != len(spatial) or min(target) < 1:
        raise check.bad("interpolate", "size", size, f"{len(spatial)} sizes >= 1 (one per spatial axis of {x.type})")
    corners = bool(align_corners) if linear else False
    build = {"nearest": _nearest, "area": _area}.get(mode, lambda i, o: _linear(i, o, corners))
    return _along(x, [build(i, o) for i, o in zip(spatial, target)])


def adaptive_avg_pool2d(input, output_size):
    """The mean over adaptive windows of input [C, H, W] or [N, C, H, W]: output row i averages rows
    floor(i · H / out) .. ceil((i + 1) · H / out) - 1 (likewise columns); None keeps an axis."""
    x = check.tensor("adaptive_avg_pool2d", "input", input)
    if x.ndim not in (3, 4) or not x.dtype.is_float:
        raise check.bad("adaptive_avg_pool2d", "input", input, "a float tensor [C, H, W] or [N, C, H, W]")
    sizes = (output_size, output_size) if check.is_int(output_size) else output_size
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 2 or not all(
            s is None or (check.is_int(s) and s >= 1) for s in sizes):
        raise check.bad("adaptive_avg_pool2d", "output_size", output_size, "an int >= 1 or a pair of them (or None)")
    return _along(x, [None if s is None else _area(d, s) for d, s in zip(x.shape[-2:], sizes)])
