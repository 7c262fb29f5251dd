"""Depthwise conv2d kernels (forward, input gradient, filter gradient) against float64 NumPy on
MobileNet's shapes and awkward ones (odd sizes, widths past 16, stride 2, 'same' and asymmetric
padding, dilation, 5x5 taps, batch 1); each case runs on 1 and 2 threads and must agree bitwise."""
import numpy as np
import pytest

from graphc.codegen.kernels import epilogue as ep
from graphc.codegen.kernels.contract import Operand
from graphc.codegen.kernels.conv import ConvGeometry
from graphc.codegen.kernels.conv_depthwise import emit_depthwise_conv2d, emit_depthwise_grad_filter, \
    emit_depthwise_grad_input, is_depthwise

from .support import assert_dot_close, conv_grad_filter_ref, conv_grad_input_ref, conv_ref, random, run_threads


def depthwise(n, c, h, w, k=3, stride=1, pad=(1, 1, 1, 1), dilation=1):
    return ConvGeometry(n, c, h, w, c, k, k, (stride, stride), pad, (dilation, dilation), group=c)


GEOMETRIES = [
    depthwise(4, 24, 16, 16),                               # MobileNetV2 block, stride 1
    depthwise(2, 16, 32, 32, stride=2, pad=(0, 1, 0, 1)),   # stride 2, 'same' (extra pixel bottom/right)
    depthwise(1, 5, 7, 19),                                 # odd channels, width past 16 with a tail
    depthwise(3, 3, 9, 11, stride=2, pad=(1, 1, 1, 1)),
    depthwise(2, 4, 10, 9, dilation=2, pad=(2, 2, 2, 2)),
    depthwise(2, 6, 11, 12, k=5, pad=(2, 2, 2, 2)),         # 25 taps: two tap vectors in the filter gradient
    depthwise(1, 2, 6, 6, pad=(0, 0, 0, 0)),                # 'valid'
    # planes of at most 16 pixels go 16 channels to a vector (forward), with a short last block
    depthwise(2, 37, 4, 4),
    depthwise(3, 20, 2, 2),
    depthwise(1, 16, 1, 1),
    depthwise(2, 18, 4, 4, stride=2, pad=(0, 1, 0, 1)),
    depthwise(1, 7, 3, 5, dilation=2, pad=(2, 2, 2, 2)),
]
IDS = [f"{g.x_shape}k{g.kernel_h}s{g.stride[0]}p{g.pad}d{g.dilation[0]}" for g in GEOMETRIES]


@pytest.mark.parametrize("geo", GEOMETRIES, ids=IDS)
def test_forward(geo):
    assert is_depthwise(geo)
    x, w = random(geo.x_shape, seed_offset=1), random(geo.w_shape, seed_offset=2)
    y = run_threads(lambda mod: emit_depthwise_conv2d(mod, "dw", geo), {"x": x, "w": w}, ["y"])["y"]
    assert_dot_close(y, conv_ref(x, w, geo), conv_ref(np.abs(x), np.abs(w), geo), 9, "depthwise conv2d")


@pytest.mark.parametrize("geo", GEOMETRIES, ids=IDS)
def test_grad_input(geo):
    dy, w = random(geo.y_shape, seed_offset=3), random(geo.w_shape, seed_offset=2)
    dx = run_threads(lambda mod: emit_depthwise_grad_input(mod, "dx", geo), {"dy": dy, "w": w}, ["dx"])["dx"]
    assert_dot_close(dx, conv_grad_input_ref(dy, w, geo), conv_grad_input_ref(np.abs(dy), np.abs(w), geo),
                     geo.kernel_h * geo.kernel_w, "depthwise conv2d_grad_input")


@pytest.mark.parametrize("geo", GEOMETRIES, ids=IDS)
def test_grad_filter(geo):
    dy, x = random(geo.y_shape, seed_offset=3), random(geo.x_shape, seed_offset=1)
    dw = run_threads(lambda mod: emit_depthwise_grad_filter(mod, "dw", geo), {"dy": dy, "x": x}, ["dw"])["dw"]
    assert_dot_close(dw, conv_grad_filter_ref(dy, x, geo), conv_grad_filter_ref(np.abs(dy), np.abs(x), geo),
                     geo.batch * geo.out_h * geo.out_w, "depthwise conv2d_grad_filter")


@pytest.mark.parametrize("geo", [GEOMETRIES[2], GEOMETRIES[7]], ids=["rows as lanes", "channels as lanes"])
def test_forward_epilogue_sees_channels_and_rows(geo):
    x, w = random(geo.x_shape, seed_offset=1), random(geo.w_shape, seed_offset=2)
    bias = random((geo.out_channels,), seed_offset=4)
    epilogue = ep.chain(ep.bias_add("c", geo.out_channels), ep.relu())
    y = run_threads(lambda mod: emit_depthwise_conv2d(mod, "dw", geo, epilogue), {"x": x, "w": w, "bias": bias},
                    ["y"])["y"]
    want = np.maximum(conv_ref(x, w, geo) + bias[None, :, None, None], 0)
    assert_dot_close(y, want, conv_ref(np.abs(x), np.abs(w), geo) + np.abs(bias)[None, :, None, None], 9,
                     "depthwise+bias+relu")


@pytest.mark.parametrize("geo", [GEOMETRIES[8], GEOMETRIES[10]], ids=["2x2", "stride 2"])
def test_small_plane_gradients_take_epilogues_along_the_channels(geo):
    """The input and filter gradients of planes of at most 16 pixels: lanes along the channels, so the
    epilogue's operands are read at each channel's own position."""
    dy, w, x = (random(shape, seed_offset=k) for k, shape in ((3, geo.y_shape), (2, geo.w_shape), (1, geo.x_shape)))
    bias, scale = random((geo.in_channels,), seed_offset=4), random(geo.w_shape, seed_offset=5)
    dx = run_threads(lambda mod: emit_depthwise_grad_input(mod, "dx", geo, ep.bias_add("c", geo.in_channels)),
                     {"dy": dy, "w": w, "bias": bias}, ["dx"])["dx"]
    want = conv_grad_input_ref(dy, w, geo) + bias[None, :, None, None]
    assert_dot_close(dx, want, conv_grad_input_ref(np.abs(dy), np.abs(w), geo) + np.abs(bias)[None, :, None, None],
                     9, "depthwise dx+bias")
    scaled = ep.Epilogue(lambda builder, acc, position, args: builder.fmul(acc, ep.load_at(
        builder, args["scale"], geo.w_shape, geo.w_shape, position, acc.type.element)),
        (Operand("scale", geo.w_shape),))
    dw = run_threads(lambda mod: emit_depthwise_grad_filter(mod, "dw", geo, scaled), {"dy": dy, "x": x, "scale": scale},
                     ["dw"])["dw"]
    want = conv_grad_filter_ref(dy, x, geo)
    assert_dot_close(dw, want * scale, conv_grad_filter_ref(np.abs(dy), np.abs(x), geo) * np.abs(scale),
                     geo.batch * geo.out_h * geo.out_w, "depthwise dw*scale")


def test_channel_multipliers_and_plain_groups_are_not_depthwise():
    assert not is_depthwise(ConvGeometry(1, 4, 8, 8, 8, 3, 3, group=4))
    assert not is_depthwise(ConvGeometry(1, 4, 8, 8, 4, 3, 3, group=2))
    assert not is_depthwise(ConvGeometry(1, 1, 8, 8, 1, 3, 3))
