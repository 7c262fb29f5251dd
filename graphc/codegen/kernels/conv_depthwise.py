"""Depthwise convolution (group = in_channels = out_channels): vector kernels that stream planes.

A depthwise conv does 2·KH·KW flops per output element and reads one input plane per output plane,
so it is bound by memory, not by FMAs: the channel-blocked GEMM tiles of conv_direct would run one
channel per tile. Here each work item is one (image, channel) plane, owned by one thread:

* forward: the plane is staged zero-padded in the thread's scratch (no bounds checks in the loop),
  the KH·KW weights of the channel are splatted into registers, and each output row vector is
  Σ w(kh, kw) · (a load of the staged row at kh, kw; a strided load for stride 2);
* input gradient: the same loop over dy zero-inserted by the stride and padded by
  (kernel - 1)·dilation - pad, with the taps flipped (conv.input_gradient_problem's identity);
* filter gradient: one work item per channel, KH·KW vector accumulators over every image and
  output row (dy vector times the staged x row at each tap), reduced horizontally at the end.

Planes of at most 16 pixels (a backbone's last stages) would fill a few lanes of each vector: there all
three go 16 channels to a vector instead, the planes transposed in registers, every tap that lands
inside the image known when the kernel is built (_small).

Every output is computed by one thread in a fixed order, so results do not depend on the thread
count. All three take an epilogue (lanes along w for the convolutions, along taps t for the filter).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from .contract import Kernel, KernelFunction, Operand, Scratch, ScratchPlan, kernel_operands
from .epilogue import IDENTITY, Epilogue, LanePosition
from .loops import affine, counted_loop, entry_alloca
from .simd import I32, I64, LANES, V16F32, broadcast, elem_ptr, fma, horizontal_sums, load_scalar, \
    load_strided, load_vector, store_vector, transpose
from .staging import Placement, emit_stage
from .tile import blocks, emit_grid, runtime_blocks, vector_blocks

_ZERO = ir.Constant(V16F32, 0.0)
TapIndex = Callable[[ir.IRBuilder, ir.Value, int, int], ir.Value]   # (b, channel, kh, kw) -> weight index


def is_depthwise(geo) -> bool:
    """One input and one output channel per group (a channel multiplier of 1)."""
    return geo.group > 1 and geo.group == geo.in_channels == geo.out_channels


@dataclass(frozen=True)
class _Planes:
    """out[p, oh, ow] = Σ_{kh, kw} w(c, kh, kw) · staged(p)[oh·sh + kh·dh, ow·sw + kw·dw], p = n·C + c."""
    batch: int
    channels: int
    out_h: int
    out_w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    place: Placement               # one source plane -> its staged copy (channels = 1)
    tap: TapIndex
    src: str
    out: str


def _forward_planes(geo) -> _Planes:
    top, bottom, left, right = geo.pad
    place = Placement(1, geo.height, geo.width, geo.height + top + bottom, geo.width + left + right, top, left)
    return _Planes(geo.batch, geo.in_channels, geo.out_h, geo.out_w, (geo.kernel_h, geo.kernel_w), geo.stride,
                   geo.dilation, place, lambda b, c, kh, kw: geo.weight_offset(b, c, 0, kh, kw), "x", "y")


def _input_gradient_planes(geo) -> _Planes:
    (dh, dw), (sh, sw) = geo.dilation, geo.stride
    top, left = (geo.kernel_h - 1) * dh - geo.pad[0], (geo.kernel_w - 1) * dw - geo.pad[2]
    place = Placement(1, geo.out_h, geo.out_w, geo.height + (geo.kernel_h - 1) * dh,
                      geo.width + (geo.kernel_w - 1) * dw, top, left, sh, sw)
    flipped = lambda b, c, kh, kw: geo.weight_offset(b, c, 0, geo.kernel_h - 1 - kh, geo.kernel_w - 1 - kw)
    return _Planes(geo.batch, geo.in_channels, geo.height, geo.width, (geo.kernel_h, geo.kernel_w), (1, 1),
                   geo.dilation, place, flipped, "dy", "dx")


def emit_depthwise_conv2d(module: ir.Module, name: str, geo, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("x", geo.x_shape), Operand("w", geo.w_shape), Operand("y", geo.y_shape, "out")]
    operands = kernel_operands(own, epilogue.operands)
    if _small(geo):
        return _emit_small_planes(module, name, geo, operands, epilogue)
    return _emit_planes(module, name, _forward_planes(geo), operands, epilogue, geo.flops)


def _small(geo) -> bool:
    """Planes of at most 16 pixels (a backbone's last stages, where a plane's row fills a few lanes of a
    vector): these go 16 channels to a vector instead (_emit_small_planes, _emit_small_filter)."""
    return max(geo.height * geo.width, geo.out_h * geo.out_w, geo.kernel_h * geo.kernel_w) <= LANES


def _pixel_terms(geo) -> list[tuple[int, int, int]]:
    """(output pixel, tap, input pixel) of every tap that lands inside the image, known here, so that
    padding costs nothing."""
    (sh, sw), (dh, dw), (top, _, left, _) = geo.stride, geo.dilation, geo.pad
    return [(oh * geo.out_w + ow, kh * geo.kernel_w + kw, ih * geo.width + iw)
            for oh in range(geo.out_h) for ow in range(geo.out_w)
            for kh in range(geo.kernel_h) for kw in range(geo.kernel_w)
            for ih, iw in [(oh * sh + kh * dh - top, ow * sw + kw * dw - left)]
            if 0 <= ih < geo.height and 0 <= iw < geo.width]


def _channel_vectors(b: ir.IRBuilder, source: ir.Value, first, channels: int, width: int) -> list[ir.Value]:
    """`channels` rows of `width` values from element `first` (16 channels' planes, contiguous in NCHW,
    or their filters), transposed in registers: a vector along the channels per pixel (or tap)."""
    rows = [load_vector(b, source, affine(b, [(first, 1)], r * width), width) for r in range(channels)]
    return transpose(b, rows)[:width]


def _store_channel_vectors(b: ir.IRBuilder, values: list[ir.Value], dst: ir.Value, first, channels: int) -> None:
    """The inverse of _channel_vectors: one vector per pixel (or tap), stored as `channels` plane rows."""
    stored, width = values[0].type, len(values)
    rows = transpose(b, [_as_f32_lanes(b, v) for v in values])
    for r in range(channels):
        store_vector(b, _from_f32_lanes(b, rows[r], stored), dst, affine(b, [(first, 1)], r * width), width)


def _emit_small_planes(module, name, geo, operands, epilogue: Epilogue, gradient: bool = False) -> Kernel:
    """The forward (or, `gradient`, input gradient) on small planes, 16 channels to a vector: each output
    pixel sums its taps (_pixel_terms; the input gradient the transpose: each input pixel sums the output
    pixels its taps reach)."""
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    pixels, out_pixels, taps = geo.height * geo.width, geo.out_h * geo.out_w, geo.kernel_h * geo.kernel_w
    src, out, (height, width) = ("dy", "dx", (geo.height, geo.width)) if gradient else ("x", "y", (geo.out_h,
                                                                                                   geo.out_w))
    src_pixels, results = (out_pixels, pixels) if gradient else (pixels, out_pixels)
    sums = [[] for _ in range(results)]          # per result pixel: (tap, source pixel)
    for o, t, i in _pixel_terms(geo):
        sums[i if gradient else o].append((t, o if gradient else i))
    view = (("n", geo.batch), ("c", geo.in_channels), ("h", height), ("w", width))

    def tile(starts, kinds) -> None:
        n, c0 = starts
        channels = kinds[1].size
        source = _channel_vectors(b, kf[src], affine(b, [(n, geo.in_channels * src_pixels), (c0, src_pixels)]),
                                  channels, src_pixels)
        w = _channel_vectors(b, kf["w"], affine(b, [(c0, taps)]), channels, taps)
        outputs = []
        for p, terms in enumerate(sums):
            acc = _ZERO
            for t, q in terms:
                acc = fma(b, w[t], source[q], acc)
            position = LanePosition({"n": n, "c": c0, "h": p // width, "w": p % width}, "c", channels, view)
            outputs.append(epilogue.apply(b, acc, position, kf.args))
        _store_channel_vectors(b, outputs, kf[out], affine(b, [(n, geo.in_channels * results), (c0, results)]),
                               channels)

    emit_grid(b, [runtime_blocks(b, kf.batch, 1), blocks(geo.in_channels, LANES)], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, Scratch(), geo.flops, geo.batch)


def _as_f32_lanes(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """16 lanes as float32 bit patterns (a half epilogue's 16-bit results widened bit for bit), to transpose."""
    if value.type == V16F32:
        return value
    bits = b.bitcast(value, ir.VectorType(ir.IntType(16), LANES))
    return b.bitcast(b.zext(bits, ir.VectorType(I32, LANES)), V16F32)


def _from_f32_lanes(b: ir.IRBuilder, value: ir.Value, vty: ir.Type) -> ir.Value:
    if vty == V16F32:
        return value
    bits = b.trunc(b.bitcast(value, ir.VectorType(I32, LANES)), ir.VectorType(ir.IntType(16), LANES))
    return b.bitcast(bits, vty)


def emit_depthwise_grad_input(module: ir.Module, name: str, geo, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("dy", geo.y_shape), Operand("w", geo.w_shape), Operand("dx", geo.x_shape, "out")]
    operands = kernel_operands(own, epilogue.operands)
    if _small(geo):
        return _emit_small_planes(module, name, geo, operands, epilogue, gradient=True)
    return _emit_planes(module, name, _input_gradient_planes(geo), operands, epilogue, geo.flops)


def _staged_plane(kf: KernelFunction, plan: ScratchPlan, operand: str, plane, place: Placement) -> ir.Value:
    """Plane `plane` of `operand` as the loops read it: in place, or staged in the thread's scratch."""
    b = kf.builder
    source = elem_ptr(b, kf[operand], affine(b, [(plane, place.src_h * place.src_w)]))
    if place.is_identity:
        return source
    staged = plan.private_region(kf, "plane")
    emit_stage(b, source, staged, place)
    return staged


def _row_vector(b: ir.IRBuilder, staged: ir.Value, place: Placement, row, column, stride: int, lanes: int):
    return load_strided(b, staged, affine(b, [(row, place.dst_w), (column, 1)]), stride, lanes)


def _emit_planes(module, name, p: _Planes, operands, epilogue: Epilogue, flops: int) -> Kernel:
    plan = ScratchPlan().private("plane", 4 * p.place.dst_elements)
    kf = KernelFunction(module, name, operands, plan.scratch)
    b = kf.builder
    (kh_count, kw_count), (sh, sw), (dh, dw) = p.kernel, p.stride, p.dilation
    view = (("n", p.batch), ("c", p.channels), ("h", p.out_h), ("w", p.out_w))
    vectors = vector_blocks(p.out_w, 1)

    def tile(starts, kinds) -> None:
        (plane,) = starts
        n, c = b.udiv(plane, ir.Constant(I64, p.channels)), b.urem(plane, ir.Constant(I64, p.channels))
        staged = _staged_plane(kf, plan, p.src, plane, p.place)
        weights = {(kh, kw): broadcast(b, load_scalar(b, kf["w"], p.tap(b, c, kh, kw)))
                   for kh in range(kh_count) for kw in range(kw_count)}

        def row_vectors(oh, v, lanes: int) -> None:
            first = affine(b, [(v, LANES)])
            acc = _ZERO
            for (kh, kw), weight in weights.items():
                row = affine(b, [(oh, sh)], kh * dh)
                column = affine(b, [(first, sw)], kw * dw)
                acc = fma(b, weight, _row_vector(b, staged, p.place, row, column, sw, lanes), acc)
            position = LanePosition({"n": n, "c": c, "h": oh, "w": first}, "w", lanes, view)
            value = epilogue.apply(b, acc, position, kf.args)
            store_vector(b, value, kf[p.out], affine(b, [(plane, p.out_h * p.out_w), (oh, p.out_w), (first, 1)]),
                         lanes)

        with counted_loop(b, 0, p.out_h, name="oh") as oh:
            for block in vectors:
                if block.count == 1:
                    row_vectors(oh, block.start, block.lanes(0))
                else:
                    with counted_loop(b, block.start, block.start + block.count, name="v") as v:
                        row_vectors(oh, v, block.lanes(0))

    planes = runtime_blocks(b, b.mul(kf.batch, ir.Constant(I64, p.channels)), 1)    # N read at run time
    emit_grid(b, [planes], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, plan.scratch, flops, p.batch)


def emit_depthwise_grad_filter(module: ir.Module, name: str, geo, epilogue: Epilogue = IDENTITY) -> Kernel:
    """dw[c, 0, kh, kw] = Σ_n Σ_{oh, ow} dy[n, c, oh, ow] · x_padded[n, c, oh·sh + kh·dh, ow·sw + kw·dw]."""
    own = [Operand("dy", geo.y_shape), Operand("x", geo.x_shape), Operand("dw", geo.w_shape, "out")]
    operands = kernel_operands(own, epilogue.operands)
    if _small(geo):
        return _emit_small_filter(module, name, geo, operands, epilogue)
    forward = _forward_planes(geo)
    plan = ScratchPlan().private("plane", 4 * forward.place.dst_elements)
    kf = KernelFunction(module, name, operands, plan.scratch)
    b = kf.builder
    taps = [(kh, kw) for kh in range(geo.kernel_h) for kw in range(geo.kernel_w)]
    slots = [entry_alloca(b, V16F32, f"tap{t}") for t in range(len(taps))]
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    view = (("o", geo.out_channels), ("c", 1), ("t", len(taps)))

    def tile(starts, kinds) -> None:
        (c,) = starts
        for slot in slots:
            b.store(_ZERO, slot)
        with counted_loop(b, 0, kf.batch, name="n") as n:
            plane = affine(b, [(n, geo.in_channels), (c, 1)])
            staged = _staged_plane(kf, plan, "x", plane, forward.place)
            dy_plane = affine(b, [(plane, geo.out_h * geo.out_w)])
            with counted_loop(b, 0, geo.out_h, name="oh") as oh:
                for block in vector_blocks(geo.out_w, 1):
                    def accumulate(v, lanes=block.lanes(0)) -> None:
                        first = affine(b, [(v, LANES)])
                        dy = load_vector(b, kf["dy"], affine(b, [(dy_plane, 1), (oh, geo.out_w), (first, 1)]), lanes)
                        for slot, (kh, kw) in zip(slots, taps):
                            x = _row_vector(b, staged, forward.place, affine(b, [(oh, sh)], kh * dh),
                                            affine(b, [(first, sw)], kw * dw), sw, lanes)
                            b.store(fma(b, dy, x, b.load(slot, typ=V16F32)), slot)
                    if block.count == 1:
                        accumulate(block.start)
                    else:
                        with counted_loop(b, block.start, block.start + block.count, name="v") as v:
                            accumulate(v)
        for chunk in range(0, len(taps), LANES):
            lanes = min(LANES, len(taps) - chunk)
            sums = horizontal_sums(b, [b.load(slot, typ=V16F32) for slot in slots[chunk:chunk + lanes]])
            position = LanePosition({"o": c, "c": 0, "t": chunk}, "t", lanes, view)
            value = epilogue.apply(b, sums, position, kf.args)
            store_vector(b, value, kf["dw"], affine(b, [(c, len(taps))], chunk), lanes)

    emit_grid(b, [blocks(geo.out_channels, 1)], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, plan.scratch, geo.flops, geo.batch)


def _emit_small_filter(module, name, geo, operands, epilogue: Epilogue) -> Kernel:
    """The filter gradient on small planes, 16 channels to a vector: a vector accumulator per tap over
    every image's _pixel_terms, the epilogue along the channels, then transposed to the filters' rows."""
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    pixels, out_pixels, taps = geo.height * geo.width, geo.out_h * geo.out_w, geo.kernel_h * geo.kernel_w
    slots = [entry_alloca(b, V16F32, f"tap{t}") for t in range(taps)]
    view = (("o", geo.out_channels), ("c", 1), ("t", taps))

    def tile(starts, kinds) -> None:
        (c0,) = starts
        channels = kinds[0].size
        for slot in slots:
            b.store(_ZERO, slot)
        with counted_loop(b, 0, kf.batch, name="n") as n:
            plane = affine(b, [(n, geo.in_channels), (c0, 1)])
            x = _channel_vectors(b, kf["x"], affine(b, [(plane, pixels)]), channels, pixels)
            dy = _channel_vectors(b, kf["dy"], affine(b, [(plane, out_pixels)]), channels, out_pixels)
            for o, t, i in _pixel_terms(geo):
                b.store(fma(b, dy[o], x[i], b.load(slots[t], typ=V16F32)), slots[t])
        outputs = [epilogue.apply(b, b.load(slot, typ=V16F32), LanePosition({"o": c0, "c": 0, "t": t}, "o",
                                                                             channels, view), kf.args)
                   for t, slot in enumerate(slots)]
        _store_channel_vectors(b, outputs, kf["dw"], affine(b, [(c0, taps)]), channels)

    emit_grid(b, [blocks(geo.out_channels, LANES)], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, Scratch(), geo.flops, geo.batch)
