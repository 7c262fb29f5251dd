"""Graphs lowered to native code agree with the reference interpreter: every op of the registry on
its samples, every kind of fused region the fusion pass produces on hypothesis-drawn shapes (odd
sizes, sizes that are not multiples of 16, batch 1, stride 2, padding), and the clear errors.
Each case also runs on 1 and 2 threads, which must agree bit for bit (native_support.py)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import graphc
from graphc import Tensor, ops
from graphc.codegen import CodegenError
from graphc.ops import REGISTRY
from graphc.ops.core import ELEMENTWISE, Op, register

from .native_support import assert_close, assert_same, run_both

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- every op -------------------------------------------------------------------------------------------------
PLACEHOLDERS = {"input", "param", "const", "grad"}
# Results that round exactly as the NumPy reference does: equal bit for bit.
EXACT = {"abs", "add", "allreduce", "argmax", "assign", "broadcast_to", "cast", "channel_affine", "concat", "div",
         "dropout", "eq", "floor", "floor_div", "floor_mod", "gather", "gather_grad", "ge", "gt", "hsigmoid", "hswish", "le", "leaky_relu", "lt",
         "max_pool2d", "max_pool2d_grad_grad", "maximum", "minimum", "mul", "ne", "neg", "one_hot", "pack", "pad",
         "reduce_max", "relu", "relu6", "relu_grad", "reshape", "rsqrt", "select", "sign", "sqrt", "stack",
         "stop_gradient", "strided_slice", "strided_slice_grad", "sub", "summary", "transpose"}
# Sums in another order than NumPy's (overlapping pooling windows too), or vecmath's exp/log: close.
CLOSE = {"avg_pool2d", "avg_pool2d_grad", "batch_stats", "channel_sums", "conv2d", "conv2d_grad_filter",
         "conv2d_grad_input", "cos", "erf", "exp", "gelu", "log", "log_softmax", "matmul", "max_pool2d_grad", "pow",
         "reduce_mean", "reduce_sum", "sigmoid", "silu", "sin", "softmax", "sparse_softmax_cross_entropy",
         "sparse_softmax_cross_entropy_grad", "stretched_sigmoid", "tanh"}


def _samples(name: str) -> list:
    return REGISTRY[name].samples(np.random.default_rng(zlib.crc32(name.encode())))


def _float32(array) -> np.ndarray:
    array = np.asarray(array)
    return array.astype(np.float32) if array.dtype.kind == "f" else array


SAMPLES = [pytest.param(name, index, id=f"{name}-{index}") for name in sorted(REGISTRY) if name not in PLACEHOLDERS
           for index in range(len(_samples(name)))]


@pytest.mark.parametrize("name, index", SAMPLES)
def test_every_op_matches_the_interpreter(name, index):
    op = REGISTRY[name]
    assert name in EXACT | CLOSE, f"classify op {name} as EXACT or CLOSE (and document why)"
    arrays, attrs = _samples(name)[index]
    arrays = [_float32(a) for a in arrays]
    params = {"target": arrays[0]} if op.impure else {}
    inputs = arrays[1:] if op.impure else arrays
    fn = lambda p, *xs: op(*([p["target"]] if op.impure else []), *xs, **attrs)
    native, interp = run_both(fn, inputs, params)
    (assert_same if name in EXACT else assert_close)(native, interp)


# -- fused regions on drawn shapes -------------------------------------------------------------------------------
def _random(shape, seed, scale=1.0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


@st.composite
def conv_problems(draw):
    """(x shape, w shape, conv attrs): batch 1-3, odd sizes, stride 1-2, padding, groups."""
    group = draw(st.sampled_from([1, 1, 2]))
    cin, cout = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h, w = draw(st.integers(max(1, kh - pad[0] - pad[1]), 19)), draw(st.integers(max(1, kw - pad[2] - pad[3]), 21))
    attrs = {"stride": (draw(st.integers(1, 2)), draw(st.integers(1, 2))), "pad_mode": "pad", "padding": pad,
             "group": group}
    return (draw(st.integers(1, 3)), cin, h, w), (cout, cin // group, kh, kw), attrs


@PROPERTY
@given(problem=conv_problems())
# a run of stored lanes passing the end of a one-column row: the epilogue read the mask at lane 0's row
@example(problem=((1, 1, 2, 1), (1, 1, 1, 1),
                  {"stride": (1, 1), "pad_mode": "pad", "padding": (0, 0, 0, 0), "group": 1}))
def test_conv_regions(problem):
    """conv2d + bias + ReLU; its input gradient with a ReLU mask; its filter gradient with a
    Momentum update of the weight and its moment, in place."""
    x_shape, w_shape, conv = problem
    y_shape = ops.get("conv2d")(Tensor(np.zeros(x_shape, np.float32)), Tensor(np.zeros(w_shape, np.float32)),
                                **conv).shape
    inputs = [_random(x_shape, 1), _random(y_shape, 2), _random(x_shape, 3), _random((1, w_shape[0], 1, 1), 4)]

    def fn(p, x, dy, mask, bias):
        y = ops.relu(ops.get("conv2d")(x, p["w"], **conv) + bias)
        dx = ops.relu_grad(ops.conv2d_grad_input(dy, p["w"], input_shape=x_shape, **conv), mask)
        moment = p["m"] * 0.9 + ops.conv2d_grad_filter(dy, x, filter_shape=w_shape, **conv)
        ops.assign(p["m"], moment)
        ops.assign(p["w"], p["w"] - moment * 0.01)
        return y, dx
    assert_close(*run_both(fn, inputs, {"w": _random(w_shape, 5), "m": _random(w_shape, 6)}))


@PROPERTY
@given(m=st.integers(1, 40), k=st.integers(1, 70), n=st.integers(1, 37), transpose_a=st.booleans(),
       transpose_b=st.booleans())
def test_matmul_regions(m, k, n, transpose_a, transpose_b):
    """matmul + bias + ReLU; a matmul whose epilogue updates a parameter and its moment in place;
    a matmul under a comparison (a bool result: the anchor and the rest run as two kernels)."""
    a_shape, b_shape = (k, m) if transpose_a else (m, k), (n, k) if transpose_b else (k, n)
    flags = {"transpose_a": transpose_a, "transpose_b": transpose_b}
    inputs = [_random(a_shape, 1), _random(b_shape, 2), _random((n,), 3)]

    def fn(p, a, b, bias):
        y = ops.relu(ops.get("matmul")(a, b, **flags) + bias)
        moment = p["m"] * 0.9 + ops.get("matmul")(a, b, **flags)
        ops.assign(p["m"], moment)
        ops.assign(p["w"], p["w"] - moment * 0.01)
        return y, ops.gt(ops.get("matmul")(a, b, **flags), 0.5)
    native, interp = run_both(fn, inputs, {"w": _random((m, n), 4), "m": _random((m, n), 5)})
    assert_close(native[:1] + native[2:], interp[:1] + interp[2:])
    sums = np.matmul(*[x.T if t else x for x, t in zip(inputs[:2], (transpose_a, transpose_b))], dtype=np.float64)
    ambiguous = np.abs(sums - 0.5) < 1e-4 * np.abs(sums).max()    # rounding may flip the comparison there
    np.testing.assert_array_equal(native[1][~ambiguous], interp[1][~ambiguous])


@st.composite
def shapes_with_axes(draw):
    shape = tuple(draw(st.lists(st.sampled_from([1, 2, 3, 5, 16, 17, 33]), min_size=1, max_size=4)))
    kind = draw(st.sampled_from(["prefix", "suffix", "middle", "both"]))
    ndim = len(shape)
    cut = draw(st.integers(0, ndim))
    axes = {"prefix": range(cut), "suffix": range(cut, ndim), "middle": range(min(cut, ndim - 1), ndim - 1),
            "both": [*range(min(cut, 1)), *range(max(cut, 1), ndim)]}[kind]
    return shape, tuple(axes)


@PROPERTY
@given(problem=shapes_with_axes(), keep_dims=st.booleans())
def test_reduce_regions(problem, keep_dims):
    """reduce_sum / reduce_mean / reduce_max with elementwise prologues, over prefixes, suffixes
    and middle runs of axes; a prologue reading a scalar parameter (run as a loop, then the
    reduction)."""
    shape, axes = problem
    inputs = [_random(shape, 1), _random(shape, 2)]

    def fn(p, x, y):
        return (ops.reduce_sum(x * y, axis=axes, keep_dims=keep_dims),
                ops.reduce_mean(ops.exp(x) - 1.0, axis=axes, keep_dims=keep_dims),
                ops.reduce_max(ops.maximum(x, y), axis=axes, keep_dims=keep_dims),
                ops.reduce_sum(x * p["scale"], axis=axes, keep_dims=keep_dims))
    assert_close(*run_both(fn, inputs, {"scale": np.float32(0.5)}))


@PROPERTY
@given(shape=st.lists(st.integers(1, 35), min_size=1, max_size=3).map(tuple), broadcast_axis=st.integers(0, 2))
def test_elementwise_regions(shape, broadcast_axis):
    """A chain with a broadcast operand, integer and bool values, casts, exact in every lane
    (masked tails included); and an in-place parameter update."""
    small = tuple(1 if a == broadcast_axis % len(shape) else d for a, d in enumerate(shape))
    inputs = [_random(shape, 1), _random(small, 2), (_random(shape, 3) * 10).astype(np.int32)]

    def fn(p, x, y, i):
        chosen = ops.select(ops.gt(x, y), x * 2.0, ops.neg(y))
        counts = ops.maximum(i * 3 - 1, ops.cast(x, dtype="i32"))
        ops.assign(p["v"], p["v"] * 0.5 + chosen)
        return chosen, counts, ops.le(ops.abs(x), 0.5), ops.cast(ops.cast(y, dtype="f64") / 3.0, dtype="f32")
    native, interp = run_both(fn, inputs, {"v": _random(shape, 4)})
    assert_same(native, interp)


@PROPERTY
@given(batch=st.integers(1, 3), channels=st.integers(1, 4), size=st.integers(2, 13))
def test_pooling_with_a_prologue(batch, channels, size):
    """max_pool2d(relu(x)) fuses into a region the pool kernel takes no prologue for: a loop, then the pool."""
    inputs = [_random((batch, channels, size, size + 1), 1)]
    assert_same(*run_both(lambda p, x: ops.get("max_pool2d")(ops.relu(x), kernel_size=2, stride=2), inputs))


@st.composite
def pool_problems(draw):
    """(x shape, pool attrs): batch 1-3, odd sizes, windows that tile, overlap or leave gaps, 'same' padding."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(kernel[0], 13)),
             draw(st.integers(kernel[1], 37)))
    return shape, {"kernel_size": kernel, "stride": stride, "pad_mode": draw(st.sampled_from(["valid", "same"]))}


@PROPERTY
@given(problem=pool_problems())
def test_pooling_gradient_regions(problem):
    """The backward pass of relu -> pool: each pooling gradient with the ReLU mask (and a
    per-channel factor) as its epilogue; the forward pools alone."""
    x_shape, pool = problem
    relu_out = np.maximum(_random(x_shape, 1), 0)
    y_shape = ops.get("max_pool2d")(Tensor(relu_out), **pool).shape
    inputs = [relu_out, _random(y_shape, 2), _random((1, x_shape[1], 1, 1), 3)]

    def fn(p, r, dy, factor):
        pooled = ops.get("max_pool2d")(r, **pool)
        dx_max = ops.relu_grad(ops.max_pool2d_grad(r, pooled, dy, **pool), r) * factor
        dx_avg = ops.relu_grad(ops.avg_pool2d_grad(dy, input_shape=x_shape, **pool), r)
        return pooled, ops.get("avg_pool2d")(r, **pool), dx_max, dx_avg
    assert_close(*run_both(fn, inputs))


def test_conv_epilogue_reading_a_full_tensor_across_channel_lanes():
    """conv2 of LeNet computes 16 channels per vector (lanes along c), so an epilogue operand of the
    output's shape is read one element per lane."""
    inputs = [_random((2, 6, 14, 14), 1), _random((16, 6, 5, 5), 2), _random((2, 16, 10, 10), 3)]
    assert_close(*run_both(lambda p, x, w, r: ops.relu(ops.get("conv2d")(x, w) + r), inputs))


@pytest.mark.parametrize("dy_shape", [(3, 16, 10, 10), (2, 6, 28, 28)])   # channel lanes; reduction lanes
def test_filter_gradient_epilogue_with_an_operand_broadcast_along_one_kernel_axis(dy_shape):
    """The filter gradient's lanes run along flattened taps (or all of dw), so a factor varying
    along kw only is read one element per lane."""
    batch, cout, h, w = dy_shape
    inputs = [_random(dy_shape, 1), _random((batch, 6 if cout == 16 else 1, h + 4, w + 4), 2), _random((1, 1, 1, 5), 3)]
    assert_close(*run_both(lambda p, dy, x, r: ops.conv2d_grad_filter(dy, x, filter_shape=(cout, x.shape[1], 5, 5)) * r,
                           inputs))


def test_reshapes_view_their_operand_and_parameters_are_copied():
    inputs = [_random((4, 6), 1)]

    def fn(p, x):
        flat = ops.reshape(ops.exp(x), shape=(24,))
        return ops.reshape(flat, shape=(2, 12)) * 2.0, ops.reshape(p["w"], shape=(3, 2))
    native, interp = run_both(fn, inputs, {"w": _random((6,), 2)})
    assert_close(native, interp)


def test_outputs_that_are_inputs_constants_and_parameters():
    """A parameter output is its value from before the step, even when the step assigns it."""
    inputs = [_random((3,), 1)]

    def fn(p, x):
        ops.assign(p["w"], p["w"] + x)
        return x, Tensor(np.arange(3, dtype=np.float32)), p["w"], p["u"]
    native, interp = run_both(fn, inputs, {"w": _random((3,), 2), "u": _random((2,), 3)})
    assert_same(native, interp)


# -- errors -------------------------------------------------------------------------------------------------------
def test_an_op_without_a_lowering_is_a_codegen_error_naming_it():
    twice = register(Op("test_only_twice", ("x",), lambda x: x, lambda x: 2 * x, ELEMENTWISE))
    opaque = register(Op("test_only_opaque", ("x",), lambda x: x, lambda x: x))
    try:
        with pytest.raises(CodegenError, match=r"op 'test_only_twice' has no lowering "
                                               r"\(node %\d+: f32\[3\] from f32\[3\]"):
            graphc.jit(lambda x: twice(x) + 1.0)(np.ones(3, np.float32))
        with pytest.raises(CodegenError, match=r"op 'test_only_opaque' has no lowering \(node %\d+: f32\[2\] from "
                                               r"f32\[2\], scope Net\)"):
            graphc.jit(Net(opaque))(np.ones(2, np.float32))
    finally:
        del REGISTRY["test_only_twice"], REGISTRY["test_only_opaque"]


class Net(graphc.nn.Cell):
    def __init__(self, op):
        super().__init__()
        self.op = op

    def construct(self, x):
        return self.op(x)


def test_an_unsupported_operand_type_names_the_node_and_the_reason():
    with pytest.raises(CodegenError, match=r"no native code for %\d+ = max_pool2d\(f64\[1,1,5,5\]\).*float32 kernels only"):
        graphc.jit(lambda x: ops.get("max_pool2d")(x, kernel_size=2, stride=2))(np.ones((1, 1, 5, 5), np.float64))


def test_the_interpreter_backend_still_runs_what_has_no_kernel():
    fn = graphc.jit(lambda x: ops.get("max_pool2d")(x, kernel_size=2, stride=2), backend="interp")
    assert fn(np.ones((1, 1, 5, 5), np.float64)).shape == (1, 1, 2, 2)
