"""MindSpore 2.x losses and layers against the values MindSpore 2.10 gave for the same inputs and
parameters (tests/mindspore_reference/layers.json), in PYNATIVE_MODE and compiled in GRAPH_MODE; a
case where MindSpore raised must raise a GraphcError here."""
import numpy as np
import pytest

import graphc
from graphc import GraphcError, Tensor, nn
from gradcheck import check_vjp
from ms_reference import assert_matches, in_mode, recorded, tensor

MODES = [pytest.param(graphc.PYNATIVE_MODE, id="pynative"), pytest.param(graphc.GRAPH_MODE, id="graph")]
CASES = recorded("layers")["cases"]


def build(case):
    kwargs = dict(case["kwargs"], **{k: tensor(v, "float32") for k, v in case["tensors"].items()})
    cell = getattr(nn, case["cls"])(**kwargs)
    named = dict(cell.parameters_and_names())
    for name, value in case["params"].items():
        named[name].set_data(np.array(value, np.float32))
    return cell


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_gives_mindsporess_values(mode, case):
    inputs = [tensor(x, d) for x, d in zip(case["inputs"], case["dtypes"])]
    if "error" in case:
        with pytest.raises(GraphcError):
            in_mode(mode, build(case), *inputs)
    else:
        assert_matches(in_mode(mode, build(case), *inputs), case["output"], case["out_dtype"])


# -- gradients: autodiff of the layers' ops against central differences --------------------------------------------
RNG = np.random.default_rng(7)


def f64(shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.LayerNorm((3, 4), begin_norm_axis=1, begin_params_axis=1, gamma_init=Tensor(f64((3, 4))),
                          beta_init=Tensor(f64((3, 4)))), (2, 3, 4)),
    (lambda: nn.Conv1d(3, 4, 3, pad_mode="pad", padding=1, has_bias=True, weight_init=Tensor(f64((4, 3, 1, 3))),
                       bias_init=Tensor(f64((4,)))), (2, 3, 7)),
    (lambda: nn.Conv1d(4, 4, 3, stride=2, group=2, weight_init=Tensor(f64((4, 2, 1, 3)))), (1, 4, 9)),
    (lambda: nn.MaxPool2d(3, 2, pad_mode="pad", padding=1, ceil_mode=True), (1, 2, 6, 5)),
    (lambda: nn.AvgPool2d(3, 2, pad_mode="pad", padding=1, ceil_mode=True, count_include_pad=False), (1, 2, 6, 5)),
    (lambda: nn.AvgPool2d(2, 2, pad_mode="pad", divisor_override=3), (1, 2, 4, 4)),
    (lambda: nn.Flatten(1, 2), (2, 3, 4, 2)),
    (lambda: nn.Conv2dTranspose(2, 4, 3, stride=2, pad_mode="pad", padding=(1, 0, 0, 1), output_padding=1, group=2,
                                has_bias=True, weight_init=Tensor(f64((2, 2, 3, 3))), bias_init=Tensor(f64((4,)))),
     (1, 2, 3, 4)),
    (lambda: nn.GroupNorm(2, 4, gamma_init=Tensor(f64((4,))), beta_init=Tensor(f64((4,)))), (2, 4, 3, 2)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 4)),
    (lambda: nn.Pad(((0, 0), (1, 2), (2, 1)), mode="SYMMETRIC"), (2, 3, 4))],
    ids=["layernorm", "conv1d-pad", "conv1d-group", "maxpool-pad-ceil", "avgpool-exclude-pad", "avgpool-divisor",
         "flatten", "conv2d-transpose", "groupnorm", "adaptive-avgpool-uneven", "pad-symmetric"])
def test_input_gradient_matches_finite_differences(make, shape):
    layer = make()
    x = RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0     # distinct: no ties for the maximum
    check_vjp(layer, [x], np.random.default_rng(0))


def parameter_gradient(cell, inputs, param, eps=1e-6):
    """d sum(cell(inputs)) / d param by central differences, one element at a time (PYNATIVE_MODE)."""
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    base, grad = param.asnumpy().copy(), np.zeros(param.shape)
    for index in np.ndindex(*param.shape):
        values = []
        for step in (eps, -eps):
            shifted = base.copy()
            shifted[index] += step
            param.set_data(shifted)
            values.append(float(cell(*inputs).asnumpy().sum()))
        grad[index] = (values[0] - values[1]) / (2 * eps)
    param.set_data(base)
    return grad


@pytest.mark.parametrize("mode", MODES)
def test_layernorm_and_embedding_parameter_gradients(mode):
    norm = nn.LayerNorm((4,), gamma_init=Tensor(f64((4,))), beta_init=Tensor(f64((4,))))
    x = Tensor(f64((3, 4)))
    graphc.set_context(mode=mode)
    grads = graphc.grad(lambda x: norm(x).sum(), None, norm.trainable_params())(x)
    for got, param in zip(grads, norm.trainable_params()):
        np.testing.assert_allclose(got.asnumpy(), parameter_gradient(norm, [x], param), rtol=1e-6, atol=1e-8)
    embedding = nn.Embedding(5, 3, padding_idx=1)
    ids = Tensor(np.array([[1, 1], [2, 4]], np.int32))
    graphc.set_context(mode=mode)
    (table_grad,) = graphc.grad(lambda ids: embedding(ids).sum(), None, embedding.trainable_params())(ids)
    # each row's gradient counts its ids; padding_idx's is not masked (as MindSpore 2.10 measured)
    np.testing.assert_array_equal(table_grad.asnumpy(), np.array([0, 2, 1, 0, 1])[:, None] * np.ones((1, 3)))


# -- parameters, defaults, errors ----------------------------------------------------------------------------------
def test_parameter_names_and_shapes_are_mindsporess():
    assert [(n, p.shape) for n, p in nn.Embedding(10, 4).parameters_and_names()] == [("embedding_table", (10, 4))]
    assert [(n, p.shape) for n, p in nn.LayerNorm((3, 4)).parameters_and_names()] == [("gamma", (3, 4)),
                                                                                       ("beta", (3, 4))]
    assert [(n, p.shape) for n, p in nn.Conv1d(6, 4, 5, group=2, has_bias=True).parameters_and_names()] == [
        ("weight", (4, 3, 1, 5)), ("bias", (4,))]
    assert [(n, p.shape) for n, p in nn.Conv2dTranspose(2, 3, 3, has_bias=True).parameters_and_names()] == [
        ("weight", (2, 3, 3, 3)), ("bias", (3,))]
    assert [(n, p.shape) for n, p in nn.PReLU(3).parameters_and_names()] == [("w", (3,))]
    assert [(n, p.shape) for n, p in nn.GroupNorm(2, 4).parameters_and_names()] == [("gamma", (4,)), ("beta", (4,))]


def test_embedding_defaults():
    graphc.set_seed(1)
    embedding = nn.Embedding(1000, 50, padding_idx=3)
    table = embedding.embedding_table.asnumpy()
    assert np.all(table[3] == 0) and abs(table.std() - 0.01) < 0.001       # 'normal': N(0, 0.01²)
    assert embedding.use_one_hot is False and embedding.padding_idx == 3


def test_conv1d_initializers_default_to_conv2ds():
    graphc.set_seed(4)
    one = nn.Conv1d(3, 4, 5, has_bias=True)
    graphc.set_seed(4)
    two = nn.Conv2d(3, 4, (1, 5), has_bias=True)
    for a, b in zip(one.get_parameters(), two.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_identity_and_flatten():
    x = Tensor(np.ones((2, 3, 4, 5), np.float32))
    np.testing.assert_array_equal(nn.Identity(7, any_argument=True)(x).asnumpy(), x.asnumpy())
    assert nn.Flatten()(x).shape == (2, 60) and nn.Flatten(0)(x).shape == (120,)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Embedding(5, 3, padding_idx=5), r"padding_idx must be None or an int in \[0, 5\)"),
    (lambda: nn.LayerNorm(()), "normalized_shape must be a tuple of ints"),
    (lambda: nn.Conv1d(3, 4, 3, pad_mode="pad", padding=(1, 2)), "padding must be an int"),
    (lambda: nn.Conv1d(3, 4, 3, padding=1), "needs pad_mode='pad'"),
    (lambda: nn.MaxPool2d(2, 2, ceil_mode=True), "ceil_mode=True needs pad_mode='pad'"),
    (lambda: nn.MaxPool2d(3, 2, pad_mode="pad", padding=2), "at most half the kernel"),
    (lambda: nn.MaxPool2d(2, 2, pad_mode="pad", dilation=2), "dilation=2 is not supported"),
    (lambda: nn.MaxPool2d(2, 2, return_indices=True), "return_indices=True needs pad_mode='pad'"),
    (lambda: nn.AvgPool2d(2, 2, count_include_pad=False), "count_include_pad=False needs pad_mode='pad'"),
    (lambda: nn.AvgPool2d(2, 2, pad_mode="pad", divisor_override=0), "divisor_override must be None or an int"),
    (lambda: nn.Flatten(1.0), "start_dim must be an int")])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(graphc.errors.ArgumentError, match=message):
        make()


@pytest.mark.parametrize("call, message", [
    (lambda: nn.Embedding(5, 3)(Tensor(np.array([1.0]))), r"expected int32 or int64 ids, got f64\[1\]"),
    (lambda: nn.LayerNorm((5,))(Tensor(np.ones((2, 4), np.float32))), r"normalized_shape \[5\]"),
    (lambda: nn.Conv1d(3, 4, 3)(Tensor(np.ones((2, 3, 4, 5), np.float32))), r"expected input \[N, 3, W\]"),
    (lambda: nn.MaxPool2d(2, 2)(Tensor(np.ones((4, 4), np.float32))), r"\[N, C, H, W\] \(NCHW\) or \[C, H, W\]")])
def test_bad_inputs_name_the_layer(call, message):
    with pytest.raises(GraphcError, match=message):
        call()
