"""The neural-network ops against independent definitions: conv2d against a direct-loop NumPy
convolution, pooling and gradient routing against hand-worked examples, softmax and
cross-entropy against hand values and MindSpore's documented example."""
from __future__ import annotations

import inspect
import math
import os

import numpy as np
import pytest

import graphc
from graphc import Tensor, ops
from graphc.jit import trace
from graphc.interp import run
from graphc.types import TensorType, float32, int32


# -- conv2d against a direct loop --------------------------------------------------------------------------
def same_padding(size, kernel, stride, dilation):
    """MindSpore's 'same': ceil(size / stride) outputs, the odd padding row at the bottom/right."""
    outputs = math.ceil(size / stride)
    total = max(0, (outputs - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return total // 2, total - total // 2


def conv2d_loops(x, w, stride, padding, dilation, group):
    """y[n, o, i, j] = sum over c, kh, kw of x_padded[n, c_in, i·sh + kh·dh, j·sw + kw·dw] · w[o, c, kh, kw]."""
    (n, c, h, wd), (o, c_group, kh, kw) = x.shape, w.shape
    (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, padding
    padded = np.zeros((n, c, h + top + bottom, wd + left + right))
    padded[:, :, top:top + h, left:left + wd] = x
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for b, out_ch, i, j in np.ndindex(n, o, oh, ow):
        first_in = out_ch // (o // group) * c_group
        for ci, a, e in np.ndindex(c_group, kh, kw):
            y[b, out_ch, i, j] += padded[b, first_in + ci, i * sh + a * dh, j * sw + e * dw] * w[out_ch, ci, a, e]
    return y


CONV_CASES = [  # x shape, w shape, attrs
    ((2, 3, 7, 7), (4, 3, 3, 3), {}),
    ((1, 2, 8, 7), (3, 2, 3, 2), {"stride": 2}),
    ((1, 2, 6, 6), (2, 2, 4, 4), {"pad_mode": "same"}),
    ((1, 2, 7, 8), (3, 2, 3, 3), {"pad_mode": "same", "stride": 2}),
    ((1, 1, 5, 6), (2, 1, 3, 2), {"pad_mode": "same", "stride": (2, 3), "dilation": 2}),
    ((1, 2, 5, 5), (2, 2, 3, 3), {"pad_mode": "pad", "padding": (1, 2, 0, 3), "stride": (2, 1)}),
    ((1, 2, 9, 9), (2, 2, 3, 3), {"dilation": (2, 3)}),
    ((2, 4, 5, 5), (6, 2, 3, 3), {"group": 2, "pad_mode": "pad", "padding": 1}),
    ((1, 3, 6, 6), (3, 1, 2, 2), {"group": 3, "pad_mode": "same", "stride": 2}),
]


def _padding_for(x_shape, w_shape, attrs):
    mode, stride = attrs.get("pad_mode", "valid"), attrs.get("stride", 1)
    stride, dilation = [(v, v) if isinstance(v, int) else v for v in (stride, attrs.get("dilation", 1))]
    if mode == "pad":
        padding = attrs["padding"]
        return (padding,) * 4 if isinstance(padding, int) else padding
    if mode == "valid":
        return 0, 0, 0, 0
    return same_padding(x_shape[2], w_shape[2], stride[0], dilation[0]) + \
        same_padding(x_shape[3], w_shape[3], stride[1], dilation[1])


@pytest.mark.parametrize("x_shape, w_shape, attrs", CONV_CASES)
def test_conv2d_matches_direct_loops(x_shape, w_shape, attrs):
    rng = np.random.default_rng(len(str(attrs)))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    stride, dilation = [(v, v) if isinstance(v, int) else v for v in (attrs.get("stride", 1), attrs.get("dilation", 1))]
    expected = conv2d_loops(x, w, stride, _padding_for(x_shape, w_shape, attrs), dilation, attrs.get("group", 1))
    np.testing.assert_allclose(ops.get("conv2d")(Tensor(x), Tensor(w), **attrs).asnumpy(), expected, rtol=1e-12,
                               atol=1e-12)


def test_same_padding_puts_the_odd_row_at_the_bottom_right():
    # kernel 4, stride 1 on 6: three padding rows, one on top and two below
    assert ops.conv_padding({"pad_mode": "same", "stride": (1, 1), "dilation": (1, 1)}, (6, 6), (4, 4)) == (1, 2, 1, 2)
    # stride 2 on 7 gives ceil(7/2) = 4 outputs: (4-1)·2 + 3 - 7 = 2 rows, one each side
    assert ops.get("conv2d")(Tensor(np.zeros((1, 1, 7, 7), np.float32)), Tensor(np.zeros((1, 1, 3, 3), np.float32)),
                      stride=2, pad_mode="same").shape == (1, 1, 4, 4)


def test_conv2d_hand_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = ops.get("conv2d")(Tensor(x), Tensor(np.ones((1, 1, 2, 2), np.float32)), stride=2).asnumpy()
    np.testing.assert_array_equal(y, [[[[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]]])


def test_conv2d_gradients_hand_example():
    w = np.array([[[[1, 2], [3, 4]]]], np.float32)
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    dy = np.ones((1, 1, 2, 2), np.float32)
    dx = ops.conv2d_grad_input(Tensor(dy), Tensor(w), input_shape=(1, 1, 3, 3)).asnumpy()
    # each input element collects the weights of every window covering it
    np.testing.assert_array_equal(dx[0, 0], [[1, 1 + 2, 2], [1 + 3, 1 + 2 + 3 + 4, 2 + 4], [3, 3 + 4, 4]])
    dw = ops.conv2d_grad_filter(Tensor(dy), Tensor(x), filter_shape=(1, 1, 2, 2)).asnumpy()
    # dw[kh, kw] sums the 2x2 block of x starting at (kh, kw)
    np.testing.assert_array_equal(dw[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])


def test_conv2d_attrs_are_canonical():
    x, w = Tensor(np.zeros((1, 2, 5, 5), np.float32)), Tensor(np.zeros((2, 2, 3, 3), np.float32))
    traced = trace(lambda x, w: ops.get("conv2d")(x, w, stride=2, pad_mode="PAD", padding=1, dilation=1), (x, w))
    [node] = traced.graph.of_op("conv2d")
    assert node.attrs == {"stride": (2, 2), "pad_mode": "pad", "padding": (1, 1, 1, 1), "dilation": (1, 1),
                          "group": 1}


def test_conv2d_rejects_padding_without_pad_mode():
    with pytest.raises(graphc.GraphcError, match="needs pad_mode='pad'"):
        ops.get("conv2d")(Tensor(np.zeros((1, 1, 4, 4), np.float32)), Tensor(np.zeros((1, 1, 3, 3), np.float32)),
                          padding=1)


# -- pooling ----------------------------------------------------------------------------------------------------
def _nchw(rows):
    return Tensor(np.array(rows, np.float32)[None, None])


def test_max_pool_forward_valid_and_same():
    x = _nchw(np.arange(9).reshape(3, 3))
    np.testing.assert_array_equal(ops.get("max_pool2d")(x, kernel_size=2, stride=1).asnumpy()[0, 0], [[4, 5], [7, 8]])
    # 'same', stride 2 on 3: 2 outputs, one padding row/column at the bottom/right (padding never wins)
    same = ops.get("max_pool2d")(x - 10.0, kernel_size=2, stride=2, pad_mode="same")
    np.testing.assert_array_equal(same.asnumpy()[0, 0], [[-6, -5], [-3, -2]])


def test_max_pool_grad_routes_ties_to_the_first_maximum():
    x = _nchw([[1, 3], [3, 2]])
    pooled = ops.get("max_pool2d")(x, kernel_size=2, stride=2)
    dx = ops.max_pool2d_grad(x, pooled, _nchw([[5]]), kernel_size=2, stride=2)
    np.testing.assert_array_equal(dx.asnumpy()[0, 0], [[0, 5], [0, 0]])


def test_max_pool_grad_adds_overlapping_windows():
    # all ties: each of the four 2x2 windows sends its gradient to its own top-left element
    x = _nchw(np.ones((3, 3)))
    dy = _nchw([[1, 2], [3, 4]])
    dx = ops.max_pool2d_grad(x, ops.get("max_pool2d")(x, kernel_size=2), dy, kernel_size=2).asnumpy()[0, 0]
    np.testing.assert_array_equal(dx, [[1, 2, 0], [3, 4, 0], [0, 0, 0]])


def test_max_pool_grad_grad_picks_at_the_first_maximum():
    x = _nchw([[1, 3, 0, 9], [3, 2, 9, 1]])
    g = _nchw([[10, 20, 30, 40], [50, 60, 70, 80]])
    picked = ops.max_pool2d_grad_grad(x, ops.get("max_pool2d")(x, kernel_size=2, stride=2), g, kernel_size=2, stride=2)
    np.testing.assert_array_equal(picked.asnumpy()[0, 0], [[20, 40]])


def test_max_pool_gradient_through_autodiff():
    x = _nchw([[1, 3], [3, 2]])
    grad = graphc.grad(lambda x: ops.reduce_sum(ops.get("max_pool2d")(x, kernel_size=2, stride=2)))(x)
    np.testing.assert_array_equal(grad.asnumpy()[0, 0], [[0, 1], [0, 0]])


def test_avg_pool_same_divides_by_real_elements_only():
    x = _nchw(np.arange(9).reshape(3, 3))
    y = ops.get("avg_pool2d")(x, kernel_size=2, stride=2, pad_mode="same").asnumpy()[0, 0]
    np.testing.assert_array_equal(y, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])
    dx = ops.avg_pool2d_grad(_nchw(np.ones((2, 2))), input_shape=(1, 1, 3, 3), kernel_size=2, stride=2,
                             pad_mode="same").asnumpy()[0, 0]
    np.testing.assert_array_equal(dx, [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1]])


def test_lenet_shapes():
    x = Tensor(np.zeros((32, 1, 32, 32), np.float32))
    c1 = ops.get("conv2d")(x, Tensor(np.zeros((6, 1, 5, 5), np.float32)))
    p1 = ops.get("max_pool2d")(c1, kernel_size=2, stride=2)
    c2 = ops.get("conv2d")(p1, Tensor(np.zeros((16, 6, 5, 5), np.float32)))
    assert (c1.shape, p1.shape, c2.shape, ops.get("max_pool2d")(c2, kernel_size=2, stride=2).shape) == \
        ((32, 6, 28, 28), (32, 6, 14, 14), (32, 16, 10, 10), (32, 16, 5, 5))


# -- softmax and cross-entropy -----------------------------------------------------------------------------------
def test_softmax_hand_values_and_stability():
    np.testing.assert_allclose(ops.softmax(Tensor([0.0, math.log(3.0)])).asnumpy(), [0.25, 0.75], rtol=1e-6)
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(ops.softmax(Tensor([[1000.0, 1000.0]])).asnumpy(), [[0.5, 0.5]])
        np.testing.assert_allclose(ops.log_softmax(Tensor([[1000.0, 1000.0]])).asnumpy(), [[-math.log(2)] * 2],
                                   rtol=1e-6)
    by_column = ops.softmax(Tensor([[0.0, 0.0], [math.log(3.0), 0.0]]), axis=0).asnumpy()
    np.testing.assert_allclose(by_column, [[0.25, 0.5], [0.75, 0.5]], rtol=1e-6)


def test_sparse_cross_entropy_mindspore_example():
    # MindSpore's SoftmaxCrossEntropyWithLogits(sparse=True) doc example: label 1 gives 67.
    logits = Tensor(np.array([[3, 5, 6, 9, 12, 33, 42, 12, 32, 72]], np.float32))
    loss = ops.sparse_softmax_cross_entropy(logits, Tensor(np.array([1], np.int32)))
    np.testing.assert_allclose(loss.asnumpy(), [67.0], rtol=1e-6)


def test_sparse_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = Tensor(np.array([[0.0, math.log(3.0)], [math.log(3.0), 0.0]], np.float32))
    labels = Tensor(np.array([0, 0], np.int32))
    np.testing.assert_allclose(ops.sparse_softmax_cross_entropy_grad(logits, labels).asnumpy(),
                               [[0.25 - 1, 0.75], [0.75 - 1, 0.25]], rtol=1e-6)
    grad = graphc.grad(lambda x: ops.reduce_mean(ops.sparse_softmax_cross_entropy(x, labels)))(logits)
    np.testing.assert_allclose(grad.asnumpy(), [[-0.375, 0.375], [-0.125, 0.125]], rtol=1e-6)


def test_out_of_range_label_is_a_clear_error_in_both_modes():
    logits, labels = np.zeros((2, 5), np.float32), np.array([1, 5], np.int32)
    with pytest.raises(graphc.GraphcError, match="label 5 is out of range for 5 classes") as eager:
        line = inspect.currentframe().f_lineno + 1
        ops.sparse_softmax_cross_entropy(Tensor(logits), Tensor(labels))
    assert f"{os.path.basename(__file__)}:{line}" in str(eager.value)
    traced = trace(lambda x, y: ops.sparse_softmax_cross_entropy(x, y), (logits, labels))
    with pytest.raises(graphc.GraphcError, match=r"labels must be class indices in \[0, 5\)"):
        run(traced.graph, [logits, labels])


# -- flops -----------------------------------------------------------------------------------------------------
def _flops(name, out_shape, *operand_shapes, **attrs):
    op = ops.get(name)
    return op.flops(TensorType(out_shape, float32), *[TensorType(s, float32) for s in operand_shapes],
                    **op.check_attrs(attrs))


def test_flops_hand_counts():
    lenet_conv1 = 2 * 32 * 6 * 28 * 28 * 1 * 5 * 5           # 2·N·O·OH·OW·(C/g)·KH·KW
    assert _flops("conv2d", (32, 6, 28, 28), (32, 1, 32, 32), (6, 1, 5, 5)) == lenet_conv1
    assert _flops("conv2d_grad_input", (32, 1, 32, 32), (32, 6, 28, 28), (6, 1, 5, 5),
                  input_shape=(32, 1, 32, 32)) == lenet_conv1
    assert _flops("conv2d_grad_filter", (6, 1, 5, 5), (32, 6, 28, 28), (32, 1, 32, 32),
                  filter_shape=(6, 1, 5, 5)) == lenet_conv1
    assert _flops("conv2d", (1, 4, 5, 5), (1, 4, 5, 5), (4, 2, 3, 3), group=2, pad_mode="same") == 2 * 4 * 25 * 2 * 9
    assert _flops("matmul", (32, 120), (32, 400), (120, 400), transpose_b=True) == 2 * 32 * 120 * 400
    assert _flops("max_pool2d", (32, 6, 14, 14), (32, 6, 28, 28), kernel_size=2, stride=2) == 32 * 6 * 14 * 14 * 4
    assert _flops("relu", (32, 6, 28, 28), (32, 6, 28, 28)) == 32 * 6 * 28 * 28
    assert _flops("reduce_sum", (3,), (3, 4, 5), axis=(1, 2)) == 60
    assert _flops("reshape", (12,), (3, 4), shape=(12,)) == 0
    assert ops.get("gather").flops(TensorType((), float32), TensorType((3,), float32), TensorType((), int32),
                                   axis=0) == 0
