"""Direct convolution (no im2col buffer), the engine behind conv2d forward and its input gradient
at stride 1 or with dilation (conv_columns takes the strided ones).

    out[n, g*out_g + o, oh, ow] = sum over c < in_g, kh, kw of
        src[n, g*in_g + c, oh*sh + kh*dh, ow*sw + kw*dw] * weight(g, o, c, kh, kw)

where `src` is the staged (padded / zero-inserted) source image and `weight` an index function,
so the input gradient is this same loop on a staged dy with flipped, transposed weights.

Two register-blocked algorithms; the one whose 16 lanes are better filled is chosen:
* width lanes (needs sw == 1): lanes along output width. A tile is up to 6 output channels x
  R output rows x V width vectors; per (c, kh, kw), one weight broadcast per channel and one
  unaligned vector load per (row, vector). Stores go straight to NCHW rows.
* channel lanes: lanes along output channels. A first phase lays the weights out in shared
  scratch as [g][o // B][c][kh][kw][o % B], B = a tile's channel lanes, so a tile's weights are one
  contiguous run. A tile is a block of output pixels (R rows x W columns, up to 16) x channel
  vectors; per (c, kh, kw), one weight vector load and one input broadcast per pixel. The
  accumulators are transposed in registers (16x16 shuffles) to store NCHW rows. A thread's images
  go in passes of at least PASS_PIXELS output pixels, each tile over every image of the pass.
Threads split the batch by image, or with fewer images than threads each image's tiles
(parallel.emit_image_split); its size is read at run time (the IR is the same for every batch size).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from ..parallel import emit_image_split, emit_split_range
from .contract import KernelFunction, ScratchPlan
from .epilogue import Epilogue, LanePosition
from .loops import affine, as_value, at_least_zero, counted_loop, minimum
from .simd import LANES, broadcast, elem_ptr, i64, load_scalar, load_vector, shuffle, store_scalar, store_vector, transpose
from .staging import Placement, emit_source_images
from .tile import blocks, emit_fma_tile, emit_grid, vector_blocks

# Accumulators per conv tile. Measured on LeNet shapes (1 thread): 16 beats 24 (conv2 forward 109
# vs 91 GFLOP/s; conv1 forward 97 vs 94): the taps' extra live loads push 24 into spills.
CONV_ACCUMULATORS = 16
# Channel lanes: a thread's images are taken in passes of this many output pixels, and each tile
# of channel vectors runs over every image of the pass, so its weights are read from cache, not
# memory, by all but the first (512 channels at 4x4 read 9.4 MB of weights per image).
PASS_PIXELS = 128

WeightIndex = Callable[[ir.IRBuilder, object, object, object, int, int], object]


@dataclass(frozen=True)
class DirectConv:
    batch: int
    groups: int
    in_g: int              # source channels per group
    out_g: int             # output channels per group
    out_h: int
    out_w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    place: Placement       # source operand image -> staged image
    weight_index: WeightIndex   # (builder, g, o, c, kh, kw) -> flat index into the weight operand
    src: str = "x"
    out: str = "y"
    weights: str = "w"

    @property
    def out_channels(self) -> int:
        return self.groups * self.out_g

    @property
    def out_image(self) -> int:
        return self.out_channels * self.out_h * self.out_w

    def k_dims(self, b: ir.IRBuilder, oh0, rows: int) -> list:
        """Reduction loops (c, kh, kw) for output rows [oh0, oh0 + rows): kw unrolled (unrolling kh
        too made LLVM keep overlapping row loads live across taps and spill: LeNet conv2 dx 31 vs
        50 GFLOP/s); kh limited to taps that reach a real (not padding) source row."""
        return [(self.in_g, False), (self._tap_rows(b, oh0, rows), False), (self.kernel[1], self.kernel[1] <= 16)]

    def _tap_rows(self, b: ir.IRBuilder, oh0, rows: int):
        """kh range whose source rows oh*sh + kh*dh meet the real rows for some oh in the block.

        The input gradient's staged dy has (kernel-1)*dilation zero rows on each side: skipping
        them saves ~23% of LeNet conv2 dx's FMAs.
        """
        kernel_h, place = self.kernel[0], self.place
        real_lo, real_hi = place.top, place.top + (place.src_h - 1) * place.step_h + 1
        (sh, _), (dh, _) = self.stride, self.dilation
        if real_lo <= 0 and real_hi >= place.dst_h:
            return kernel_h
        last_row = affine(b, [(oh0, sh)], (rows - 1) * sh)            # source row of kh = 0, last oh
        first_row = affine(b, [(oh0, sh)])
        # kh >= ceil((real_lo - last_row) / dh), kh*dh <= real_hi - 1 - first_row
        below = b.sub(i64(real_lo + dh - 1), as_value(last_row))
        lo = b.udiv(at_least_zero(b, below), i64(dh))
        above = b.sub(i64(real_hi - 1), as_value(first_row))
        hi = b.add(b.udiv(at_least_zero(b, above), i64(dh)), i64(1))
        hi = b.select(b.icmp_signed("<", above, i64(0)), i64(0), hi)
        return minimum(b, lo, i64(kernel_h)), minimum(b, hi, i64(kernel_h))

    def src_offset(self, b: ir.IRBuilder, g, k: tuple, row, col):
        """Index into the staged image of source (c=k[0], kh=k[1], kw=k[2]) for output (row, col)."""
        c, kh, kw = k
        h, w = self.place.dst_h, self.place.dst_w
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return affine(b, [(g, self.in_g * h * w), (c, h * w), (row, sh * w), (kh, dh * w), (col, sw), (kw, dw)])


def lane_fill(extent: int) -> float:
    """Fraction of 16-lane vector slots doing useful work when vectorizing over `extent`."""
    return extent / (LANES * -(-extent // LANES))


class DirectConvEmitter:
    """Choose the algorithm and scratch for a DirectConv, then emit it into a kernel phase."""

    def __init__(self, conv: DirectConv):
        self.conv = conv
        self.width_lanes = conv.stride[1] == 1 and lane_fill(conv.out_w) > lane_fill(conv.out_g)
        self.tile_vectors = min(-(-conv.out_g // LANES), 2)            # channel lanes: vectors per tile
        self.block_lanes = LANES * self.tile_vectors
        self.padded_out_g = self.block_lanes * -(-conv.out_g // self.block_lanes)
        self.plan = ScratchPlan()
        if not self.width_lanes:
            self.plan.shared("weights", 4 * conv.groups * conv.in_g * conv.kernel[0] * conv.kernel[1] * self.padded_out_g)
        self.images = 1 if self.width_lanes else -(-PASS_PIXELS // (conv.out_h * conv.out_w))
        if not conv.place.is_identity:
            self.plan.private("staged", 4 * self.images * conv.place.dst_elements)

    @property
    def algorithm(self) -> str:
        return "width-lanes" if self.width_lanes else "channel-lanes"

    def phases(self, epilogue: Epilogue) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        """(name suffix, emitter) of each phase: channel lanes first lay the weights out once, in
        shared scratch, split over threads by output channel."""
        convolve = lambda kf: self.emit(kf, epilogue)
        return [("", convolve)] if self.width_lanes else [(".weights", self._relayout_weights), (".conv", convolve)]

    def emit(self, kf: KernelFunction, epilogue: Epilogue) -> None:
        conv, b = self.conv, kf.builder
        lo, hi, inside = emit_image_split(b, kf.tid, kf.nthreads, kf.batch)
        weights = None if self.width_lanes else self.plan.shared_region(kf, "weights")
        with counted_loop(b, lo, hi, self.images, name="n") as n0:
            count = minimum(b, b.sub(hi, n0), i64(self.images)) if self.images > 1 else 1
            src = emit_source_images(b, kf[conv.src], n0, count, conv.place,
                                     lambda: self.plan.private_region(kf, "staged"))
            with counted_loop(b, 0, conv.groups, name="g") as g:
                if self.width_lanes:
                    self._width_lanes(OutputImage(kf, conv, n0, g, src, epilogue), inside)
                else:
                    self._channel_lanes(kf, n0, count, g, src, weights, epilogue, inside)

    # --- width lanes ---------------------------------------------------------------------------

    def _width_lanes(self, image: "OutputImage", inside: tuple) -> None:
        conv, b = self.conv, image.b
        vectors = min(-(-conv.out_w // LANES), 4)
        channels = min(conv.out_g, 6, max(1, CONV_ACCUMULATORS // vectors))
        rows = max(1, min(conv.out_h, CONV_ACCUMULATORS // (channels * vectors)))
        weights = image.kf[conv.weights]

        def tile(starts, kinds):
            (o0, oh0, v0), (ob, rb, vb) = starts, kinds
            cols = [(r, v) for r in range(rb.size) for v in range(vb.size)]

            def weight(i, k):
                return broadcast(b, load_scalar(b, weights, conv.weight_index(b, image.g, affine(b, [(o0, 1)], i), *k)))

            def source(j, k):
                r, v = cols[j]
                col = affine(b, [(v0, LANES)], v * LANES)
                return load_vector(b, image.src, conv.src_offset(b, image.g, k, affine(b, [(oh0, 1)], r), col), vb.lanes(v))

            acc = emit_fma_tile(b, ob.size, len(cols), conv.k_dims(b, oh0, rb.size), weight, source)
            for i in range(ob.size):
                for j, (r, v) in enumerate(cols):
                    coords = {"c": affine(b, [(image.g, conv.out_g), (o0, 1)], i), "h": affine(b, [(oh0, 1)], r),
                              "w": affine(b, [(v0, LANES)], v * LANES)}
                    image.store(acc[i][j], coords, vb.lanes(v))

        emit_grid(b, [blocks(conv.out_g, channels), blocks(conv.out_h, rows), vector_blocks(conv.out_w, vectors)], tile,
                  inside)

    # --- channel lanes -------------------------------------------------------------------------

    def _relayout_weights(self, kf: KernelFunction) -> None:
        """weights[g][o // B][c][kh][kw][o % B] = weight(g, o, c, kh, kw) for blocks of B = a tile's
        channel lanes, lanes o >= out_g zero: a tile's weights are one contiguous run (strided by
        the channel count, they spanned 2304 pages for 512 channels: 52 -> 138 GFLOP/s, 1 thread)."""
        conv, b = self.conv, kf.builder
        kh_n, kw_n = conv.kernel
        dst = self.plan.shared_region(kf, "weights")
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, conv.groups * self.padded_out_g)
        with counted_loop(b, lo, hi, name="wo") as item:
            g, o = b.udiv(item, i64(self.padded_out_g)), b.urem(item, i64(self.padded_out_g))
            real = b.icmp_signed("<", o, i64(conv.out_g))
            source = b.select(real, o, i64(0))
            block, lane = b.udiv(o, i64(self.block_lanes)), b.urem(o, i64(self.block_lanes))
            with counted_loop(b, 0, conv.in_g, name="wc") as c:
                for kh in range(kh_n):
                    for kw in range(kw_n):
                        value = load_scalar(b, kf[conv.weights], conv.weight_index(b, g, source, c, kh, kw))
                        value = b.select(real, value, ir.Constant(value.type, 0.0))
                        store_scalar(b, value, dst, self._relaid_index(b, g, (c, kh, kw), block, lane))

    def _relaid_index(self, b: ir.IRBuilder, g, k: tuple, block, lane):
        """Index of weight (g, c, kh, kw) for output channel block * B + lane in the per-thread copy."""
        conv, (kh_n, kw_n), padded, width = self.conv, self.conv.kernel, self.padded_out_g, self.block_lanes
        c, kh, kw = k
        return affine(b, [(g, conv.in_g * kh_n * kw_n * padded), (block, conv.in_g * kh_n * kw_n * width),
                          (c, kh_n * kw_n * width), (kh, kw_n * width), (kw, width), (lane, 1)])

    def _channel_lanes(self, kf: KernelFunction, n0, count, g, src: ir.Value, weights: ir.Value,
                       epilogue: Epilogue, inside: tuple) -> None:
        """Tiles of the pass's `count` images from n0; the grid's outer axis is the channel vectors."""
        conv, b = self.conv, kf.builder
        kh_n, kw_n = conv.kernel
        vectors = self.tile_vectors
        pixels = CONV_ACCUMULATORS // vectors
        cols = min(conv.out_w, pixels)
        rows = max(1, min(conv.out_h, pixels // cols))

        def tile(starts, kinds):
            (v0, oh0, ow0), (vb, rb, pb) = starts, kinds
            with counted_loop(b, 0, count, name="image") as i:
                image = OutputImage(kf, conv, affine(b, [(n0, 1), (i, 1)]), g,
                                    elem_ptr(b, src, affine(b, [(i, conv.place.dst_elements)])), epilogue)
                image_tile(image, v0, oh0, ow0, vb, rb, pb)

        def image_tile(image, v0, oh0, ow0, vb, rb, pb):
            pix = [(r, q) for r in range(rb.size) for q in range(pb.size)]

            def source(i, k):
                r, q = pix[i]
                index = conv.src_offset(b, image.g, k, affine(b, [(oh0, 1)], r), affine(b, [(ow0, 1)], q))
                return broadcast(b, load_scalar(b, image.src, index))

            block = b.udiv(as_value(v0), i64(vectors))    # tiles start at whole blocks

            def weight(j, k):
                return load_vector(b, weights, self._relaid_index(b, image.g, k, block, j * LANES), align=64)

            acc = emit_fma_tile(b, len(pix), vb.size, conv.k_dims(b, oh0, rb.size), source, weight)
            for j in range(vb.size):
                channel0 = affine(b, [(image.g, conv.out_g), (v0, LANES)], j * LANES)
                image.store_transposed([acc[i][j] for i in range(len(pix))], pix, channel0, oh0, ow0, vb.lanes(j))

        emit_grid(b, [vector_blocks(conv.out_g, vectors), blocks(conv.out_h, rows), blocks(conv.out_w, cols)], tile,
                  inside)


class OutputImage:
    """Output addressing and epilogue for one (image n, group g) of a DirectConv."""

    def __init__(self, kf: KernelFunction, conv: DirectConv, n, g, src, epilogue: Epilogue):
        self.kf, self.b, self.conv, self.n, self.g, self.src = kf, kf.builder, conv, n, g, src
        self.epilogue = epilogue

    def store(self, acc, coords: dict, count: int, crosses_rows: bool = False) -> None:
        """Epilogue, then store the first `count` lanes of a vector whose lanes run along the
        output width from `coords`, on into the next rows where they pass the row's end (a run of
        store_transposed over whole rows): the epilogue then sees the lanes along the flattened
        plane, so that its operands are read at each lane's own row."""
        conv = self.conv
        if crosses_rows:
            view = (("n", conv.batch), ("c", conv.out_channels), ("hw", conv.out_h * conv.out_w))
            plane = affine(self.b, [(coords["h"], conv.out_w), (coords["w"], 1)])
            position = LanePosition({"n": self.n, "c": coords["c"], "hw": plane}, "hw", count, view)
        else:
            view = (("n", conv.batch), ("c", conv.out_channels), ("h", conv.out_h), ("w", conv.out_w))
            position = LanePosition({"n": self.n, **coords}, "w", count, view)
        value = self.epilogue.apply(self.b, acc, position, self.kf.args)
        store_vector(self.b, value, self.kf[self.conv.out], self._index(coords["c"], coords["h"], coords["w"]), count)

    def store_transposed(self, values, pix, channel0, oh0, ow0, channels: int) -> None:
        """values[i] holds pixel pix[i] = (r, q) of 16 channels from channel0 (relative to
        (oh0, ow0)); store them as NCHW rows, through the epilogue once the lanes run along the
        width (its operands are then read with vector loads, not lane by lane)."""
        b = self.b
        for first in range(0, len(values), LANES):
            group = pix[first:first + LANES]
            by_channel = transpose(b, values[first:first + LANES])
            for o in range(channels):
                for lane, length, (r, q) in _runs(group, self.conv.out_w):
                    row = by_channel[o] if lane == 0 else \
                        shuffle(b, by_channel[o], None, [min(lane + t, LANES - 1) for t in range(LANES)])
                    self.store(row, {"c": affine(b, [(channel0, 1)], o), "h": affine(b, [(oh0, 1)], r),
                                     "w": affine(b, [(ow0, 1)], q)}, length, q + length > self.conv.out_w)

    def _index(self, c, h, w):
        conv = self.conv
        return affine(self.b, [(self.n, conv.out_image), (c, conv.out_h * conv.out_w), (h, conv.out_w), (w, 1)])


def _runs(pixels: list[tuple[int, int]], width: int) -> list[tuple[int, int, tuple[int, int]]]:
    """Split consecutive pixels into runs contiguous in an NCHW plane of `width` columns:
    [(first lane, length, first pixel)]."""
    runs = []
    for lane, (r, q) in enumerate(pixels):
        if runs:
            first_lane, length, (r0, q0) = runs[-1]
            if r * width + q == r0 * width + q0 + length:
                runs[-1] = (first_lane, length + 1, (r0, q0))
                continue
        runs.append((lane, 1, (r, q)))
    return runs
