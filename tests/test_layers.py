"""Initializers and layers: MindSpore r1.7 defaults, shapes and fan rules, and forward passes checked
against NumPy implementations written here (the expected numbers never come from graphc)."""
import math

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn
from graphc.errors import ArgumentError


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- NumPy references ---------------------------------------------------------------------------------
def conv2d_reference(x, w, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1)):
    """Direct convolution: pad, then one dot product per output position."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), pads[:2], pads[2:]))
    kh, kw = (w.shape[2] - 1) * dilation[0] + 1, (w.shape[3] - 1) * dilation[1] + 1
    oh, ow = (x.shape[2] - kh) // stride[0] + 1, (x.shape[3] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride[0], j * stride[1]
            window = x[:, :, top:top + kh:dilation[0], left:left + kw:dilation[1]]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def same_pads(size, kernel, stride):
    """TensorFlow/MindSpore 'same': output ceil(size/stride), the odd pixel of padding at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pool_reference(x, kernel, stride, reduce):
    oh, ow = (x.shape[2] - kernel) // stride + 1, (x.shape[3] - kernel) // stride + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride, j * stride
            out[:, :, i, j] = reduce(x[:, :, top:top + kernel, left:left + kernel], axis=(2, 3))
    return out


# -- initializers -------------------------------------------------------------------------------------
def draw(init, shape):
    return nn.initializer(init, shape).asnumpy().astype(np.float64)


def test_normal_default_is_mindspores_sigma_0_01():
    values = draw("normal", (400, 500))
    assert abs(values.mean()) < 1e-3
    assert values.std() == pytest.approx(0.01, rel=0.02)


def test_normal_with_mean_and_sigma():
    values = draw(nn.Normal(sigma=0.5, mean=3.0), (400, 500))
    assert values.mean() == pytest.approx(3.0, abs=0.01)
    assert values.std() == pytest.approx(0.5, rel=0.02)


def test_uniform_default_scale_0_07():
    values = draw("uniform", (400, 500))
    assert values.min() >= -0.07 and values.max() <= 0.07
    assert values.max() > 0.069 and values.min() < -0.069


@pytest.mark.parametrize("mode, fan", [("fan_in", 32 * 3 * 3), ("fan_out", 64 * 3 * 3)])
def test_he_uniform_uses_conv_fans_and_leaky_relu_gain(mode, fan):
    # weight (out=64, in=32, 3, 3): fan_in = 32·9, fan_out = 64·9; leaky_relu gain with slope 0 is sqrt(2)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan)
    values = draw(nn.HeUniform(mode=mode), (64, 32, 3, 3))
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound


def test_he_uniform_negative_slope_changes_gain():
    slope = 0.5
    bound = math.sqrt(2.0 / (1 + slope ** 2)) * math.sqrt(3.0 / 200)
    values = draw(nn.HeUniform(negative_slope=slope), (300, 200))
    assert bound * 0.99 < np.abs(values).max() <= bound


def test_he_normal_std_is_gain_over_sqrt_fan():
    values = draw(nn.HeNormal(nonlinearity="relu"), (500, 256))     # Dense weight (out, in): fan_in = 256
    assert values.std() == pytest.approx(math.sqrt(2.0 / 256), rel=0.02)


def test_xavier_uniform_bound_uses_both_fans():
    bound = math.sqrt(6.0 / (300 + 200))
    values = draw(nn.XavierUniform(), (200, 300))
    assert bound * 0.99 < np.abs(values).max() <= bound


@pytest.mark.parametrize("init, value", [("zeros", 0.0), ("ones", 1.0), (nn.Zero(), 0.0), (nn.One(), 1.0),
                                         (nn.Constant(2.5), 2.5), (3, 3.0)])
def test_constant_initializers(init, value):
    tensor = nn.initializer(init, [2, 3])
    assert tensor.shape == (2, 3) and tensor.dtype == graphc.float32
    np.testing.assert_array_equal(tensor.asnumpy(), np.full((2, 3), value, np.float32))


def test_initializer_dtype_and_int_shape():
    tensor = nn.initializer("ones", 4, dtype=graphc.float64)
    assert tensor.shape == (4,) and tensor.dtype == graphc.float64


def test_initializer_returns_a_tensor_of_the_right_shape_as_is():
    data = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert nn.initializer(data, (2, 3)) is data
    with pytest.raises(ArgumentError, match=r"shape \[2, 3\] but shape \[3, 2\]"):
        nn.initializer(data, (3, 2))


def test_unknown_initializer_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown initializer 'gaussian'.*normal.*he_uniform.*zeros"):
        nn.initializer("gaussian", (2, 2))


def test_fans_need_rank_two():
    with pytest.raises(ValueError, match="rank >= 2"):
        nn.initializer("he_uniform", (5,))


def test_same_seed_same_values_and_different_seed_different_values():
    graphc.set_seed(7)
    first = draw("normal", (3, 4))
    graphc.set_seed(7)
    again = draw("normal", (3, 4))
    graphc.set_seed(8)
    other = draw("normal", (3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_initializer_repr_shows_its_arguments():
    assert repr(nn.Normal(0.02)) == "Normal(sigma=0.02, mean=0.0)"


# -- Dense ------------------------------------------------------------------------------------------------
def test_dense_parameters_follow_mindspore():
    dense = nn.Dense(3, 2)
    assert [(name, p.shape) for name, p in dense.parameters_and_names()] == [("weight", (2, 3)), ("bias", (2,))]
    for p in (dense.weight, dense.bias):                 # 2.x: U(-1/√in, 1/√in), as PyTorch (test_mindspore_semantics)
        assert 0 < np.abs(p.asnumpy()).max() <= 1 / np.sqrt(3)


def test_dense_forward_is_x_times_w_transposed_plus_b(mode):
    dense = nn.Dense(4, 3, weight_init=Tensor(random(3, 4, seed=1)), bias_init=Tensor(random(3, seed=2)))
    x = random(5, 4)
    expected = x.astype(np.float64) @ random(3, 4, seed=1).T + random(3, seed=2)
    np.testing.assert_allclose(dense(Tensor(x)).asnumpy(), expected, rtol=1e-5, atol=1e-6)


def test_dense_activation_by_name_or_cell(mode):
    x = Tensor(random(5, 4))
    by_name = nn.Dense(4, 3, weight_init="ones", bias_init=-1.0, activation="relu")
    by_cell = nn.Dense(4, 3, weight_init="ones", bias_init=-1.0, activation=nn.Sigmoid())
    linear = random(5, 4).sum(axis=1, keepdims=True) - 1.0 + np.zeros((1, 3))
    np.testing.assert_allclose(by_name(x).asnumpy(), np.maximum(linear, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_cell(x).asnumpy(), 1 / (1 + np.exp(-linear)), rtol=1e-5, atol=1e-6)


def test_dense_keeps_leading_axes(mode):
    dense = nn.Dense(4, 2, weight_init="ones", has_bias=False)
    x = random(2, 3, 4)
    out = dense(Tensor(x))
    assert out.shape == (2, 3, 2)
    np.testing.assert_allclose(out.asnumpy(), np.repeat(x.sum(axis=-1, keepdims=True), 2, axis=-1), rtol=1e-5)


def test_dense_without_bias_has_only_a_weight():
    dense = nn.Dense(3, 2, has_bias=False)
    assert dense.bias is None and [name for name, _ in dense.parameters_and_names()] == ["weight"]


def test_dense_repr():
    assert repr(nn.Dense(3, 2)) == "Dense<input_channels=3, output_channels=2, has_bias=True>"
    assert repr(nn.Dense(3, 2, has_bias=False, activation="relu")) == \
        "Dense<input_channels=3, output_channels=2, activation=ReLU>\n  (activation): ReLU"


def test_dense_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        nn.Dense(3, 2, activation="swish")


# -- Conv2d -------------------------------------------------------------------------------------------------
def test_conv2d_defaults_follow_mindspore():
    conv = nn.Conv2d(3, 8, 3)
    assert conv.pad_mode == "same" and conv.has_bias is False and conv.bias is None
    assert conv.weight.shape == (8, 3, 3, 3)
    assert 0 < np.abs(conv.weight.asnumpy()).max() <= 1 / np.sqrt(3 * 3 * 3)     # 2.x: U(-1/√fan_in, 1/√fan_in)


def test_conv2d_repr_matches_mindspores_fields():
    assert nn.Conv2d(1, 6, 5, pad_mode="valid", weight_init="normal", bias_init="zeros").extend_repr() == (
        "input_channels=1, output_channels=6, kernel_size=(5, 5), stride=(1, 1), pad_mode=valid, padding=0, "
        "dilation=(1, 1), group=1, has_bias=False, weight_init=normal, bias_init=zeros, format=NCHW")


@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv2d_valid_forward(mode, stride, dilation):
    w = random(4, 3, 3, 3, seed=1)
    conv = nn.Conv2d(3, 4, 3, stride=stride, dilation=dilation, pad_mode="valid", weight_init=Tensor(w))
    x = random(2, 3, 9, 8)
    expected = conv2d_reference(x, w, (stride, stride), dilation=(dilation, dilation))
    np.testing.assert_allclose(conv(Tensor(x)).asnumpy(), expected, rtol=1e-4, atol=1e-5)


def test_conv2d_same_keeps_the_size_at_stride_one_and_pads_like_mindspore(mode):
    w = random(2, 1, 4, 3, seed=1)
    conv = nn.Conv2d(1, 2, (4, 3), weight_init=Tensor(w))
    x = random(1, 1, 7, 6)
    pads = same_pads(7, 4, 1) + same_pads(6, 3, 1)
    out = conv(Tensor(x))
    assert out.shape == (1, 2, 7, 6)
    np.testing.assert_allclose(out.asnumpy(), conv2d_reference(x, w, pads=pads), rtol=1e-4, atol=1e-5)


def test_conv2d_explicit_padding_and_bias(mode):
    w, b = random(2, 2, 3, 3, seed=1), random(2, seed=2)
    conv = nn.Conv2d(2, 2, 3, pad_mode="pad", padding=(1, 0, 2, 1), has_bias=True,
                     weight_init=Tensor(w), bias_init=Tensor(b))
    x = random(2, 2, 5, 5)
    expected = conv2d_reference(x, w, pads=(1, 0, 2, 1)) + b.reshape(1, 2, 1, 1)
    np.testing.assert_allclose(conv(Tensor(x)).asnumpy(), expected, rtol=1e-4, atol=1e-5)


def test_conv2d_groups_convolve_channel_groups_separately(mode):
    w = random(4, 1, 3, 3, seed=1)                       # 2 groups: 2 input channels -> 2 outputs each
    conv = nn.Conv2d(2, 4, 3, pad_mode="valid", group=2, weight_init=Tensor(w))
    x = random(1, 2, 6, 6)
    expected = np.concatenate([conv2d_reference(x[:, :1], w[:2]), conv2d_reference(x[:, 1:], w[2:])], axis=1)
    np.testing.assert_allclose(conv(Tensor(x)).asnumpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"pad_mode": "full"}, "pad_mode must be one of valid, same, pad"),
    ({"padding": 1}, "needs pad_mode='pad'"),
    ({"group": 2}, "divisible by group"),
    ({"pad_mode": "pad", "padding": (1, 2)}, "4 of them"),
])
def test_conv2d_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        nn.Conv2d(3, 4, 3, **kwargs)


# -- pooling, activations, Flatten ---------------------------------------------------------------------------
@pytest.mark.parametrize("layer, reduce", [(nn.MaxPool2d, np.max), (nn.AvgPool2d, np.mean)])
def test_pooling_forward(mode, layer, reduce):
    x = random(2, 3, 8, 7)
    out = layer(kernel_size=3, stride=2)(Tensor(x))
    np.testing.assert_allclose(out.asnumpy(), pool_reference(x, 3, 2, reduce), rtol=1e-5, atol=1e-6)


def test_pooling_defaults_and_repr():
    pool = nn.MaxPool2d()
    assert (pool.kernel_size, pool.stride, pool.pad_mode) == ((1, 1), (1, 1), "valid")
    assert nn.MaxPool2d(2, 2).extend_repr() == "kernel_size=(2, 2), stride=(2, 2), pad_mode=valid"


@pytest.mark.parametrize("layer, reference", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Softmax(), lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
    (nn.Softmax(axis=0), lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)),
    (nn.LogSoftmax(), lambda x: x - np.log(np.exp(x).sum(axis=-1, keepdims=True))),
], ids=["relu", "sigmoid", "tanh", "softmax", "softmax-axis0", "logsoftmax"])
def test_activations(mode, layer, reference):
    x = random(3, 5)
    np.testing.assert_allclose(layer(Tensor(x)).asnumpy(), reference(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_flatten_keeps_the_batch_axis(mode):
    x = random(2, 3, 4, 5)
    out = nn.Flatten()(Tensor(x))
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out.asnumpy(), x.reshape(2, 60))


# -- containers ---------------------------------------------------------------------------------------------
def test_sequential_cell_runs_in_order_and_names_parameters_by_index(mode):
    seq = nn.SequentialCell(nn.Dense(4, 3, weight_init="ones", bias_init="zeros"), nn.ReLU(),
                            nn.Dense(3, 2, weight_init="ones", bias_init="zeros"))
    assert [name for name, _ in seq.parameters_and_names()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and seq[-1] is seq[2]
    x = random(5, 4)
    hidden = np.maximum(x.sum(axis=1, keepdims=True) * np.ones((1, 3)), 0)
    np.testing.assert_allclose(seq(Tensor(x)).asnumpy(), hidden @ np.ones((3, 2)), rtol=1e-5, atol=1e-5)


def test_sequential_cell_from_a_list_or_dict_and_append():
    from_list = nn.SequentialCell([nn.Dense(2, 2), nn.ReLU()])
    from_list.append(nn.Dense(2, 1))
    assert len(from_list) == 3 and [n for n, _ in from_list.parameters_and_names()][-1] == "2.bias"
    from_dict = nn.SequentialCell({"fc": nn.Dense(2, 2), "act": nn.ReLU()})
    assert [n for n, _ in from_dict.parameters_and_names()] == ["fc.weight", "fc.bias"]


def test_sequential_cell_rejects_non_cells():
    with pytest.raises(ArgumentError, match="item 1 is a int, not a Cell"):
        nn.SequentialCell(nn.ReLU(), 3)


def test_cell_list_registers_parameters_of_its_cells():
    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            self.layers = nn.CellList([nn.Dense(2, 2), nn.Dense(2, 2)])
            self.layers.extend([nn.Dense(2, 1)])

        def construct(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    stack = Stack()
    assert [name for name, _ in stack.parameters_and_names()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"]
    assert stack(Tensor(random(3, 2))).shape == (3, 1)
