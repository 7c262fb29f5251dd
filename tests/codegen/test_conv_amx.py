"""Convolutions on AMX tiles (kernels/conv_amx.py): stride 1, the output the input's size, bfloat16;
forward and input gradient against float64 NumPy on the same bfloat16 values, within the rounding of
float32 sums and the bfloat16 result; 1 and 2 threads bitwise equal (support.run_threads)."""
import numpy as np
import pytest

from graphc.codegen.kernels import epilogue as ep
from graphc.codegen.kernels.conv import ConvGeometry
from graphc.codegen.kernels.contract import Operand
from graphc.codegen.kernels.conv_amx import emit_amx_conv2d, emit_amx_conv2d_grad_filter, supports
from graphc.codegen.machine import has_amx
from graphc.types import dtype_of

from .support import EPS32, assert_dot_close, random, run_threads

pytestmark = pytest.mark.skipif(not has_amx(), reason="this CPU (or its OS) has no AMX bfloat16 tiles")
BF16 = dtype_of("bf16").np


def _conv(x, w, pad):
    """float64 cross-correlation of x [N, C, H, W] and w [O, C, KH, KW] with padding (top, bottom, left, right)."""
    padded = np.pad(x, ((0, 0), (0, 0), pad[:2], pad[2:]))
    windows = np.lib.stride_tricks.sliding_window_view(padded, w.shape[2:], axis=(2, 3))
    return np.einsum("nchwij,ocij->nohw", windows, w)


@pytest.mark.parametrize("n, c, h, w, o, kh, kw", [
    (2, 3, 5, 7, 4, 3, 3),      # odd sizes: a partial block, rows across a block
    (3, 16, 8, 8, 40, 3, 3),    # rows of A past 32
    (2, 5, 4, 4, 7, 3, 3),      # an odd channel count: a channel alone at the end; 16 pixels: images in pairs
    (3, 6, 4, 4, 33, 3, 3),     # an odd number of 16-pixel images: the last pair's second half empty
    (1, 33, 32, 32, 17, 3, 3),  # k past 32 blocks, whole-row blocks
    (2, 3, 6, 5, 5, 5, 5),      # 5x5 taps, padding 2
    (2, 4, 3, 9, 6, 1, 3),      # 1x3 taps
])
def test_forward_and_input_gradient(n, c, h, w, o, kh, kw):
    pad = ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
    geo = ConvGeometry(n, c, h, w, o, kh, kw, (1, 1), pad)
    assert supports(geo)
    x, weights, dy = (random(shape, seed_offset=k).astype(BF16)
                      for k, shape in enumerate([geo.x_shape, geo.w_shape, geo.y_shape]))
    bias = random((c,), seed_offset=4)
    flipped = weights[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).astype(np.float64)
    back = (kh - 1 - pad[0], kh - 1 - pad[1], kw - 1 - pad[2], kw - 1 - pad[3])
    cases = [(False, x, weights.astype(np.float64), pad, ep.IDENTITY, {}, 0),
             (True, dy, flipped, back, ep.bias_add("m", c), {"bias": bias}, bias[None, :, None, None])]
    for gradient, src, filters, padding, epilogue, extra, added in cases:
        out = run_threads(lambda mod: emit_amx_conv2d(mod, "conv", geo, epilogue, gradient),
                          {"src": src, "w": weights, **extra}, ["y"])["y"]
        wide = src.astype(np.float64)
        want = _conv(wide, filters, padding) + added
        magnitude = _conv(np.abs(wide), np.abs(filters), padding) + np.abs(added)
        taps = filters.shape[1] * kh * kw
        half_ulp = float(np.finfo(out.dtype).eps) / 2 * np.abs(want)
        assert_dot_close(out.astype(np.float64), want, magnitude + half_ulp / (4 * EPS32 * np.sqrt(taps)), taps,
                         f"amx conv {'input gradient' if gradient else 'forward'}")


def test_only_stride_one_same_size_ungrouped_convolutions_run_on_tiles():
    assert not supports(ConvGeometry(1, 4, 8, 8, 4, 3, 3, (2, 2), (1, 1, 1, 1)))
    assert not supports(ConvGeometry(1, 4, 8, 8, 4, 3, 3))                          # 'valid': 6x6
    assert not supports(ConvGeometry(1, 4, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), group=2))
    assert not supports(ConvGeometry(1, 4, 8, 8, 4, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2)))


@pytest.mark.parametrize("n, c, h, w, o, kh, kw", [(2, 3, 5, 7, 4, 3, 3), (3, 16, 8, 8, 40, 3, 3),
                                                   (2, 5, 4, 4, 7, 3, 3), (3, 6, 4, 4, 33, 3, 3),
                                                   (2, 3, 6, 5, 5, 5, 5), (2, 4, 3, 9, 6, 1, 3)])
def test_filter_gradient(n, c, h, w, o, kh, kw):
    """dw = sum over images and pixels of dy times x's tap, stored transposed back through the epilogue."""
    pad = ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
    geo = ConvGeometry(n, c, h, w, o, kh, kw, (1, 1), pad)
    x, dy = random(geo.x_shape, seed_offset=1).astype(BF16), random(geo.y_shape, seed_offset=2).astype(BF16)
    bias = random(geo.w_shape, seed_offset=3)
    out = run_threads(lambda mod: emit_amx_conv2d_grad_filter(mod, "dw", geo, ep.chain(_add("bias", geo.w_shape))),
                      {"dy": dy, "x": x, "bias": bias}, ["y"])["y"]
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), pad[:2], pad[2:]))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    want = np.einsum("nchwij,nohw->ocij", windows, dy.astype(np.float64)) + bias
    magnitude = np.einsum("nchwij,nohw->ocij", np.abs(windows), np.abs(dy.astype(np.float64))) + np.abs(bias)
    half_ulp = float(np.finfo(out.dtype).eps) / 2 * np.abs(want)
    terms = n * h * w
    assert_dot_close(out.astype(np.float64), want, magnitude + half_ulp / (4 * EPS32 * np.sqrt(terms)), terms,
                     "amx filter gradient")


def _add(name, shape):
    """An epilogue adding a float32 tensor of dw's shape, read at each lane's own (strided) position."""
    def apply(builder, acc, position, args):
        return builder.fadd(acc, ep.load_at(builder, args[name], shape, shape, position, acc.type.element))
    return ep.Epilogue(apply, (Operand(name, shape),))
