"""Neural-network ops on NCHW tensors: 2-D convolution and pooling, softmax, sparse cross-entropy.

Each op's VJP is built from gradient ops defined here, and those have VJPs too (they are linear in
the gradient they carry), so grad of grad works. Window geometry follows MindSpore:
'valid' pads nothing, 'same' gives ceil(H / stride) outputs with the extra padding at the
bottom/right, 'pad' (convolution only) takes `padding` = (top, bottom, left, right).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import GraphcError
from ..types import TensorType, int32, int64
from .core import OPAQUE, OUT_FUSABLE, REDUCE, REQUIRED, Op, OpError, register
from .elementwise import exp, mul, sub
from .reduction import normalize_axes, reduce_sum
from .shaping import reshape

__all__ = ["avg_pool2d", "avg_pool2d_grad", "conv2d", "conv2d_grad_filter", "conv2d_grad_input", "conv_padding",
           "log_softmax", "max_pool2d", "max_pool2d_grad", "max_pool2d_grad_grad", "softmax",
           "sparse_softmax_cross_entropy", "sparse_softmax_cross_entropy_grad"]


# -- window geometry (shared by convolution and pooling) ---------------------------------------------
def _pair(name: str, value) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) < 1 for v in pair):
        raise OpError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _pad_mode(value, allowed: tuple[str, ...]) -> str:
    mode = str(value).lower()
    if mode not in allowed:
        raise OpError(f"pad_mode must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return mode


def _padding(value, pad_mode: str) -> tuple[int, int, int, int]:
    padding = (value,) * 4 if isinstance(value, (int, np.integer)) else tuple(value)
    if len(padding) != 4 or any(int(p) < 0 for p in padding):
        raise OpError(f"padding must be a non-negative int or (top, bottom, left, right), got {value!r}")
    if pad_mode != "pad" and any(padding):
        raise OpError(f"padding {padding} needs pad_mode='pad' (pad_mode is {pad_mode!r}); set pad_mode='pad' "
                      "or padding=0")
    return tuple(int(p) for p in padding)


def conv_padding(attrs: dict, in_hw, kernel_hw) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zero rows/columns around the input, for conv and pool attrs.

    'same' pads just enough for ceil(size / stride) outputs, the odd one at the bottom/right."""
    mode = attrs["pad_mode"]
    if mode == "pad":
        return attrs["padding"]
    if mode == "valid":
        return 0, 0, 0, 0
    dilation = attrs.get("dilation", (1, 1))
    pads = []
    for size, kernel, stride, dil in zip(in_hw, kernel_hw, attrs["stride"], dilation):
        outputs = -(-size // stride)
        total = max(0, (outputs - 1) * stride + dil * (kernel - 1) + 1 - size)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def _output_hw(attrs: dict, in_hw, kernel_hw) -> tuple[int, int]:
    top, bottom, left, right = conv_padding(attrs, in_hw, kernel_hw)
    dilation = attrs.get("dilation", (1, 1))
    out = []
    for size, pad, kernel, stride, dil in zip(in_hw, (top + bottom, left + right), kernel_hw, attrs["stride"],
                                              dilation):
        span = dil * (kernel - 1) + 1
        if size + pad < span:
            raise OpError(f"the window spans {span} (kernel {kernel}, dilation {dil}) but the padded input has only "
                          f"{size + pad}; use a smaller kernel or pad_mode='same'")
        out.append((size + pad - span) // stride + 1)
    return tuple(out)


def _padded(x: np.ndarray, attrs: dict, kernel_hw, value=0.0) -> np.ndarray:
    top, bottom, left, right = conv_padding(attrs, x.shape[2:], kernel_hw)
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _windows(padded: np.ndarray, attrs: dict, kernel_hw) -> np.ndarray:
    """A view [N, C, OH, OW, KH, KW] of every window of the padded input."""
    (sh, sw), (dh, dw) = attrs["stride"], attrs.get("dilation", (1, 1))
    spans = (dh * (kernel_hw[0] - 1) + 1, dw * (kernel_hw[1] - 1) + 1)
    return sliding_window_view(padded, spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]


def _scatter_windows(contribution, input_shape, attrs: dict, kernel_hw, out_hw, dtype) -> np.ndarray:
    """The transpose of _windows: an input-shaped sum of every window's values, where
    contribution(kh, kw) gives the [N, C, OH, OW] values landing on kernel offset (kh, kw)."""
    (sh, sw), (dh, dw) = attrs["stride"], attrs.get("dilation", (1, 1))
    top, bottom, left, right = conv_padding(attrs, input_shape[2:], kernel_hw)
    n, c, h, w = input_shape
    padded = np.zeros((n, c, h + top + bottom, w + left + right), dtype)
    for kh in range(kernel_hw[0]):
        for kw in range(kernel_hw[1]):
            padded[:, :, kh * dh:kh * dh + sh * (out_hw[0] - 1) + 1:sh,
                   kw * dw:kw * dw + sw * (out_hw[1] - 1) + 1:sw] += contribution(kh, kw)
    return padded[:, :, top:top + h, left:left + w]


def _check_nchw(t: TensorType, name: str) -> None:
    if t.ndim != 4 or not t.dtype.is_float:
        raise OpError(f"{name} must be a 4-D float tensor [N, C, H, W], got {t}; reshape (or cast) it first")


def _shape4(name: str, value) -> tuple[int, ...]:
    shape = tuple(int(d) for d in value)
    if len(shape) != 4:
        raise OpError(f"{name} must have 4 dimensions, got {list(shape)}")
    return shape


# -- convolution -------------------------------------------------------------------------------------
CONV_ATTRS = {"stride": (1, 1), "pad_mode": "valid", "padding": (0, 0, 0, 0), "dilation": (1, 1), "group": 1}


def _canon_conv(attrs: dict) -> dict:
    mode = _pad_mode(attrs["pad_mode"], ("valid", "same", "pad"))
    if int(attrs["group"]) < 1:
        raise OpError(f"group must be a positive int, got {attrs['group']!r}")
    canon = {**attrs, "stride": _pair("stride", attrs["stride"]), "pad_mode": mode,
             "padding": _padding(attrs["padding"], mode), "dilation": _pair("dilation", attrs["dilation"]),
             "group": int(attrs["group"])}
    for shape_attr in ("input_shape", "filter_shape"):
        if shape_attr in attrs:
            canon[shape_attr] = _shape4(shape_attr, attrs[shape_attr])
    return canon


def _infer_conv2d(x, w, **conv):
    _check_nchw(x, "x")
    _check_nchw(w, "w")
    if x.dtype != w.dtype:
        raise OpError(f"x and w dtypes differ ({x.dtype.name} vs {w.dtype.name}); convert one with ops.cast")
    (n, c, h, wd), (o, c_group, kh, kw), group = x.shape, w.shape, conv["group"]
    if c != c_group * group:
        raise OpError(f"x has {c} channels but w [{o}, {c_group}, {kh}, {kw}] with group={group} expects "
                      f"{c_group * group}; w's second dimension must be in_channels / group")
    if o % group:
        raise OpError(f"w has {o} output channels, not divisible by group={group}")
    return TensorType((n, o) + _output_hw(conv, (h, wd), (kh, kw)), x.dtype)


def _grouped(array: np.ndarray, group: int) -> np.ndarray:
    """[A, B, ...] -> [A, group, B / group, ...]: split the channel axis into groups."""
    return array.reshape(array.shape[0], group, array.shape[1] // group, *array.shape[2:])


def _conv2d_ref(x, w, **conv):
    kernel, group = w.shape[2:], conv["group"]
    windows = _grouped(_windows(_padded(x, conv, kernel), conv, kernel), group)     # n g c oh ow kh kw
    weights = w.reshape(group, w.shape[0] // group, *w.shape[1:])                   # g o c kh kw
    y = np.einsum("ngchwij,gocij->ngohw", windows, weights, optimize=True)
    return y.reshape(y.shape[0], -1, *y.shape[3:])


def _conv2d_grad_input_ref(dy, w, input_shape, **conv):
    group = conv["group"]
    dy_groups = _grouped(dy, group)                                                  # n g o oh ow
    weights = w.reshape(group, w.shape[0] // group, *w.shape[1:])                   # g o c kh kw

    def contribution(kh, kw):
        spread = np.einsum("ngohw,goc->ngchw", dy_groups, weights[..., kh, kw], optimize=True)
        return spread.reshape(spread.shape[0], -1, *spread.shape[3:])
    return _scatter_windows(contribution, input_shape, conv, w.shape[2:], dy.shape[2:], dy.dtype)


def _conv2d_grad_filter_ref(dy, x, filter_shape, **conv):
    kernel, group = filter_shape[2:], conv["group"]
    windows = _grouped(_windows(_padded(x, conv, kernel), conv, kernel), group)     # n g c oh ow kh kw
    dw = np.einsum("ngohw,ngchwij->gocij", _grouped(dy, group), windows, optimize=True)
    return dw.reshape(filter_shape)


def _infer_conv2d_grad_input(dy, w, input_shape, **conv):
    forward = _infer_conv2d(TensorType(input_shape, dy.dtype), w, **conv)
    if forward != dy:
        raise OpError(f"dy is {dy} but conv2d of an input {list(input_shape)} with w gives {forward}; "
                      "input_shape must be the forward input's shape")
    return TensorType(input_shape, dy.dtype)


def _infer_conv2d_grad_filter(dy, x, filter_shape, **conv):
    forward = _infer_conv2d(x, TensorType(filter_shape, x.dtype), **conv)
    if forward != dy:
        raise OpError(f"dy is {dy} but conv2d of x with a filter {list(filter_shape)} gives {forward}; "
                      "filter_shape must be the forward weight's shape")
    return TensorType(filter_shape, x.dtype)


# With y = conv2d(x, w): <dy, y> = <grad_input(dy, w), x> = <grad_filter(dy, x), w>. Each gradient op
# is linear in both operands, and reading that identity the other way round gives its VJPs.
def _conv2d_vjp(ct, x, w, out, **conv):
    return (conv2d_grad_input(ct, w, input_shape=x.shape, **conv),
            conv2d_grad_filter(ct, x, filter_shape=w.shape, **conv))


def _conv2d_grad_input_vjp(ct, dy, w, out, input_shape, **conv):
    # <ct, grad_input(dy, w)> = <dy, conv2d(ct, w)> = <grad_filter(dy, ct), w>
    return conv2d(ct, w, **conv), conv2d_grad_filter(dy, ct, filter_shape=w.shape, **conv)


def _conv2d_grad_filter_vjp(ct, dy, x, out, filter_shape, **conv):
    # <ct, grad_filter(dy, x)> = <dy, conv2d(x, ct)> = <grad_input(dy, ct), x>
    return conv2d(x, ct, **conv), conv2d_grad_input(dy, ct, input_shape=x.shape, **conv)


def _conv_flops(activations: TensorType, filters: TensorType) -> int:
    """2·N·O·OH·OW·(C/g)·KH·KW, from the conv output [N, O, OH, OW] and the filter [O, C/g, KH, KW]."""
    return 2 * activations.size * filters.size // filters.shape[0]


def _conv_cases(rng):
    """(x, w, attrs, dy): plain, strided 'same' with groups, asymmetric 'pad' with dilation, pointwise
    (1x1: over several images, over one, over images of one pixel), depthwise."""
    cases = [((2, 3, 7, 7), (4, 3, 3, 3), {}),
             ((2, 3, 4, 5), (4, 3, 1, 1), {}),
             ((1, 5, 3, 4), (6, 5, 1, 1), {}),
             ((2, 3, 4, 8), (5, 3, 1, 1), {}),
             ((3, 19, 1, 1), (7, 19, 1, 1), {}),
             ((2, 3, 6, 5), (3, 1, 3, 3), {"stride": 2, "pad_mode": "same", "group": 3}),
             ((1, 4, 6, 5), (6, 2, 2, 3), {"stride": 2, "pad_mode": "same", "group": 2}),
             ((1, 2, 7, 6), (3, 2, 3, 2), {"stride": (2, 1), "pad_mode": "pad", "padding": (1, 0, 2, 1),
                                           "dilation": (2, 1)})]
    for x_shape, w_shape, attrs in cases:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        dy = rng.standard_normal(_conv2d_ref(x, w, **_canon_conv({**CONV_ATTRS, **attrs})).shape)
        yield x, w, attrs, dy


def is_pointwise(kernel_hw, stride, pad, group) -> bool:
    """A 1x1 convolution without stride, padding or groups: per image a GEMM, which native code runs
    as a batched matmul (codegen/library.py), half types included."""
    return (tuple(kernel_hw), tuple(stride), tuple(pad), group) == ((1, 1), (1, 1), (0, 0, 0, 0), 1)


def _pointwise_rule(image_and_filter):
    """half_kernel(a, b, out, **conv): whether the convolution is pointwise (its kernel is matmul's)."""
    def rule(a, b, out, stride, pad_mode, padding, dilation, group, **shapes):
        image, kernel_shape = image_and_filter(a, b, out)
        pad = conv_padding({"stride": stride, "pad_mode": pad_mode, "padding": padding, "dilation": dilation},
                           image[2:], kernel_shape[2:])
        return is_pointwise(kernel_shape[2:], stride, pad, group)
    return rule


# A pointwise filter gradient in a half type sums k = H·W per image in pairs (32 a step on AMX tiles): fewer
# pixels would mostly add padding, so such images are widened to float32 instead; one pixel runs as a dense
# layer's weight gradient.
HALF_SUMMED_PIXELS = 32


_pointwise_filter_gradient = _pointwise_rule(lambda dy, x, out: (x.shape, out.shape))


def _half_filter_gradient(dy, x, out, **conv) -> bool:
    pixels = x.shape[2] * x.shape[3]
    return _pointwise_filter_gradient(dy, x, out, **conv) and (pixels == 1 or pixels >= HALF_SUMMED_PIXELS)


def _conv_lowering(kernel: str, image_and_filter):
    """lower(k, a, b, out, **conv) -> k.<kernel>(...) with explicit padding; image_and_filter(a, b, out)
    gives the shapes of the forward input and filter."""
    def lower(k, a, b, out, stride, pad_mode, padding, dilation, group, **shapes):
        image, kernel_shape = image_and_filter(a, b, out)
        conv = {"stride": stride, "pad_mode": pad_mode, "padding": padding, "dilation": dilation}
        pad = conv_padding(conv, image[2:], kernel_shape[2:])
        return getattr(k, kernel)(a, b, out, stride=stride, pad=pad, dilation=dilation, group=group)
    return lower


conv2d = register(Op(
    "conv2d", ("x", "w"), _infer_conv2d, _conv2d_ref, OUT_FUSABLE, attrs=dict(CONV_ATTRS), canon=_canon_conv,
    vjp=_conv2d_vjp, flops=lambda out, x, w, **conv: _conv_flops(out, w),
    lower=_conv_lowering("conv2d", lambda x, w, out: (x.shape, w.shape)),
    half_kernel=_pointwise_rule(lambda x, w, out: (x.shape, w.shape)),
    samples=lambda rng: [([x, w], attrs) for x, w, attrs, _ in _conv_cases(rng)],
    doc="2-D cross-correlation, NCHW: x [N, C, H, W], w [O, C/group, KH, KW] -> [N, O, OH, OW] (MindSpore Conv2D; "
        "pad_mode 'valid' | 'same' | 'pad', padding (top, bottom, left, right) only with 'pad')"))

conv2d_grad_input = register(Op(
    "conv2d_grad_input", ("dy", "w"), _infer_conv2d_grad_input, _conv2d_grad_input_ref, OUT_FUSABLE,
    attrs={"input_shape": REQUIRED, **CONV_ATTRS}, canon=_canon_conv, vjp=_conv2d_grad_input_vjp,
    flops=lambda out, dy, w, **attrs: _conv_flops(dy, w),
    lower=_conv_lowering("conv2d_grad_input", lambda dy, w, out: (out.shape, w.shape)),
    half_kernel=_pointwise_rule(lambda dy, w, out: (out.shape, w.shape)),
    samples=lambda rng: [([dy, w], {**attrs, "input_shape": x.shape}) for x, w, attrs, dy in _conv_cases(rng)],
    doc="the gradient of conv2d with respect to its input x (of shape input_shape), given dy and w"))

conv2d_grad_filter = register(Op(
    "conv2d_grad_filter", ("dy", "x"), _infer_conv2d_grad_filter, _conv2d_grad_filter_ref, OUT_FUSABLE,
    attrs={"filter_shape": REQUIRED, **CONV_ATTRS}, canon=_canon_conv, vjp=_conv2d_grad_filter_vjp,
    flops=lambda out, dy, x, **attrs: _conv_flops(dy, out),
    lower=_conv_lowering("conv2d_grad_filter", lambda dy, x, out: (x.shape, out.shape)),
    half_kernel=_half_filter_gradient,
    samples=lambda rng: [([dy, x], {**attrs, "filter_shape": w.shape}) for x, w, attrs, dy in _conv_cases(rng)],
    doc="the gradient of conv2d with respect to its weight w (of shape filter_shape), given dy and x"))


# -- pooling -------------------------------------------------------------------------------------------
POOL_ATTRS = {"kernel_size": (1, 1), "stride": (1, 1), "pad_mode": "valid"}


def _canon_pool(attrs: dict) -> dict:
    canon = {**attrs, "kernel_size": _pair("kernel_size", attrs["kernel_size"]),
             "stride": _pair("stride", attrs["stride"]), "pad_mode": _pad_mode(attrs["pad_mode"], ("valid", "same"))}
    if "input_shape" in attrs:
        canon["input_shape"] = _shape4("input_shape", attrs["input_shape"])
    return canon


def _pooled_type(x: TensorType, pool: dict) -> TensorType:
    _check_nchw(x, "x")
    return TensorType(x.shape[:2] + _output_hw(pool, x.shape[2:], pool["kernel_size"]), x.dtype)


def _pool_flops(pooled: TensorType, kernel_size) -> int:
    """One flop (a compare or an add) per window element per pooled output; the same for the gradients."""
    return pooled.size * kernel_size[0] * kernel_size[1]


def _first_max(x: np.ndarray, pool: dict) -> np.ndarray:
    """[N, C, OH, OW]: the row-major position in its window of each window's first maximum."""
    kernel = pool["kernel_size"]
    windows = _windows(_padded(x, pool, kernel, -np.inf), pool, kernel)
    return windows.reshape(*windows.shape[:4], -1).argmax(axis=-1)


def _max_pool2d_ref(x, **pool):
    kernel = pool["kernel_size"]
    return _windows(_padded(x, pool, kernel, -np.inf), pool, kernel).max(axis=(-2, -1))


def _max_pool2d_grad_ref(x, out, dy, **pool):
    kernel, first = pool["kernel_size"], _first_max(x, pool)
    return _scatter_windows(lambda kh, kw: np.where(first == kh * kernel[1] + kw, dy, 0),
                            x.shape, pool, kernel, dy.shape[2:], dy.dtype)


def _max_pool2d_grad_grad_ref(x, out, g, **pool):
    kernel = pool["kernel_size"]
    windows = _windows(_padded(g, pool, kernel), pool, kernel)
    flat = windows.reshape(*windows.shape[:4], -1)
    return np.take_along_axis(flat, _first_max(x, pool)[..., None], axis=-1)[..., 0]


def _infer_max_pool2d_grad(x, out, dy, **pool):
    pooled = _pooled_type(x, pool)
    if out != pooled or dy != pooled:
        raise OpError(f"out = max_pool2d(x) and dy must both be {pooled}, got out {out} and dy {dy}")
    return x


def _infer_max_pool2d_grad_grad(x, out, g, **pool):
    pooled = _pooled_type(x, pool)
    if out != pooled or g != x:
        raise OpError(f"out = max_pool2d(x) must be {pooled} and g must be {x}, got out {out} and g {g}")
    return out


def _distinct(rng, shape):
    """Values at least 0.1 apart, so that no window has a near-tie for its maximum."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


def _pool_cases(rng):
    """(x, attrs): overlapping valid windows, strided 'same' with uneven padding."""
    for shape, attrs in [((2, 3, 6, 6), {"kernel_size": 2, "stride": 2}),
                         ((1, 2, 5, 6), {"kernel_size": (3, 2), "stride": 1}),
                         ((1, 2, 5, 7), {"kernel_size": 3, "stride": (2, 3), "pad_mode": "same"})]:
        yield _distinct(rng, shape), attrs


def _max_pool_grad_samples(gradient_like_x: bool):
    """(x, out = max_pool2d(x), a gradient shaped like out (dy) or like x (g))."""
    def samples(rng):
        result = []
        for x, attrs in _pool_cases(rng):
            out = _max_pool2d_ref(x, **_canon_pool({**POOL_ATTRS, **attrs}))
            result.append(([x, out, rng.standard_normal(x.shape if gradient_like_x else out.shape)], attrs))
        return result
    return samples


def _pool_lowering(kernel: str, image_of):
    """lower(k, *operands, out, **pool) -> k.<kernel>(...) with explicit padding; image_of(*operands, out)
    is the type of the pooled input."""
    def lower(k, *types, out, kernel_size, stride, pad_mode, **shapes):
        image = image_of(*types, out)
        pad = conv_padding({"pad_mode": pad_mode, "stride": stride}, image.shape[2:], kernel_size)
        return getattr(k, kernel)(*types, out, kernel=kernel_size, stride=stride, pad=pad)
    return lower


max_pool2d = register(Op(
    "max_pool2d", ("x",), lambda x, **pool: _pooled_type(x, pool), _max_pool2d_ref, REDUCE,
    attrs=dict(POOL_ATTRS), canon=_canon_pool,
    vjp=lambda ct, x, out, **pool: (max_pool2d_grad(x, out, ct, **pool),),
    flops=lambda out, x, kernel_size, **attrs: _pool_flops(out, kernel_size),
    lower=_pool_lowering("max_pool2d", lambda x, out: x),
    samples=lambda rng: [([x], attrs) for x, attrs in _pool_cases(rng)],
    doc="maximum of each window, NCHW; 'same' pads with -inf (MindSpore MaxPool)"))

max_pool2d_grad = register(Op(
    "max_pool2d_grad", ("x", "out", "dy"), _infer_max_pool2d_grad, _max_pool2d_grad_ref, OUT_FUSABLE,
    attrs=dict(POOL_ATTRS), canon=_canon_pool,
    vjp=lambda ct, x, pooled, dy, out, **pool: (None, None, max_pool2d_grad_grad(x, pooled, ct, **pool)),
    flops=lambda out, x, pooled, dy, kernel_size, **attrs: _pool_flops(pooled, kernel_size),
    lower=_pool_lowering("max_pool2d_grad", lambda x, pooled, dy, out: x),
    samples=_max_pool_grad_samples(gradient_like_x=False),
    doc="the gradient of max_pool2d: each window's dy goes to the FIRST maximum of x in the window, in "
        "row-major window order (ties never split); overlapping windows add up. out = max_pool2d(x) lets a "
        "kernel find the maximum without recomputing it; the reference recomputes it from x. Piecewise "
        "constant in x and out, so their gradients are zero"))

max_pool2d_grad_grad = register(Op(
    "max_pool2d_grad_grad", ("x", "out", "g"), _infer_max_pool2d_grad_grad, _max_pool2d_grad_grad_ref, OPAQUE,
    attrs=dict(POOL_ATTRS), canon=_canon_pool,
    vjp=lambda ct, x, pooled, g, out, **pool: (None, None, max_pool2d_grad(x, pooled, ct, **pool)),
    flops=lambda out, x, pooled, g, kernel_size, **attrs: _pool_flops(out, kernel_size),
    lower=_pool_lowering("max_pool2d_grad_grad", lambda x, pooled, g, out: x),
    samples=_max_pool_grad_samples(gradient_like_x=True),
    doc="the transpose of max_pool2d_grad in its dy: picks g at each window's first maximum of x "
        "(shape of max_pool2d(x))"))


def _window_counts(in_hw, pool: dict) -> np.ndarray:
    """[OH, OW]: how many real (unpadded) input elements each window covers."""
    kernel = pool["kernel_size"]
    ones = np.ones((1, 1) + tuple(in_hw))
    return _windows(_padded(ones, pool, kernel), pool, kernel).sum(axis=(-2, -1))[0, 0]


def _avg_pool2d_ref(x, **pool):
    kernel = pool["kernel_size"]
    sums = _windows(_padded(x, pool, kernel), pool, kernel).sum(axis=(-2, -1))
    return sums / _window_counts(x.shape[2:], pool).astype(x.dtype)


def _avg_pool2d_grad_ref(dy, input_shape, **pool):
    share = dy / _window_counts(input_shape[2:], pool).astype(dy.dtype)
    return _scatter_windows(lambda kh, kw: share, input_shape, pool, pool["kernel_size"], dy.shape[2:], dy.dtype)


def _infer_avg_pool2d_grad(dy, input_shape, **pool):
    forward = _pooled_type(TensorType(input_shape, dy.dtype), pool)
    if forward != dy:
        raise OpError(f"dy is {dy} but avg_pool2d of an input {list(input_shape)} gives {forward}; "
                      "input_shape must be the forward input's shape")
    return TensorType(input_shape, dy.dtype)


avg_pool2d = register(Op(
    "avg_pool2d", ("x",), lambda x, **pool: _pooled_type(x, pool), _avg_pool2d_ref, REDUCE,
    attrs=dict(POOL_ATTRS), canon=_canon_pool,
    vjp=lambda ct, x, out, **pool: (avg_pool2d_grad(ct, input_shape=x.shape, **pool),),
    flops=lambda out, x, kernel_size, **attrs: _pool_flops(out, kernel_size),
    lower=_pool_lowering("avg_pool2d", lambda x, out: x),
    samples=lambda rng: [([x], attrs) for x, attrs in _pool_cases(rng)],
    doc="mean of each window, NCHW; with 'same' the divisor counts only real input elements, not padding"))

avg_pool2d_grad = register(Op(
    "avg_pool2d_grad", ("dy",), _infer_avg_pool2d_grad, _avg_pool2d_grad_ref, OUT_FUSABLE,
    attrs={"input_shape": REQUIRED, **POOL_ATTRS}, canon=_canon_pool,
    vjp=lambda ct, dy, out, input_shape, **pool: (avg_pool2d(ct, **pool),),
    flops=lambda out, dy, kernel_size, **attrs: _pool_flops(dy, kernel_size),
    lower=_pool_lowering("avg_pool2d_grad", lambda dy, out: out),
    samples=lambda rng: [([rng.standard_normal(_avg_pool2d_ref(x, **_canon_pool({**POOL_ATTRS, **attrs})).shape)],
                          {**attrs, "input_shape": x.shape}) for x, attrs in _pool_cases(rng)],
    doc="the gradient of avg_pool2d: each window's dy / count spread over the window (linear in dy)"))


# -- softmax and cross-entropy ---------------------------------------------------------------------------
def _infer_softmax(x, axis):
    if not x.dtype.is_float or x.ndim == 0:
        raise OpError(f"needs a float tensor with at least one axis, got {x}; cast or reshape it first")
    normalize_axes(axis, x.ndim)
    return x


def _log_softmax_ref(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)      # exp cannot overflow
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax_ref(x, axis):
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _softmax_vjp(ct, x, out, axis):
    return (mul(out, sub(ct, reduce_sum(mul(ct, out), axis=axis, keep_dims=True))),)


def _log_softmax_vjp(ct, x, out, axis):
    return (sub(ct, mul(exp(out), reduce_sum(ct, axis=axis, keep_dims=True))),)


def _softmax_samples(rng):
    return [([rng.standard_normal((3, 5))], {"axis": -1}), ([rng.standard_normal((2, 4, 3))], {"axis": 1}),
            ([rng.standard_normal((4,)) * 30], {"axis": 0})]


def _five_flops_per_element(out, x, **attrs) -> int:
    """max, subtract, exp, sum and normalise: five flops per element."""
    return 5 * x.size


softmax = register(Op(
    "softmax", ("x",), _infer_softmax, _softmax_ref, OPAQUE, attrs={"axis": -1}, vjp=_softmax_vjp,
    lower=lambda k, x, out, axis: k.softmax(x, out, axis=normalize_axes(axis, x.ndim)[0], log=False),
    flops=_five_flops_per_element, samples=_softmax_samples,
    doc="exp(x) / sum(exp(x)) along axis, computed after subtracting the maximum (never overflows)"))

log_softmax = register(Op(
    "log_softmax", ("x",), _infer_softmax, _log_softmax_ref, OPAQUE, attrs={"axis": -1}, vjp=_log_softmax_vjp,
    lower=lambda k, x, out, axis: k.softmax(x, out, axis=normalize_axes(axis, x.ndim)[0], log=True),
    flops=_five_flops_per_element, samples=_softmax_samples,
    doc="x - logsumexp(x) along axis, computed after subtracting the maximum (never overflows)"))


def _infer_xent(logits, labels, result_shape):
    if logits.ndim != 2 or not logits.dtype.is_float:
        raise OpError(f"logits must be a 2-D float tensor [N, C], got {logits}")
    if labels.dtype not in (int32, int64) or labels.shape != logits.shape[:1]:
        raise OpError(f"labels must be int32/int64 of shape [{logits.shape[0]}] (one class index per row of "
                      f"logits), got {labels}; cast or reshape the labels")
    return TensorType(result_shape, logits.dtype)


def label_out_of_range(op: str, label: int, classes: int) -> str:
    """The message for a class label outside [0, classes), the same from the reference and native code."""
    return f"{op}: label {label} is out of range for {classes} classes; labels must be class indices in [0, {classes})"


def _checked_labels(labels: np.ndarray, classes: int, op: str) -> np.ndarray:
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.size:
        raise GraphcError(label_out_of_range(op, int(bad[0]), classes))
    return labels


def _xent_ref(logits, labels):
    labels = _checked_labels(labels, logits.shape[1], "sparse_softmax_cross_entropy")
    return -_log_softmax_ref(logits, -1)[np.arange(len(labels)), labels]


def _xent_grad_ref(logits, labels):
    labels = _checked_labels(labels, logits.shape[1], "sparse_softmax_cross_entropy_grad")
    onehot = labels[:, None] == np.arange(logits.shape[1])
    return _softmax_ref(logits, -1) - onehot


def _xent_samples(rng):
    return [([rng.standard_normal((4, 5)), rng.integers(0, 5, 4).astype(np.int32)], {}),
            ([rng.standard_normal((3, 10)) * 10, rng.integers(0, 10, 3).astype(np.int64)], {})]


_OUT_OF_RANGE_LABELS = ("A label outside [0, C) raises GraphcError naming it and the range, in the NumPy reference "
                        "(PYNATIVE and the interpreter) and in native code (the executable checks labels that are "
                        "step inputs before the step, and the step checks computed ones before the kernel)")

sparse_softmax_cross_entropy = register(Op(
    "sparse_softmax_cross_entropy", ("logits", "labels"),
    lambda logits, labels: _infer_xent(logits, labels, logits.shape[:1]), _xent_ref, OPAQUE,
    vjp=lambda ct, logits, labels, out: (
        mul(reshape(ct, shape=(ct.shape[0], 1)), sparse_softmax_cross_entropy_grad(logits, labels)), None),
    flops=lambda out, logits, labels: 5 * logits.size, samples=_xent_samples,
    lower=lambda k, logits, labels, out: k.sparse_softmax_cross_entropy(logits, labels, out),
    doc="per-sample loss logsumexp(logits[i]) - logits[i, labels[i]] for logits [N, C] and int labels [N]. "
        + _OUT_OF_RANGE_LABELS))

sparse_softmax_cross_entropy_grad = register(Op(
    "sparse_softmax_cross_entropy_grad", ("logits", "labels"),
    lambda logits, labels: _infer_xent(logits, labels, logits.shape), _xent_grad_ref, OPAQUE,
    vjp=lambda ct, logits, labels, out: (_softmax_vjp(ct, logits, softmax(logits, axis=-1), -1)[0], None),
    flops=lambda out, logits, labels: 5 * logits.size, samples=_xent_samples,
    lower=lambda k, logits, labels, out: k.sparse_softmax_cross_entropy_grad(logits, labels, out),
    doc="softmax(logits) - one_hot(labels) [N, C]: the gradient of sparse_softmax_cross_entropy. "
        + _OUT_OF_RANGE_LABELS))
