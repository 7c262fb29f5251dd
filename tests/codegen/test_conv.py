"""conv2d forward, input gradient and filter gradient against float64 NumPy, on LeNet's shapes
and on awkward ones (odd sizes, batch 1, stride, padding, dilation, groups); each case runs on 1
and 2 threads and must agree bitwise. Both lane layouts of each kernel are exercised."""
import ctypes
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from llvmlite import ir

from graphc.codegen.kernels import epilogue as ep
from graphc.codegen.kernels.conv import ConvGeometry, problem_emitter, emit_conv2d, emit_conv2d_grad_input, \
    forward_problem, grad_input_emitter
from graphc.codegen.kernels.conv_direct import DirectConvEmitter
from graphc.codegen.kernels.conv_winograd import WinogradConv, transforms
from graphc.codegen.kernels.conv_winograd_filter import WinogradFilterGradient
from graphc.codegen.kernels.conv_filter import PARTIAL_CHUNKS, emit_conv2d_grad_filter
from graphc.codegen.kernels.launch import Launcher, aligned, aligned_empty

from .support import assert_dot_close, conv_grad_filter_ref, conv_grad_input_ref, conv_ref, random, run_threads

CONV1 = ConvGeometry(32, 1, 32, 32, 6, 5, 5)
CONV2 = ConvGeometry(32, 6, 14, 14, 16, 5, 5)
AWKWARD = [
    ConvGeometry(1, 3, 7, 9, 5, 3, 3),
    ConvGeometry(2, 4, 9, 8, 6, 3, 2, stride=(2, 2), pad=(1, 0, 2, 1)),
    ConvGeometry(2, 4, 11, 10, 4, 3, 3, pad=(2, 2, 2, 2), dilation=(2, 2), group=2),
    ConvGeometry(3, 6, 8, 8, 20, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(2, 2, 20, 37, 3, 5, 5, stride=(1, 2)),
    ConvGeometry(1, 8, 6, 6, 34, 1, 1, group=2),
    ConvGeometry(2, 3, 10, 10, 4, 3, 3, stride=(3, 3), pad=(4, 4, 4, 4)),
    ConvGeometry(11, 2, 9, 40, 3, 3, 3),
    ConvGeometry(9, 2, 9, 9, 17, 2, 2, dilation=(1, 2)),
    # padding beyond kernel-1 (dx rows no dy position reaches), asymmetric padding, groups and dy
    # rows wider than 16
    ConvGeometry(2, 4, 7, 19, 6, 3, 4, pad=(3, 0, 1, 4), group=2),
    # deep layers: many channels on small maps (channel-vector blocks and their tails, several
    # images per pass of the filter gradient, uneven chunks), stride 2, batch 1
    ConvGeometry(10, 33, 4, 4, 33, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(2, 24, 4, 4, 511, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(3, 40, 9, 9, 150, 3, 3, stride=(2, 2), pad=(1, 1, 1, 1)),
    ConvGeometry(1, 17, 3, 3, 257, 1, 1),
    ConvGeometry(5, 130, 3, 3, 20, 1, 1, stride=(2, 2)),
    ConvGeometry(2, 20, 6, 6, 40, 3, 3, pad=(2, 2, 2, 2), dilation=(2, 2)),   # dilated dx: direct, channel lanes
]


# Stride-1 3x3 convolutions with channels in 16s take Winograd forward and dx: F(4x4, 3x3) and
# F(2x2, 3x3), passes of many images with a short last pass, of one image's tile rows, padding on
# some sides only or none, and more source than output channels. They are held to the direct loop's
# error bound (F(4x4, 3x3) with points +-1/2 measured at up to 1.4 eps sqrt(k) |x||w| here).
WINOGRAD = [
    ConvGeometry(3, 32, 8, 8, 32, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(9, 64, 4, 4, 64, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(2, 64, 10, 10, 64, 3, 3),
    ConvGeometry(2, 64, 32, 32, 64, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(3, 64, 6, 8, 80, 3, 3, pad=(2, 0, 1, 1)),
    ConvGeometry(3, 128, 8, 8, 48, 3, 3, pad=(1, 1, 1, 1)),
]


# The filter gradient takes Winograd from 64 output channels (panels of 32 or 16, unevenly split
# over threads; chunks of images, the last one short).
WINOGRAD_FILTER = [
    ConvGeometry(3, 32, 8, 8, 64, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(2, 64, 32, 32, 64, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(5, 64, 4, 4, 96, 3, 3, pad=(1, 1, 1, 1)),
    ConvGeometry(2, 64, 6, 8, 80, 3, 3, pad=(2, 0, 1, 1)),
    ConvGeometry(3, 32, 18, 18, 64, 3, 3),
]


def _ids(geos):
    return [f"{g.x_shape}k{g.kernel_h}x{g.kernel_w}s{g.stride}p{g.pad}d{g.dilation}g{g.group}" for g in geos]


def _taps(geo):
    return geo.cin_g * geo.kernel_h * geo.kernel_w


@pytest.mark.parametrize("geo", [CONV1, CONV2] + AWKWARD, ids=_ids([CONV1, CONV2] + AWKWARD))
def test_forward(geo):
    x, w = random(geo.x_shape, seed_offset=1), random(geo.w_shape, seed_offset=2)
    y = run_threads(lambda mod: emit_conv2d(mod, "conv", geo), {"x": x, "w": w}, ["y"])["y"]
    assert_dot_close(y, conv_ref(x, w, geo), conv_ref(np.abs(x), np.abs(w), geo), _taps(geo), "conv2d")


@pytest.mark.parametrize("geo", [CONV2] + AWKWARD, ids=_ids([CONV2] + AWKWARD))
def test_grad_input(geo):
    dy, w = random(geo.y_shape, seed_offset=3), random(geo.w_shape, seed_offset=2)
    dx = run_threads(lambda mod: emit_conv2d_grad_input(mod, "dx", geo), {"dy": dy, "w": w}, ["dx"])["dx"]
    assert_dot_close(dx, conv_grad_input_ref(dy, w, geo), conv_grad_input_ref(np.abs(dy), np.abs(w), geo),
                     geo.cout_g * geo.kernel_h * geo.kernel_w, "conv2d_grad_input")


@pytest.mark.parametrize("geo", [CONV1, CONV2] + AWKWARD, ids=_ids([CONV1, CONV2] + AWKWARD))
def test_grad_filter(geo):
    dy, x = random(geo.y_shape, seed_offset=3), random(geo.x_shape, seed_offset=1)
    dw = run_threads(lambda mod: emit_conv2d_grad_filter(mod, "dw", geo), {"dy": dy, "x": x}, ["dw"])["dw"]
    positions = geo.batch * geo.out_h * geo.out_w
    assert_dot_close(dw, conv_grad_filter_ref(dy, x, geo), conv_grad_filter_ref(np.abs(dy), np.abs(x), geo),
                     positions, "conv2d_grad_filter")


@pytest.mark.parametrize("geo", WINOGRAD, ids=_ids(WINOGRAD))
def test_winograd_grad_input(geo):
    """(The forward pass of these geometries is in test_bias_relu_epilogue.)"""
    w, dy = random(geo.w_shape, seed_offset=2), random(geo.y_shape, seed_offset=3)
    dx = run_threads(lambda mod: emit_conv2d_grad_input(mod, "dx", geo), {"dy": dy, "w": w}, ["dx"])["dx"]
    assert_dot_close(dx, conv_grad_input_ref(dy, w, geo), conv_grad_input_ref(np.abs(dy), np.abs(w), geo),
                     geo.cout_g * 9, "winograd conv2d_grad_input")


@pytest.mark.parametrize("geo", WINOGRAD_FILTER, ids=_ids(WINOGRAD_FILTER))
def test_winograd_filter_gradient(geo):
    dy, x = random(geo.y_shape, seed_offset=3), random(geo.x_shape, seed_offset=1)
    dw = run_threads(lambda mod: emit_conv2d_grad_filter(mod, "dw", geo), {"dy": dy, "x": x}, ["dw"])["dw"]
    assert_dot_close(dw, conv_grad_filter_ref(dy, x, geo), conv_grad_filter_ref(np.abs(dy), np.abs(x), geo),
                     geo.batch * geo.out_h * geo.out_w, "winograd conv2d_grad_filter")


@pytest.mark.parametrize("m, r", [(2, 3), (4, 3), (3, 2), (3, 4)])
def test_winograd_transforms_compute_the_correlation_exactly(m, r):
    """y_i = sum_k g_k d_(i+k) = A^T [(G g) . (B^T d)], in exact rational arithmetic."""
    matrices = transforms(m, r)
    rng = np.random.default_rng(m * 10 + r)
    for _ in range(5):
        d = [Fraction(int(v)) for v in rng.integers(-9, 10, m + r - 1)]
        g = [Fraction(int(v)) for v in rng.integers(-9, 10, r)]
        gg = [sum(a * b for a, b in zip(row, g)) for row in matrices["G"]]
        dd = [sum(a * b for a, b in zip(row, d)) for row in matrices["BT"]]
        y = [sum(a * b * c for a, b, c in zip(row, gg, dd)) for row in matrices["AT"]]
        assert y == [sum(g[k] * d[i + k] for k in range(r)) for i in range(m)]


def test_winograd_cases_are_covered():
    forward = [problem_emitter(forward_problem(g)) for g in WINOGRAD]
    backward = [grad_input_emitter(g) for g in WINOGRAD]
    assert all(isinstance(e, WinogradConv) for e in forward + backward)
    assert {e.m for e in forward + backward} == {2, 4}
    assert any(e.images > 1 and g.batch % e.images for e, g in zip(forward, WINOGRAD))     # a short last pass
    assert any(e.pass_rows < e.rows for e in forward)                                     # passes of tile rows
    assert not WinogradConv.supports(forward_problem(AWKWARD[10]))    # 33 channels: the direct loop
    assert not WinogradConv.supports(forward_problem(ConvGeometry(2, 32, 6, 6, 32, 3, 3, pad=(1, 1, 1, 1))))  # F(2x2): 64+
    assert not WinogradConv.supports(forward_problem(ConvGeometry(2, 16, 8, 8, 32, 3, 3, pad=(1, 1, 1, 1))))  # F(4x4): 32+
    assert isinstance(problem_emitter(forward_problem(ConvGeometry(1, 512, 4, 4, 512, 3, 3, pad=(1, 1, 1, 1)))),
                      DirectConvEmitter)                          # 16 pixels a call: not worth transforming filters
    filters = [WinogradFilterGradient(g, ep.IDENTITY) for g in WINOGRAD_FILTER]
    assert all(WinogradFilterGradient.supports(g) for g in WINOGRAD_FILTER)
    assert {f.m for f in filters} == {2, 4} and {f.vectors for f in filters} == {1, 2}
    assert any(-(-g.batch // f.images) > 1 for f, g in zip(filters, WINOGRAD_FILTER))    # several chunks
    assert any(g.batch % f.images for f, g in zip(filters, WINOGRAD_FILTER))             # a short last chunk
    assert any(g.out_channels // f.panel % 2 for f, g in zip(filters, WINOGRAD_FILTER))  # panels split unevenly
    assert not WinogradFilterGradient.supports(WINOGRAD[0])           # 32 output channels: the direct form


def test_both_layouts_are_covered():
    forward = {DirectConvEmitter(forward_problem(g)).algorithm for g in [CONV1, CONV2] + AWKWARD}
    backward = {grad_input_emitter(g).algorithm for g in [CONV2] + AWKWARD}
    assert forward == {"width-lanes", "channel-lanes"} and backward == {"columns", "width-lanes", "channel-lanes"}
    assert DirectConvEmitter(forward_problem(CONV1)).algorithm == "width-lanes"
    assert DirectConvEmitter(forward_problem(CONV2)).algorithm == "channel-lanes"
    assert grad_input_emitter(CONV2).algorithm == "width-lanes"      # stride 1: the direct form
    assert CONV1.batch > PARTIAL_CHUNKS   # the filter gradient's chunked partials are exercised


EPILOGUE_CASES = [CONV1, CONV2, AWKWARD[1]] + WINOGRAD


@pytest.mark.parametrize("geo", EPILOGUE_CASES, ids=_ids(EPILOGUE_CASES))
def test_bias_relu_epilogue(geo):
    x, w = random(geo.x_shape, seed_offset=1), random(geo.w_shape, seed_offset=2)
    bias = random((geo.out_channels,), seed_offset=4)
    epilogue = ep.chain(ep.bias_add("c", geo.out_channels), ep.relu())
    y = run_threads(lambda mod: emit_conv2d(mod, "conv", geo, epilogue), {"x": x, "w": w, "bias": bias}, ["y"])["y"]
    expected = np.maximum(conv_ref(x, w, geo) + bias[None, :, None, None], 0)
    magnitude = conv_ref(np.abs(x), np.abs(w), geo) + np.abs(bias)[None, :, None, None]
    assert_dot_close(y, expected, magnitude, _taps(geo), "conv2d+bias+relu")


def test_invalid_geometry_is_rejected():
    with pytest.raises(ValueError, match="group"):
        ConvGeometry(1, 3, 8, 8, 4, 3, 3, group=2)
    with pytest.raises(ValueError, match="empty output"):
        ConvGeometry(1, 1, 2, 2, 1, 3, 3)


# Fewer images than threads (inference at batch 1): each image's tiles, or Winograd's output-channel
# panels, are split between the threads (parallel.emit_image_split) instead of the images.
FEW_IMAGES = [
    ConvGeometry(1, 3, 7, 9, 5, 3, 3),                                 # width lanes
    ConvGeometry(2, 24, 4, 4, 100, 3, 3, pad=(1, 1, 1, 1)),            # channel lanes, a tail vector
    ConvGeometry(1, 17, 3, 3, 257, 1, 1),                              # channel lanes, 1x1
    ConvGeometry(1, 64, 8, 8, 96, 3, 3, pad=(1, 1, 1, 1)),             # Winograd F(4x4), uneven panels
    ConvGeometry(2, 64, 4, 4, 64, 3, 3, pad=(1, 1, 1, 1)),             # Winograd F(2x2)
]


@pytest.mark.parametrize("geo", FEW_IMAGES, ids=_ids(FEW_IMAGES))
def test_fewer_images_than_threads_split_inside_the_images(geo):
    x, w = random(geo.x_shape, seed_offset=11), random(geo.w_shape, seed_offset=12)
    y = run_threads(lambda mod: emit_conv2d(mod, "conv", geo), {"x": x, "w": w}, ["y"], threads=(1, 3))["y"]
    assert_dot_close(y, conv_ref(x, w, geo), conv_ref(np.abs(x), np.abs(w), geo), _taps(geo),
                     "conv2d, fewer images than threads")


@pytest.mark.parametrize("geo", FEW_IMAGES[1:], ids=_ids(FEW_IMAGES[1:]))
def test_with_one_image_the_second_thread_computes_part_of_it(geo):
    """Thread 1 of 2 alone, on a batch of one image: it writes some outputs but not all (before the
    split it had no image, so wrote nothing); thread 0 then writes the rest, and the two parts are
    the one-thread result, bitwise."""
    geo = replace(geo, batch=1)
    module = ir.Module()
    kernel = emit_conv2d(module, "conv", geo)
    launcher = Launcher(kernel, module)
    x, w = aligned(random(geo.x_shape, seed_offset=13)), aligned(random(geo.w_shape, seed_offset=14))
    whole = aligned_empty(geo.y_shape)
    launcher({"x": x, "w": w, "y": whole}, nthreads=1)
    y = aligned_empty(geo.y_shape)
    y[...] = np.nan
    scratch = aligned_empty((kernel.scratch.nbytes(2),), np.uint8)
    pointers = [x.ctypes.data, w.ctypes.data, y.ctypes.data] + ([scratch.ctypes.data] if kernel.scratch else [])
    phases = [ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(pointers), ctypes.c_int64, ctypes.c_int64,
                               ctypes.c_int64)(launcher.library.address(phase.name)) for phase in kernel.phases]
    for phase in phases[:-1]:                   # the weights' layout: one thread does all of it
        phase(*pointers, 1, 0, 1)
    phases[-1](*pointers, 1, 1, 2)
    written = ~np.isnan(y)
    assert written.any() and not written.all()
    phases[-1](*pointers, 1, 0, 2)
    np.testing.assert_array_equal(y, whole)
