"""Convolutions on AMX tiles (kernels/conv_amx.py), bfloat16: forward, input and filter gradient against
float64 NumPy on the same bfloat16 values, within the rounding of float32 sums and the bfloat16 result;
1 and 2 threads bitwise equal (support.run_threads). Same-size stride-1 windows read shifted loads, the
rest gathers: both are covered."""
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


def _windows(x, geo):
    """x's tap values per output pixel, [N, C, OH, OW, KH, KW] in float64, zero outside the image."""
    (sy, sx), (dy, dx) = geo.stride, geo.dilation
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), geo.pad[:2], geo.pad[2:]))
    out = np.zeros(x.shape[:2] + (geo.out_h, geo.out_w, geo.kernel_h, geo.kernel_w))
    for ky in range(geo.kernel_h):
        for kx in range(geo.kernel_w):
            out[..., ky, kx] = padded[:, :, ky * dy::sy, kx * dx::sx][:, :, :geo.out_h, :geo.out_w]
    return out


def _input_gradient(dy, w, geo):
    """The forward's adjoint: each output pixel's dy, times each tap's filters, added at that tap."""
    top, left = geo.pad[0], geo.pad[2]
    padded = np.zeros((geo.batch, geo.in_channels, geo.height + sum(geo.pad[:2]) + geo.stride[0] * geo.out_h,
                       geo.width + sum(geo.pad[2:]) + geo.stride[1] * geo.out_w))
    for ky in range(geo.kernel_h):
        for kx in range(geo.kernel_w):
            y0, x0 = ky * geo.dilation[0], kx * geo.dilation[1]
            padded[:, :, y0:y0 + geo.stride[0] * geo.out_h:geo.stride[0], x0:x0 + geo.stride[1] * geo.out_w:
                   geo.stride[1]] += np.einsum("nohw,oc->nchw", dy, w[:, :, ky, kx])
    return padded[:, :, top:top + geo.height, left:left + geo.width]


def _same(n, c, h, w, o, kh, kw):
    """A stride-1 convolution whose output keeps the input's size."""
    return ConvGeometry(n, c, h, w, o, kh, kw, (1, 1), ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2,
                                                        kw - 1 - (kw - 1) // 2))


GEOMETRIES = [
    _same(2, 3, 5, 7, 4, 3, 3),      # odd sizes: a partial block, rows across a block
    _same(3, 16, 8, 8, 40, 3, 3),    # rows of A past 32
    _same(2, 5, 4, 4, 7, 3, 3),      # an odd channel count: a channel alone at the end; 16 pixels: images in pairs
    _same(3, 6, 4, 4, 33, 3, 3),     # an odd number of 16-pixel images: the last pair's second half empty
    _same(1, 33, 32, 32, 17, 3, 3),  # k past 32 blocks, whole-row blocks
    _same(2, 3, 6, 5, 5, 5, 5),      # 5x5 taps, padding 2
    _same(2, 4, 3, 9, 6, 1, 3),      # 1x3 taps
    ConvGeometry(2, 5, 16, 16, 9, 3, 3, (2, 2), (1, 1, 1, 1)),    # resnet's stride-2 layers: gathers; the input
    # gradient by phases: rows of 8 pixels, two to a vector, two phases of one tap row and two of two
    ConvGeometry(2, 3, 32, 32, 4, 3, 3, (2, 2), (1, 1, 1, 1)),    # phase rows of 16 pixels
    ConvGeometry(3, 4, 4, 8, 5, 3, 3, (2, 2), (1, 1, 1, 1)),      # phases of 2x4: runs of 4 pixels
    ConvGeometry(2, 3, 4, 4, 5, 3, 3, (2, 2), (1, 1, 1, 1)),      # phases of 2x2: runs of 2 pixels
    ConvGeometry(2, 5, 8, 8, 3, 1, 1, (2, 2)),                    # a 1x1 downsample: three phases with no tap
    ConvGeometry(2, 3, 8, 8, 4, 3, 3, (2, 2), (1, 0, 1, 0), (2, 2)),    # dilated strided, uneven padding
    ConvGeometry(3, 4, 8, 8, 6, 3, 3, (2, 2), (1, 1, 1, 1)),      # stride 2 to 16 pixels: paired images
    ConvGeometry(2, 6, 9, 7, 5, 1, 1, (2, 2)),                    # a 1x1 downsample of odd sizes
    ConvGeometry(2, 3, 7, 9, 4, 3, 3),                            # 'valid'; odd pixel counts: odd channel starts
    ConvGeometry(2, 4, 9, 8, 3, 3, 2, (1, 1), (2, 0, 1, 3), (2, 3)),   # dilated, uneven padding
    ConvGeometry(2, 3, 11, 10, 4, 3, 3, (3, 2), (0, 2, 1, 0)),    # uneven strides
    # filter gradients whose dw is past amx.SUMS_BYTES, summed by groups of rows: two groups, a partial
    # column block; paired images; then one of many terms
    _same(2, 64, 6, 6, 120, 3, 3),
    _same(10, 3, 5, 5, 4, 3, 3),     # 10 images of 32 k in chunks of 8 (amx.CHUNK_K): a whole chunk, a partial one
    # B read in place from a staged copy (sources in blocks of 32, rows of whole vectors): forward and
    # input gradient; 5x5 taps reaching two pixels past the image; the phases of a stride-2 input gradient
    _same(2, 64, 8, 32, 32, 3, 3),
    _same(3, 32, 4, 16, 32, 5, 5),
    ConvGeometry(2, 5, 32, 32, 32, 3, 3, (2, 2), (1, 1, 1, 1)),
    ConvGeometry(3, 64, 8, 8, 130, 3, 3, (2, 2), (1, 1, 1, 1)),
]


@pytest.mark.parametrize("geo", GEOMETRIES, ids=str)
def test_forward_and_input_gradient(geo):
    weights = random(geo.w_shape, seed_offset=1).astype(BF16)
    wide = weights.astype(np.float64)
    x, dy = (random(shape, seed_offset=k).astype(BF16) for k, shape in ((2, geo.x_shape), (3, geo.y_shape)))
    bias = random((geo.in_channels,), seed_offset=4)
    taps = geo.kernel_h * geo.kernel_w
    forward = (False, x, lambda v, f: np.einsum("nchwij,ocij->nohw", _windows(v, geo), f), ep.IDENTITY, {}, 0,
               geo.in_channels * taps)
    # a strided input gradient (by phases) takes no epilogue; at stride 1 a bias along the channels
    backward = (True, dy, lambda v, f: _input_gradient(v, f, geo), ep.bias_add("m", geo.in_channels),
                {"bias": bias}, bias[None, :, None, None], geo.out_channels * taps) if geo.stride == (1, 1) else \
        (True, dy, lambda v, f: _input_gradient(v, f, geo), ep.IDENTITY, {}, 0, geo.out_channels * taps)
    for gradient, src, reference, epilogue, extra, added, terms in [forward, backward] if supports(geo, True) else \
            [forward]:
        out = run_threads(lambda mod: emit_amx_conv2d(mod, "conv", geo, epilogue, gradient),
                          {"src": src, "w": weights, **extra}, ["y"])["y"]
        want = reference(src.astype(np.float64), wide) + added
        magnitude = reference(np.abs(src.astype(np.float64)), np.abs(wide)) + np.abs(added)
        half_ulp = float(np.finfo(out.dtype).eps) / 2 * np.abs(want)
        assert_dot_close(out.astype(np.float64), want, magnitude + half_ulp / (4 * EPS32 * np.sqrt(terms)), terms,
                         f"amx conv {'input gradient' if gradient else 'forward'} {geo}")


def test_grouped_convolutions_and_ragged_phases_stay_off_tiles():
    """A strided input gradient goes by phases, whose rows are whole vectors or divide one."""
    assert not supports(ConvGeometry(1, 4, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), group=2))
    assert supports(ConvGeometry(1, 4, 8, 8, 4, 3, 3, (2, 2), (1, 1, 1, 1)), input_gradient=True)
    for ragged in (ConvGeometry(1, 4, 9, 8, 4, 3, 3, (2, 2), (1, 1, 1, 1)),     # 9 rows: phases of 5 and 4
                   ConvGeometry(1, 4, 12, 12, 4, 3, 3, (2, 2), (1, 1, 1, 1)),   # rows of 6 pixels
                   ConvGeometry(1, 4, 2, 2, 4, 3, 3, (2, 2), (1, 1, 1, 1))):    # rows of one pixel
        assert supports(ragged) and not supports(ragged, input_gradient=True)


@pytest.mark.parametrize("geo", GEOMETRIES, ids=str)
def test_filter_gradient(geo):
    """dw = sum over images and pixels of dy times x's tap, stored transposed back through the epilogue."""
    x, dy = random(geo.x_shape, seed_offset=1).astype(BF16), random(geo.y_shape, seed_offset=2).astype(BF16)
    bias = random(geo.w_shape, seed_offset=3)
    out = run_threads(lambda mod: emit_amx_conv2d_grad_filter(mod, "dw", geo, ep.chain(_add("bias", geo.w_shape))),
                      {"dy": dy, "x": x, "bias": bias}, ["y"])["y"]
    windows, wide_dy = _windows(x, geo), dy.astype(np.float64)
    want = np.einsum("nchwij,nohw->ocij", windows, wide_dy) + bias
    magnitude = np.einsum("nchwij,nohw->ocij", np.abs(windows), np.abs(wide_dy)) + np.abs(bias)
    half_ulp = float(np.finfo(out.dtype).eps) / 2 * np.abs(want)
    terms = geo.batch * geo.out_h * geo.out_w
    assert_dot_close(out.astype(np.float64), want, magnitude + half_ulp / (4 * EPS32 * np.sqrt(terms)), terms,
                     f"amx filter gradient {geo}")


def _add(name, shape):
    """An epilogue adding a float32 tensor of dw's shape, read at each lane's own (strided) position."""
    def apply(builder, acc, position, args):
        return builder.fadd(acc, ep.load_at(builder, args[name], shape, shape, position, acc.type.element))
    return ep.Epilogue(apply, (Operand(name, shape),))
