"""Kernels that read their batch size at run time (kernels/contract.py) emit the same IR at every
batch size, so a partial batch or an eval at another batch size reuses their objects; each
family's correctness at any one batch size is tested in its own file, and identical IR makes the
object compiled for one batch the object of the other."""
import pytest
from llvmlite import ir

from graphc.codegen.kernels import epilogue as ep
from graphc.codegen.kernels.batch_stats import emit_batch_stats, emit_channel_sums
from graphc.codegen.kernels.conv import ConvGeometry, emit_conv2d, emit_conv2d_grad_input
from graphc.codegen.kernels.conv_depthwise import emit_depthwise_conv2d, emit_depthwise_grad_filter, \
    emit_depthwise_grad_input
from graphc.codegen.kernels.conv_filter import emit_conv2d_grad_filter
from graphc.codegen.kernels.elementwise import Tensor, emit_elementwise
from graphc.codegen.kernels.matmul import emit_matmul
from graphc.codegen.kernels.pool import PoolGeometry, emit_avg_pool2d, emit_max_pool2d, emit_max_pool2d_grad
from graphc.codegen.kernels.reduce import emit_reduce
from graphc.codegen.kernels.softmax_xent import emit_sparse_softmax_cross_entropy, \
    emit_sparse_softmax_cross_entropy_grad


def conv(n, stride=1, channels=6, size=14, out=16, kernel=5, pad=0):
    return ConvGeometry(n, channels, size, size, out, kernel, kernel, stride=(stride, stride), pad=(pad,) * 4)


def depthwise(n):
    return ConvGeometry(n, 24, 9, 9, 24, 3, 3, stride=(2, 2), pad=(1, 1, 1, 1), group=24)


def add_relu(module, name, n):
    shape = (n, 6, 7, 9)
    return emit_elementwise(module, name, shape, [Tensor("x", shape), Tensor("bias", (6, 1, 1))], [Tensor("y", shape)],
                            lambda b, v: b.fadd(v[0], v[1]))


FAMILIES = {
    "conv2d, width lanes": lambda m, name, n: emit_conv2d(m, name, conv(n, channels=1, size=32, out=6)),
    "conv2d, channel lanes + bias, relu": lambda m, name, n: emit_conv2d(
        m, name, conv(n), ep.chain(ep.bias_add("c", 16), ep.relu())),
    "conv2d dx, direct": lambda m, name, n: emit_conv2d_grad_input(m, name, conv(n)),
    "conv2d, winograd F(4x4, 3x3) + bias, relu": lambda m, name, n: emit_conv2d(
        m, name, conv(n, channels=32, size=8, out=32, kernel=3, pad=1), ep.chain(ep.bias_add("c", 32), ep.relu())),
    "conv2d dx, winograd F(2x2, 3x3)": lambda m, name, n: emit_conv2d_grad_input(
        m, name, conv(n, channels=64, size=6, out=64, kernel=3, pad=1)),
    "conv2d dw, winograd F(3x3, 4x4)": lambda m, name, n: emit_conv2d_grad_filter(
        m, name, conv(n, channels=32, size=8, out=64, kernel=3, pad=1)),
    "conv2d dx, columns (stride 2)": lambda m, name, n: emit_conv2d_grad_input(
        m, name, conv(n, stride=2, channels=8, size=9, out=12, kernel=3, pad=1)),
    "conv2d dw, chunked reduction lanes": lambda m, name, n: emit_conv2d_grad_filter(m, name, conv(n, 1, 1, 32, 6)),
    "conv2d dw, chunked channel lanes": lambda m, name, n: emit_conv2d_grad_filter(m, name, conv(n)),
    "depthwise conv2d": lambda m, name, n: emit_depthwise_conv2d(m, name, depthwise(n)),
    "depthwise dx": lambda m, name, n: emit_depthwise_grad_input(m, name, depthwise(n)),
    "depthwise dw": lambda m, name, n: emit_depthwise_grad_filter(m, name, depthwise(n)),
    "1x1 conv2d (batched matmul)": lambda m, name, n: emit_matmul(m, name, 24, 16, 49, batch=n),
    "1x1 conv2d dw (dot products summed over the images)": lambda m, name, n: emit_matmul(
        m, name, 24, 32, 16, transpose_b=True, terms=n),
    "dense forward (x @ w.T + bias)": lambda m, name, n: emit_matmul(m, name, n, 40, 12, transpose_b=True,
                                                                     epilogue=ep.bias_add("n", 12)),
    "dense dx (dy @ w)": lambda m, name, n: emit_matmul(m, name, n, 12, 40),
    "dense dw (dy.T @ x)": lambda m, name, n: emit_matmul(m, name, 12, n, 40, transpose_a=True),
    "elementwise with broadcast": add_relu,
    "max_pool2d": lambda m, name, n: emit_max_pool2d(m, name, PoolGeometry(n, 6, 28, 28, (2, 2), (2, 2))),
    "avg_pool2d, padded": lambda m, name, n: emit_avg_pool2d(m, name, PoolGeometry(n, 3, 9, 9, (3, 3), (2, 2),
                                                                                   (1, 1, 1, 1))),
    "max_pool2d grad": lambda m, name, n: emit_max_pool2d_grad(m, name, PoolGeometry(n, 6, 28, 28, (2, 2), (2, 2))),
    "softmax cross-entropy": lambda m, name, n: emit_sparse_softmax_cross_entropy(m, name, n, 10),
    "softmax cross-entropy grad": lambda m, name, n: emit_sparse_softmax_cross_entropy_grad(m, name, n, 10),
    "reduce: bias gradient (sum over the batch)": lambda m, name, n: emit_reduce(m, name, (n, 10), (0,)),
    "reduce: conv bias gradient": lambda m, name, n: emit_reduce(m, name, (n, 16, 5, 5), (0, 2, 3)),
    "reduce: loss mean": lambda m, name, n: emit_reduce(m, name, (n,), (0,), "mean"),
    "reduce: global average pool": lambda m, name, n: emit_reduce(m, name, (n, 64, 7, 7), (2, 3), "mean"),
    "reduce: row sums": lambda m, name, n: emit_reduce(m, name, (n, 10), (1,)),
    "reduce: channel sums, f64": lambda m, name, n: emit_reduce(m, name, (n, 3, 4), (1,), dtype="f64"),
    "batch statistics": lambda m, name, n: emit_batch_stats(m, name, n, 5, 49),
    "channel sums": lambda m, name, n: emit_channel_sums(m, name, n, 5, 49),
}


def ir_text(emit, batch):
    module = ir.Module(name="kernel")
    kernel = emit(module, "k", batch)
    return str(module), kernel


@pytest.mark.parametrize("family", FAMILIES)
def test_the_ir_does_not_depend_on_the_batch_size(family):
    (full, kernel), (partial, smaller) = ir_text(FAMILIES[family], 32), ir_text(FAMILIES[family], 7)
    assert (kernel.batch, smaller.batch) == (32, 7)         # what the calls pass as `batch`
    assert full == partial


def test_a_batch_dependent_constant_keeps_the_ir_apart():
    # the same loop scaling by 1/N, as a loss mean's gradient does: the constant is in the IR
    def scaled(module, name, n):
        return emit_elementwise(module, name, (n, 10), [Tensor("x", (n, 10))], [Tensor("y", (n, 10))],
                                lambda b, v: b.fmul(v[0], ir.Constant(v[0].type, 1.0 / n)))
    assert ir_text(scaled, 32)[0] != ir_text(scaled, 31)[0]

