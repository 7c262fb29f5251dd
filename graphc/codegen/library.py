"""The kernel families as ops see them: the object passed to a non-elementwise op's `lower`.

An op's lowering maps its attributes onto a kernel, e.g. conv2d's is

    lambda k, x, w, out, **conv: k.conv2d(x, w, out, pad=conv_padding(conv, ...), stride=..., ...)

where x, w and out are TensorTypes. Each method returns a `KernelSpec` (how to emit the kernel
and which of its operands the op's operands and result are), or raises `Unsupported` with the
reason, which the lowering reports as a CodegenError naming the node. Ops never import codegen.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Callable, Sequence

from llvmlite import ir

from ..ops.indexing import pack_offsets
from ..ops.join import slab_offsets
from .. import ops
from ..ops.nn import HALF_SUMMED_PIXELS, is_pointwise
from ..types import TensorType, bfloat16, float32
from .kernels.axis import emit_argmax, emit_softmax
from .kernels.batch_stats import emit_batch_stats, emit_channel_sums
from .kernels.contract import IR_TYPES, Kernel
from .kernels.collective import emit_allreduce
from .kernels.conv import ConvGeometry, emit_conv2d, emit_conv2d_grad_input
from .kernels.conv_amx import emit_amx_conv2d, emit_amx_conv2d_grad_filter, supports as supports_amx_conv
from .kernels.conv_depthwise import emit_depthwise_conv2d, emit_depthwise_grad_filter, emit_depthwise_grad_input, \
    is_depthwise
from .kernels.conv_filter import emit_conv2d_grad_filter
from .kernels.epilogue import IDENTITY
from .kernels.matmul import emit_matmul
from .machine import has_amx, has_dpbf16
from .kernels.movement import Strided, emit_concat, emit_gather, emit_gather_grad, emit_one_hot, emit_strided_copy, \
    emit_zero_ranges, row_major_strides
from .kernels.pool import PoolGeometry, emit_avg_pool2d, emit_avg_pool2d_grad, emit_max_pool2d, \
    emit_max_pool2d_grad, emit_max_pool2d_grad_grad
from .kernels.reduce import emit_reduce, split_axes
from .kernels.simd import LANES
from .kernels.softmax_xent import emit_sparse_softmax_cross_entropy, emit_sparse_softmax_cross_entropy_grad

EPILOGUE, PROLOGUE = "epilogue", "prologue"


class Unsupported(Exception):
    """The op's attributes or types have no native kernel (yet); the message says which."""


@dataclass(frozen=True)
class KernelSpec:
    """`emit(module, name, hook)` adds the kernel (hook: an Epilogue, a regions.Prologue or None).
    `inputs[i]` is the kernel operand op operand i binds to (None: not read); `output` receives
    the result; `hook` is the fusion the kernel takes (EPILOGUE, PROLOGUE or None). `half_epilogue`:
    the kernel stores whatever vector its epilogue returns, so an epilogue ending in a half type
    (a float32 conv followed by the cast widen-half puts after it) writes halves directly;
    `wide_epilogue`: a half kernel stores an epilogue's float32 result as float32 (a bfloat16 convolution
    whose result widen-half casts back), with no half temporary and second loop."""
    emit: Callable[[ir.Module, str, object], Kernel]
    inputs: tuple[str | None, ...]
    output: str
    hook: str | None = None
    half_epilogue: bool = False
    wide_epilogue: bool = False       # a half kernel whose epilogue may end in float32: stored as such


ALIAS = KernelSpec(lambda module, name, hook: None, ("x",), "x")   # the result shares its operand's buffer


@dataclass(frozen=True)
class InPlace:
    """A kernel updating the bytes of its operand `x` in place (plus the `transport` callback); the
    lowering first copies the op's operand into the result's buffer unless the plan made them one."""
    emit: Callable[[ir.Module, str], Kernel]


@dataclass(frozen=True)
class Pack:
    """The operands flattened side by side: operand k's bytes start at byte offsets[k] of the result;
    `gaps` (a kernel spec, or None) zeroes the elements between them."""
    offsets: tuple[int, ...]
    gaps: KernelSpec | None


class KernelLibrary:
    def alias(self) -> KernelSpec:
        """The result is the operand's bytes viewed with another shape (reshape of contiguous data)."""
        return ALIAS

    # -- moving elements ---------------------------------------------------------------------------------
    def transpose(self, x: TensorType, out: TensorType, *, perm) -> KernelSpec:
        strides = row_major_strides(x.shape)
        source = Strided(0, tuple(strides[p] for p in perm))
        return _copy(out.shape, x, source, out, Strided(0, row_major_strides(out.shape)))

    def strided_slice(self, x: TensorType, out: TensorType, *, ranges: tuple[range, ...]) -> KernelSpec:
        """out = x at the positions `ranges` (one range per axis, NumPy slicing normalised)."""
        return _copy(out.shape, x, _sliced(x.shape, ranges), out, Strided(0, row_major_strides(out.shape)))

    def strided_slice_grad(self, ct: TensorType, out: TensorType, *, ranges: tuple[range, ...]) -> KernelSpec:
        """out = zeros with ct written at the positions `ranges`."""
        return self.pad(ct, out, ranges=ranges, value=0)

    def pad(self, x: TensorType, out: TensorType, *, ranges: tuple[range, ...], value) -> KernelSpec:
        """out = `value` everywhere, then x written at the positions `ranges`."""
        return _copy(x.shape, x, Strided(0, row_major_strides(x.shape)), out, _sliced(out.shape, ranges), fill=value)

    def batch_stats(self, x: TensorType, out: TensorType) -> KernelSpec:
        """out [2, C] = per-channel mean and biased variance of x [N, C, ...]."""
        _float32("batch_stats", x)
        n, c, s = x.shape[0], x.shape[1], prod(x.shape[2:])
        return KernelSpec(lambda module, name, hook: emit_batch_stats(module, name, n, c, s), ("x",), "y")

    def channel_sums(self, dy: TensorType, x: TensorType, out: TensorType) -> KernelSpec:
        """out [2, C] = per-channel Σ dy and Σ dy·x of dy, x [N, C, ...]."""
        _float32("channel_sums", dy, x)
        n, c, s = x.shape[0], x.shape[1], prod(x.shape[2:])
        return KernelSpec(lambda module, name, hook: emit_channel_sums(module, name, n, c, s), ("dy", "x"), "y")

    def concat(self, pieces: Sequence[TensorType], out: TensorType, *, axis: int) -> KernelSpec | Pack:
        """out = the pieces laid end to end along axis (for stack: the operands with a size-1 axis); a pack
        when each piece is one aligned slab of out."""
        offsets = slab_offsets(pieces, axis)
        if offsets is not None:
            return Pack(offsets, None)
        shapes = [piece.shape for piece in pieces]
        return KernelSpec(lambda module, name, hook: emit_concat(module, name, shapes, out.shape, axis,
                                                                 out.dtype.short),
                          tuple(f"x{i}" for i in range(len(pieces))), "y")

    def gather(self, table: TensorType, index: TensorType, out: TensorType, *, axis: int) -> KernelSpec:
        pre, size, post = _around(table.shape, axis)
        return KernelSpec(lambda module, name, hook: emit_gather(module, name, pre, size, post, index.size,
                                                                 index.dtype.short, table.dtype.short),
                          ("x", "index"), "y")

    def gather_grad(self, ct: TensorType, index: TensorType, out: TensorType, *, axis: int) -> KernelSpec:
        pre, size, post = _around(out.shape, axis)
        return KernelSpec(lambda module, name, hook: emit_gather_grad(module, name, pre, size, post, index.size,
                                                                      index.dtype.short, ct.dtype.short),
                          ("ct", "index"), "dx")

    def pack(self, xs: tuple[TensorType, ...], out: TensorType) -> Pack:
        starts = pack_offsets(xs)
        ends = [start + x.size for start, x in zip(starts, xs)]
        gaps = [range(end, start) for end, start in zip(ends, starts[1:]) if start > end]
        fill = KernelSpec(lambda module, name, hook: emit_zero_ranges(module, name, out.size, gaps, out.dtype.short),
                          (), "y") if gaps else None
        return Pack(tuple(start * out.dtype.itemsize for start in starts), fill)

    def allreduce(self, x: TensorType, out: TensorType, *, ranks: int) -> InPlace:
        _float32("allreduce", x)
        if ranks == 1:
            return ALIAS                   # the sum over one rank is the value itself
        return InPlace(lambda module, name: emit_allreduce(module, name, x.shape, x.dtype.short))

    def one_hot(self, indices: TensorType, out: TensorType, *, on_value, off_value) -> KernelSpec:
        elem = IR_TYPES[out.dtype.short]
        on, off = (ir.Constant(elem, v if out.dtype.is_float else int(v)) for v in (on_value, off_value))
        return KernelSpec(lambda module, name, hook: emit_one_hot(module, name, indices.size, out.shape[-1],
                                                                  indices.dtype.short, out.dtype.short, on, off),
                          ("index",), "y")

    # -- along one axis -----------------------------------------------------------------------------------
    def argmax(self, x: TensorType, out: TensorType, *, axis: int) -> KernelSpec:
        pre, n, post = _around(x.shape, axis)
        return KernelSpec(lambda module, name, hook: emit_argmax(module, name, pre, n, post, x.dtype.short),
                          ("x",), "y")

    def softmax(self, x: TensorType, out: TensorType, *, axis: int, log: bool) -> KernelSpec:
        pre, n, post = _around(x.shape, axis)
        return KernelSpec(lambda module, name, hook: emit_softmax(module, name, pre, n, post, x.dtype.short, log),
                          ("x",), "y")

    # -- convolution ----------------------------------------------------------------------------------
    def conv2d(self, x: TensorType, w: TensorType, out: TensorType, *, stride, pad, dilation, group) -> KernelSpec:
        geo = _conv_geometry("conv2d", x, w.shape, stride, pad, dilation, group, half=True)
        if _one_pixel(geo):           # y [N, O] = x [N, C] @ w [O, C].T, as a dense layer
            return KernelSpec(lambda module, name, hook: emit_matmul(
                module, name, geo.batch, geo.in_channels, geo.out_channels, transpose_b=True,
                epilogue=hook or IDENTITY, dtype=out.dtype.short, dpbf16=has_dpbf16()), ("a", "b"), "y", EPILOGUE,
                half_epilogue=True)
        if _pointwise(geo):           # y[n] = w [O, C] @ x[n] [C, H·W]
            return KernelSpec(lambda module, name, hook: emit_matmul(
                module, name, geo.out_channels, geo.in_channels, geo.height * geo.width, epilogue=hook or IDENTITY,
                batch=geo.batch, dtype=out.dtype.short, dpbf16=has_dpbf16(), amx=has_amx()), ("b", "a"), "y", EPILOGUE,
                half_epilogue=True)
        if x.dtype.is_half:           # on AMX tiles (_on_tiles)
            return KernelSpec(lambda module, name, hook: emit_amx_conv2d(module, name, geo, hook or IDENTITY),
                              ("src", "w"), "y", EPILOGUE, half_epilogue=True, wide_epilogue=True)
        emit = emit_depthwise_conv2d if is_depthwise(geo) else emit_conv2d
        return KernelSpec(lambda module, name, hook: emit(module, name, geo, hook or IDENTITY),
                          ("x", "w"), "y", EPILOGUE, half_epilogue=True)

    def conv2d_grad_input(self, dy: TensorType, w: TensorType, out: TensorType, *, stride, pad, dilation,
                          group) -> KernelSpec:
        geo = _conv_geometry("conv2d_grad_input", out, w.shape, stride, pad, dilation, group, dy, half=True)
        if _one_pixel(geo):           # dx [N, C] = dy [N, O] @ w [O, C]
            return KernelSpec(lambda module, name, hook: emit_matmul(
                module, name, geo.batch, geo.out_channels, geo.in_channels, epilogue=hook or IDENTITY,
                dtype=out.dtype.short, dpbf16=has_dpbf16()), ("a", "b"), "y", EPILOGUE, half_epilogue=True)
        if _pointwise(geo):           # dx[n] = w.T [C, O] @ dy[n] [O, H·W]
            return KernelSpec(lambda module, name, hook: emit_matmul(
                module, name, geo.in_channels, geo.out_channels, geo.height * geo.width, transpose_a=True,
                epilogue=hook or IDENTITY, batch=geo.batch, dtype=out.dtype.short, dpbf16=has_dpbf16(),
                amx=has_amx()), ("b", "a"), "y", EPILOGUE, half_epilogue=True)
        if dy.dtype.is_half:          # on AMX tiles (_on_tiles); at a stride by phases stored through masks,
            fused = geo.stride == (1, 1)    # which take no epilogue
            return KernelSpec(lambda module, name, hook: emit_amx_conv2d(module, name, geo, hook or IDENTITY,
                                                                         gradient=True),
                              ("src", "w"), "y", EPILOGUE if fused else None, half_epilogue=fused, wide_epilogue=fused)
        emit = emit_depthwise_grad_input if is_depthwise(geo) else emit_conv2d_grad_input
        return KernelSpec(lambda module, name, hook: emit(module, name, geo, hook or IDENTITY),
                          ("dy", "w"), "dx", EPILOGUE, half_epilogue=True)

    def conv2d_grad_filter(self, dy: TensorType, x: TensorType, out: TensorType, *, stride, pad, dilation,
                           group) -> KernelSpec:
        geo = _conv_geometry("conv2d_grad_filter", x, out.shape, stride, pad, dilation, group, dy, half=True)
        if _one_pixel(geo):           # dw [O, C] = dy [N, O].T @ x [N, C], as a dense layer's weight gradient
            return KernelSpec(lambda module, name, hook: emit_matmul(
                module, name, geo.out_channels, geo.batch, geo.in_channels, transpose_a=True,
                epilogue=hook or IDENTITY, dtype=out.dtype.short, dpbf16=has_dpbf16()), ("a", "b"), "y", EPILOGUE,
                half_epilogue=True)
        if x.dtype.is_half and not _pointwise(geo):   # on AMX tiles (_on_tiles)
            return KernelSpec(lambda module, name, hook: emit_amx_conv2d_grad_filter(
                module, name, geo, hook or IDENTITY), ("dy", "x"), "y", EPILOGUE, half_epilogue=True,
                wide_epilogue=True)
        if _summed_dot(geo) or x.dtype.is_half:   # dw [O, C] = sum over images n of dy[n] [O, H·W] @ x[n] [C, H·W].T
            return KernelSpec(lambda module, name, hook: emit_matmul(
                module, name, geo.out_channels, geo.height * geo.width, geo.in_channels, transpose_b=True,
                epilogue=hook or IDENTITY, terms=geo.batch, dtype=out.dtype.short, dpbf16=has_dpbf16(),
                amx=has_amx()), ("a", "b"), "y", EPILOGUE, half_epilogue=True)
        emit = emit_depthwise_grad_filter if is_depthwise(geo) else emit_conv2d_grad_filter
        return KernelSpec(lambda module, name, hook: emit(module, name, geo, hook or IDENTITY),
                          ("dy", "x"), "dw", EPILOGUE)

    # -- dense ------------------------------------------------------------------------------------------
    def matmul(self, a: TensorType, b: TensorType, out: TensorType, *, transpose_a: bool,
               transpose_b: bool) -> KernelSpec:
        if not (a.dtype == b.dtype == out.dtype and a.dtype.is_half):
            _float32("matmul", a, b)
        m, n = out.shape
        k = a.shape[0] if transpose_a else a.shape[1]
        return KernelSpec(lambda module, name, hook: emit_matmul(module, name, m, k, n, transpose_a, transpose_b,
                                                                 hook or IDENTITY, dtype=out.dtype.short,
                                                                 dpbf16=has_dpbf16()), ("a", "b"), "y", EPILOGUE,
                          half_epilogue=True)

    # -- pooling ----------------------------------------------------------------------------------------
    def max_pool2d(self, x: TensorType, out: TensorType, *, kernel, stride, pad) -> KernelSpec:
        geo = _pool_geometry("max_pool2d", x, kernel, stride, pad)
        return KernelSpec(lambda module, name, hook: emit_max_pool2d(module, name, geo), ("x",), "y")

    def avg_pool2d(self, x: TensorType, out: TensorType, *, kernel, stride, pad) -> KernelSpec:
        geo = _pool_geometry("avg_pool2d", x, kernel, stride, pad)
        return KernelSpec(lambda module, name, hook: emit_avg_pool2d(module, name, geo), ("x",), "y")

    def max_pool2d_grad(self, x: TensorType, pooled: TensorType, dy: TensorType, out: TensorType, *, kernel,
                        stride, pad) -> KernelSpec:
        geo = _pool_geometry("max_pool2d_grad", x, kernel, stride, pad)
        return KernelSpec(lambda module, name, hook: emit_max_pool2d_grad(module, name, geo, hook or IDENTITY),
                          ("x", None, "dy"), "dx", EPILOGUE)

    def max_pool2d_grad_grad(self, x: TensorType, pooled: TensorType, g: TensorType, out: TensorType, *, kernel,
                             stride, pad) -> KernelSpec:
        geo = _pool_geometry("max_pool2d_grad_grad", x, kernel, stride, pad)
        return KernelSpec(lambda module, name, hook: emit_max_pool2d_grad_grad(module, name, geo), ("x", None, "g"),
                          "y")

    def avg_pool2d_grad(self, dy: TensorType, out: TensorType, *, kernel, stride, pad) -> KernelSpec:
        geo = _pool_geometry("avg_pool2d_grad", out, kernel, stride, pad)
        return KernelSpec(lambda module, name, hook: emit_avg_pool2d_grad(module, name, geo, hook or IDENTITY),
                          ("dy",), "dx", EPILOGUE)

    # -- reductions and losses ----------------------------------------------------------------------------
    def reduce(self, x: TensorType, out: TensorType, *, axes: tuple[int, ...], kind: str) -> KernelSpec:
        if not x.dtype.is_float:
            raise Unsupported(f"reduce_{kind} has float kernels only, got {x}; cast the operand to float32")
        try:
            split_axes(x.shape, axes)
        except ValueError as error:
            raise Unsupported(str(error)) from None

        def emit(module, name, hook):
            inputs, prologue, dtypes = (hook.inputs, hook.apply, hook.dtypes) if hook else (("x",), None, ())
            return emit_reduce(module, name, x.shape, axes, kind, inputs, prologue, x.dtype.short, dtypes)
        return KernelSpec(emit, ("x",), "y", PROLOGUE)

    def sparse_softmax_cross_entropy(self, logits: TensorType, labels: TensorType, out: TensorType) -> KernelSpec:
        _float32("sparse_softmax_cross_entropy", logits)
        n, c = logits.shape
        return KernelSpec(lambda module, name, hook: emit_sparse_softmax_cross_entropy(module, name, n, c,
                                                                                       labels.dtype.short),
                          ("logits", "labels"), "loss")

    def sparse_softmax_cross_entropy_grad(self, logits: TensorType, labels: TensorType,
                                          out: TensorType) -> KernelSpec:
        _float32("sparse_softmax_cross_entropy_grad", logits)
        n, c = logits.shape
        return KernelSpec(lambda module, name, hook: emit_sparse_softmax_cross_entropy_grad(
            module, name, n, c, label_dtype=labels.dtype.short), ("logits", "labels"), "dlogits")


def _float32(op: str, *types: TensorType) -> None:
    for t in types:
        if t.dtype != float32:
            raise Unsupported(f"{op} has float32 kernels only, got {t}; cast the operands to float32")


def _conv_geometry(op: str, x: TensorType, w_shape, stride, pad, dilation, group, *others,
                   half: bool = False) -> ConvGeometry:
    """`half`: a pointwise convolution may take one half type (its kernel is matmul's), and a bfloat16
    one this machine runs on AMX tiles (_on_tiles)."""
    out_channels, _, kernel_h, kernel_w = w_shape
    geo = ConvGeometry(*x.shape, out_channels, kernel_h, kernel_w, tuple(stride), tuple(pad), tuple(dilation), group)
    one_half_type = x.dtype.is_half and all(t.dtype == x.dtype for t in others)
    tiles = x.dtype == bfloat16 and _on_tiles(geo, op)
    if not (half and one_half_type and (_pointwise(geo) or tiles)):
        _float32(op, x, *others)
    return geo


def _on_tiles(geo: ConvGeometry, op: str) -> bool:
    """A bfloat16 convolution, input or filter gradient (`op`) that runs on AMX tiles here
    (kernels/conv_amx.py); a filter gradient sums over the output's pixels, so they need to number
    HALF_SUMMED_PIXELS, or 16 (two images to a block of k)."""
    pixels = geo.out_h * geo.out_w
    return has_amx() and supports_amx_conv(geo, op == "conv2d_grad_input") and not _pointwise(geo) and \
        (op != "conv2d_grad_filter" or pixels >= HALF_SUMMED_PIXELS or pixels == LANES)


def native_half(node) -> bool:
    """PassContext.native_half for the native backend: whether this library lowers a bfloat16 convolution
    (or input or filter gradient) with its bfloat16 operands, as it does where AMX tiles run it (the op's
    own rule covers the pointwise ones): the library's own answer, so the pass and the kernels agree."""
    if node.op not in ("conv2d", "conv2d_grad_input", "conv2d_grad_filter") or \
            any(t.dtype != bfloat16 for t in [node.type] + [i.type for i in node.inputs]):
        return False
    try:
        ops.get(node.op).lower(KernelLibrary(), *(i.type for i in node.inputs), out=node.type, **node.attrs)
    except Unsupported:
        return False
    return True


def _pointwise(geo: ConvGeometry) -> bool:
    return is_pointwise((geo.kernel_h, geo.kernel_w), geo.stride, geo.pad, geo.group)


def _summed_dot(geo: ConvGeometry) -> bool:
    """A pointwise filter gradient as one dot product per weight over every image's pixels: where each
    image is whole vectors and the output channels are at least the input channels (an expansion, an
    LSTM's gates over its inputs), it beats the direct form, which wins the other way round
    (measured, 2 threads: 0.47 vs 0.62 ms for 28 images of 1x128 pixels, 28 -> 512 channels;
    0.36 vs 0.28 ms for 32 of 8x8, 256 -> 64)."""
    return _pointwise(geo) and geo.height * geo.width % LANES == 0 and geo.out_channels >= geo.in_channels


def _one_pixel(geo: ConvGeometry) -> bool:
    """A 1x1 convolution of 1x1 images (a backbone's last layers): each image is one vector, so the
    batch together is a dense layer, whose kernel runs its lanes along the channels; the batched
    GEMM would run them along the single pixel, one lane of 16."""
    return geo.height * geo.width == 1 and _pointwise(geo)


def _pool_geometry(op: str, x: TensorType, kernel, stride, pad) -> PoolGeometry:
    _float32(op, x)
    return PoolGeometry(*x.shape, tuple(kernel), tuple(stride), tuple(pad))



def _sliced(shape, ranges) -> Strided:
    strides = row_major_strides(shape)
    pairs = list(zip(ranges, strides))
    return Strided(sum(r.start * s for r, s in pairs), tuple(r.step * s for r, s in pairs))


def _around(shape, axis: int) -> tuple[int, int, int]:
    """(elements before the axis, its extent, elements after it)."""
    return prod(shape[:axis]), shape[axis], prod(shape[axis + 1:])


def _copy(space, source: TensorType, src: Strided, target: TensorType, dst: Strided, fill=None) -> KernelSpec:
    return KernelSpec(lambda module, name, hook: emit_strided_copy(module, name, space, source.shape, src, target.shape,
                                                                   dst, source.dtype.short, fill),
                      ("x",), "y")
