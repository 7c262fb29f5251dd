"""Stride-1 convolutions whose output keeps the input's size, in bfloat16 on AMX tiles: the forward
(x, w -> y) and the input gradient (dy, w -> dx: the forward of dy with w's taps flipped and its channel
axes swapped, conv.py). Per image one GEMM (amx.emit_amx_gemm), out [R, H·W] = A [R, S·T] @ B [S·T, H·W]
over T = KH·KW taps: A the filters, packed once per call, and B the source's taps,

    B[(s, t), q] = src[s, q + shift(t)]  where tap t of output pixel q lies inside the image, else 0,

with shift(t) = (ky - top)·W + (kx - left). As the output has the input's size, a tap reads the output
pixel's own position shifted along the flattened image: one tap of 16 output pixels is one masked
16-lane load, and the mask (which of those pixels' taps lie inside the image) is the same for every
channel, so each block of 32 pixels computes its taps' masks once. The channels go by pairs, so that
the k-pairs of B (2T values per channel pair) fall in place at build time.
"""
from __future__ import annotations

from llvmlite import ir

from .amx import BLOCK, emit_amx_gemm, emit_amx_summed, masked_load, masked_words, pack_rows, pack_transposed_pairs, \
    scratch_bytes, store_pair
from .contract import Kernel, KernelFunction, Operand, Scratch, kernel_operands, round_up
from .conv import ConvGeometry
from .epilogue import Epilogue, LanePosition
from .loops import affine, as_value, counted_loop
from .matmul import gemm_store, stored
from .simd import I16, I32, I64, LANES, broadcast, elem_ptr, i64, iota, load_scalar, shuffle, store_scalar, \
    store_vector


def supports(geo: ConvGeometry) -> bool:
    """Stride 1 without dilation or groups, the output of the input's size (each side padded by half the
    kernel: 'same')."""
    return geo.stride == (1, 1) and geo.dilation == (1, 1) and geo.group == 1 and \
        (geo.out_h, geo.out_w) == (geo.height, geo.width)


def emit_amx_conv2d(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue,
                    gradient: bool = False) -> Kernel:
    """Operands src (x, or dy with `gradient`), w, y (y, or dx) and the epilogue's, all bfloat16; the
    epilogue sees matmul's coordinates: image i, channel m, pixel n of the flattened output."""
    taps, pixels = geo.kernel_h * geo.kernel_w, geo.height * geo.width
    sources, rows = (geo.out_channels, geo.in_channels) if gradient else (geo.in_channels, geo.out_channels)
    top, left = (geo.kernel_h - 1 - geo.pad[0], geo.kernel_w - 1 - geo.pad[2]) if gradient else geo.pad[::2]
    k, kp = sources * taps, round_up(sources * taps, BLOCK)
    image = lambda channels: (geo.batch, channels, geo.height, geo.width)
    operands = kernel_operands([Operand("src", image(sources), dtype="bf16"), Operand("w", geo.w_shape, dtype="bf16"),
                                Operand("y", image(rows), "out", _stored_dtype(epilogue))], epilogue.operands)
    scratch = Scratch(per_thread=scratch_bytes(rows, k, BLOCK, summed=False))
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
        masks = _tap_masks(b, geo, parts, width, top, left)

        def tap(channel, t: int):
            """half -> the 16 values of tap t of channel `channel` over the block's pixels in that half."""
            ky, kx = divmod(t, geo.kernel_w)
            shift = (ky - top) * geo.width + (kx - left)

            def half(h: int) -> ir.Value:         # not inbounds: a masked lane's address may precede the image
                image, first, _ = parts[h]
                at = b.gep(kf["src"], [affine(b, [(image, sources * pixels), (channel, pixels), (first, 1)], shift)],
                           source_etype=I16)
                return masked_load(b, at, masks[t, h])
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


def _tap_masks(b: ir.IRBuilder, geo: ConvGeometry, halves, width: int, top: int, left: int) -> dict:
    """{(tap, half): <16 x i1>}: which pixels of each half of a block (of the `width` in the block; `halves`
    as in emit_amx_conv2d: the image, its first pixel there, whether it exists) have the tap inside the
    image."""
    masks = {}
    for h, (_, first, exists) in enumerate(halves):
        if width > h * LANES:
            pixels = _pixels(b, geo, first, exists)
            for t in range(geo.kernel_h * geo.kernel_w):
                ky, kx = divmod(t, geo.kernel_w)
                masks[t, h] = _inside(b, geo, pixels, ky - top, kx - left)
    return masks


def _pixels(b: ir.IRBuilder, geo: ConvGeometry, first, exists) -> tuple:
    """(rows, columns, which are real) of the 16 pixels of an image from `first`: real when inside the
    image and the image exists (`exists` None: it does)."""
    vector = ir.VectorType(I32, LANES)
    q = b.add(broadcast(b, b.trunc(as_value(first), I32)), iota())
    oy = b.udiv(q, ir.Constant(vector, geo.width))
    real = b.icmp_unsigned("<", q, ir.Constant(vector, geo.height * geo.width))
    return oy, b.sub(q, b.mul(oy, ir.Constant(vector, geo.width))), \
        real if exists is None else b.and_(real, broadcast(b, exists))


def _inside(b: ir.IRBuilder, geo: ConvGeometry, pixels: tuple, dy, dx) -> ir.Value:
    """Which of the pixels, moved by (dy, dx) (python ints or i32 values), are real and inside the image."""
    oy, ox, real = pixels
    shifted = lambda coord, delta: b.add(coord, ir.Constant(coord.type, delta) if isinstance(delta, int) else
                                         broadcast(b, delta))
    inside = [b.icmp_unsigned("<", shifted(coord, delta), ir.Constant(coord.type, extent))
              for coord, delta, extent in ((oy, dy, geo.height), (ox, dx, geo.width))]
    return b.and_(real, b.and_(*inside))


def emit_amx_conv2d_grad_filter(module: ir.Module, name: str, geo: ConvGeometry, epilogue: Epilogue) -> Kernel:
    """dw [O, C, KH, KW] = sum over images of dy[n] [O, H·W] @ B_n.T, B_n x[n]'s taps as in the forward.
    The kernel sums its transpose, dw.T [C·T, O] = sum of B_n @ dy[n].T (amx.emit_amx_summed): then A is
    the taps, each row one masked 32-pixel load per block of pixels and no transpose, and B dy's pixel
    pairs, a 32-bit transpose of dy, which is T·C/O times smaller than the taps. Operands dy, x, dw and
    the epilogue's (coordinates m: output channel, n: (input channel, tap)); each result is stored
    transposed back, lane by lane."""
    taps, pixels = geo.kernel_h * geo.kernel_w, geo.height * geo.width
    paired = pixels == LANES            # two 16-pixel images a term, as in the forward
    m, k, n = geo.in_channels * taps, BLOCK if paired else pixels, geo.out_channels
    kp, np_ = round_up(k, BLOCK), round_up(n, BLOCK)
    operands = kernel_operands([Operand("dy", geo.y_shape, dtype="bf16"), Operand("x", geo.x_shape, dtype="bf16"),
                                Operand("y", geo.w_shape, "out", _stored_dtype(epilogue))], epilogue.operands)
    scratch = Scratch(per_thread=scratch_bytes(m, k, n, summed=True))
    kf = KernelFunction(module, name, operands, scratch)
    b = kf.builder
    top, left = geo.pad[0], geo.pad[2]

    def pack_a(term, dst, first, end):
        """Rows (c, t) in [first, end) of the term's taps: x[image, c] shifted by the tap, masked to the image."""
        end = b.select(b.icmp_signed("<", end, i64(m)), end, i64(m))
        with counted_loop(b, 0, kp // BLOCK, name="pixels") as block:
            parts = _halves(kf, paired, term, affine(b, [(block, BLOCK)]))
            pixels_of = [_pixels(b, geo, start, exists) for _, start, exists in parts]
            with counted_loop(b, first, end, name="row") as row:
                channel, tap = b.udiv(row, i64(taps)), b.urem(row, i64(taps))
                dy, dx = (b.sub(b.trunc(part, I32), ir.Constant(I32, offset)) for part, offset in
                          ((b.udiv(tap, i64(geo.kernel_w)), top), (b.urem(tap, i64(geo.kernel_w)), left)))
                shift = b.sext(b.add(b.mul(dy, ir.Constant(I32, geo.width)), dx), I64)
                values = []
                for (image, start, _), pixels_here in zip(parts, pixels_of):
                    at = b.gep(kf["x"], [b.add(affine(b, [(image, geo.in_channels * pixels), (channel, pixels),
                                                          (start, 1)]), shift)], source_etype=I16)
                    values.append(masked_load(b, at, _inside(b, geo, pixels_here, dy, dx)))
                store_vector(b, shuffle(b, *values, list(range(BLOCK))), dst, affine(b, [(row, kp), (block, BLOCK)]),
                             BLOCK)

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

    view = (("m", n), ("n", m))

    def finish(row, col, lanes: int, acc: ir.Value) -> None:
        """acc: dw.T[row, col:col + lanes], that is dw[col:col + lanes, row], through the epilogue."""
        value = epilogue.apply(b, acc, LanePosition({"m": col, "n": row}, "m", lanes, view), kf.args)
        value = stored(b, value, kf.operand("y").dtype)
        for lane in range(lanes):
            store_scalar(b, b.extract_element(value, ir.Constant(I32, lane)), kf["y"],
                         affine(b, [(col, m), (row, 1)], lane * m))

    emit_amx_summed(kf, m, k, n, pack_a, pack_b, finish, _terms(kf, paired))
    return Kernel(name, (kf.finish(),), operands, scratch, flops=geo.flops, batch=geo.batch)
