"""Winograd F(m x m, 3x3) (Lavin and Gray, 2015) for the stride-1 3x3 convolutions of a DirectConv,
forward and input gradient alike. Per source channel, m x m outputs take (m+2)^2 multiplications
instead of 9 m^2: F(4x4, 3x3) 2.25 per output, F(2x2, 3x3) 4, the direct loop 9.

    Y = A^T [ (G g G^T) . (B^T d B) ] A     per 3x3 filter g and (m+2)^2 source tile d (tiles step by m)

The output tile m is 4 where it divides an output map of 8x8 or more, else 2; from 32 channels
(64 for m = 2).
Phases:
* `.weights`: U[xi][c][o] = (G g G^T)[xi] of filter (o, c), in shared scratch. Sixteen filters'
  taps are loaded as rows and transposed, so the lanes run along o and every store is a vector.
* `.conv`: threads split the batch by image (with fewer images than threads, every thread takes
  every image and its share of the output-channel panels: parallel.emit_image_split); a thread
  takes its images in passes of tiles:
  1. stage the pass's source images as [image][c // 16][h][w][c % 16] with their zero padding
     (16 channel rows transposed in registers, so a pixel's 16 channels are one vector);
  2. V[xi][c // 16][t][c % 16] = (B^T d B)[xi] of each tile t;
  3. one GEMM per xi, M[xi][t][o] = sum over c of V[xi][t][c] U[xi][c][o], in register tiles of
     tiles x output-channel vectors, the sum over c in a fixed order;
  4. each tile's outputs A^T M A, through the epilogue, transposed back to NCHW rows.
A pass holds whole images (several when the maps are small) or whole tile rows of one image, so
that V and M stay near L2. Each output is computed by one thread in one order whatever the thread
count or the pass, so results are bitwise reproducible.
"""
from __future__ import annotations

import functools
from fractions import Fraction
from typing import Callable, Sequence

from llvmlite import ir

from ..parallel import emit_image_split, emit_split_range
from .contract import KernelFunction, ScratchPlan
from .conv_direct import DirectConv, OutputImage
from .epilogue import Epilogue
from .loops import affine, as_value, counted_loop, entry_alloca, minimum
from .simd import LANES, V16F32, broadcast, elem_ptr, fma, i64, load_scalar, load_vector, store_vector, transpose
from .staging import Placement, emit_zero
from .tile import blocks, emit_fma_tile, emit_grid, vector_blocks

# Interpolation points of the transforms, in order of use: F(m, r) takes the first m + r - 2 and
# infinity. Points 1/2 and -1/2 rather than 2 and -2 keep F(4x4, 3x3)'s rounding error near F(2x2)'s.
POINTS = (Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-1, 2))


@functools.lru_cache(maxsize=None)
def transforms(m: int, r: int) -> dict[str, tuple]:
    """The Toom-Cook matrices of F(m, r), y = A^T [(G g) . (B^T d)] for an r-tap filter g, m outputs
    y_i = sum_k g_k d_(i+k) and n = m + r - 1 inputs d: A^T [m x n], G [n x r], B^T [n x n]."""
    points = POINTS[:m + r - 2]
    a_t = [[p ** i for p in points] + [int(i == m - 1)] for i in range(m)]
    g = [[p ** k / _product(p - q for q in points if q != p) for k in range(r)] for p in points]
    g.append([int(k == r - 1) for k in range(r)])
    b_t = [_monic(q for q in points if q != p) + [0] for p in points] + [_monic(points)]
    return {"AT": tuple(map(tuple, a_t)), "G": tuple(map(tuple, g)), "BT": tuple(map(tuple, b_t))}


def _product(values) -> Fraction:
    result = Fraction(1)
    for value in values:
        result *= value
    return result


def _monic(roots) -> list[Fraction]:
    """Coefficients, lowest degree first, of the product of (x - root)."""
    coefficients = [Fraction(1)]
    for root in roots:
        coefficients = [Fraction(0)] + coefficients
        for i in range(len(coefficients) - 1):
            coefficients[i] -= root * coefficients[i + 1]
    return coefficients


# Tuned on resnet18's four stride-1 3x3 shapes (2 threads, batch 64, each setting alternated with
# the others in one process):
# A pass's V and M (4 (m+2)^2 bytes per tile and channel each) are kept within this many bytes
# (0.5 MB and 1 MB alike; 2 and 4 MB 5-10% slower on the 64- and 128-channel layers).
PASS_BYTES = 1 << 20
# The GEMMs sum over source channels in blocks of this many, so that a block's panel of U and rows
# of V stay in L1 (512 channels at 4x4, measured before U was laid out in panels: 14.3 ms in blocks
# of 64, 21.4 in one block).
REDUCTION_BLOCK = 64
# GEMM register tile: 12 tiles x 2 output-channel vectors (8 x 2, 16 accumulators: 4-9% slower).
GEMM_VECTORS, GEMM_ACCUMULATORS = 2, 24
# Source channels unrolled per step of the GEMM's k loop: 4 took half the compile time of 16 at
# the same speed.
UNROLL = 4
# F(4x4, 3x3) on maps of at least this many pixels: on 4x4 maps (one tile per image) its U, 36 x C x O
# floats, is transformed at each call and streamed from memory by every pass (512 channels: 16.4 ms
# against 12.2 ms with F(2x2, 3x3)).
MIN_PIXELS_F4 = 64
# Winograd from this many channels (source and output), F(4x4, 3x3) and F(2x2, 3x3). ResNet-20's
# layers (batch 128) are below: F(2x2) with 32 channels at 14x14 was 3-6% faster than the direct
# loop, F(4x4) with 16 at 28x28 1.3-1.4x, but those convolutions are a small part of its step, less
# than the kernels' compile time (0.2-0.3 s each), and its step-by-step check against the
# interpreter (tests/test_zoo.py) then missed 1e-4 at one step (docs/codegen.md §8). With 512 at
# 4x4, F(2x2) is 11-42% faster.
MIN_CHANNELS_F4, MIN_CHANNELS_F2 = 32, 64
# Winograd from this many output pixels per call (all images): each call transforms the filters
# into U (16 or 36 floats per filter against its 9) and streams U from memory, which fewer pixels
# do not repay.
MIN_CALL_PIXELS = 128
# Output tiles are transformed and transposed in groups of up to this many pixels along a row (the
# most tiles that divide the row).
GROUP_PIXELS = 16


class WinogradConv:
    """Emit a DirectConv that `supports` accepts through F(m x m, 3x3)."""

    algorithm = "winograd"

    @staticmethod
    def supports(conv: DirectConv) -> bool:
        place = conv.place
        return (conv.kernel, conv.stride, conv.dilation, (place.step_h, place.step_w), conv.groups) == \
            ((3, 3), (1, 1), (1, 1), (1, 1), 1) and conv.out_h % 2 == 0 and conv.out_w % 2 == 0 and \
            conv.in_g % LANES == 0 and conv.out_g % LANES == 0 and \
            min(conv.in_g, conv.out_g) >= (MIN_CHANNELS_F4 if output_tile(conv.out_h, conv.out_w) == 4 else
                                           MIN_CHANNELS_F2)

    def __init__(self, conv: DirectConv):
        self.conv = conv
        self.m = output_tile(conv.out_h, conv.out_w)
        self.side = self.m + 2                                   # source tile side
        self.xi = self.side ** 2                                 # transformed tile elements
        self.rows, self.cols = conv.out_h // self.m, conv.out_w // self.m      # tiles per image
        self.in_blocks = conv.in_g // LANES
        self.vectors = min(conv.out_g // LANES, GEMM_VECTORS)
        # A map of 4 pixels' width at m = 2 takes two tile rows per output group: 16 pixels.
        self.group_rows = 2 if self.m * self.cols <= 4 and self.rows % 2 == 0 else 1
        budget = max(LANES, PASS_BYTES // (4 * self.xi * (conv.in_g + conv.out_g)))
        per_image = self.rows * self.cols
        if per_image <= budget:
            self.images, self.pass_rows = budget // per_image, self.rows
        else:
            fitting = [r for r in range(self.group_rows, self.rows + 1, self.group_rows)
                       if self.rows % r == 0 and r * self.cols <= budget]
            self.images, self.pass_rows = 1, max(fitting, default=self.group_rows)
        self.tiles = self.images * self.pass_rows * self.cols            # per pass
        self.staged_image = self.in_blocks * conv.place.dst_h * conv.place.dst_w * LANES
        # The planes of V and of M are read or written together: a cache line between planes keeps
        # them out of one L1 set (at multiples of 4 KB apart they evicted each other).
        self.v_plane = self.tiles * conv.in_g + LANES
        self.m_plane = self.tiles * conv.out_g + LANES
        self.plan = ScratchPlan()
        self.plan.shared("U", 4 * self.xi * conv.in_g * conv.out_g)
        self.plan.private("staged", 4 * self.images * self.staged_image)
        self.plan.private("V", 4 * self.xi * self.v_plane)
        self.plan.private("M", 4 * self.xi * self.m_plane)

    def phases(self, epilogue: Epilogue) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        return [(".weights", self._transform_weights), (".conv", lambda kf: self._convolve(kf, epilogue))]

    # --- weights ------------------------------------------------------------------------------

    def _transform_weights(self, kf: KernelFunction) -> None:
        """U[xi] for blocks of 16 output channels, split over threads by (c, block). U[xi] is laid
        out in panels of a GEMM tile's output vectors, [o // P][c][o % P] (P = 16 * self.vectors,
        the last panel possibly narrower), so a tile reads its weights as one contiguous run."""
        conv, b = self.conv, kf.builder
        taps = [(kh, kw) for kh in range(3) for kw in range(3)]
        offsets = [conv.weight_index(b, 0, 0, 0, kh, kw) for kh, kw in taps]   # python ints
        first = min(offsets)
        lanes_of = [offset - first for offset in offsets]
        if sorted(lanes_of) != list(range(9)):
            raise ValueError(f"winograd: a filter's taps are not contiguous in the weights ({offsets})")
        corner = taps[offsets.index(first)]
        out_blocks, panel_width = conv.out_g // LANES, self.vectors * LANES
        u = self.plan.shared_region(kf, "U")
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, conv.in_g * out_blocks)
        with counted_loop(b, lo, hi, name="wc") as item:
            c, block = b.udiv(item, i64(out_blocks)), b.urem(item, i64(out_blocks))
            rows = [load_vector(b, kf[conv.weights],
                                conv.weight_index(b, 0, affine(b, [(block, LANES)], lane), c, *corner), 9)
                    for lane in range(LANES)]
            by_tap = transpose(b, rows)
            filters = entry_alloca(b, V16F32, "filters", 9)         # [kh][kw], lanes along o
            for t in range(9):
                b.store(by_tap[lanes_of[t]], elem_ptr(b, filters, t, V16F32))
            panel, within = b.udiv(block, i64(self.vectors)), b.urem(block, i64(self.vectors))
            full = b.icmp_signed("<=", affine(b, [(panel, self.vectors)], self.vectors), i64(out_blocks))
            width = b.select(full, i64(panel_width), i64((out_blocks % self.vectors) * LANES))
            start = affine(b, [(panel, panel_width * conv.in_g), (within, LANES)])
            row = b.add(start, b.mul(c, width))

            def tap(kh: int, kw: ir.Value) -> ir.Value:
                return b.load(elem_ptr(b, filters, affine(b, [(kw, 1)], 3 * kh), V16F32), typ=V16F32)

            def store(xi: ir.Value, value: ir.Value) -> None:
                store_vector(b, value, u, affine(b, [(row, 1), (xi, conv.in_g * conv.out_g)]), align=64)

            looped_two_sided(b, transforms(self.m, 3)["G"], tap, store)

    # --- convolution --------------------------------------------------------------------------

    def _convolve(self, kf: KernelFunction, epilogue: Epilogue) -> None:
        b = kf.builder
        staged, v, m = (self.plan.private_region(kf, name) for name in ("staged", "V", "M"))
        u = self.plan.shared_region(kf, "U")
        lo, hi, inside = emit_image_split(b, kf.tid, kf.nthreads, kf.batch)
        out_vectors = self.conv.out_g // LANES                      # Winograd takes channels in 16s
        panels = -(-out_vectors // self.vectors)
        first, end = (b.mul(bound, i64(self.vectors)) for bound in emit_split_range(b, *inside, panels))
        channels = (first, minimum(b, end, i64(out_vectors)))         # this thread's output vectors
        with counted_loop(b, lo, hi, self.images, name="n") as n0:
            count = minimum(b, b.sub(hi, n0), i64(self.images))
            last = b.sub(hi, i64(1))
            with counted_loop(b, 0, self.images, name="stage") as i:    # a short pass repeats its last image
                image = elem_ptr(b, staged, affine(b, [(i, self.staged_image)]))
                self._stage(kf, minimum(b, b.add(n0, i), last), image)
            with counted_loop(b, 0, self.rows, self.pass_rows, name="r0") as r0:
                self._transform_input(b, staged, r0, v)
                self._multiply(b, v, u, m, channels)
                self._transform_output(kf, m, n0, count, r0, epilogue, channels)

    def _stage(self, kf: KernelFunction, n, dst: ir.Value) -> None:
        """dst[c // 16][h][w][c % 16] = image n of the source, placed with its zero padding."""
        place, b = self.conv.place, kf.builder
        src = elem_ptr(b, kf[self.conv.src], affine(b, [(n, place.channels * place.src_h * place.src_w)]))
        stage_channel_lanes(b, src, dst, place, 0, self.in_blocks)

    def _transform_input(self, b: ir.IRBuilder, staged: ir.Value, r0, v: ir.Value) -> None:
        """V[xi][cb][t][:] = (B^T d B)[xi] for the pass's tiles t = (image, row - r0, column)."""
        place, row, m = self.conv.place, self.conv.place.dst_w * LANES, self.m
        with counted_loop(b, 0, self.images, name="vi") as i, counted_loop(b, 0, self.pass_rows, name="vr") as r, \
                counted_loop(b, 0, self.in_blocks, name="vcb") as cb, counted_loop(b, 0, self.cols, name="vc") as col:
            corner = affine(b, [(i, self.staged_image), (cb, place.dst_h * row), (r0, m * row), (r, m * row),
                                (col, m * LANES)])
            t = affine(b, [(i, self.pass_rows * self.cols), (r, self.cols), (col, 1)])
            transform_window(b, staged, corner, row, transforms(m, 3)["BT"], lambda xi, value: store_vector(
                b, value, v, affine(b, [(xi, self.v_plane), (cb, self.tiles * LANES), (t, LANES)]), align=64))

    def _multiply(self, b: ir.IRBuilder, v: ir.Value, u: ir.Value, m: ir.Value, channels: tuple) -> None:
        """M[xi][t][o] = sum over c of V[xi][t][c] U[xi][c][o], c ascending in blocks of
        REDUCTION_BLOCK channels; output-channel panels outermost, so each stays in cache. Only the
        panels whose output vectors are in `channels` [first, end)."""
        conv = self.conv
        # tiles per register tile: the most that divide the pass, so one tile shape is emitted
        rows = max(r for r in range(1, GEMM_ACCUMULATORS // self.vectors + 1) if self.tiles % r == 0)
        per_block = max(d for d in range(1, self.in_blocks + 1)
                        if self.in_blocks % d == 0 and d * LANES <= max(LANES, REDUCTION_BLOCK))
        with counted_loop(b, 0, self.xi, name="xi") as xi, \
                counted_loop(b, 0, self.in_blocks, per_block, name="kc") as cb0:
            def tile(starts, kinds):
                o0 = as_value(starts[0])
                with b.if_then(b.and_(b.icmp_signed(">=", o0, channels[0]), b.icmp_signed("<", o0, channels[1]))):
                    panel(starts, kinds)

            def panel(starts, kinds):
                (o0, t0), (ob, tb) = starts, kinds
                width = ob.size * LANES                            # of this U panel

                def m_index(i, j):
                    return affine(b, [(xi, self.m_plane), (t0, conv.out_g), (o0, LANES)], i * conv.out_g + j * LANES)

                def partial(i, j):       # the sum over the channel blocks before this one
                    first = b.icmp_signed("==", cb0, i64(0))
                    return b.select(first, ir.Constant(V16F32, 0.0), load_vector(b, m, m_index(i, j), align=64))

                def tile_value(i, k):
                    cb, quarter, lane = k
                    index = affine(b, [(xi, self.v_plane), (cb0, self.tiles * LANES), (cb, self.tiles * LANES),
                                       (t0, LANES), (quarter, UNROLL)], i * LANES + lane)
                    return broadcast(b, load_scalar(b, v, index))

                def weights(j, k):
                    cb, quarter, lane = k
                    index = affine(b, [(xi, conv.in_g * conv.out_g), (o0, LANES * conv.in_g), (cb0, LANES * width),
                                       (cb, LANES * width), (quarter, UNROLL * width)], lane * width + j * LANES)
                    return load_vector(b, u, index, align=64)

                k_dims = [(per_block, False), (LANES // UNROLL, False), (UNROLL, True)]
                acc = emit_fma_tile(b, tb.size, ob.size, k_dims, tile_value, weights, partial)
                for i in range(tb.size):
                    for j in range(ob.size):
                        store_vector(b, acc[i][j], m, m_index(i, j), align=64)

            emit_grid(b, [vector_blocks(conv.out_g, self.vectors), blocks(self.tiles, rows)], tile)

    def _transform_output(self, kf: KernelFunction, m: ir.Value, n0, count, r0, epilogue: Epilogue,
                          channels: tuple) -> None:
        """Outputs of the pass's `count` images from n0, tile rows r0 .. r0 + pass_rows - 1, output
        vectors in `channels`."""
        conv, b, size = self.conv, kf.builder, self.m
        wide = max(w for w in range(1, min(self.cols, max(1, GROUP_PIXELS // size)) + 1) if self.cols % w == 0)
        with counted_loop(b, 0, count, name="oi") as i, \
                counted_loop(b, 0, self.pass_rows, self.group_rows, name="or") as r, \
                counted_loop(b, *channels, name="ov") as ov, \
                counted_loop(b, 0, self.cols, wide, name="oc") as c0:
            image = OutputImage(kf, conv, b.add(n0, i), 0, None, epilogue)
            channel0 = affine(b, [(ov, LANES)])
            at = transforms(size, 3)["AT"]
            tiles = [(gr, gc) for gr in range(self.group_rows) for gc in range(wide)]
            # A^T down each tile's columns, kept on the stack; then, per output row, A^T along the
            # rows: the epilogue and stores of a row are emitted once, not once per row.
            columns = entry_alloca(b, V16F32, "columns", len(tiles) * size * self.side)     # [tile][y][x]
            with counted_loop(b, 0, len(tiles), name="ot") as index, \
                    counted_loop(b, 0, self.side, name="ox") as x:
                gr, gc = b.udiv(index, i64(wide)), b.urem(index, i64(wide))
                t = affine(b, [(i, self.pass_rows * self.cols), (r, self.cols), (c0, 1), (gr, self.cols), (gc, 1)])
                loaded = [load_vector(b, m, affine(b, [(t, conv.out_g), (channel0, 1), (x, self.m_plane)],
                                                   y * self.side * self.m_plane), align=64) for y in range(self.side)]
                for y, value in enumerate(combine(b, at, loaded)):
                    b.store(value, elem_ptr(b, columns, affine(b, [(index, size * self.side), (x, 1)], y * self.side),
                                            V16F32))
            with counted_loop(b, 0, size, name="oy") as y:
                outputs = {}
                for index, (gr, gc) in enumerate(tiles):
                    row = [b.load(elem_ptr(b, columns, affine(b, [(y, self.side)], index * size * self.side + x),
                                           V16F32), typ=V16F32) for x in range(self.side)]
                    for x, value in enumerate(combine(b, at, row)):
                        outputs[(size * gr, size * gc + x)] = value
                pix = sorted(outputs)
                image.store_transposed([outputs[p] for p in pix], pix, channel0,
                                       affine(b, [(r0, size), (r, size), (y, 1)]), affine(b, [(c0, size)]), LANES)


def output_tile(out_h: int, out_w: int) -> int:
    """m of F(m x m, 3x3): 4 where it divides a map of at least MIN_PIXELS_F4 pixels, else 2."""
    return 4 if out_h % 4 == 0 and out_w % 4 == 0 and out_h * out_w >= MIN_PIXELS_F4 else 2


def stage_channel_lanes(b: ir.IRBuilder, src: ir.Value, dst: ir.Value, place: Placement, first, last) -> None:
    """dst[cb][h][w][:] = channels 16 cb .. 16 cb + 15 of the image at src ([channels, src_h, src_w])
    at their placement, zero around it, for channel blocks cb in [first, last): 16 channel rows
    are loaded and transposed in registers, so a pixel's 16 channels are one vector."""
    plane = place.src_h * place.src_w
    row = place.dst_w * LANES
    right = place.dst_w - place.left - place.src_w
    with counted_loop(b, first, last, name="stage.cb") as cb:
        block = elem_ptr(b, dst, affine(b, [(cb, place.dst_h * row)]))
        for h in [*range(place.top), *range(place.top + place.src_h, place.dst_h)]:
            emit_zero(b, elem_ptr(b, block, h * row), row)
        if place.left or right:
            with counted_loop(b, place.top, place.top + place.src_h, name="stage.h") as h:
                emit_zero(b, elem_ptr(b, block, affine(b, [(h, row)])), place.left * LANES)
                emit_zero(b, elem_ptr(b, block, affine(b, [(h, row)], (place.left + place.src_w) * LANES)),
                          right * LANES)

        def chunk(p0, pixels: int):
            rows = [load_vector(b, src, affine(b, [(cb, LANES * plane), (p0, 1)], lane * plane), pixels)
                    for lane in range(LANES)]
            for j, pixel in enumerate(transpose(b, rows)[:pixels]):
                p = affine(b, [(p0, 1)], j)
                h, w = b.udiv(p, i64(place.src_w)), b.urem(p, i64(place.src_w))
                index = affine(b, [(h, row), (w, LANES)], place.top * row + place.left * LANES)
                store_vector(b, pixel, block, index, align=64)

        full, tail = divmod(plane, LANES)
        with counted_loop(b, 0, full * LANES, LANES, name="stage.p") as p0:
            chunk(p0, LANES)
        if tail:
            chunk(i64(full * LANES), tail)


def transform_window(b: ir.IRBuilder, staged: ir.Value, corner, row: int, matrix: Sequence[Sequence],
                     store: Callable[[ir.Value, ir.Value], None]) -> None:
    """store(xi, value) for each element xi of matrix @ d @ matrix^T (`looped_two_sided`), d the
    window of a channel-lanes image whose top-left pixel vector is at `corner`, `row` floats per
    image row, as wide as the matrix has columns."""
    looped_two_sided(b, matrix, lambda y, x: load_vector(b, staged, affine(b, [(corner, 1), (x, LANES)], y * row),
                                                         align=64), store)


def looped_two_sided(b: ir.IRBuilder, matrix: Sequence[Sequence], load: Callable[[int, ir.Value], ir.Value],
                     store: Callable[[ir.Value, ir.Value], None]) -> None:
    """store(xi, value) for each element xi (row-major) of matrix @ d @ matrix^T, d[y][x] = load(y, x)
    (x an i64 value). The columns, then the rows, are runtime loops through a stack array: one
    column's and one row's code, not every one's, with the operations and order of `two_sided`."""
    side, count = len(matrix[0]), len(matrix)
    columns = entry_alloca(b, V16F32, "window", count * side)            # [i][x]
    with counted_loop(b, 0, side, name="wx") as x:
        loaded = [load(y, x) for y in range(side)]
        for i, value in enumerate(combine(b, matrix, loaded)):
            b.store(value, elem_ptr(b, columns, affine(b, [(x, 1)], i * side), V16F32))
    with counted_loop(b, 0, count, name="wi") as i:
        loaded = [b.load(elem_ptr(b, columns, affine(b, [(i, side)], x), V16F32), typ=V16F32) for x in range(side)]
        for j, value in enumerate(combine(b, matrix, loaded)):
            store(affine(b, [(i, count)], j), value)


# --- the transforms (on 16-lane vectors, all lanes independent) ------------------------------------

def two_sided(b: ir.IRBuilder, matrix: Sequence[Sequence], tile: list[list[ir.Value]]) -> list[ir.Value]:
    """matrix @ tile @ matrix^T, row-major: the columns first, then the rows."""
    columns = [combine(b, matrix, [row[x] for row in tile]) for x in range(len(tile[0]))]    # columns[x][y]
    return [value for y in range(len(matrix)) for value in combine(b, matrix, [column[y] for column in columns])]


def combine(b: ir.IRBuilder, matrix: Sequence[Sequence], values: list[ir.Value]) -> list[ir.Value]:
    """matrix @ values, each output summed in index order: +-1 terms as adds, others as FMAs."""
    results = []
    for coefficients in matrix:
        total = None
        for coefficient, value in zip(coefficients, values):
            if coefficient == 0:
                continue
            if total is None:
                total = value if coefficient == 1 else b.fmul(value, _splat(coefficient))
            elif coefficient in (1, -1):
                total = (b.fadd if coefficient == 1 else b.fsub)(total, value)
            else:
                total = fma(b, value, _splat(coefficient), total)
        results.append(total)
    return results


def _splat(coefficient) -> ir.Constant:
    return ir.Constant(V16F32, [float(coefficient)] * LANES)
