"""conv2d input gradient through columns: the fast path for stride 1 and dilation 1.

Per image n, group g and input channel c (o over the group's dy channels, p = oh*OW + ow):

    col[kh, kw][p] = sum over o of w[o, c, kh, kw] * dy[n, o, p]                      (a GEMM)
    dx[n, c, y, x] = sum over kh, kw of col[kh, kw][(y + pad_top - kh)*OW + x + pad_left - kw]

the second sum taking only the terms whose (oh, ow) lies inside dy. The direct form correlates dy
padded by kernel-1 with flipped weights, so its FMAs also multiply the padding (LeNet conv2 dx:
10 of its 14 width lanes hold dy per tap, and 14 of the 16 lanes are used); here every GEMM lane
but the tail of the last pixel vector is useful, and the second sum is one masked load and add
per (dx row vector, kh, kw), its mask a build-time constant. Threads split the batch.
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import KernelFunction, ScratchPlan
from .conv_direct import CONV_ACCUMULATORS, DirectConv, OutputImage
from .epilogue import Epilogue
from .loops import affine, clamp, counted_loop, entry_alloca
from .simd import LANES, V16F32, broadcast, elem_ptr, i64, load_scalar, load_vector, store_vector
from .tile import blocks, emit_fma_tile, emit_grid, vector_blocks


def _vectors(extent: int) -> int:
    return -(-extent // LANES)


class ColumnsGradInput:
    """Emit dx for a DirectConv input-gradient problem (`input_gradient_problem`) of a geometry
    with stride 1 and dilation 1; `supports(geo)` says which."""

    algorithm = "columns"

    @staticmethod
    def supports(geo) -> bool:
        return geo.stride == (1, 1) and geo.dilation == (1, 1)

    def __init__(self, geo, problem: DirectConv):
        self.geo, self.problem = geo, problem
        self.taps = geo.kernel_h * geo.kernel_w
        self.pixels = geo.out_h * geo.out_w
        self.row_stride = LANES * _vectors(self.pixels)
        # The masked loads of the second sum start up to kernel_w - 1 elements before a column row
        # and end up to kernel_w - 1 after the last one: margins keep their addresses in the buffer.
        self.margin = LANES * _vectors(geo.kernel_w)
        self.plan = ScratchPlan()
        self.plan.private("columns", 4 * (2 * self.margin + self.taps * self.row_stride))

    def phases(self, epilogue: Epilogue) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        return [("", lambda kf: self.emit(kf, epilogue))]

    def emit(self, kf: KernelFunction, epilogue: Epilogue) -> None:
        geo, b = self.geo, kf.builder
        columns = elem_ptr(b, self.plan.private_region(kf, "columns"), self.margin)
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, geo.batch)
        with counted_loop(b, lo, hi, name="n") as n, counted_loop(b, 0, geo.group, name="g") as g, \
                counted_loop(b, 0, geo.cin_g, name="c") as c:
            self._columns(kf, n, g, c, columns)
            self._accumulate(OutputImage(kf, self.problem, n, g, None, epilogue), c, columns)

    def _columns(self, kf: KernelFunction, n, g, c, columns: ir.Value) -> None:
        """col[r][p] for r = kh*KW + kw: a GEMM of w's column (g, c) and dy's image n, group g."""
        geo, b = self.geo, kf.builder
        vectors = min(_vectors(self.pixels), CONV_ACCUMULATORS // 2)
        rows = max(1, min(self.taps, CONV_ACCUMULATORS // vectors))
        first_o = affine(b, [(g, geo.cout_g)])

        def tile(starts, kinds):
            (r0, v0), (rb, vb) = starts, kinds

            def weight(i, k):
                o = affine(b, [(first_o, 1), (k[0], 1)])
                index = affine(b, [(o, geo.cin_g * self.taps), (c, self.taps), (r0, 1)], i)
                return broadcast(b, load_scalar(b, kf["w"], index))

            def pixels(j, k):
                channel = affine(b, [(n, geo.out_channels), (first_o, 1), (k[0], 1)])
                index = affine(b, [(channel, self.pixels), (v0, LANES)], j * LANES)
                return load_vector(b, kf["dy"], index, vb.lanes(j))

            acc = emit_fma_tile(b, rb.size, vb.size, [(geo.cout_g, geo.cout_g <= 16)], weight, pixels)
            for i in range(rb.size):
                for j in range(vb.size):
                    index = affine(b, [(r0, self.row_stride), (v0, LANES)], i * self.row_stride + j * LANES)
                    store_vector(b, acc[i][j], columns, index, align=64)

        emit_grid(b, [blocks(self.taps, rows), vector_blocks(self.pixels, vectors)], tile)

    def _accumulate(self, image: OutputImage, c, columns: ir.Value) -> None:
        """dx rows of channel (g, c) from the columns, through the epilogue."""
        geo, b = self.geo, image.b
        top, left = geo.pad[0], geo.pad[2]
        starts = range(0, geo.width, LANES)
        with counted_loop(b, 0, geo.height, name="y") as y:
            slots = [entry_alloca(b, V16F32, f"dx{x0}") for x0 in starts]
            for slot in slots:
                b.store(ir.Constant(V16F32, 0.0), slot)
            # kh with 0 <= oh = y + top - kh < out_h
            kh_lo = clamp(b, b.sub(y, i64(geo.out_h - 1 - top)), geo.kernel_h)
            kh_hi = clamp(b, b.add(y, i64(top + 1)), geo.kernel_h)
            with counted_loop(b, kh_lo, kh_hi, name="kh") as kh:
                oh = b.sub(b.add(y, i64(top)), kh)
                for kw in range(geo.kernel_w):
                    row = affine(b, [(kh, geo.kernel_w * self.row_stride), (oh, geo.out_w)], kw * self.row_stride)
                    for x0, slot in zip(starts, slots):
                        self._add_shifted(b, columns, row, x0 + left - kw, min(LANES, geo.width - x0), slot)
            for x0, slot in zip(starts, slots):
                coords = {"c": affine(b, [(image.g, geo.cin_g), (c, 1)]), "h": y, "w": x0}
                image.store(b.load(slot, typ=V16F32), coords, "w", min(LANES, geo.width - x0))

    def _add_shifted(self, b: ir.IRBuilder, columns, row, ow0: int, lanes: int, slot) -> None:
        """slot += the column row's elements ow0 + lane, for lanes whose ow lies in [0, out_w)."""
        first, stop = max(0, -ow0), min(lanes, self.geo.out_w - ow0)
        if first >= stop:
            return
        terms = load_vector(b, columns, affine(b, [(row, 1)], ow0), stop, first=first)
        b.store(b.fadd(b.load(slot, typ=V16F32), terms), slot)

