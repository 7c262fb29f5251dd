"""Layers beyond LeNet against values measured in MindSpore 2.10 (research notes §1.12) and NumPy
references written here: the activations, AdaptiveAvgPool2d, ops.pad, Dense(activation=...),
grouped, depthwise, dilated and strided Conv2d with every pad_mode, and the argument errors."""
import math

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.errors import ArgumentError, GraphcError

from test_layers import conv2d_reference, mode, random, same_pads  # noqa: F401  (mode is a fixture)


def call(layer, x):
    return layer(Tensor(np.asarray(x, np.float32))).asnumpy()


def test_activations_give_mindsporess_measured_values(mode):
    points = [1.0, -1.0, 4.0]
    np.testing.assert_allclose(call(nn.HSwish(), points), [0.6666667, -0.33333334, 4.0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(call(nn.GELU(), [1.0]), [0.841192], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(call(nn.GELU(approximate=False), [1.0]), [0.8413447], rtol=1e-5, atol=1e-7)


_X = np.array([-7.0, -3.5, -1.0, -0.2, 0.0, 0.3, 2.0, 5.0, 6.5, 40.0])
ACTIVATIONS = [
    (nn.ReLU6(), np.clip(_X, 0, 6)),
    (nn.LeakyReLU(), np.where(_X > 0, _X, 0.2 * _X)),
    (nn.LeakyReLU(alpha=1.5), np.minimum(_X, 1.5 * _X)),
    (nn.HSigmoid(), np.clip(_X + 3, 0, 6) / 6),
    (nn.HSwish(), _X * np.clip(_X + 3, 0, 6) / 6),
    (nn.SiLU(), _X / (1 + np.exp(-_X))),
    (nn.GELU(approximate=False), _X * 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in _X]))),
    (nn.GELU(), 0.5 * _X * (1 + np.tanh(math.sqrt(2 / math.pi) * (_X + 0.044715 * _X ** 3)))),
]


@pytest.mark.parametrize("layer, want", ACTIVATIONS, ids=[type(a).__name__ + str(i) for i, (a, _) in
                                                         enumerate(ACTIVATIONS)])
def test_activation_layers_match_their_formulas(mode, layer, want):
    np.testing.assert_allclose(call(layer, _X), want, rtol=2e-6, atol=1e-6)


def test_dense_takes_the_new_activation_names(mode):
    x, dense = random(3, 4), nn.Dense(4, 5, activation="relu6")
    y = x @ dense.weight.asnumpy().T + dense.bias.asnumpy()
    np.testing.assert_allclose(call(dense, x), np.clip(y, 0, 6), rtol=1e-5, atol=1e-7)
    for name in ("leakyrelu", "gelu", "hswish", "hsigmoid", "silu"):
        assert type(nn.Dense(2, 2, activation=name).activation).__name__.lower() == name


def test_adaptive_avg_pool_global_and_divisible(mode):
    x = random(2, 3, 6, 4)
    close = lambda got, want: np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    close(call(nn.AdaptiveAvgPool2d((1, 1)), x), x.mean(axis=(2, 3), keepdims=True))
    close(call(nn.AdaptiveAvgPool2d(1), x), x.mean(axis=(2, 3), keepdims=True))
    close(call(nn.AdaptiveAvgPool2d((3, 2)), x), x.reshape(2, 3, 3, 2, 2, 2).mean(axis=(3, 5)))
    close(call(nn.AdaptiveAvgPool2d((None, 1)), x), x.mean(axis=3, keepdims=True))
    # 4 windows over 6 rows overlap, MindSpore's [floor(i·6/4), ceil((i+1)·6/4)): rows 0-1, 1-2, 3-4, 4-5
    rows = np.stack([x[:, :, a:b].mean(axis=2) for a, b in ((0, 2), (1, 3), (3, 5), (4, 6))], axis=2)
    close(call(nn.AdaptiveAvgPool2d(4), x), rows)


def test_reduce_mean_keep_dims_is_global_pooling(mode):
    x = random(2, 3, 5, 5)
    y = ops.reduce_mean(Tensor(x), axis=(2, 3), keep_dims=True).asnumpy()
    np.testing.assert_allclose(y, x.mean(axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-7)


def test_pad_takes_mindspores_last_axis_first_pairs(mode):
    x = random(2, 3, 4, 5)
    y = graphc.jit(lambda t: ops.pad(t, (1, 2, 3, 0), value=0.5))(Tensor(x)).asnumpy() \
        if mode == graphc.GRAPH_MODE else ops.pad(Tensor(x), (1, 2, 3, 0), value=0.5).asnumpy()
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)), constant_values=0.5))
    with pytest.raises(ArgumentError, match="pad: mode 'edge' is not valid; use 'constant', 'reflect', 'replicate' "
                                            "or 'circular'"):
        ops.pad(Tensor(x), (1, 1), mode="edge")
    with pytest.raises(ArgumentError, match="negative padding"):
        ops.pad(Tensor(x), (-1, 1))


# -- convolution variants -----------------------------------------------------------------------------------
def grouped_reference(x, w, group, **kwargs):
    xs, ws = np.split(x, group, axis=1), np.split(w, group, axis=0)
    return np.concatenate([conv2d_reference(a, b, **kwargs) for a, b in zip(xs, ws)], axis=1)


@pytest.mark.parametrize("cin, cout, group", [(6, 6, 6), (4, 8, 4), (6, 9, 3)], ids=["depthwise", "multiplier2",
                                                                                    "grouped"])
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
def test_grouped_and_depthwise_conv_same_padding(mode, cin, cout, group, stride, dilation):
    conv = nn.Conv2d(cin, cout, 3, stride=stride, dilation=dilation, group=group, pad_mode="same")
    x, w = random(2, cin, 9, 8), conv.weight.asnumpy()
    span = 2 * dilation + 1
    pads = same_pads(9, span, stride) + same_pads(8, span, stride)
    want = grouped_reference(x, w, group, stride=(stride, stride), pads=pads, dilation=(dilation, dilation))
    assert w.shape == (cout, cin // group, 3, 3)
    np.testing.assert_allclose(call(conv, x), want, rtol=1e-4, atol=1e-6)


def test_pad_mode_pad_and_valid(mode):
    x = random(1, 2, 7, 6)
    conv = nn.Conv2d(2, 3, (3, 2), stride=(2, 1), pad_mode="pad", padding=(1, 0, 2, 1))
    want = conv2d_reference(x, conv.weight.asnumpy(), stride=(2, 1), pads=(1, 0, 2, 1))
    np.testing.assert_allclose(call(conv, x), want, rtol=1e-4, atol=1e-6)
    valid = nn.Conv2d(2, 3, 3, pad_mode="valid")
    np.testing.assert_allclose(call(valid, x), conv2d_reference(x, valid.weight.asnumpy()), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=6, out_channels=4, kernel_size=3, group=4), "must both be divisible by group"),
    (dict(in_channels=6, out_channels=6, kernel_size=3, group=0), "group must be an int >= 1"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, padding=1), "needs pad_mode='pad'")])
def test_conv_argument_errors_name_the_layer_and_fix(kwargs, message):
    with pytest.raises(ArgumentError, match=message) as caught:
        nn.Conv2d(**kwargs)
    assert "test_layers_more.py:" in str(caught.value) and "Conv2d" in str(caught.value)
