"""conv2d forward and input gradient (MindSpore Conv2D semantics, NCHW / OIHW, float32).

    y[n, o, oh, ow] = sum over c < C/group, kh, kw of
        x[n, g*C/group + c, oh*sh + kh*dh - pad_top, ow*sw + kw*dw - pad_left] * w[o, c, kh, kw]

with g = o // (O/group) and x zero outside the image. Both kernels split the batch over threads,
after a phase that lays the weights out when the direct form runs in channel lanes, or transforms
them for Winograd (see conv_direct, conv_columns and conv_winograd for the algorithms); the filter
gradient lives in conv_filter.

* `emit_conv2d`: operands x, w, y (+ epilogue operands; the epilogue sees coords n, c, h, w).
  Stride-1 3x3 convolutions with enough channels take Winograd (conv_winograd), the rest the
  direct loop.
* `emit_conv2d_grad_input`: operands dy, w, dx (+ epilogue operands; coords n, c, h, w of dx).
  Strided with dilation 1, a GEMM into columns and strided shifted sums (conv_columns: no FMAs on
  inserted zeros). Otherwise the forward loop over dy zero-inserted by the stride and padded by
  (kernel-1)*dilation - pad, with w flipped and its channel axes swapped: the flip lives in the
  weight index function, so only dy is staged.
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .contract import Kernel, KernelFunction, Operand, kernel_operands
from .conv_columns import ColumnsGradInput
from .conv_direct import DirectConv, DirectConvEmitter
from .conv_winograd import MIN_CALL_PIXELS, WinogradConv
from .epilogue import IDENTITY, Epilogue
from .loops import affine
from .staging import Placement


@dataclass(frozen=True)
class ConvGeometry:
    batch: int
    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel_h: int
    kernel_w: int
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, bottom, left, right
    dilation: tuple[int, int] = (1, 1)
    group: int = 1

    def __post_init__(self):
        if self.in_channels % self.group or self.out_channels % self.group:
            raise ValueError(f"conv2d: channels {self.in_channels}->{self.out_channels} not divisible by group {self.group}")
        if self.out_h < 1 or self.out_w < 1:
            raise ValueError(f"conv2d: empty output {self.out_h}x{self.out_w} for input {self.height}x{self.width}, "
                             f"kernel {self.kernel_h}x{self.kernel_w}, {self}")

    @property
    def out_h(self) -> int:
        span = self.dilation[0] * (self.kernel_h - 1) + 1
        return (self.height + self.pad[0] + self.pad[1] - span) // self.stride[0] + 1

    @property
    def out_w(self) -> int:
        span = self.dilation[1] * (self.kernel_w - 1) + 1
        return (self.width + self.pad[2] + self.pad[3] - span) // self.stride[1] + 1

    @property
    def cin_g(self) -> int:
        return self.in_channels // self.group

    @property
    def cout_g(self) -> int:
        return self.out_channels // self.group

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.batch, self.in_channels, self.height, self.width)

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.cin_g, self.kernel_h, self.kernel_w)

    @property
    def y_shape(self) -> tuple[int, ...]:
        return (self.batch, self.out_channels, self.out_h, self.out_w)

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.out_channels * self.out_h * self.out_w * self.cin_g * self.kernel_h * self.kernel_w

    def weight_offset(self, b: ir.IRBuilder, o, c, kh, kw):
        """Flat index of w[o, c, kh, kw] (python ints fold to constants)."""
        kk = self.kernel_h * self.kernel_w
        return affine(b, [(o, self.cin_g * kk), (c, kk), (kh, self.kernel_w), (kw, 1)])


def padded_input(geo: ConvGeometry) -> Placement:
    """x zero-padded as the forward pass sees it."""
    top, bottom, left, right = geo.pad
    return Placement(geo.in_channels, geo.height, geo.width, geo.height + top + bottom, geo.width + left + right,
                     top, left)


def forward_problem(geo: ConvGeometry) -> DirectConv:
    return DirectConv(geo.batch, geo.group, geo.cin_g, geo.cout_g, geo.out_h, geo.out_w,
                      (geo.kernel_h, geo.kernel_w), geo.stride, geo.dilation, padded_input(geo),
                      lambda b, g, o, c, kh, kw: geo.weight_offset(b, affine(b, [(g, geo.cout_g), (o, 1)]), c, kh, kw))


def input_gradient_problem(geo: ConvGeometry) -> DirectConv:
    """dx as a stride-1 DirectConv: outputs are x channels, sources are dy channels."""
    (dh, dw), (sh, sw) = geo.dilation, geo.stride
    top, left = (geo.kernel_h - 1) * dh - geo.pad[0], (geo.kernel_w - 1) * dw - geo.pad[2]
    place = Placement(geo.out_channels, geo.out_h, geo.out_w, geo.height + (geo.kernel_h - 1) * dh,
                      geo.width + (geo.kernel_w - 1) * dw, top, left, sh, sw)

    def flipped(b, g, c_x, o_dy, kh, kw):
        o = affine(b, [(g, geo.cout_g), (o_dy, 1)])
        return geo.weight_offset(b, o, c_x, affine(b, [(kh, -1)], geo.kernel_h - 1), affine(b, [(kw, -1)], geo.kernel_w - 1))

    return DirectConv(geo.batch, geo.group, geo.cout_g, geo.cin_g, geo.height, geo.width,
                      (geo.kernel_h, geo.kernel_w), (1, 1), geo.dilation, place, flipped, src="dy", out="dx")


def emit_conv2d(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("x", geo.x_shape), Operand("w", geo.w_shape), Operand("y", geo.y_shape, "out")]
    return _emit(module, name, problem_emitter(forward_problem(geo)), kernel_operands(own, epilogue.operands),
                 epilogue, geo.flops, geo.batch)


def emit_conv2d_grad_input(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("dy", geo.y_shape), Operand("w", geo.w_shape), Operand("dx", geo.x_shape, "out")]
    return _emit(module, name, grad_input_emitter(geo), kernel_operands(own, epilogue.operands), epilogue, geo.flops,
                 geo.batch)


def grad_input_emitter(geo: ConvGeometry) -> ColumnsGradInput | WinogradConv | DirectConvEmitter:
    """The columns form where it is faster (strided dx, ColumnsGradInput.supports), else as the forward."""
    problem = input_gradient_problem(geo)
    return ColumnsGradInput(geo, problem) if ColumnsGradInput.supports(geo) else problem_emitter(problem)


def problem_emitter(problem: DirectConv) -> WinogradConv | DirectConvEmitter:
    """Winograd for the stride-1 3x3 problems it takes (WinogradConv.supports) over enough pixels per
    call to repay transforming the filters (MIN_CALL_PIXELS), else the direct loop."""
    pixels = problem.batch * problem.out_h * problem.out_w
    return WinogradConv(problem) if WinogradConv.supports(problem) and pixels >= MIN_CALL_PIXELS else \
        DirectConvEmitter(problem)


def _emit(module, name, emitter: ColumnsGradInput | WinogradConv | DirectConvEmitter, operands, epilogue: Epilogue,
          flops: int, batch: int) -> Kernel:
    phases, weight_phases = [], 0
    for suffix, emit in emitter.phases(epilogue):
        kf = KernelFunction(module, f"{name}{suffix}", operands, emitter.plan.scratch)
        emit(kf)
        phases.append(kf.finish())
        weight_phases += suffix == ".weights"      # the relayout or transform of `w` into shared scratch, first
    return Kernel(name, tuple(phases), operands, emitter.plan.scratch, flops, batch, prepare=weight_phases)
