"""Convolutions in bfloat16 on AMX tiles: the forward (x, w -> y) of any stride, padding and dilation
without groups, its filter gradient, and the input gradient of a stride-1 one (dy, w -> dx: the forward
of dy with w's taps flipped and its channel axes swapped, conv.py). Per image one GEMM
(amx.emit_amx_gemm), out [R, P] = A [R, S·T] @ B [S·T, P] over T = KH·KW taps and the P output pixels:
A the filters, packed once per call, and B the source's taps,

    B[(s, t), q] = src[s, tap t of output pixel q]  where that lies inside the source, else 0   (_Window).

Where the output has the source's size at stride 1 (the common 'same' convolution), a tap of output
pixel q is q's own position shifted along the flattened image, so one tap of 16 output pixels is one
masked 16-lane load; otherwise it is one masked gather. The mask (which pixels' taps lie inside the
source) is the same for every channel, so each block of 32 pixels computes its taps' masks once. The
channels go by pairs, so that the k-pairs of B (2T values per channel pair) fall in place at build time.
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .amx import BLOCK, emit_amx_gemm, emit_amx_summed, masked_gather, masked_load, masked_words, pack_rows, \
    pack_transposed_pairs, scratch_bytes, store_pair
from .contract import Kernel, KernelFunction, Operand, Scratch, kernel_operands, round_up
from .conv import ConvGeometry
from .epilogue import Epilogue
from .loops import affine, as_value, counted_loop
from .matmul import gemm_store
from .simd import I16, I32, I64, LANES, broadcast, elem_ptr, i64, iota, load_scalar, shuffle, store_scalar, \
    store_vector


def supports(geo: ConvGeometry, input_gradient: bool = False) -> bool:
    """Ungrouped; an input gradient at stride 1 (at a larger stride dy's taps fall between its pixels)."""
    return geo.group == 1 and (not input_gradient or geo.stride == (1, 1))


@dataclass(frozen=True)
class _Window:
    """Where output pixel (oy, ox) of `out` finds tap (ky, kx) in the `src` image:
    (oy·stride + ky·dilation - origin, ...) per axis, outside the image a zero."""
    src: tuple[int, int]
    out: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    origin: tuple[int, int]

    @staticmethod
    def of(geo: ConvGeometry, input_gradient: bool = False) -> "_Window":
        if not input_gradient:
            return _Window((geo.height, geo.width), (geo.out_h, geo.out_w), geo.stride, geo.dilation, geo.pad[::2])
        span = [d * (k - 1) for d, k in zip(geo.dilation, (geo.kernel_h, geo.kernel_w))]   # flipped taps
        return _Window((geo.out_h, geo.out_w), (geo.height, geo.width), (1, 1), geo.dilation,
                       (span[0] - geo.pad[0], span[1] - geo.pad[2]))

    @property
    def shifted(self) -> bool:
        """Each tap is the output pixel's own position shifted along the flattened image."""
        return self.stride == self.dilation == (1, 1) and self.src == self.out

    def offset(self, b: ir.IRBuilder, axis: int, tap):
        """The tap's offset along `axis` from output pixel · stride (python int, or an i32 value)."""
        if isinstance(tap, int):
            return tap * self.dilation[axis] - self.origin[axis]
        return b.sub(b.mul(tap, ir.Constant(I32, self.dilation[axis])), ir.Constant(I32, self.origin[axis]))

    def shift(self, b: ir.IRBuilder, dy, dx):
        """Of a shifted window: a tap's offset (dy, dx) along the flattened image (int, or an i64 value)."""
        if isinstance(dy, int):
            return dy * self.src[1] + dx
        return b.sext(b.add(b.mul(dy, ir.Constant(I32, self.src[1])), dx), I64)


def emit_amx_conv2d(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue,
                    gradient: bool = False) -> Kernel:
    """Operands src (x, or dy with `gradient`), w, y (y, or dx) and the epilogue's, all bfloat16; the
    epilogue sees matmul's coordinates: image i, channel m, pixel n of the flattened output."""
    window, taps = _Window.of(geo, gradient), geo.kernel_h * geo.kernel_w
    src_pixels, pixels = window.src[0] * window.src[1], window.out[0] * window.out[1]
    sources, rows = (geo.out_channels, geo.in_channels) if gradient else (geo.in_channels, geo.out_channels)
    k, kp = sources * taps, round_up(sources * taps, BLOCK)
    operands = kernel_operands([Operand("src", (geo.batch, sources, *window.src), dtype="bf16"),
                                Operand("w", geo.w_shape, dtype="bf16"),
                                Operand("y", (geo.batch, rows, *window.out), "out", _stored_dtype(epilogue))],
                               epilogue.operands)
    scratch = Scratch(per_thread=scratch_bytes(rows, k, BLOCK))
    kf = KernelFunction(module, name, operands, scratch)
    b = kf.builder

    def pack_a(dst: ir.Value) -> None:
        if not gradient:                       # w [O, C·T] is A as it is
            pack_rows(b, kf["w"], dst, rows, k, kp)
            return
        with counted_loop(b, 0, rows, name="c") as c:          # A[c, (o, t)] = w[o, c, T - 1 - t]
            with counted_loop(b, 0, sources, name="o") as o:
                for t in range(taps):
                    value = load_scalar(b, kf["w"], affine(b, [(o, rows * taps), (c, taps)], taps - 1 - t), I16)
                    store_scalar(b, value, dst, affine(b, [(c, kp), (o, taps)], t))

    paired = pixels == LANES          # two images to a block of columns (_halves)

    def pack_b(item, col0, width: int, dst: ir.Value) -> None:
        parts = _halves(kf, paired, item, col0)
        reads = _tap_reads(b, geo, window, parts, width)

        def tap(channel, t: int):
            """half -> the 16 values of tap t of channel `channel` over the block's pixels in that half."""
            shift = window.shift(b, *(window.offset(b, axis, at) for axis, at in enumerate(divmod(t, geo.kernel_w))))

            def half(h: int) -> ir.Value:
                image, first, _ = parts[h]
                return _read(b, kf["src"], window, affine(b, [(image, sources * src_pixels), (channel, src_pixels)]),
                             first, shift, *reads[t, h])
            return half

        def channels(pair, count: int) -> None:
            """The k-pairs of channels 2·pair and on (`count` of them): their count·T values of k in order."""
            ks = [(c, t) for c in range(count) for t in range(taps)]
            first = affine(b, [(pair, 2)])
            for i in range(0, len(ks), 2):
                (c, t), odd = ks[i], ks[i + 1] if i + 1 < len(ks) else None
                store_pair(b, dst, affine(b, [(pair, taps)], i // 2), width, tap(affine(b, [(first, 1)], c), t),
                           tap(affine(b, [(first, 1)], odd[0]), odd[1]) if odd else None)

        with counted_loop(b, 0, sources // 2, name="cp") as pair:
            channels(pair, 2)
        if sources % 2:
            channels(sources // 2, 1)

    store = gemm_store(kf, (rows, k, pixels), geo.batch, epilogue)

    def finish(item, row, col, lanes: int, acc: ir.Value) -> None:
        if not paired:
            store(item, row, col, lanes, acc)
            return
        image = b.add(affine(b, [(item, 2)]), b.udiv(col, i64(LANES)))      # col is 0 or 16
        with b.if_then(b.icmp_signed("<", image, kf.batch)):
            store(image, row, 0, lanes, acc)

    emit_amx_gemm(kf, rows, k, BLOCK if paired else pixels, pack_a, pack_b, finish, _terms(kf, paired))
    return Kernel(name, (kf.finish(),), operands, scratch, flops=geo.flops, batch=geo.batch)


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


def _tap_reads(b: ir.IRBuilder, geo: ConvGeometry, window: _Window, halves, width: int) -> dict:
    """{(tap, half): (mask, index)} for each half of a block (of the `width` pixels in the block; `halves`
    as in emit_amx_conv2d: the image, its first pixel there, whether it exists): which pixels have the
    tap inside the source, and where (_inside)."""
    reads = {}
    for h, (_, first, exists) in enumerate(halves):
        if width > h * LANES:
            pixels = _pixels(b, window, first, exists)
            for t in range(geo.kernel_h * geo.kernel_w):
                reads[t, h] = _inside(b, window, pixels, *(window.offset(b, axis, at) for axis, at in
                                                           enumerate(divmod(t, geo.kernel_w))))
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
    values, _Window.offset), inside the source, and the tap's element in the source image."""
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
    window, taps = _Window.of(geo), geo.kernel_h * geo.kernel_w
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
                dy, dx = (window.offset(b, axis, b.trunc(at, I32)) for axis, at in
                          enumerate((b.udiv(tap, i64(geo.kernel_w)), b.urem(tap, i64(geo.kernel_w)))))
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
