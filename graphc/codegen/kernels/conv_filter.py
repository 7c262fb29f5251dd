"""conv2d filter gradient: dw[o, c, kh, kw] = sum over n, oh, ow of
    dy[n, o, oh, ow] * x[n, g*C/group + c, oh*sh + kh*dh - pad_top, ow*sw + kw*dw - pad_left].

Operands dy, x, dw, epilogue operands, scratch. Two phases with a barrier between them:
1. The batch is cut into PARTIAL_CHUNKS fixed chunks of consecutive images (some empty when N is
   smaller), split over threads; each chunk's partial dw goes to its own slot of shared scratch.
   The chunking does not depend on the thread count, so neither does any sum's order. N is read
   at run time: the chunked form's IR is the same for every batch size.
2. dw = the partials summed in chunk order, split over threads by output element; the epilogue
   (e.g. the optimizer update of w) runs on each vector of dw before it is stored, with coords
   o, c, t (t = kh*KW + kw, lanes along t) for channel lanes and e (the flat index) otherwise.
Deep layers whose chunk partials would dwarf the data take the whole-batch form of channel lanes
instead (three phases, no partials; see _ChannelLanes). Stride-1 3x3 convolutions with 64 output
channels or more take Winograd instead (conv_winograd_filter).

A chunk's images are visited in passes of consecutive images staged together (the staged x,
and for channel lanes the transposed dy), so a tile's reduction runs over every pixel of the pass
in registers: a 4x4 map has only 16 pixels per image, too few to pay for loading and storing the
tile's partials (passes of 512 pixels against 128: 512 channels at 4x4, 2 threads, 176 -> 185
GFLOP/s; stride 2 into 512 channels 92-117 -> 193).

Lanes, chosen by fill (as in conv_direct):
* channel lanes: lanes along output channels; dy of each image is first transposed into
  per-thread scratch as [g][o // B][pixel][o % B], B a tile's channel lanes. A tile is (input channels x taps) rows by
  output-channel vectors, at most TILE_ACCUMULATORS (5 or 4 taps x 4 vectors for a 3x3 kernel over
  64 or more channels; 1x1 kernels take several input channels); per output pixel, one input
  broadcast per row and one dy vector load per column. The tiles' grid over input channels and
  channel vectors is a runtime loop, so the code does not grow with the channel count.
* reduction lanes (sw == 1): lanes along output width, the reduction axis, so partials are 16-lane
  vectors summed horizontally in phase 2. A tile is 4 output channels x 5 taps: per (oh, width
  vector), 4 dy loads and 5 shifted input loads feed 20 FMAs.
"""
from __future__ import annotations

from math import prod
from typing import Callable

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import Kernel, KernelFunction, Operand, ScratchPlan, kernel_operands
from .conv import ConvGeometry, padded_input
from .conv_direct import lane_fill
from .conv_winograd_filter import WinogradFilterGradient
from .epilogue import IDENTITY, Epilogue, LanePosition
from .loops import affine, as_value, counted_loop, minimum
from .simd import (LANES, V16F32, broadcast, elem_ptr, horizontal_sums, i64, load_scalar, load_vector, store_vector,
                   transpose)
from .staging import emit_source_images, emit_zero
from .tile import blocks, emit_fma_tile, emit_grid, vector_blocks

PARTIAL_CHUNKS = 8
TILE_ACCUMULATORS = 24       # accumulators of a channel-lanes tile (tile.py's register budget)
CHANNEL_LANE_VECTORS = 4     # output-channel vectors of a channel-lanes tile
WHOLE_BATCH_RATIO = 4        # channel lanes: whole batch when the chunks' partials outweigh the data this many times
PASS_PIXELS = 512            # channel lanes: images are staged together until a pass has this many pixels
REDUCTION_TILE = (4, 5)      # output channels x taps of a reduction-lanes tile


def emit_conv2d_grad_filter(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("dy", geo.y_shape), Operand("x", geo.x_shape), Operand("dw", geo.w_shape, "out")]
    operands = kernel_operands(own, epilogue.operands)
    if WinogradFilterGradient.supports(geo):
        scheme_type = WinogradFilterGradient
    elif geo.stride[1] == 1 and lane_fill(geo.out_w) > lane_fill(geo.cout_g):
        scheme_type = _ReductionLanes
    else:
        scheme_type = _ChannelLanes
    scheme = scheme_type(geo, epilogue)
    plan = scheme.plan
    phases = []
    for suffix, emit in scheme.phases():
        kf = KernelFunction(module, f"{name}.{suffix}", operands, plan.scratch)
        emit(kf)
        phases.append(kf.finish())
    return Kernel(name, tuple(phases), operands, plan.scratch, geo.flops, geo.batch)


class _Scheme:
    """What the two lane choices share: geometry, scratch plan, staged-input addressing, and the
    loop over a chunk's images in passes of `images` consecutive images staged together."""

    partial_per_chunk: int   # floats of one chunk's partial
    images: int = 1          # images per pass
    whole_batch = False      # one pass over the whole batch, staged in shared scratch (see _ChannelLanes)

    def __init__(self, geo: ConvGeometry, epilogue: Epilogue):
        self.geo, self.epilogue = geo, epilogue
        self.place = padded_input(geo)
        self.chunks = 1 if self.whole_batch else PARTIAL_CHUNKS
        self.plan = ScratchPlan().shared("partials", 4 * self.chunks * self.partial_per_chunk)
        if not self.place.is_identity:
            self.add_staging("staged", self.images * self.place.dst_elements)

    def add_staging(self, name: str, floats: int) -> None:
        """A scratch region for staged images: per thread, or shared when the whole batch is staged."""
        (self.plan.shared if self.whole_batch else self.plan.private)(name, 4 * floats)

    def staging(self, kf: KernelFunction, name: str) -> ir.Value:
        return (self.plan.shared_region if self.whole_batch else self.plan.private_region)(kf, name)

    def phases(self) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        return [("partials", self.emit_partials), ("reduce", self.emit_reduce)]

    def source(self, b: ir.IRBuilder, i, g, c, oh, ow, kh: int, kw: int):
        """Index of x (staged) of the pass's image i, for output pixel (oh, ow) and tap (kh, kw)."""
        geo, h, w = self.geo, self.place.dst_h, self.place.dst_w
        (sh, sw), (dh, dw) = geo.stride, geo.dilation
        return affine(b, [(i, self.place.dst_elements), (g, geo.cin_g * h * w), (c, h * w), (oh, sh * w), (ow, sw)],
                      kh * dh * w + kw * dw)

    def taps(self) -> list[tuple[int, int]]:
        return [(kh, kw) for kh in range(self.geo.kernel_h) for kw in range(self.geo.kernel_w)]

    def prepare_image(self, kf: KernelFunction, n, i) -> None:
        """Per-image work before accumulation, for image n at place i of its pass (none by default)."""

    def store(self, kf: KernelFunction, value: ir.Value, index, position: LanePosition) -> None:
        """Epilogue, then store the vector of dw elements starting at flat `index`."""
        value = self.epilogue.apply(kf.builder, value, position, kf.args)
        store_vector(kf.builder, value, kf["dw"], index, position.count)

    def partial_sum(self, b: ir.IRBuilder, partials: ir.Value, index) -> ir.Value:
        """Sum over chunks, in chunk order, of the 16-float partial vector at `index`."""
        total = None
        for chunk in range(self.chunks):
            vector = load_vector(b, partials, affine(b, [(index, 1)], chunk * self.partial_per_chunk), align=64)
            total = vector if total is None else b.fadd(total, vector)
        return total

    def emit_partials(self, kf: KernelFunction) -> None:
        b = kf.builder
        chunks = self.chunks
        partials = self.plan.shared_region(kf, "partials")
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, chunks)
        with counted_loop(b, lo, hi, name="chunk") as chunk:
            partial = elem_ptr(b, partials, affine(b, [(chunk, self.partial_per_chunk)]))
            emit_zero(b, partial, self.partial_per_chunk)
            first, last = emit_split_range(b, chunk, ir.Constant(chunk.type, chunks), kf.batch)
            with counted_loop(b, first, last, self.images, name="n") as n0:
                count = minimum(b, b.sub(last, n0), i64(self.images))
                images = emit_source_images(b, kf["x"], n0, count, self.place,
                                            lambda: self.plan.private_region(kf, "staged"),
                                            lambda n, i: self.prepare_image(kf, n, i))
                self.accumulate(kf, partial, images, n0, count)


class _ChannelLanes(_Scheme):
    """Chunked partials, or, when the chunks' partials would outweigh the data many times (deep
    layers: many channels, small maps), the whole batch at once: phase 1 stages every image in
    shared scratch (split by image), phase 2 sums whole dw tiles over the batch (split by tile;
    no partials to zero, add and reread), phase 3 is the chunked reduce with one chunk."""

    def __init__(self, geo: ConvGeometry, epilogue: Epilogue):
        taps = geo.kernel_h * geo.kernel_w
        self.padded_og = LANES * -(-geo.cout_g // LANES)
        self.partial_per_chunk = geo.group * geo.cin_g * taps * self.padded_og
        self.pixels = geo.out_h * geo.out_w
        # the chunked form's partials: PARTIAL_CHUNKS of them at any batch size (_Scheme.chunks)
        partials = PARTIAL_CHUNKS * self.partial_per_chunk
        self.whole_batch = partials > WHOLE_BATCH_RATIO * (prod(geo.y_shape) + prod(geo.x_shape))
        self.images = geo.batch if self.whole_batch else -(-PASS_PIXELS // self.pixels)
        self.vectors = min(self.padded_og // LANES, CHANNEL_LANE_VECTORS)     # a tile's channel vectors
        if self.whole_batch:
            # Every tap in one tile, so a tile reads its dy (the batch's pixels) once.
            self.vectors = max(1, min(self.vectors, TILE_ACCUMULATORS // taps))
        self.block_lanes = LANES * self.vectors
        self.image_t = geo.group * self.pixels * self.block_lanes * -(-geo.cout_g // self.block_lanes)
        super().__init__(geo, epilogue)
        self.add_staging("dy_t", self.images * self.image_t)

    def phases(self) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        if not self.whole_batch:
            return super().phases()
        return [("stage", self.emit_staging), ("sums", self.emit_sums), ("reduce", self.emit_reduce)]

    def emit_staging(self, kf: KernelFunction) -> None:
        b = kf.builder
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, kf.batch)
        emit_source_images(b, kf["x"], lo, b.sub(hi, lo), self.place, lambda: self.batch_image(kf, lo),
                           lambda n, i: self.prepare_image(kf, n, n))

    def batch_image(self, kf: KernelFunction, n) -> ir.Value:
        """Address of image n as the sums read it: staged, or x itself."""
        b, place = kf.builder, self.place
        if place.is_identity:
            return elem_ptr(b, kf["x"], affine(b, [(n, place.channels * place.src_h * place.src_w)]))
        return elem_ptr(b, self.staging(kf, "staged"), affine(b, [(n, place.dst_elements)]))

    def emit_sums(self, kf: KernelFunction) -> None:
        self.accumulate(kf, self.plan.shared_region(kf, "partials"), self.batch_image(kf, 0), 0, kf.batch,
                        threads=(kf.tid, kf.nthreads))

    def dy_t_index(self, b: ir.IRBuilder, i, g, block, pixel: list, lane=0):
        """Index into dy_t[i][g][o // B][pixel][o % B] (B = a tile's channel lanes, so a tile's dy
        is one contiguous run) of the vector of channels block*B + lane, at pixel = sum of terms."""
        return affine(b, [(i, self.image_t), (g, self.image_t // self.geo.group), (block, self.pixels * self.block_lanes),
                          (lane, 1)] + [(p, c * self.block_lanes) for p, c in pixel])

    def prepare_image(self, kf: KernelFunction, n, i) -> None:
        """dy_t[i] = dy[n] transposed by 16x16 register transposes; pad lanes zero."""
        geo, b, pixels = self.geo, kf.builder, self.pixels
        dy_t = self.staging(kf, "dy_t")
        zero = ir.Constant(V16F32, 0.0)

        def tile(starts, kinds):
            (g, v, p0), (_, vb, pb) = starts, kinds
            first_pixel = affine(b, [(p0, LANES)])
            lanes = pb.lanes(0)
            rows = [load_vector(b, kf["dy"], affine(b, [(n, geo.out_channels * pixels), (g, geo.cout_g * pixels),
                                                        (v, LANES * pixels), (first_pixel, 1)], o * pixels), lanes)
                    for o in range(vb.lanes(0))]
            by_pixel = transpose(b, rows + [zero] * (LANES - len(rows)))
            block, lane = b.udiv(v, i64(self.vectors)), b.mul(b.urem(v, i64(self.vectors)), i64(LANES))
            for p in range(lanes):
                index = self.dy_t_index(b, i, g, block, [(first_pixel, 1), (p, 1)], lane)
                store_vector(b, by_pixel[p], dy_t, index, align=64)

        emit_grid(b, [blocks(geo.group, 1), vector_blocks(geo.cout_g, 1), vector_blocks(pixels, 1)], tile)

    def tile_shape(self) -> tuple[int, int, list[range]]:
        """(input channels, channel vectors, tap index blocks) of a tile: rows are (channel, tap)
        pairs, columns output-channel vectors, at most TILE_ACCUMULATORS accumulators."""
        taps, vectors = len(self.taps()), self.vectors
        rows = TILE_ACCUMULATORS // vectors
        channels = max(1, min(self.geo.cin_g, rows // taps))
        size = -(-taps // -(-taps // rows))     # tap blocks of nearly equal size
        return channels, vectors, [range(first, min(first + size, taps)) for first in range(0, taps, size)]

    def accumulate(self, kf: KernelFunction, partial: ir.Value, images: ir.Value, n0, count, threads=None) -> None:
        """Add the pass's images into the chunk's partial [g][c][tap][o] (the whole batch: store
        the sums), one tile at a time; the tiles' grid (input channels x channel vectors) is a
        runtime loop, split over `threads` if given."""
        geo, b = self.geo, kf.builder
        dy_t = self.staging(kf, "dy_t")
        taps = self.taps()
        channels, vectors, tap_blocks = self.tile_shape()
        k_dims = [(count, False), (geo.out_h, False), (geo.out_w, False)]

        def tile(starts, kinds):
            (g, v0, c0), (_, vb, cb) = starts, kinds
            channel_block = b.udiv(as_value(v0), i64(vectors))     # tiles start at whole blocks
            for block in tap_blocks:
                rows = [(ci, t) for ci in range(cb.size) for t in block]

                def x_operand(r, k):
                    ci, t = rows[r]
                    c = affine(b, [(c0, 1)], ci)
                    return broadcast(b, load_scalar(b, images, self.source(b, k[0], g, c, k[1], k[2], *taps[t])))

                def dy_operand(j, k):
                    index = self.dy_t_index(b, k[0], g, channel_block, [(k[1], geo.out_w), (k[2], 1)], j * LANES)
                    return load_vector(b, dy_t, index, align=64)

                def slot(r, j):
                    ci, t = rows[r]
                    return affine(b, [(g, geo.cin_g * len(taps) * self.padded_og), (c0, len(taps) * self.padded_og),
                                      (v0, LANES)],
                                  (ci * len(taps) + t) * self.padded_og + j * LANES)

                init = None if self.whole_batch else lambda r, j: load_vector(b, partial, slot(r, j), align=64)
                acc = emit_fma_tile(b, len(rows), vb.size, k_dims, x_operand, dy_operand, init=init)
                for r in range(len(rows)):
                    for j in range(vb.size):
                        store_vector(b, acc[r][j], partial, slot(r, j), align=64)

        axes = [blocks(geo.group, 1), blocks(self.padded_og // LANES, vectors), blocks(geo.cin_g, channels)]
        emit_grid(b, axes, tile, threads)

    def emit_reduce(self, kf: KernelFunction) -> None:
        """Per (g, c, 16 taps, 16 channels): sum the chunks, transpose taps x channels, store dw rows."""
        geo, b = self.geo, kf.builder
        partials = self.plan.shared_region(kf, "partials")
        taps = geo.kernel_h * geo.kernel_w
        view = (("o", geo.out_channels), ("c", geo.cin_g), ("t", taps))

        def tile(starts, kinds):
            (g, c, t0, v), (_, _, tb, vb) = starts, kinds
            first_tap = affine(b, [(t0, LANES)])
            sums = [self.partial_sum(b, partials, affine(b, [(g, geo.cin_g * taps * self.padded_og),
                                                             (c, taps * self.padded_og),
                                                             (first_tap, self.padded_og), (v, LANES)],
                                                         t * self.padded_og))
                    for t in range(tb.lanes(0))]
            by_channel = transpose(b, sums)
            for o in range(vb.lanes(0)):
                channel = affine(b, [(g, geo.cout_g), (v, LANES)], o)
                index = affine(b, [(channel, geo.cin_g * taps), (c, taps), (first_tap, 1)])
                position = LanePosition({"o": channel, "c": c, "t": first_tap}, "t", tb.lanes(0), view)
                self.store(kf, by_channel[o], index, position)

        axes = [blocks(geo.group, 1), blocks(geo.cin_g, 1), vector_blocks(taps, 1), vector_blocks(geo.cout_g, 1)]
        emit_grid(b, axes, tile, threads=(kf.tid, kf.nthreads))


class _ReductionLanes(_Scheme):
    def __init__(self, geo: ConvGeometry, epilogue: Epilogue):
        self.partial_per_chunk = geo.out_channels * geo.cin_g * geo.kernel_h * geo.kernel_w * LANES
        super().__init__(geo, epilogue)

    def accumulate(self, kf: KernelFunction, partial: ir.Value, images: ir.Value, n0, count) -> None:
        geo, b = self.geo, kf.builder
        taps = self.taps()
        channels, tap_block = REDUCTION_TILE
        width_vectors = vector_blocks(geo.out_w, -(-geo.out_w // LANES))[0]
        k_dims = [(count, False), (geo.out_h, False), (width_vectors.size, True)]
        plane = geo.out_h * geo.out_w

        def tile(starts, kinds):
            (g, c, o0), (_, _, ob) = starts, kinds
            for first in range(0, len(taps), tap_block):
                block = taps[first:first + tap_block]

                def dy_operand(i, k):
                    image, oh, v = k
                    index = affine(b, [(n0, geo.out_channels * plane), (image, geo.out_channels * plane),
                                       (g, geo.cout_g * plane), (o0, plane), (oh, geo.out_w)], i * plane + v * LANES)
                    return load_vector(b, kf["dy"], index, width_vectors.lanes(v))

                def x_operand(j, k):
                    image, oh, v = k
                    return load_vector(b, images, self.source(b, image, g, c, oh, v * LANES, *block[j]),
                                       width_vectors.lanes(v))

                def slot(i, j):
                    return affine(b, [(g, geo.cout_g * geo.cin_g * len(taps) * LANES), (o0, geo.cin_g * len(taps) * LANES),
                                      (c, len(taps) * LANES)], (i * geo.cin_g * len(taps) + first + j) * LANES)

                acc = emit_fma_tile(b, ob.size, len(block), k_dims, dy_operand, x_operand,
                                    init=lambda i, j: load_vector(b, partial, slot(i, j), align=64))
                for i in range(ob.size):
                    for j in range(len(block)):
                        store_vector(b, acc[i][j], partial, slot(i, j), align=64)

        emit_grid(b, [blocks(geo.group, 1), blocks(geo.cin_g, 1), blocks(geo.cout_g, channels)], tile)

    def emit_reduce(self, kf: KernelFunction) -> None:
        """dw element e = horizontal sum of the chunk-summed partial vector e; 16 elements per item."""
        geo, b = self.geo, kf.builder
        partials = self.plan.shared_region(kf, "partials")

        def tile(starts, kinds):
            (e0,), (eb,) = starts, kinds
            first = affine(b, [(e0, LANES)])
            sums = [self.partial_sum(b, partials, affine(b, [(first, LANES)], i * LANES)) for i in range(eb.lanes(0))]
            position = LanePosition({"e": first}, "e", eb.lanes(0), (("e", elements),))
            self.store(kf, horizontal_sums(b, sums), first, position)

        elements = geo.out_channels * geo.cin_g * geo.kernel_h * geo.kernel_w
        axes = [vector_blocks(elements, 1)]
        emit_grid(b, axes, tile, threads=(kf.tid, kf.nthreads))
