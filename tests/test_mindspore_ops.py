"""MindSpore's primitive classes, GradOperation, depend, stop_gradient, ParameterTuple and the
Tensor methods: each agrees with NumPy eagerly and traced (the interpreter), has gradients that
agree with finite differences where it has any, and refuses bad input with the user's line."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import graphc
from graphc import GraphcError, Parameter, ParameterTuple, Tensor, nn, ops
from graphc.interp import run
from graphc.jit import trace
from gradcheck import check_vjp

RNG = np.random.default_rng(13)
X = RNG.standard_normal((3, 4)).astype(np.float32)
Y = RNG.standard_normal((3, 4)).astype(np.float32)
POSITIVE = RNG.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
LINE = rf"^\S*{os.path.basename(__file__)}:\d+: "   # an error's first words: the user's file:line


def both_ways(fn, *arrays):
    """fn's result eagerly and traced through the interpreter, as NumPy arrays."""
    eager = fn(*[Tensor(a) for a in arrays])
    traced = trace(fn, tuple(arrays))
    outputs, _ = run(traced.graph, list(arrays), {n: p.asnumpy() for n, p in traced.params.items()})
    eager = eager if isinstance(eager, tuple) else (eager,)
    return [e.asnumpy() for e in eager], outputs


def check(fn, expected, *arrays):
    eager, traced = both_ways(fn, *arrays)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for e, t, want in zip(eager, traced, expected):
        np.testing.assert_allclose(e, want, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(e, t)


# -- primitives ---------------------------------------------------------------------------------------------
PRIMITIVE_CASES = [
    ("Abs", lambda x: ops.Abs()(x), lambda x: np.abs(x), [X]),
    ("Neg", lambda x: ops.Neg()(x), np.negative, [X]),
    ("Exp", lambda x: ops.Exp()(x), np.exp, [X]),
    ("Log", lambda x: ops.Log()(x), np.log, [POSITIVE]),
    ("Sqrt", lambda x: ops.Sqrt()(x), np.sqrt, [POSITIVE]),
    ("Square", lambda x: ops.Square()(x), np.square, [X]),
    ("ReLU", lambda x: ops.ReLU()(x), lambda x: np.maximum(x, 0), [X]),
    ("Sigmoid", lambda x: ops.Sigmoid()(x), lambda x: 1 / (1 + np.exp(-x)), [X]),
    ("Tanh", lambda x: ops.Tanh()(x), np.tanh, [X]),
    ("Add", lambda x, y: ops.Add()(x, y), np.add, [X, Y]),
    ("Sub", lambda x, y: ops.Sub()(x, y), np.subtract, [X, Y]),
    ("Mul", lambda x, y: ops.Mul()(x, y), np.multiply, [X, Y]),
    ("Div", lambda x, y: ops.Div()(x, y), np.divide, [X, POSITIVE]),
    ("Pow", lambda x, y: ops.Pow()(x, y), np.power, [POSITIVE, Y]),
    ("Maximum", lambda x, y: ops.Maximum()(x, y), np.maximum, [X, Y]),
    ("Minimum", lambda x, y: ops.Minimum()(x, y), np.minimum, [X, Y]),
    ("Equal", lambda x, y: ops.Equal()(x, y), np.equal, [X, X * (X > 0)]),
    ("Select", lambda x, y: ops.Select()(x > 0, x, y), lambda x, y: np.where(x > 0, x, y), [X, Y]),
    ("MatMul", lambda x, y: ops.MatMul(transpose_b=True)(x, y), lambda x, y: x @ y.T, [X, Y]),
    ("MatMul-a", lambda x, y: ops.MatMul(transpose_a=True)(x, y), lambda x, y: x.T @ y, [X, Y]),
    ("BatchMatMul", lambda x, y: ops.BatchMatMul(transpose_b=True)(x, y), lambda x, y: x @ np.swapaxes(y, -1, -2),
     [RNG.standard_normal((2, 3, 4, 5)), RNG.standard_normal((2, 3, 6, 5))]),
    ("ReduceMean", lambda x: ops.ReduceMean(keep_dims=True)(x, 1), lambda x: x.mean(1, keepdims=True), [X]),
    ("ReduceMean-all", lambda x: ops.ReduceMean()(x), np.mean, [X]),
    ("ReduceSum", lambda x: ops.ReduceSum()(x, (0, 1)), np.sum, [X]),
    ("ReduceMax", lambda x: ops.ReduceMax(keep_dims=False)(x, 0), lambda x: x.max(0), [X]),
    ("Reshape", lambda x: ops.Reshape()(x, (2, -1)), lambda x: x.reshape(2, 6), [X]),
    ("Transpose", lambda x: ops.Transpose()(x, (1, 0)), np.transpose, [X]),
    ("Cast", lambda x: ops.Cast()(x, graphc.int32), lambda x: x.astype(np.int32), [X * 3]),
    ("ExpandDims", lambda x: ops.ExpandDims()(x, -1), lambda x: x[..., None], [X]),
    ("Squeeze", lambda x: ops.Squeeze(1)(x), lambda x: x[:, 0], [X[:, :1]]),
    ("Concat", lambda x, y: ops.Concat(1)((x, y, x)), lambda x, y: np.concatenate([x, y, x], 1), [X, Y]),
    ("Stack", lambda x, y: ops.Stack(-1)((x, y)), lambda x, y: np.stack([x, y], -1), [X, Y]),
    ("Split", lambda x: ops.Split(1, 2)(x), lambda x: tuple(np.split(x, 2, 1)), [X]),
    ("split-sizes", lambda x: ops.split(x, [1, 3], axis=1), lambda x: tuple(np.split(x, [1], 1)), [X]),
    ("split-size", lambda x: ops.split(x, 3, axis=-1), lambda x: (x[:, :3], x[:, 3:]), [X]),
    ("split-r1.7", lambda x: ops.split(x, axis=0, output_num=3), lambda x: tuple(np.split(x, 3, 0)), [X]),
    ("OneHot", lambda i: ops.OneHot()(i, 4, Tensor(2.0), Tensor(-1.0)), lambda i: np.where(np.eye(4)[i] > 0, 2, -1),
     [np.array([0, 3, 1], np.int32)]),
    ("Softmax", lambda x: ops.Softmax()(x), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), [X]),
    ("LogSoftmax", lambda x: ops.LogSoftmax(0)(x), lambda x: x - np.log(np.exp(x).sum(0, keepdims=True)), [X]),
    ("Argmax", lambda x: ops.Argmax(axis=0)(x), lambda x: x.argmax(0), [X]),
    ("Fill", lambda x: x + ops.Fill()(graphc.float32, (3, 4), 2.5), lambda x: x + 2.5, [X]),
    ("ZerosLike", lambda x: ops.ZerosLike()(x), np.zeros_like, [X]),
    ("OnesLike", lambda x: ops.OnesLike()(x), np.ones_like, [X]),
    ("Zeros", lambda x: x + ops.Zeros()((3, 4), graphc.float32), lambda x: x, [X]),
    ("Ones", lambda x: x + ops.Ones()(4), lambda x: x + 1, [X]),        # an int size; float32 by default
    ("Rsqrt", lambda x: ops.Rsqrt()(x), lambda x: 1 / np.sqrt(x), [POSITIVE]),
    ("Sign", lambda x: ops.Sign()(x), np.sign, [X]),
    ("RealDiv", lambda x, y: ops.RealDiv()(x, y), np.divide, [X, POSITIVE]),
    ("NotEqual", lambda x, y: ops.NotEqual()(x, y), np.not_equal, [X, X * (X > 0)]),
    ("Less", lambda x, y: ops.Less()(x, y), np.less, [X, Y]),
    ("LessEqual", lambda x, y: ops.LessEqual()(x, y), np.less_equal, [X, Y]),
    ("Greater", lambda x, y: ops.Greater()(x, y), np.greater, [X, Y]),
    ("GreaterEqual", lambda x, y: ops.GreaterEqual()(x, y), np.greater_equal, [X, Y]),
    ("Gather", lambda x, i: ops.Gather()(x, i, 1), lambda x, i: np.take(x, i, 1), [X, np.array([3, 0], np.int32)]),
    ("BroadcastTo", lambda x: ops.BroadcastTo((2, 3, 4))(x), lambda x: np.broadcast_to(x, (2, 3, 4)), [X]),
    ("SparseSoftmaxCrossEntropyWithLogits", lambda x, i: ops.SparseSoftmaxCrossEntropyWithLogits()(x, i),
     lambda x, i: np.mean(np.log(np.exp(x).sum(1)) - x[np.arange(3), i]), [X, np.array([1, 0, 3], np.int32)]),
    ("SparseSoftmaxCrossEntropyWithLogits-grad",
     lambda x, i: ops.SparseSoftmaxCrossEntropyWithLogits(is_grad=True)(x, i),
     lambda x, i: (np.exp(x) / np.exp(x).sum(1, keepdims=True) - np.eye(4)[i]) / 3, [X, np.array([1, 0, 3], np.int32)]),
]


# -- the neural-network primitives, against NumPy written out here ------------------------------------------
IMAGES = RNG.standard_normal((2, 3, 7, 6))                      # float64: the references sum in another order
FILTERS = RNG.standard_normal((4, 3, 3, 2))
CHANNEL_BIAS = RNG.standard_normal(3)


def windows(x, kernel, stride, pads=(0, 0, 0, 0), fill=0.0):
    """[N, C, OH, OW, KH, KW]: every window of x padded by (top, bottom, left, right) with fill."""
    padded = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]), constant_values=fill)
    return sliding_window_view(padded, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def np_conv(x, w, stride, pads):
    return np.einsum("nchwij,ocij->nohw", windows(x, w.shape[2:], stride, pads), w)


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_softmax_xent(logits, labels):
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -(labels * log_p).sum(-1), np.exp(log_p) - labels


NN_PRIMITIVE_CASES = [
    ("Conv2D", lambda x, w: ops.Conv2D(4, (3, 2))(x, w), lambda x, w: np_conv(x, w, (1, 1), (0, 0, 0, 0)),
     [IMAGES, FILTERS]),
    ("Conv2D-pad", lambda x, w: ops.Conv2D(4, (3, 2), pad_mode="pad", pad=(1, 0, 2, 1), stride=2)(x, w),
     lambda x, w: np_conv(x, w, (2, 2), (1, 0, 2, 1)), [IMAGES, FILTERS]),
    ("Conv2D-same", lambda x, w: ops.Conv2D(4, (3, 2), pad_mode="SAME", stride=(1, 1, 2, 3))(x, w),
     lambda x, w: np_conv(x, w, (2, 3), (1, 1, 0, 0)), [IMAGES, FILTERS]),   # H: 4 outputs need 2 rows; W: 0
    ("MaxPool", lambda x: ops.MaxPool(kernel_size=2, strides=2)(x), lambda x: windows(x, (2, 2), (2, 2)).max((4, 5)),
     [IMAGES]),
    ("MaxPool-same", lambda x: ops.MaxPool(3, 2, pad_mode="same")(x),
     lambda x: windows(x, (3, 3), (2, 2), (1, 1, 0, 1), -np.inf).max((4, 5)), [IMAGES]),
    ("AvgPool", lambda x: ops.AvgPool(kernel_size=(3, 2), strides=(1, 2))(x),
     lambda x: windows(x, (3, 2), (1, 2)).mean((4, 5)), [IMAGES]),
    ("Pad", lambda x: ops.Pad(((0, 0), (1, 0), (2, 3), (0, 1)))(x),
     lambda x: np.pad(x, ((0, 0), (1, 0), (2, 3), (0, 1))), [IMAGES]),
    ("BiasAdd", lambda x, b: ops.BiasAdd()(x, b), lambda x, b: x + b[:, None, None], [IMAGES, CHANNEL_BIAS]),
    ("BiasAdd-NHWC", lambda x, b: ops.BiasAdd(data_format="NHWC")(x, b), lambda x, b: x + b,
     [IMAGES[:, :, :3, :3].transpose(0, 2, 3, 1), CHANNEL_BIAS]),
    ("Flatten", lambda x: ops.Flatten()(x), lambda x: x.reshape(2, -1), [IMAGES]),
    ("ReLU6", lambda x: ops.ReLU6()(x), lambda x: np.clip(x, 0, 6), [X * 5]),
    ("HSwish", lambda x: ops.HSwish()(x), lambda x: x * np.clip(x + 3, 0, 6) / 6, [X * 3]),
    ("HSigmoid", lambda x: ops.HSigmoid()(x), lambda x: np.clip(x + 3, 0, 6) / 6, [X * 3]),
    ("GeLU", lambda x: ops.GeLU()(x), np_gelu_tanh, [X.astype(np.float64) * 3]),
    ("SoftmaxCrossEntropyWithLogits", lambda x, y: ops.SoftmaxCrossEntropyWithLogits()(x, y), np_softmax_xent,
     [X.astype(np.float64) * 3, np.eye(4)[[1, 0, 3]] * 0.75 + 0.0625]),      # soft labels, rows summing to 1
]
PRIMITIVE_CASES += NN_PRIMITIVE_CASES

@pytest.mark.parametrize("name, fn, reference, arrays", PRIMITIVE_CASES, ids=[c[0] for c in PRIMITIVE_CASES])
def test_primitive_matches_numpy_eager_and_traced(name, fn, reference, arrays):
    check(fn, reference(*arrays), *arrays)


def test_shape_is_static():
    assert ops.Shape()(Tensor(X)) == (3, 4)
    assert trace(lambda x: Tensor(np.float32(len(ops.Shape()(x)))), (X,)).graph.outputs[0].op == "const"


def test_assign_writes_the_parameter():
    p = Parameter(np.zeros(3, np.float32), name="p")
    ops.Assign()(p, Tensor(np.ones(3, np.float32)))
    np.testing.assert_array_equal(p.asnumpy(), 1)


@pytest.mark.parametrize("assign, traced", [(ops.assign, False), (ops.Assign(), False), (ops.assign, True)])
def test_assign_converts_a_value_its_parameter_dtype_absorbs(assign, traced):
    # MindSpore converts int64 into a float32 Parameter (promotion gives float32) and refuses the
    # rest: a Parameter keeps its dtype
    p = Parameter(np.zeros(3, np.float32), name="p")
    write = graphc.jit(lambda value: assign(p, value)) if traced else lambda value: assign(p, value)
    write(Tensor([7, 8, 9]))
    assert p.asnumpy().tolist() == [7, 8, 9] and p.dtype == graphc.float32
    with pytest.raises(GraphcError, match="cannot assign f64\\[3\\] to a parameter of type f32\\[3\\]"):
        write(Tensor(np.ones(3)))


def test_gradients_through_primitives():
    loss = lambda x, y: ops.ReduceSum()(ops.Square()(ops.Concat(0)((x, ops.MatMul(transpose_b=True)(x, y)))))
    check_vjp(loss, [X.astype(np.float64), RNG.standard_normal((4, 4))], RNG)
    pieces = lambda x: ops.Stack(1)(ops.Split(1, 2)(x))
    check_vjp(pieces, [X.astype(np.float64)], RNG)


@pytest.mark.parametrize("call, fragment", [
    (lambda: ops.Abs()(Tensor(X), Tensor(X)), "ops.Abs: takes 1 input(s) (x), got 2"),
    (lambda: ops.Add()(Tensor(X)), "ops.Add: takes 2 input(s) (x, y), got 1"),
    (lambda: ops.ReduceMean(keep_dims="yes"), "ops.ReduceMean: keep_dims='yes' is not valid; expected a bool"),
    (lambda: ops.MatMul(transpose_a=1), "ops.MatMul: transpose_a=1 is not valid"),
    (lambda: ops.Split(0, output_num=0), "ops.Split: output_num=0 is not valid; expected an int >= 1"),
    (lambda: ops.Split(1, 3)(Tensor(X)), "cannot be cut into 3 equal pieces"),
    (lambda: ops.split(Tensor(X), 3, 1, output_num=2), "give split_size_or_sections (MindSpore 2.x) or output_num"),
    (lambda: ops.split(Tensor(X), [1, 2], 1), "split_size_or_sections=[1, 2] does not cut axis 1 (size 4)"),
    (lambda: ops.Concat(axis="1"), "ops.Concat: axis='1' is not valid; expected an int"),
    (lambda: ops.Concat(1)(Tensor(X)), "concat: tensors must be a non-empty tuple or list"),
    (lambda: ops.Concat(0)((Tensor(X), Tensor(X.T))), "operand 1 is f32[4,3] but operand 0 is f32[3,4]"),
    (lambda: ops.OneHot(axis=0), "ops.OneHot: axis=0 is not valid"),
    (lambda: ops.Argmax(output_type=graphc.float32), "ops.Argmax: output_type"),
    (lambda: ops.Squeeze(0)(Tensor(X)), "squeeze: axis 0 of a tensor f32[3,4] is not an axis of size 1"),
    (lambda: ops.Conv2D(8, 3)(Tensor(IMAGES), Tensor(FILTERS)),
     "ops.Conv2D: the weight is f64[4,3,3,2] but the primitive was built with out_channel=8 and kernel_size=(3, 3), "
     "which expect a weight [8, C_in / group, 3, 3]; build ops.Conv2D(4, (3, 2), ...) for this weight"),
    (lambda: ops.Conv2D(4, 3, pad=1), "ops.Conv2D: pad=1 is not valid; expected 0 with pad_mode='valid', which pads "
                                      "by itself; to pad explicitly set pad_mode='pad'"),
    (lambda: ops.Conv2D(4, 3, pad_mode="pad", pad=(1, 2)), "ops.Conv2D: pad=(1, 2) is not valid; expected an int >= 0 "
                                                           "or 4 of them (top, bottom, left, right)"),
    (lambda: ops.Conv2D(4, 0), "ops.Conv2D: kernel_size=0 is not valid; expected an int >= 1 or a pair of them"),
    (lambda: ops.Conv2D(4, 3, mode=2), "ops.Conv2D: mode=2 is not valid; expected 1"),
    (lambda: ops.Conv2D(4, 3, stride=(2, 1, 2, 2)), "ops.Conv2D: stride=(2, 1, 2, 2) is not valid; expected an int "
                                                    ">= 1 or a pair of them (or (1, 1, h, w))"),
    (lambda: ops.Conv2D(4, 3, pad_mode="full"), "ops.Conv2D: pad_mode='full' is not valid; expected one of 'valid', "
                                                "'same', 'pad'"),
    (lambda: ops.Conv2D(4, 3, data_format="NHWC"), "ops.Conv2D: data_format='NHWC' is not valid; expected 'NCHW'"),
    (lambda: ops.MaxPool(2, strides=(2, 0)), "ops.MaxPool: strides=(2, 0) is not valid; expected an int >= 1"),
    (lambda: ops.AvgPool(2, pad_mode="pad"), "ops.AvgPool: pad_mode='pad' is not valid; expected one of 'valid', "
                                             "'same'"),
    (lambda: ops.MaxPool(2)(Tensor(X)), "max_pool2d"),
    (lambda: ops.Pad(((1, 1), (-1, 0))), "ops.Pad: paddings=((1, 1), (-1, 0)) is not valid; expected a tuple of "
                                         "(before, after) pairs of ints >= 0"),
    (lambda: ops.Pad(((1, 1),))(Tensor(X)), "ops.Pad: paddings has 1 (before, after) pair(s) but the input is "
                                            "f32[3,4]; give one pair per axis"),
    (lambda: ops.BiasAdd()(Tensor(X), Tensor(X[0, :3])), "ops.BiasAdd: input_x f32[3,4] and bias f32[3] do not fit"),
    (lambda: ops.Flatten()(Tensor(np.float32(1))), "ops.Flatten: the input is f32[], a scalar"),
    (lambda: ops.Zeros()((2, -1)), "ops.Zeros: size=(2, -1) is not valid; expected an int >= 0 or a tuple of them"),
    (lambda: ops.SoftmaxCrossEntropyWithLogits()(Tensor(X), Tensor(np.array([1, 0, 3], np.int32))),
     "must both be [N, C] with the same shape and dtype; for int class indices use ops.SparseSoftmaxCrossEntropy"),
    (lambda: ops.Dropout(keep_prob=0), "ops.Dropout: keep_prob=0 is not valid; expected a number in (0, 1]"),
    (lambda: ops.Dropout(Seed0=-1), "ops.Dropout: Seed0=-1 is not valid; expected an int in [0, 2**32)"),
])
def test_bad_primitive_use_names_the_line_and_the_primitive(call, fragment):
    with pytest.raises(GraphcError) as caught:
        call()
    assert re.match(LINE, str(caught.value)) and fragment in str(caught.value)


def test_gradients_through_nn_primitives():
    def loss(x, w, b):
        y = ops.BiasAdd()(ops.Conv2D(4, (3, 2), pad_mode="pad", pad=1, stride=2)(x, w), b)
        pooled = ops.AvgPool(2, 1)(ops.HSwish()(ops.Pad(((0, 0), (0, 0), (1, 0), (0, 1)))(y)))
        return ops.ReduceSum()(ops.GeLU()(ops.Flatten()(ops.MaxPool(2, 1, "same")(pooled))))
    check_vjp(loss, [IMAGES, FILTERS, RNG.standard_normal(4)], RNG)


def test_softmax_cross_entropy_dlogits_is_the_gradient_of_the_summed_loss():
    logits, labels = X.astype(np.float64), np.eye(4)[[2, 2, 0]]
    xent = ops.SoftmaxCrossEntropyWithLogits()
    summed = graphc.grad(lambda x: ops.ReduceSum()(xent(x, Tensor(labels))[0]))(Tensor(logits))
    np.testing.assert_allclose(summed.asnumpy(), xent(Tensor(logits), Tensor(labels))[1].asnumpy(), rtol=1e-12)


class DropoutNet(nn.Cell):
    def __init__(self, keep_prob, **seeds):
        super().__init__()
        self.dropout = ops.Dropout(keep_prob, **seeds)

    def construct(self, x):
        return self.dropout(x)


def test_dropout_primitive_returns_the_mask_it_applied(mode):
    x = RNG.uniform(0.5, 1.5, (16, 32)).astype(np.float32)
    net = DropoutNet(0.75)
    net.set_train(False)                            # the primitive drops in eval too, as MindSpore's
    masks = []
    for step in range(2):
        output, mask = (t.asnumpy() for t in net(Tensor(x)))
        assert set(np.unique(mask)) == {0.0, 1.0} and mask.dtype == np.float32
        np.testing.assert_allclose(output, x * mask / 0.75, rtol=1e-6)
        assert abs(mask.mean() - 0.75) < 0.08       # 512 draws: 4 standard deviations
        masks.append(mask)
        assert net.dropout.counter.asnumpy() == step + 1
    assert [p.name for p in net.get_parameters()] == ["dropout.counter"]      # saved in checkpoints
    assert (masks[0] != masks[1]).any()             # a new mask at every call


def test_dropout2d_drops_whole_channels(mode):
    x = RNG.uniform(0.5, 1.5, (8, 16, 3, 2)).astype(np.float32)
    dropout = ops.Dropout2D(0.5)
    output, mask = (t.asnumpy() for t in graphc.jit(dropout)(Tensor(x)))
    assert mask.dtype == np.bool_ and mask.shape == x.shape
    assert (mask == mask[:, :, :1, :1]).all()                 # one draw per (sample, channel)
    np.testing.assert_allclose(output, x * mask / 0.5, rtol=1e-6)
    assert 0.3 < mask.mean() < 0.7                            # 128 draws: over 4 standard deviations
    with pytest.raises(GraphcError, match="ops.Dropout2D: the input is f32\\[3,4\\]; it drops whole channels"):
        dropout(Tensor(X))


def test_dropout_primitive_seeds_fix_the_mask_in_both_modes():
    x = Tensor(np.ones((8, 8), np.float32))
    masks = []
    for mode in (graphc.PYNATIVE_MODE, graphc.GRAPH_MODE):
        graphc.set_context(mode=mode)
        masks.append(DropoutNet(0.5, Seed0=7, Seed1=1)(x)[1].asnumpy())
    graphc.set_context(mode=graphc.GRAPH_MODE)
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], DropoutNet(0.5, Seed0=8, Seed1=1)(x)[1].asnumpy())

# -- GradOperation, depend, stop_gradient, ParameterTuple ---------------------------------------------------
class Scale(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = Parameter(np.array([2.0, -1.0, 0.5, 3.0], np.float32), name="w")

    def construct(self, x, y):
        return ops.ReduceSum()(x * self.w * y)


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    yield request.param
    graphc.set_context(mode=graphc.GRAPH_MODE)


class Gradients(nn.Cell):
    """A Cell calling GradOperation in construct, as users write it (one graph in GRAPH_MODE)."""

    def __init__(self, network, grad_op, weights=None):
        super().__init__(auto_prefix=False)
        self.network, self.grad_op, self.weights = network, grad_op, weights

    def construct(self, *inputs):
        return self.grad_op(self.network, self.weights)(*inputs) if self.weights else self.grad_op(self.network)(*inputs)


def test_grad_operation_flags(mode):
    net = Scale()
    w = net.w.asnumpy()
    x, y = Tensor(X[0]), Tensor(Y[0])
    np.testing.assert_allclose(Gradients(net, ops.GradOperation())(x, y).asnumpy(), w * Y[0], rtol=1e-6)
    dx, dy = Gradients(net, ops.GradOperation(get_all=True))(x, y)
    np.testing.assert_allclose(dy.asnumpy(), w * X[0], rtol=1e-6)
    weights = ParameterTuple(net.trainable_params())
    (dw,) = Gradients(net, ops.GradOperation(get_by_list=True), weights)(x, y)
    np.testing.assert_allclose(dw.asnumpy(), X[0] * Y[0], rtol=1e-6)
    (dx, dy), (dw,) = Gradients(net, ops.GradOperation(get_all=True, get_by_list=True), weights)(x, y)
    np.testing.assert_allclose(dx.asnumpy(), w * Y[0], rtol=1e-6)
    dx = Gradients(net, ops.GradOperation(sens_param=True))(x, y, Tensor(np.float32(3.0)))
    np.testing.assert_allclose(dx.asnumpy(), 3 * w * Y[0], rtol=1e-6)


def test_grad_operation_called_directly_on_a_cell_or_a_function(mode):
    net = Scale()
    grad_op = ops.GradOperation(get_by_list=True)
    grads = grad_op(net, net.trainable_params())
    for scale in (1.0, 2.0):
        (dw,) = grads(Tensor(X[0] * scale), Tensor(Y[0]))
        np.testing.assert_allclose(dw.asnumpy(), X[0] * scale * Y[0], rtol=1e-6)
    assert len(grad_op._functions) == 1            # one differentiated function, reused by later calls

    def cube_sum(x):
        return ops.ReduceSum()(x * x * x)
    np.testing.assert_allclose(ops.GradOperation()(cube_sum)(Tensor(X)).asnumpy(), 3 * X * X, rtol=1e-6)


def test_grad_operation_errors():
    net = Scale()
    x, y = Tensor(X[0]), Tensor(Y[0])
    with pytest.raises(GraphcError, match=LINE + "GradOperation: .*takes 2; to pass the output's gradient.*sens_param=True"):
        ops.GradOperation()(net)(x, y, Tensor(np.float32(1.0)))
    with pytest.raises(GraphcError, match=LINE + "GradOperation\\(get_by_list=True\\) needs the weights"):
        ops.GradOperation(get_by_list=True)(net)
    with pytest.raises(GraphcError, match="weights were given but get_by_list is False"):
        ops.GradOperation()(net, net.trainable_params())
    with pytest.raises(GraphcError, match="sens .* is f32\\[3\\] but the output is f32\\[4\\]"):
        ops.GradOperation(sens_param=True)(ops.Mul())(x, y, Tensor(X[0, :3]))
    with pytest.raises(GraphcError, match="get_all=1 must be a bool"):
        ops.GradOperation(get_all=1)


def test_stop_gradient_and_depend(mode):
    def loss(x):
        return ops.ReduceSum()(x * ops.stop_gradient(x))
    # d/dx sum(x * c) with c = x held constant is c = x, not 2x
    np.testing.assert_allclose(graphc.grad(loss)(Tensor(X)).asnumpy(), X, rtol=1e-6)
    assert ops.depend(Tensor(X), Tensor(Y)).asnumpy() is not None


def test_parameter_tuple():
    a, b = Parameter(np.zeros(2, np.float32), name="a"), Parameter(np.ones(2, np.float32), name="b")
    pair = ParameterTuple([a, b])
    assert isinstance(pair, tuple) and pair[1] is b
    assert [p.name for p in pair.clone("moments", init="zeros")] == ["moments.a", "moments.b"]
    with pytest.raises(TypeError, match="Parameters only"):
        ParameterTuple([a, Tensor(X)])
    with pytest.raises(ValueError, match="'a' appear more than once"):
        ParameterTuple([a, Parameter(np.zeros(1, np.float32), name="a")])


# -- Tensor methods --------------------------------------------------------------------------------------------
M = np.array([[2, 5, 1, 6], [3, -7, -2, 4], [8, -4, 1, -3]], np.float32)
METHOD_CASES = [
    ("min", lambda x: x.min(), lambda x: x.min()),
    ("min-axis", lambda x: x.min(axis=1, keepdims=True), lambda x: x.min(1, keepdims=True)),
    ("max", lambda x: x.max(axis=0), lambda x: x.max(0)),       # x.max(0) is MindSpore 2.x's (values, indices)
    ("argmin", lambda x: x.argmin(), lambda x: np.int32(x.argmin())),
    ("argmin-axis", lambda x: x.argmin(axis=1, keepdims=True), lambda x: x.argmin(1)[:, None].astype(np.int32)),
    ("argmax", lambda x: x.argmax(0), lambda x: x.argmax(0).astype(np.int64)),
    ("mean", lambda x: x.mean(-1), lambda x: x.mean(-1)),
    ("sum", lambda x: x.sum(axis=0, keepdims=True), lambda x: x.sum(0, keepdims=True)),
    ("squeeze", lambda x: x[:1].squeeze(), lambda x: x[0]),
    ("expand_dims", lambda x: x.expand_dims(0), lambda x: x[None]),
    ("flatten", lambda x: x.flatten(), lambda x: x.ravel()),
    ("view", lambda x: x.view(4, 3), lambda x: x.reshape(4, 3)),
    ("reshape", lambda x: x.reshape((2, 6)), lambda x: x.reshape(2, 6)),
    ("transpose", lambda x: x.transpose(), lambda x: x.T),
    ("T", lambda x: x.T, lambda x: x.T),
    ("abs", lambda x: x.abs(), np.abs),
    ("copy", lambda x: x.copy() * 1, lambda x: x),
    ("clip", lambda x: x.clip(-2, 3), lambda x: np.clip(x, -2, 3)),
    ("clip-max", lambda x: x.clip(None, 3), lambda x: np.minimum(x, 3)),
    ("all", lambda x: x.all(axis=1), lambda x: x.all(1)),
    ("all-bool", lambda x: (x > -8).all(), lambda x: (x > -8).all()),
    ("any", lambda x: (x > 7).any(0), lambda x: (x > 7).any(0)),
    ("astype", lambda x: x.astype(graphc.int32), lambda x: x.astype(np.int32)),
    ("operators", lambda x: (2 - x) * x / 4 + abs(x) ** 2 - (-x) @ x.T[:, :1],
     lambda x: (2 - x) * x / 4 + abs(x) ** 2 + x @ x.T[:, :1]),
    ("comparisons", lambda x: (x >= 1) == (x > 0.5), lambda x: (x >= 1) == (x > 0.5)),
    ("indexing", lambda x: x[1:, ::2][..., -1], lambda x: x[1:, ::2][..., -1]),
]


@pytest.mark.parametrize("name, method, reference", METHOD_CASES, ids=[c[0] for c in METHOD_CASES])
def test_tensor_method_matches_numpy_eager_and_traced(name, method, reference):
    check(method, reference(M), M)


DIFFERENTIABLE_METHODS = ["min", "min-axis", "max", "mean", "sum", "squeeze", "expand_dims", "flatten", "view",
                          "reshape", "transpose", "abs", "copy", "clip", "operators", "indexing"]


@pytest.mark.parametrize("name", DIFFERENTIABLE_METHODS)
def test_tensor_method_gradients(name):
    method = dict((c[0], c[1]) for c in METHOD_CASES)[name]
    # distinct values away from the clip bounds and from 0, so the function is smooth near them
    x = np.array([[2.1, 5.2, 1.3, 6.4], [3.5, -7.6, -2.7, 4.8], [8.9, -4.2, 1.1, -3.3]])
    check_vjp(method, [x], RNG)


def test_item_and_asnumpy():
    assert Tensor(np.array([[4.5]], np.float32)).item() == 4.5
    with pytest.raises(GraphcError, match="item\\(\\) needs a tensor of one element, got f32\\[3,4\\]"):
        Tensor(M).item()
    with pytest.raises(GraphcError, match="values exist only when the graph runs"):
        trace(lambda x: Tensor(x[0, 0].item()), (M,))
    t = Tensor(M)
    assert (t.shape, t.dtype, t.size, t.ndim) == ((3, 4), graphc.float32, 12, 2)
    copied = t.copy()
    copied.asnumpy()[0, 0] = 100
    assert t.asnumpy()[0, 0] == 2


# -- set_context -------------------------------------------------------------------------------------------------
def test_set_context_validates_everything_before_changing_anything():
    graphc.set_context(mode=graphc.GRAPH_MODE)
    with pytest.raises(GraphcError, match=LINE + "set_context: unknown setting 'bogus'"):
        graphc.set_context(mode=graphc.PYNATIVE_MODE, bogus=1)
    with pytest.raises(GraphcError, match="num_threads=0 is not valid: expected an int >= 1 or None"):
        graphc.set_context(mode=graphc.PYNATIVE_MODE, num_threads=0)
    assert graphc.get_context("mode") == graphc.GRAPH_MODE


@pytest.mark.parametrize("device", ["GPU", "Ascend"])
def test_accelerator_targets_are_refused_with_the_reason(device):
    with pytest.raises(GraphcError, match=f"graphc compiles for the CPU it runs on, and has no {device} backend"):
        graphc.set_context(device_target=device)


def test_cpu_script_keys_are_accepted():
    graphc.set_context(mode=graphc.GRAPH_MODE, device_target="CPU", device_id=0, max_call_depth=10000,
                       save_graphs=0, enable_graph_kernel=False)
    assert graphc.get_context("max_call_depth") == 10000
    with pytest.raises(GraphcError, match="device_id=-1 is not valid: expected an int >= 0"):
        graphc.set_context(device_id=-1)
    graphc.set_context(max_call_depth=1000)
