"""bfloat16 GEMM on AMX tiles (tdpbf16ps): y[i] = op(a) @ b[i] with float32 accumulation, for matmul's
batched GEMM form (a 1x1 convolution and its input gradient) on a CPU with AMX-BF16.

An AMX tile holds 16 rows of 64 bytes. tmm0-3 accumulate a 32x32 block of y (2x2 tiles of 16 rows x 16
floats); tmm4-5 hold 16 rows of a, 32 k each; tmm6-7 hold 16 k-pairs of b for 16 columns, each pair's
two values side by side (b[2p, n], b[2p + 1, n]: AMX's pair layout). One tdpbf16ps adds 16x16x32
products, 16 times the multiply-adds of a 512-bit FMA.

Each thread packs op(a) once into its scratch ([mp, kp] rows, zero padded to 32 rows and 32 k, so every
tile load is whole), then takes its share of the work items, an image and a 32-column block of y: it
packs that block of b in pairs ([kp / 2, 32, 2], zero padded), and for every 32-row block of y runs the
2x2 tiles over k, stores them to scratch and hands each vector of each row to `finish` (the epilogue and
the store). Each output is one chain over k in a fixed order, whatever the thread count.
"""
from __future__ import annotations

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import KernelFunction, round_up
from .loops import affine, counted_loop
from .simd import I8, I16, I64, LANES, PTR, V16F32, VOID, declare, elem_ptr, i64, load_scalar, load_vector, \
    shuffle, store_scalar, store_vector

BLOCK = 32                          # rows and columns of y per tile block; k per tdpbf16ps
ROW_BYTES = 64                      # of every tile: 16 floats or 32 bfloat16s
PAIR_ROW = BLOCK * 2                # bfloat16s per k-pair of a packed block of b
_A, _B = (4, 5), (6, 7)             # tile registers of a's two row halves and b's two column halves
BF16_VECTOR = ir.VectorType(I16, LANES)    # 16 bfloat16s


def scratch_bytes(m: int, k: int) -> int:
    """Per thread: packed op(a), one packed block of b, a 32x32 float block of y, the tile configuration."""
    return round_up(round_up(m, BLOCK) * round_up(k, BLOCK) * 2) + round_up(k, BLOCK) * PAIR_ROW + \
        BLOCK * BLOCK * 4 + 64


class _Tiles:
    """The AMX intrinsics at a builder; tile registers are immediates."""

    def __init__(self, builder: ir.IRBuilder):
        self.b = builder
        self.fns = {name: declare(builder.module, f"llvm.x86.{name}", VOID, args) for name, args in (
            ("ldtilecfg", [PTR]), ("tilerelease", []), ("tilezero", [I8]), ("tileloadd64", [I8, PTR, I64]),
            ("tilestored64", [I8, PTR, I64]), ("tdpbf16ps", [I8, I8, I8]))}

    def __call__(self, name: str, *args) -> None:
        self.b.call(self.fns[name], [ir.Constant(I8, a) if isinstance(a, int) else a for a in args])

    def configure(self, config: ir.Value) -> None:
        """Palette 1, tiles 0-7 of 16 rows x 64 bytes (bytes 16-47: bytes per row, 48-63: rows)."""
        data = [0] * 64
        data[0] = 1
        for tile in range(8):
            data[16 + 2 * tile], data[48 + tile] = ROW_BYTES, 16
        self.b.store(ir.Constant(ir.VectorType(I8, 64), data), config, align=1)
        self("ldtilecfg", config)

    def load(self, tile: int, ptr: ir.Value, stride: int) -> None:
        self("tileloadd64", tile, ptr, i64(stride))

    def store(self, tile: int, ptr: ir.Value, stride: int) -> None:
        self("tilestored64", tile, ptr, i64(stride))


def emit_amx_gemm(kf: KernelFunction, m: int, k: int, n: int, transpose_a: bool, finish) -> None:
    """The thread's part of y[i] = op(a) @ b[i] over the run-time number of images `kf.batch`;
    finish(image, row, col, lanes, acc) stores the float32 vector acc of y[image][row, col:col + lanes]."""
    b = kf.builder
    mp, kp = round_up(m, BLOCK), round_up(k, BLOCK)
    a_packed = kf.thread_scratch()
    b_packed = elem_ptr(b, a_packed, round_up(mp * kp * 2), I8)
    block = elem_ptr(b, b_packed, kp * PAIR_ROW, I8)
    tiles = _Tiles(b)
    tiles.configure(elem_ptr(b, block, BLOCK * BLOCK * 4, I8))
    _pack_a(b, kf["a"], a_packed, m, k, kp, transpose_a)

    full, tail = divmod(n, BLOCK)
    column_blocks = full + (tail > 0)
    lo, hi = emit_split_range(b, kf.tid, kf.nthreads, b.mul(kf.batch, i64(column_blocks)))
    with counted_loop(b, lo, hi, name="item") as item:
        image = b.udiv(item, i64(column_blocks))
        col0 = b.mul(b.urem(item, i64(column_blocks)), i64(BLOCK))
        b_image = elem_ptr(b, kf["b"], b.mul(image, i64(k * n)), I16)

        def columns(width: int) -> None:
            """The item's 32-column block of y, `width` of its columns in y."""
            _pack_b(b, b_image, b_packed, k, n, kp, col0, width)
            with counted_loop(b, 0, mp // BLOCK, name="rows") as row_block:
                row0 = b.mul(row_block, i64(BLOCK))
                _tile_block(tiles, a_packed, b_packed, block, row0, kp)
                left = b.sub(i64(m), row0)
                rows = b.select(b.icmp_signed("<", left, i64(BLOCK)), left, i64(BLOCK))
                with counted_loop(b, 0, rows, name="r") as r:
                    for half in range(2):
                        lanes = min(LANES, width - half * LANES)
                        if lanes > 0:
                            acc = load_vector(b, block, affine(b, [(r, BLOCK)], half * LANES), vty=V16F32)
                            finish(image, affine(b, [(row0, 1), (r, 1)]), affine(b, [(col0, 1)], half * LANES),
                                   lanes, acc)

        if tail:
            with b.if_else(b.icmp_signed("==", col0, i64(full * BLOCK))) as (partial, whole):
                with partial:
                    columns(tail)
                with whole:
                    columns(BLOCK)
        else:
            columns(BLOCK)
    tiles("tilerelease")


def _pack_a(b: ir.IRBuilder, a: ir.Value, dst: ir.Value, m: int, k: int, kp: int, transpose_a: bool) -> None:
    """dst[r, c] = op(a)[r, c] for r < m, c < k, zero elsewhere in [round_up(m, 32), kp]."""
    zero = ir.Constant(ir.VectorType(I16, BLOCK), None)
    with counted_loop(b, 0, round_up(m, BLOCK) * kp // BLOCK, name="zero") as chunk:
        store_vector(b, zero, dst, affine(b, [(chunk, BLOCK)]), BLOCK)
    if transpose_a:                 # a is [k, m]: read along its rows, write down dst's columns
        with counted_loop(b, 0, k, name="ak") as c:
            with counted_loop(b, 0, m, name="am") as r:
                store_scalar(b, load_scalar(b, a, affine(b, [(c, m), (r, 1)]), I16), dst, affine(b, [(r, kp), (c, 1)]))
        return
    with counted_loop(b, 0, m, name="am") as r:
        for c0 in range(0, k, BLOCK):
            chunk = load_vector(b, a, affine(b, [(r, k)], c0), min(BLOCK, k - c0), align=2,
                                vty=ir.VectorType(I16, BLOCK))
            store_vector(b, chunk, dst, affine(b, [(r, kp)], c0), BLOCK)


def _pack_b(b: ir.IRBuilder, src: ir.Value, dst: ir.Value, k: int, n: int, kp: int, col0: ir.Value,
            width: int) -> None:
    """dst[p, j] = (src[2p, col0 + j], src[2p + 1, col0 + j]) for j < width and 2p + 1 < k (a missing
    value is zero) over kp / 2 pairs, 32 columns each."""
    interleave = [lane // 2 + (lane % 2) * LANES for lane in range(2 * LANES)]
    nothing = ir.Constant(BF16_VECTOR, None)

    def pair(p, rows: int) -> None:
        for half in range(2):
            lanes = min(LANES, width - half * LANES)
            row = lambda kk: load_vector(b, src, affine(b, [(kk, n), (col0, 1)], half * LANES), lanes, align=2,
                                         vty=BF16_VECTOR) if lanes > 0 else nothing
            even = row(affine(b, [(p, 2)])) if rows > 0 else nothing
            odd = row(affine(b, [(p, 2)], 1)) if rows > 1 else nothing
            store_vector(b, shuffle(b, even, odd, interleave), dst, affine(b, [(p, PAIR_ROW)], half * 2 * LANES),
                         2 * LANES)

    whole, odd = divmod(k, 2)
    with counted_loop(b, 0, whole, name="pair") as p:
        pair(p, 2)
    if odd:
        pair(whole, 1)
    with counted_loop(b, whole + odd, kp // 2, name="pad") as p:
        pair(p, 0)


def _tile_block(tiles: _Tiles, a_packed: ir.Value, b_packed: ir.Value, block: ir.Value, row0: ir.Value,
                kp: int) -> None:
    """block[32, 32] (floats) = a_packed[row0:row0 + 32, :] @ the packed block of b."""
    b = tiles.b
    for acc in range(4):
        tiles("tilezero", acc)
    with counted_loop(b, 0, kp // BLOCK, name="kb") as kb:
        for half, tile in enumerate(_A):
            tiles.load(tile, elem_ptr(b, a_packed, affine(b, [(row0, kp), (kb, BLOCK)], half * 16 * kp), I16), kp * 2)
        for half, tile in enumerate(_B):
            tiles.load(tile, elem_ptr(b, b_packed, affine(b, [(kb, 16 * PAIR_ROW)], half * LANES * 2), I16),
                       PAIR_ROW * 2)
        for acc, (x, y) in enumerate((x, y) for x in _A for y in _B):
            tiles("tdpbf16ps", acc, x, y)
    for acc in range(4):
        offset = (acc // 2) * 16 * BLOCK + (acc % 2) * LANES
        tiles.store(acc, elem_ptr(b, block, offset, V16F32.element), BLOCK * 4)
