"""conv2d filter gradient of the convolutions Winograd takes (conv_winograd: stride-1 3x3, channels
in 16s), through F(3x3, m x m). The filter gradient correlates x with dy; cut dy into m x m tiles
and each tile plays the filter, the 3x3 taps the outputs:

    dw[o, c] = sum over images and tiles t of A^T [ (G dy_t G^T) . (B^T x_t B) ] A

with x_t the (m+2)^2 window of the padded x under tile t: per (o, c) and tile, (m+2)^2
multiplications instead of 9 m^2 (m = 4: 36 against 144), and the sum over tiles is, per xi, a
GEMM whose reduction runs over the batch's tiles.

One phase. Threads split the output channels in panels of a GEMM tile's vectors; each thread
takes the whole batch in chunks of whole images (CHUNK_TILES tiles, whatever the thread count):
  1. stage each image's x as channel lanes with its padding and transform its tiles: X[xi][t][c];
  2. stage the image's dy channels of the thread the same way and transform them: D[xi][t][o];
  3. per xi, M[xi][c][o] (+)= sum over the chunk's tiles of X[xi][t][c] D[xi][t][o], in shared
     scratch (each thread its own columns), register tiles of channels x output vectors;
then dw[o, c] = A^T M[., c, o] A through the epilogue (e.g. the optimizer's update of w).
Each sum runs in one order on one thread, so dw is bitwise the same for any thread count. Every
thread transforms all of x: cheaper than reducing per-thread copies of M.
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import KernelFunction, ScratchPlan
from .conv import ConvGeometry, forward_problem, padded_input
from .conv_winograd import WinogradConv, output_tile, stage_channel_lanes, transform_window, transforms, two_sided
from .epilogue import Epilogue, LanePosition
from .loops import affine, counted_loop, minimum
from .simd import LANES, V16F32, broadcast, elem_ptr, i64, load_scalar, load_vector, store_vector, transpose
from .staging import Placement
from .tile import Block, blocks, emit_fma_tile, emit_grid

# Tiles per chunk (whole images, at least one): every GEMM tile of a xi reads the chunk's X and D
# of that xi, which should stay in L1. Measured on resnet18's four 3x3 shapes (2 threads, batch
# 64): 41 ms at 32 or 64 tiles, 50 at 128, 58 at 256; the direct form 72.
CHUNK_TILES = 64
# Threads split the output channels in panels of 32, so fewer than 64 leave a core idle: measured
# (2 threads, batch 128) 16 channels at 28x28 2.97 ms against 2.42 for the direct form, 32 at 14x14
# 3.07 against 1.97; 64 at 32x32 (batch 64) 9 against 17.
MIN_OUT_CHANNELS = 64
# GEMM register tile: source channels x output-channel vectors.
GEMM_ROWS, GEMM_VECTORS = 12, 2


class WinogradFilterGradient:
    algorithm = "winograd"

    @staticmethod
    def supports(geo: ConvGeometry) -> bool:
        return WinogradConv.supports(forward_problem(geo)) and geo.out_channels >= MIN_OUT_CHANNELS

    def __init__(self, geo: ConvGeometry, epilogue: Epilogue):
        self.geo, self.epilogue = geo, epilogue
        self.place = padded_input(geo)
        self.dy_place = Placement(geo.out_channels, geo.out_h, geo.out_w, geo.out_h, geo.out_w)
        self.m = output_tile(geo.out_h, geo.out_w)
        self.xi = (self.m + 2) ** 2
        self.cols = geo.out_w // self.m
        self.per_image = geo.out_h // self.m * self.cols
        self.images = max(1, CHUNK_TILES // self.per_image)
        self.tiles = self.images * self.per_image
        self.vectors = GEMM_VECTORS if geo.out_channels % (GEMM_VECTORS * LANES) == 0 else 1
        self.panel = self.vectors * LANES
        self.x_image = geo.in_channels * self.place.dst_h * self.place.dst_w
        self.dy_image = geo.out_channels * geo.out_h * geo.out_w
        # a cache line between the xi planes keeps the 16-36 planes a tile writes out of one L1 set
        self.x_plane = self.tiles * geo.in_channels + LANES
        self.d_plane = self.tiles * geo.out_channels + LANES
        self.plan = ScratchPlan()
        self.plan.shared("M", 4 * self.xi * geo.in_channels * geo.out_channels)
        self.plan.private("x", 4 * self.x_image)
        self.plan.private("dy", 4 * self.dy_image)
        self.plan.private("X", 4 * self.xi * self.x_plane)
        self.plan.private("D", 4 * self.xi * self.d_plane)

    def phases(self) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        return [("winograd", self.emit)]

    def emit(self, kf: KernelFunction) -> None:
        geo, b = self.geo, kf.builder
        first, last = emit_split_range(b, kf.tid, kf.nthreads, geo.out_channels // self.panel)
        own = (b.mul(first, i64(self.vectors)), b.mul(last, i64(self.vectors)))       # blocks of 16 channels
        with counted_loop(b, 0, kf.batch, self.images, name="chunk") as n0:
            count = minimum(b, b.sub(kf.batch, n0), i64(self.images))
            with counted_loop(b, 0, count, name="image") as i:
                self._transform_image(kf, b.add(n0, i), i, own)
            self._multiply(kf, b.icmp_signed("==", n0, i64(0)), b.mul(count, i64(self.per_image)), first, last)
        self._transform_output(kf, own)

    def _transform_image(self, kf: KernelFunction, n, i, own: tuple) -> None:
        """X and D of image n's tiles (chunk place i); D only for the thread's channel blocks."""
        geo, b, m = self.geo, kf.builder, self.m
        x, dy = self.plan.private_region(kf, "x"), self.plan.private_region(kf, "dy")      # one image each
        stage_channel_lanes(b, elem_ptr(b, kf["x"], affine(b, [(n, geo.in_channels * geo.height * geo.width)])), x,
                            self.place, 0, geo.in_channels // LANES)
        stage_channel_lanes(b, elem_ptr(b, kf["dy"], affine(b, [(n, self.dy_image)])), dy, self.dy_place, *own)
        operands = [(x, self.place, (0, geo.in_channels // LANES), self.plan.private_region(kf, "X"), self.x_plane,
                     geo.in_channels, "BT"),
                    (dy, self.dy_place, own, self.plan.private_region(kf, "D"), self.d_plane, geo.out_channels, "G")]
        with counted_loop(b, 0, self.per_image, name="tile") as tile:
            th, tw = b.udiv(tile, i64(self.cols)), b.urem(tile, i64(self.cols))
            t = affine(b, [(i, self.per_image), (tile, 1)])
            for image, place, (lo, hi), destination, plane, channels, matrix in operands:
                row = place.dst_w * LANES
                with counted_loop(b, lo, hi, name=f"{matrix}.cb") as cb:
                    corner = affine(b, [(cb, place.dst_h * row), (th, m * row), (tw, m * LANES)])
                    transform_window(b, image, corner, row, transforms(3, m)[matrix], lambda xi, value: store_vector(
                        b, value, destination, affine(b, [(xi, plane), (t, channels), (cb, LANES)]), align=64))

    def _multiply(self, kf: KernelFunction, first_chunk, tiles, panel_lo, panel_hi) -> None:
        """M[xi][c][o] for the thread's output panels: plus the chunk's sum over its tiles."""
        geo, b = self.geo, kf.builder
        xs, ds, ms = (self.plan.private_region(kf, "X"), self.plan.private_region(kf, "D"),
                      self.plan.shared_region(kf, "M"))
        c_out = geo.out_channels
        with counted_loop(b, 0, self.xi, name="xi") as xi:
            def tile(starts, kinds):
                (p, c0), (_, cb) = starts, kinds

                def m_index(i, j):
                    return affine(b, [(xi, geo.in_channels * c_out), (c0, c_out), (p, self.panel)],
                                  i * c_out + j * LANES)

                def partial(i, j):
                    return b.select(first_chunk, ir.Constant(V16F32, 0.0), load_vector(b, ms, m_index(i, j), align=64))

                def x_value(i, k):
                    return broadcast(b, load_scalar(b, xs, affine(b, [(xi, self.x_plane), (k[0], geo.in_channels),
                                                                      (c0, 1)], i)))

                def dy_value(j, k):
                    index = affine(b, [(xi, self.d_plane), (k[0], c_out), (p, self.panel)], j * LANES)
                    return load_vector(b, ds, index, align=64)

                acc = emit_fma_tile(b, cb.size, self.vectors, [(tiles, False)], x_value, dy_value, partial)
                for i in range(cb.size):
                    for j in range(self.vectors):
                        store_vector(b, acc[i][j], ms, m_index(i, j), align=64)

            emit_grid(b, [[Block(panel_lo, 1, b.sub(panel_hi, panel_lo))], blocks(geo.in_channels, GEMM_ROWS)], tile)

    def _transform_output(self, kf: KernelFunction, own: tuple) -> None:
        """dw[o, c] = A^T M A for the thread's output channels, 16 at a time, through the epilogue."""
        geo, b, side = self.geo, kf.builder, self.m + 2
        ms = self.plan.shared_region(kf, "M")
        view = (("o", geo.out_channels), ("c", geo.in_channels), ("t", 9))
        with counted_loop(b, 0, geo.in_channels, name="wc") as c, counted_loop(b, *own, name="wo") as ob:
            tile = [[load_vector(b, ms, affine(b, [(c, geo.out_channels), (ob, LANES)],
                                               (y * side + x) * geo.in_channels * geo.out_channels), align=64)
                     for x in range(side)] for y in range(side)]
            by_channel = transpose(b, two_sided(b, transforms(3, self.m)["AT"], tile))
            for lane in range(LANES):
                o = affine(b, [(ob, LANES)], lane)
                position = LanePosition({"o": o, "c": c, "t": 0}, "t", 9, view)
                value = self.epilogue.apply(b, by_channel[lane], position, kf.args)
                store_vector(b, value, kf["dw"], affine(b, [(o, geo.in_channels * 9), (c, 9)]), 9)
