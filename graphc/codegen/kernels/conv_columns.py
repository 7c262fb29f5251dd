"""conv2d input gradient through columns: the fast path for strides above 1 (dilation 1).

Per image n, group g and input channel c (o over the group's dy channels, p = oh*OW + ow):

    col[kh, kw][p] = sum over o of w[o, c, kh, kw] * dy[n, o, p]                      (a GEMM)
    dx[n, c, y, x] = sum over kh, kw of col[kh, kw][(y + pad_top - kh)*OW + x + pad_left - kw]

the second sum taking only the terms whose (oh, ow) lies inside dy. The direct form correlates dy
padded by kernel-1 with flipped weights, so its FMAs also multiply the padding (LeNet conv2 dx:
10 of its 14 width lanes hold dy per tap, and 14 of the 16 lanes are used); here every GEMM lane
but the tail of the last pixel vector is useful, and the second sum is one masked load and add
per (dx row vector, kh, kw), its mask a build-time constant. Threads split the batch; on small
maps a thread's images go through the GEMM in passes of several images (columns [tap][image][p]),
so each weight is read once per pass.
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import KernelFunction, ScratchPlan
from .conv_direct import DirectConv, OutputImage
from .epilogue import Epilogue
from .loops import affine, at_least_zero, counted_loop, entry_alloca, minimum
from .simd import LANES, V16F32, broadcast, elem_ptr, i64, load_scalar, load_vector, shuffle, store_vector
from .tile import Block, blocks, emit_fma_tile, emit_grid, vector_blocks


# A GEMM tile is up to 6 taps x 4 pixel vectors, the vectors of one image or, on maps of at most
# 2 vectors, of a pass of several images. Measured, 2 threads, batch 64, 3x3 over C channels
# (before: 2 taps x 8 vectors of one image): 512ch 4x4 115 -> 201 GFLOP/s, 256ch 8x8 189 -> 227,
# 128ch 16x16 160 -> 229, 64ch 32x32 158 -> 224; 6 x 8 images of 4x4 (one vector each), 146.
COLUMN_ACCUMULATORS = 24
COLUMN_VECTORS = 4


def _vectors(extent: int) -> int:
    return -(-extent // LANES)


class ColumnsGradInput:
    """Emit dx for a DirectConv input-gradient problem (`input_gradient_problem`) of a geometry
    with dilation 1; `supports(geo)` says which geometries take it."""

    algorithm = "columns"

    @staticmethod
    def supports(geo) -> bool:
        # At stride 1 the direct form wastes little on padding and its tiles run as the forward's
        # do: measured, 2 threads, batch 64, resnet18's 3x3 layers 13.4-15.8 vs 17.1-19.6 ms,
        # MobileNetV2's 1x1 ones up to 3.4x faster, LeNet's conv2 at batch 32 97 vs 119 us (and
        # 68 KB of IR, not 510). With a stride, the direct form's FMAs are mostly on inserted
        # zeros (resnet18's stride-2 layers 2.2-2.9x slower).
        return geo.dilation == (1, 1) and geo.stride != (1, 1)

    def __init__(self, geo, problem: DirectConv):
        self.geo, self.problem = geo, problem
        self.taps = geo.kernel_h * geo.kernel_w
        self.pixels = geo.out_h * geo.out_w
        self.row_stride = LANES * _vectors(self.pixels)
        # Small maps: the GEMM runs over the pixels of several images, so each weight broadcast
        # feeds more FMAs and the weights are read once per pass, not once per image.
        self.images = max(1, COLUMN_VECTORS // _vectors(self.pixels))
        self.tap_stride = self.images * self.row_stride            # columns: [tap][image][pixel]
        # The masked loads of the second sum start up to kernel_w - 1 elements before a column row
        # and end up to kernel_w - 1 after the last one: margins keep their addresses in the buffer.
        self.margin = LANES * _vectors(geo.kernel_w)
        self.plan = ScratchPlan()
        self.plan.private("columns", 4 * (2 * self.margin + self.taps * self.tap_stride))

    def phases(self, epilogue: Epilogue) -> list[tuple[str, Callable[[KernelFunction], None]]]:
        return [("", lambda kf: self.emit(kf, epilogue))]

    def emit(self, kf: KernelFunction, epilogue: Epilogue) -> None:
        geo, b = self.geo, kf.builder
        columns = elem_ptr(b, self.plan.private_region(kf, "columns"), self.margin)
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, kf.batch)
        with counted_loop(b, lo, hi, self.images, name="n") as n0:
            # a short last pass repeats its last image in the GEMM and skips it in the sums
            last = b.sub(hi, i64(1))
            pass_images = [minimum(b, affine(b, [(n0, 1)], i), last) for i in range(self.images)]
            count = minimum(b, b.sub(hi, n0), i64(self.images))
            with counted_loop(b, 0, geo.group, name="g") as g, counted_loop(b, 0, geo.cin_g, name="c") as c:
                self._columns(kf, pass_images, g, c, columns)
                with counted_loop(b, 0, count, name="image") as i:
                    image = OutputImage(kf, self.problem, b.add(n0, i), g, None, epilogue)
                    self._accumulate(image, c, elem_ptr(b, columns, affine(b, [(i, self.row_stride)])))

    def _columns(self, kf: KernelFunction, pass_images: list, g, c, columns: ir.Value) -> None:
        """col[r][i][p] for r = kh*KW + kw: a GEMM of w's column (g, c) and the dy of group g of
        the pass's images."""
        geo, b = self.geo, kf.builder
        if self.images > 1:     # one column block: every vector of every image of the pass
            column_axis = [Block(0, 1, 1)]
            pixel_vectors = vector_blocks(self.pixels, _vectors(self.pixels))[0]
            cols = [(i, v, pixel_vectors.lanes(v)) for i in range(self.images) for v in range(pixel_vectors.size)]
        else:
            column_axis = vector_blocks(self.pixels, min(_vectors(self.pixels), COLUMN_VECTORS))
        width = len(cols) if self.images > 1 else column_axis[0].size
        rows = max(1, min(self.taps, COLUMN_ACCUMULATORS // width))
        first_o = affine(b, [(g, geo.cout_g)])

        def tile(starts, kinds):
            (r0, v0), (rb, vb) = starts, kinds
            tile_cols = cols if self.images > 1 else [(0, affine(b, [(v0, 1)], j), vb.lanes(j)) for j in range(vb.size)]

            def weight(i, k):
                o = affine(b, [(first_o, 1), (k[0], 1)])
                index = affine(b, [(o, geo.cin_g * self.taps), (c, self.taps), (r0, 1)], i)
                return broadcast(b, load_scalar(b, kf["w"], index))

            def pixels(j, k):
                image, v, lanes = tile_cols[j]
                channel = affine(b, [(pass_images[image], geo.out_channels), (first_o, 1), (k[0], 1)])
                return load_vector(b, kf["dy"], affine(b, [(channel, self.pixels), (v, LANES)]), lanes)

            acc = emit_fma_tile(b, rb.size, len(tile_cols), [(geo.cout_g, geo.cout_g <= 16)], weight, pixels)
            for i in range(rb.size):
                for j, (image, v, _) in enumerate(tile_cols):
                    index = affine(b, [(r0, self.tap_stride), (v, LANES)], i * self.tap_stride + image * self.row_stride)
                    store_vector(b, acc[i][j], columns, index, align=64)

        emit_grid(b, [blocks(self.taps, rows), column_axis], tile)

    def _accumulate(self, image: OutputImage, c, columns: ir.Value) -> None:
        """dx rows of channel (g, c) from the columns, through the epilogue."""
        geo, b = self.geo, image.b
        top, left = geo.pad[0], geo.pad[2]
        starts = range(0, geo.width, LANES)
        with counted_loop(b, 0, geo.height, name="y") as y:
            slots = [entry_alloca(b, V16F32, f"dx{x0}") for x0 in starts]
            for slot in slots:
                b.store(ir.Constant(V16F32, 0.0), slot)
            # the dy rows oh = (y + top - kh) / sh for taps kh < kernel_h, 0 <= oh < out_h, in kh order
            sh, t = geo.stride[0], b.add(y, i64(top))
            lowest = b.sub(t, i64(geo.kernel_h - 1))
            oh_lo = b.udiv(b.add(at_least_zero(b, lowest), i64(sh - 1)), i64(sh))
            oh_hi = minimum(b, b.add(b.udiv(t, i64(sh)), i64(1)), i64(geo.out_h))
            with counted_loop(b, oh_lo, oh_hi, name="oh") as step:
                oh = b.sub(b.add(oh_lo, b.sub(oh_hi, i64(1))), step)
                kh = b.sub(t, b.mul(oh, i64(sh)))
                for kw in range(geo.kernel_w):
                    row = affine(b, [(kh, geo.kernel_w * self.tap_stride), (oh, geo.out_w)], kw * self.tap_stride)
                    for x0, slot in zip(starts, slots):
                        self._add_shifted(b, columns, row, x0 + left - kw, min(LANES, geo.width - x0), slot)
            for x0, slot in zip(starts, slots):
                coords = {"c": affine(b, [(image.g, geo.cin_g), (c, 1)]), "h": y, "w": x0}
                image.store(b.load(slot, typ=V16F32), coords, min(LANES, geo.width - x0))

    def _add_shifted(self, b: ir.IRBuilder, columns, row, u0: int, lanes: int, slot) -> None:
        """slot += the column row's element ow = (u0 + lane) / sw in each lane where that divides
        and 0 <= ow < out_w (with stride 1, one masked load; else a load spread over the lanes by
        a shuffle with zeros)."""
        sw, out_w = self.geo.stride[1], self.geo.out_w
        sources = [(u0 + lane) // sw if (u0 + lane) % sw == 0 and 0 <= (u0 + lane) // sw < out_w else None
                   for lane in range(lanes)]
        real = [ow for ow in sources if ow is not None]
        if not real:
            return
        if sw == 1:
            first = sources.index(real[0])
            terms = load_vector(b, columns, affine(b, [(row, 1)], u0), first + len(real), first=first)
        else:
            loaded = load_vector(b, columns, affine(b, [(row, 1)], real[0]), real[-1] - real[0] + 1)
            terms = shuffle(b, loaded, ir.Constant(V16F32, 0.0),
                            [LANES if ow is None else ow - real[0] for ow in sources] + [LANES] * (LANES - lanes))
        b.store(b.fadd(b.load(slot, typ=V16F32), terms), slot)

