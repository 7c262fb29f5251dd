"""Convolutions in bfloat16 on AMX tiles: the forward (x, w -> y) of any stride, padding and dilation
without groups, its filter gradient, and its input gradient (dy, w -> dx: at stride 1 the forward of dy
with w's taps flipped and its channel axes swapped, conv.py; at a larger stride one such GEMM per phase
of dx, _Window.phases). Per image one GEMM (amx.emit_amx_gemm), out [R, P] = A [R, S·T] @ B [S·T, P]
over T = KH·KW taps and the P output pixels: A the filters, packed once per call, and B the source's
taps,

    B[(s, t), q] = src[s, tap t of output pixel q]  where that lies inside the source, else 0   (_Window).

Where the output has the source's size at stride 1 (the common 'same' convolution), a tap of output
pixel q is q's own position shifted along the flattened image, so one tap of 16 output pixels is one
masked 16-lane load; otherwise it is one masked gather. The mask (which pixels' taps lie inside the
source) is the same for every channel, so each block of 32 pixels computes its taps' masks once. The
channels go by pairs, so that the k-pairs of B (2T values per channel pair) fall in place at build time.
Such a shifted window over rows of whole vectors, with sources in blocks of 32, needs no B at all: the
tiles read it in place from a zero-padded copy of the image holding channel pairs as words (_InPlace).
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .amx import BF16_VECTOR, BLOCK, add_k_block, emit_amx_gemm, emit_amx_summed, masked_gather, masked_load, \
    masked_words, pack_rows, pack_transposed_pairs, scratch_bytes, store_pair, zero_region
from .contract import Kernel, KernelFunction, Operand, Scratch, kernel_operands, round_up
from .conv import ConvGeometry
from .epilogue import IDENTITY, Epilogue
from .loops import affine, as_value, counted_loop, entry_alloca
from .matmul import gemm_store, stored
from .simd import I8, I16, I32, I64, LANES, broadcast, elem_ptr, i64, iota, load_scalar, load_vector, shuffle, \
    store_masked, store_scalar, store_vector


def supports(geo: ConvGeometry, input_gradient: bool = False) -> bool:
    """Ungrouped. At a larger stride the input gradient goes by phases (_Window.phases), whose rows must
    be whole vectors or whole divisions of one (the phases are stored through masked lanes), of two
    pixels at least (LLVM 22 miscompiles a one-lane masked store of 16-bit lanes: simd.store_vector)."""
    if geo.group != 1:
        return False
    if not input_gradient or geo.stride == (1, 1):
        return True
    (sh, sw), columns = geo.stride, geo.width // geo.stride[1]
    return geo.height % sh == 0 and geo.width % sw == 0 and columns > 1 and \
        (columns % LANES == 0 or LANES % columns == 0)


@dataclass(frozen=True)
class _Window:
    """Where output pixel (oy, ox) of `out` finds its taps in the `src` image: tap j at (oy·stride +
    offsets[j][0], ox·stride + offsets[j][1]), outside the image a zero; `taps[j]` is its filter tap."""
    src: tuple[int, int]
    out: tuple[int, int]
    stride: tuple[int, int]
    offsets: tuple[tuple[int, int], ...]
    taps: tuple[int, ...]

    @staticmethod
    def forward(geo: ConvGeometry) -> "_Window":
        (dh, dw), (top, _, left, _) = geo.dilation, geo.pad
        taps = [divmod(t, geo.kernel_w) for t in range(geo.kernel_h * geo.kernel_w)]
        return _Window((geo.height, geo.width), (geo.out_h, geo.out_w), geo.stride,
                       tuple((ky * dh - top, kx * dw - left) for ky, kx in taps), tuple(range(len(taps))))

    @staticmethod
    def phases(geo: ConvGeometry) -> list[tuple[tuple[int, int], "_Window"]]:
        """The input gradient as a stride-1 window over dy per phase (py, px) of dx: its pixels (py + a·sh,
        px + b·sw) take the taps (ky, kx) with dy pixel (a, b) + ((py + top - ky·dh) / sh, ...) where that
        divides exactly (the forward reaches them from there); at stride 1, one phase of every tap."""
        (sh, sw), (dh, dw), (top, _, left, _) = geo.stride, geo.dilation, geo.pad
        result = []
        for py in range(sh):
            for px in range(sw):
                rows = [(ky, (py + top - ky * dh) // sh) for ky in range(geo.kernel_h)
                        if (py + top - ky * dh) % sh == 0]
                cols = [(kx, (px + left - kx * dw) // sw) for kx in range(geo.kernel_w)
                        if (px + left - kx * dw) % sw == 0]
                size = (len(range(py, geo.height, sh)), len(range(px, geo.width, sw)))
                result.append(((py, px), _Window((geo.out_h, geo.out_w), size, (1, 1),
                                                 tuple((oy, ox) for _, oy in rows for _, ox in cols),
                                                 tuple(ky * geo.kernel_w + kx for ky, _ in rows for kx, _ in cols))))
        return result

    @property
    def shifted(self) -> bool:
        """Each tap is the output pixel's own position shifted along the flattened image."""
        return self.stride == (1, 1) and self.src == self.out

    def shift(self, b: ir.IRBuilder, dy, dx):
        """Of a shifted window: a tap's offset (dy, dx) along the flattened image (int, or i32 values -> i64)."""
        if isinstance(dy, int):
            return dy * self.src[1] + dx
        return b.sext(b.add(b.mul(dy, ir.Constant(I32, self.src[1])), dx), I64)


def emit_amx_conv2d(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue,
                    gradient: bool = False) -> Kernel:
    """Operands src (x, or dy with `gradient`), w, y (y, or dx) and the epilogue's, all bfloat16; the
    epilogue sees matmul's coordinates: image i, channel m, pixel n of the flattened output. A strided
    input gradient runs one GEMM per phase (_Window.phases), each stored to its pixels through masked
    lanes, and takes no epilogue."""
    phases = _Window.phases(geo) if gradient else [((0, 0), _Window.forward(geo))]
    if len(phases) > 1 and epilogue is not IDENTITY:
        raise ValueError(f"a strided input gradient on tiles takes no epilogue: {geo}")
    sources, rows = (geo.out_channels, geo.in_channels) if gradient else (geo.in_channels, geo.out_channels)
    out = (geo.height, geo.width) if gradient else (geo.out_h, geo.out_w)
    src = phases[0][1].src
    src_pixels, pixels = src[0] * src[1], out[0] * out[1]
    operands = kernel_operands([Operand("src", (geo.batch, sources, *src), dtype="bf16"),
                                Operand("w", geo.w_shape, dtype="bf16"),
                                Operand("y", (geo.batch, rows, *out), "out", _stored_dtype(epilogue))],
                               epilogue.operands)
    gemm_bytes = max(scratch_bytes(rows, sources * len(window.taps), BLOCK) for _, window in phases)
    staged_bytes = max(_InPlace.nbytes(window, sources) for _, window in phases)
    scratch = Scratch(per_thread=gemm_bytes + staged_bytes)
    kf = KernelFunction(module, name, operands, scratch)
    b = kf.builder
    store = gemm_store(kf, (rows, None, pixels), geo.batch, epilogue)
    for phase, window in phases:
        taps, size = window.taps, window.out[0] * window.out[1]
        k = sources * len(taps)
        kp = round_up(k, BLOCK)
        paired = size == LANES          # two images to a block of columns (_halves)
        in_place = _InPlace.takes(window, sources, paired)

        def pack_a(dst: ir.Value, taps=taps, kp=kp, in_place=in_place) -> None:
            """A[r, (s, j)] (or tap-major for B read in place, A[r, (j, s)]) = the filter of output row r,
            source s, tap taps[j]: w[r, s, t] (w[s, r, t] for the input gradient)."""
            if not gradient and not in_place:      # w [O, C·T] is A as it is
                pack_rows(b, kf["w"], dst, rows, sources * len(taps), kp)
                return
            all_taps = geo.kernel_h * geo.kernel_w
            with counted_loop(b, 0, rows, name="r") as r:
                with counted_loop(b, 0, sources, name="s") as source:
                    at = affine(b, [(source, rows * all_taps), (r, all_taps)] if gradient else
                                [(r, sources * all_taps), (source, all_taps)])
                    for j, t in enumerate(taps):
                        column = affine(b, [(source, 1)], j * sources) if in_place else \
                            affine(b, [(source, len(taps))], j)
                        store_scalar(b, load_scalar(b, kf["w"], affine(b, [(at, 1)], t), I16), dst,
                                     affine(b, [(r, kp), (column, 1)]))

        if in_place:
            pack_b = _InPlace(kf, window, sources, elem_ptr(b, kf.thread_scratch(), gemm_bytes, I8)).packer()
        else:
            pack_b = _tap_packer(kf, window, sources, src_pixels, paired)
        finish = _by_images(kf, _phase_store(kf, geo, phase, window) if len(phases) > 1 else store, paired)
        emit_amx_gemm(kf, rows, k, BLOCK if paired else size, pack_a, pack_b, finish, _terms(kf, paired))
    return Kernel(name, (kf.finish(),), operands, scratch, flops=geo.flops, batch=geo.batch)


class _InPlace:
    """B read by the tiles in place from a staged copy of the image, for a shifted window over rows of
    whole vectors and sources in blocks of 32: the copy holds channel pairs as 32-bit words, [S/2, Hp,
    Wp], zero padded by the window's reach, so tap j of 16 output pixels of one row is 16 consecutive
    words, shifted, and 16 channel pairs of it lie one plane apart: one tile load, no packing. k then
    runs tap-major (A[r, (j, s)]). A thread stages an image when its first block of it comes."""

    def __init__(self, kf: KernelFunction, window: _Window, sources: int, staged: ir.Value):
        self.kf, self.window, self.sources, self.staged = kf, window, sources, staged
        (self.top, self.left), (bottom, right) = self.pads(window)
        self.height, self.width = window.src[0] + self.top + bottom, window.src[1] + self.left + right
        b = kf.builder
        zero_region(b, staged, self.nbytes(window, sources))             # the border stays zero
        self.current = entry_alloca(b, I64, "staged.image")
        b.store(i64(-1), self.current)

    @staticmethod
    def pads(window: _Window) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, left), (bottom, right)): how far the taps reach past the image."""
        dys, dxs = [0] + [dy for dy, _ in window.offsets], [0] + [dx for _, dx in window.offsets]
        return (max(0, -min(dys)), max(0, -min(dxs))), (max(0, max(dys)), max(0, max(dxs)))

    @staticmethod
    def takes(window: _Window, sources: int, paired: bool) -> bool:
        return window.shifted and not paired and window.out[1] % LANES == 0 and sources % BLOCK == 0

    @staticmethod
    def nbytes(window: _Window, sources: int) -> int:
        (top, left), (bottom, right) = _InPlace.pads(window)
        return round_up((sources // 2) * (window.src[0] + top + bottom) * (window.src[1] + left + right) * 4)

    def packer(self):
        b, window, width = self.kf.builder, self.window, self.window.out[1]
        plane = self.height * self.width

        def pack_b(image, col0, columns: int, dst):
            """Stage the image if this thread has not, and return the products reading it in place."""
            with b.if_then(b.icmp_signed("!=", b.load(self.current), image)):
                self.stage(image)
                b.store(image, self.current)
            # each half's first pixel; a half past the block's columns reads the first half again
            pixels = [affine(b, [(col0, 1)], (h if columns > LANES else 0) * LANES) for h in range(2)]
            starts = [b.add(b.mul(b.udiv(q, i64(width)), i64(self.width)), b.urem(q, i64(width))) for q in pixels]

            def add(tiles, a_rows):
                for j, (dy, dx) in enumerate(window.offsets):
                    with counted_loop(b, 0, self.sources // BLOCK, name="sb") as block:
                        first = affine(b, [(block, 16 * plane)], (dy + self.top) * self.width + dx + self.left)
                        halves = [elem_ptr(b, self.staged, b.add(start, as_value(first)), I32) for start in starts]
                        add_k_block(tiles, elem_ptr(b, a_rows, affine(b, [(block, BLOCK)], j * self.sources), I16),
                                    round_up(len(window.taps) * self.sources, BLOCK) * 2, halves, plane * 4)
            return add
        return pack_b

    def stage(self, image) -> None:
        """The image's channel pairs, as words, into the copy's interior."""
        b, (rows, width) = self.kf.builder, self.window.src
        interleave = [lane // 2 + (lane % 2) * LANES for lane in range(2 * LANES)]
        with counted_loop(b, 0, self.sources // 2, name="cp") as pair:
            with counted_loop(b, 0, rows, name="y") as y:
                for x0 in range(0, width, LANES):
                    at = affine(b, [(image, self.sources * rows * width), (pair, 2 * rows * width), (y, width)], x0)
                    lo, hi = (load_vector(b, self.kf["src"], affine(b, [(at, 1)], c * rows * width), LANES, align=2,
                                          vty=BF16_VECTOR) for c in range(2))
                    store_vector(b, shuffle(b, lo, hi, interleave), self.staged,
                                 affine(b, [(pair, 2 * self.height * self.width), (y, 2 * self.width)],
                                        2 * (self.top * self.width + self.left + x0)), 2 * LANES, align=2)


def _tap_packer(kf: KernelFunction, window: _Window, sources: int, src_pixels: int, paired: bool):
    """emit_amx_gemm's pack_b: the k-pairs of B[(s, j), q] = src[s, tap j of output pixel q] over a block
    of output pixels, channels by pairs (so each pair's 2·T values of k fall in place at build time)."""
    b, count = kf.builder, len(window.taps)

    def pack_b(item, col0, width: int, dst: ir.Value) -> None:
        parts = _halves(kf, paired, item, col0)
        reads = _tap_reads(b, window, parts, width)

        def tap(channel, j: int):
            """half -> the 16 values of tap j of channel `channel` over the block's pixels in that half."""
            shift = window.shift(b, *window.offsets[j])

            def half(h: int) -> ir.Value:
                image, first, _ = parts[h]
                return _read(b, kf["src"], window, affine(b, [(image, sources * src_pixels), (channel, src_pixels)]),
                             first, shift, *reads[j, h])
            return half

        def channels(pair, number: int) -> None:
            """The k-pairs of channels 2·pair and on (`number` of them): their values of k in order."""
            ks = [(c, j) for c in range(number) for j in range(count)]
            first = affine(b, [(pair, 2)])
            for i in range(0, len(ks), 2):
                (c, j), odd = ks[i], ks[i + 1] if i + 1 < len(ks) else None
                store_pair(b, dst, affine(b, [(pair, count)], i // 2), width, tap(affine(b, [(first, 1)], c), j),
                           tap(affine(b, [(first, 1)], odd[0]), odd[1]) if odd else None)

        with counted_loop(b, 0, sources // 2, name="cp") as pair:
            channels(pair, 2)
        if sources % 2:
            channels(sources // 2, 1)
    return pack_b


def _by_images(kf: KernelFunction, store, paired: bool):
    """emit_amx_gemm's finish(item, ...) through store(image, row, col, lanes, acc): a paired block's
    halves are images 2·item and 2·item + 1 (which may not exist)."""
    b = kf.builder

    def finish(item, row, col, lanes: int, acc: ir.Value) -> None:
        if not paired:
            store(item, row, col, lanes, acc)
            return
        image = b.add(affine(b, [(item, 2)]), b.udiv(col, i64(LANES)))      # col is 0 or 16
        with b.if_then(b.icmp_signed("<", image, kf.batch)):
            store(image, row, 0, lanes, acc)
    return finish


def _phase_store(kf: KernelFunction, geo: ConvGeometry, phase: tuple[int, int], window: _Window):
    """store(image, channel, col, lanes, acc) for one phase of a strided input gradient: each row of the
    phase's pixels (`columns` of them, a vector's lanes or a whole division of them) goes to dx's row
    py + a·sh, every sw-th element from px, as one masked store (the other phases' elements in between
    are untouched)."""
    b, (sh, sw), (py, px), (_, columns) = kf.builder, geo.stride, phase, window.out
    run, dtype = min(columns, LANES), kf.operand("y").dtype
    every_sw = [lane % sw == 0 for lane in range(run * sw)]

    def store(image, channel, col, lanes: int, acc: ir.Value) -> None:
        value = stored(b, acc, dtype)
        for r in range(0, lanes, run):
            q = affine(b, [(col, 1)], r)          # the run's first pixel: row a, column c0 of the phase
            a, c0 = divmod(q, columns) if isinstance(q, int) else (b.udiv(q, i64(columns)), b.urem(q, i64(columns)))
            at = affine(b, [(image, geo.in_channels * geo.height * geo.width), (channel, geo.height * geo.width),
                            (a, sh * geo.width), (c0, sw)], py * geo.width + px)
            spread = shuffle(b, value, None, [r + lane // sw if on else 0 for lane, on in enumerate(every_sw)])
            store_masked(b, spread, elem_ptr(b, kf["y"], at, spread.type.element), every_sw)
    return store


def _read(b: ir.IRBuilder, src: ir.Value, window: _Window, base, first, shift, mask: ir.Value,
          index: ir.Value) -> ir.Value:
    """The 16 values of one tap of the output pixels from `first`, from the image channel at element
    `base` of src: one masked load of a shifted window (by `shift`), else a gather of the pixels' `index`es;
    zero off `mask` (_tap_reads)."""
    if window.shifted:       # not inbounds: a masked lane's address may precede the image
        return masked_load(b, b.gep(src, [affine(b, [(base, 1), (first, 1), (shift, 1)])], source_etype=I16), mask)
    return masked_gather(b, src, as_value(base), index, mask)


def _stored_dtype(epilogue: Epilogue) -> str:
    """What the kernel stores: bfloat16, or float32 when its epilogue ends in float32 (KernelSpec.wide_epilogue)."""
    return "f32" if epilogue.result == "f32" else "bf16"


def _halves(kf: KernelFunction, paired: bool, index, first) -> list[tuple]:
    """Per half of a block of 32 pixels: (its image, the image's first pixel there, whether the image exists;
    None: it does). Images of 16 pixels are `paired`, two to a block, one in each half, rather than half a
    block of padding: block `index` holds images 2·index and 2·index + 1. Otherwise the block holds pixels
    from `first` of image `index`."""
    b = kf.builder
    if not paired:
        return [(index, affine(b, [(first, 1)], h * LANES), None) for h in range(2)]
    second = affine(b, [(index, 2)], 1)
    return [(affine(b, [(index, 2)]), 0, None), (second, 0, b.icmp_signed("<", second, kf.batch))]


def _terms(kf: KernelFunction, paired: bool) -> ir.Value:
    """The work's images, or pairs of images."""
    return kf.builder.udiv(kf.builder.add(kf.batch, i64(1)), i64(2)) if paired else kf.batch


def _term_count(batch: int, paired: bool) -> int:
    """_terms of a whole batch."""
    return (batch + 1) // 2 if paired else batch


def _tap_reads(b: ir.IRBuilder, window: _Window, halves, width: int) -> dict:
    """{(tap, half): (mask, index)} for each half of a block (of the `width` pixels in the block; `halves`
    as in emit_amx_conv2d: the image, its first pixel there, whether it exists): which pixels have the
    tap inside the source, and where (_inside)."""
    reads = {}
    for h, (_, first, exists) in enumerate(halves):
        if width > h * LANES:
            pixels = _pixels(b, window, first, exists)
            for j, (dy, dx) in enumerate(window.offsets):
                reads[j, h] = _inside(b, window, pixels, dy, dx)
    return reads


def _pixels(b: ir.IRBuilder, window: _Window, first, exists) -> tuple:
    """(rows, columns, which are real) of the 16 output pixels of an image from `first`: real when inside
    the output and the image exists (`exists` None: it does)."""
    vector = ir.VectorType(I32, LANES)
    height, width = window.out
    q = b.add(broadcast(b, b.trunc(as_value(first), I32)), iota())
    oy = b.udiv(q, ir.Constant(vector, width))
    real = b.icmp_unsigned("<", q, ir.Constant(vector, height * width))
    return oy, b.sub(q, b.mul(oy, ir.Constant(vector, width))), \
        real if exists is None else b.and_(real, broadcast(b, exists))


def _inside(b: ir.IRBuilder, window: _Window, pixels: tuple, dy, dx) -> tuple[ir.Value, ir.Value]:
    """(mask, index): which of the pixels are real with their tap, at offset (dy, dx) (python ints or i32
    values: a tap's offsets), inside the source, and the tap's element in the source image."""
    oy, ox, real = pixels
    coords = []
    for coord, stride, delta in ((oy, window.stride[0], dy), (ox, window.stride[1], dx)):
        scaled = coord if stride == 1 else b.mul(coord, ir.Constant(coord.type, stride))
        coords.append(b.add(scaled, ir.Constant(coord.type, delta) if isinstance(delta, int) else broadcast(b, delta)))
    inside = [b.icmp_unsigned("<", coord, ir.Constant(coord.type, extent)) for coord, extent in zip(coords, window.src)]
    return b.and_(real, b.and_(*inside)), b.add(b.mul(coords[0], ir.Constant(oy.type, window.src[1])), coords[1])


def emit_amx_conv2d_grad_filter(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue) -> Kernel:
    """dw [O, C, KH, KW] = sum over images of dy[n] [O, P] @ B_n.T, B_n x[n]'s taps as in the forward.
    The kernel sums its transpose, dw.T [C·T, O] = sum of B_n @ dy[n].T (amx.emit_amx_summed): then A is
    the taps, each row two reads of 16 pixels (_read) per block of pixels and no transpose, and B dy's pixel
    pairs, a 32-bit transpose of dy, which is T·C/O times smaller than the taps. Operands dy, x, dw and
    the epilogue's (coordinates m: output channel, n: (input channel, tap)); the sums are transposed
    back 16x16 in registers before the epilogue."""
    window, taps = _Window.forward(geo), geo.kernel_h * geo.kernel_w
    src_pixels, pixels = geo.height * geo.width, geo.out_h * geo.out_w
    paired = pixels == LANES            # two 16-pixel images a term, as in the forward
    m, k, n = geo.in_channels * taps, BLOCK if paired else pixels, geo.out_channels
    kp, np_ = round_up(k, BLOCK), round_up(n, BLOCK)
    operands = kernel_operands([Operand("dy", geo.y_shape, dtype="bf16"), Operand("x", geo.x_shape, dtype="bf16"),
                                Operand("y", geo.w_shape, "out", _stored_dtype(epilogue))], epilogue.operands)
    scratch = Scratch(per_thread=scratch_bytes(m, k, n, terms=_term_count(geo.batch, paired)))
    kf = KernelFunction(module, name, operands, scratch)
    b = kf.builder

    def pack_a(term, dst, first, end, stride):
        """Rows (c, t) in [first, end) of the term's taps, from dst on, `stride` apart: x[image, c] at the
        tap of each output pixel."""
        end = b.select(b.icmp_signed("<", end, i64(m)), end, i64(m))
        with counted_loop(b, 0, kp // BLOCK, name="pixels") as block:
            parts = _halves(kf, paired, term, affine(b, [(block, BLOCK)]))
            pixels_of = [_pixels(b, window, start, exists) for _, start, exists in parts]
            with counted_loop(b, first, end, name="row") as row:
                channel, tap = b.udiv(row, i64(taps)), b.urem(row, i64(taps))
                dy, dx = (b.sub(b.mul(b.trunc(at, I32), ir.Constant(I32, dilation)), ir.Constant(I32, pad))
                          for at, dilation, pad in ((b.udiv(tap, i64(geo.kernel_w)), geo.dilation[0], geo.pad[0]),
                                                    (b.urem(tap, i64(geo.kernel_w)), geo.dilation[1], geo.pad[2])))
                shift = window.shift(b, dy, dx)
                values = [_read(b, kf["x"], window, affine(b, [(image, geo.in_channels * src_pixels),
                                                               (channel, src_pixels)]),
                                start, shift, *_inside(b, window, pixels_here, dy, dx))
                          for (image, start, _), pixels_here in zip(parts, pixels_of)]
                store_vector(b, shuffle(b, *values, list(range(BLOCK))), dst,
                             affine(b, [(row, stride), (first, -stride), (block, BLOCK)]), BLOCK)

    def pack_b(term, dst):
        if not paired:
            pack_transposed_pairs(b, elem_ptr(b, kf["dy"], b.mul(term, i64(n * k)), I16), dst, n, k, np_)
            return
        (image, _, _), (second, _, second_exists) = _halves(kf, paired, term, 0)
        low = b.icmp_unsigned("<", iota(), ir.Constant(ir.VectorType(I32, LANES), LANES // 2))
        exists = broadcast(b, second_exists)

        def row_words(row, p0, mask):       # words 0-7: image 2·term's 16 pixels; 8-15: the next image's
            first = elem_ptr(b, kf["dy"], affine(b, [(image, n * LANES), (row, LANES)]), I16)
            other = b.gep(kf["dy"], [affine(b, [(second, n * LANES), (row, LANES)], -LANES)], source_etype=I16)
            return b.or_(masked_words(b, first, b.and_(mask, low)),
                         masked_words(b, other, b.and_(mask, b.and_(b.not_(low), exists))))
        pack_transposed_pairs(b, kf["dy"], dst, n, k, np_, row_words)

    store = gemm_store(kf, (n, k, m), None, epilogue)      # dw as [O, C·T]
    finish = lambda row, col, lanes, acc: store(0, row, col, lanes, acc)     # noqa: E731
    emit_amx_summed(kf, m, k, n, pack_a, pack_b, finish, _terms(kf, paired), _term_count(geo.batch, paired),
                    transposed=True)
    return Kernel(name, (kf.finish(),), operands, scratch, flops=geo.flops, batch=geo.batch)
