"""bfloat16 GEMMs on AMX tiles (tdpbf16ps) with float32 accumulation, on a CPU with AMX-BF16: matmul's
batched GEMM form y[i] = op(a) @ b[i] (a 1x1 convolution and its input gradient), and its sum over terms
y = sum over t of a[t] @ b[t].T (a 1x1 convolution's filter gradient).

An AMX tile holds 16 rows of 64 bytes. tmm0-3 accumulate a 32x32 block of y (2x2 tiles of 16 rows x 16
floats); tmm4-5 hold 16 rows of a, 32 k each; tmm6-7 hold 16 k-pairs of b for 16 columns, each pair's
two values side by side (b[2p, n], b[2p + 1, n]: AMX's pair layout). One tdpbf16ps adds 16x16x32
products, 16 times the multiply-adds of a 512-bit FMA.

Operands are packed into the thread's scratch, zero padded to 32 rows, 32 columns and 32 k so that every
tile load is whole: a as rows ([mp, kp]), b as k-pairs ([kp / 2, columns, 2]). The batched form packs
op(a) once and, per work item (an image and a 32-column block of y), that block of b; it runs every 32-row
block of y over k and hands the tiles' rows, a vector at a time, to `finish` (the epilogue and the store).
The summed form keeps float32 accumulators for its blocks of y in scratch; per term it packs a[t] and
b[t].T (b[t]'s rows hold the pairs: a 32-bit transpose) and adds the term's tiles into every block. Each
output is one chain over k (and t) in a fixed order, whatever the thread count.
"""
from __future__ import annotations

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import KernelFunction, round_up
from .loops import affine, counted_loop
from .simd import I1, I8, I16, I32, I64, LANES, PTR, V16F32, VOID, broadcast, declare, elem_ptr, i64, iota, \
    load_scalar, load_vector, shuffle, store_scalar, store_vector, transpose

BLOCK = 32                          # rows and columns of y per tile block; k per tdpbf16ps
ROW_BYTES = 64                      # of every tile: 16 floats or 32 bfloat16s
PAIR_ROW = BLOCK * 2                # bfloat16s per k-pair of a packed block of b
_A, _B = (4, 5), (6, 7)             # tile registers of a's two row halves and b's two column halves
BF16_VECTOR = ir.VectorType(I16, LANES)    # 16 bfloat16s
WORD = I32                                 # a k-pair of bfloat16s


SUMS_BYTES = 256 * 1024             # the float32 blocks of y a summed GEMM keeps in L2 across its terms
CHUNK_K = 256                       # k a summed GEMM runs through its accumulator tiles at once, over terms


def scratch_bytes(m: int, k: int, n: int, terms: int | None = None) -> int:
    """Per thread: packed a, packed b, the float32 block of y (or blocks: _summed_layout), the tile
    configuration; the batched form (terms None) packs one 32-column block of b at a time."""
    if terms is not None:
        return sum(round_up(size) for size in _summed_layout(m, k, n, terms)[2])
    mp, kp = round_up(m, BLOCK), round_up(k, BLOCK)
    return round_up(mp * kp * 2) + round_up(kp * BLOCK * 2) + BLOCK * BLOCK * 4 + 64


def _summed_layout(m: int, k: int, n: int, terms: int) -> tuple[int, int, list[int]]:
    """(group, chunk, region sizes) of a summed GEMM over at most `terms` terms. It adds all terms into
    `group` rows of y before it moves on: all of y when that fits SUMS_BYTES, so that each term's b is
    packed once (else every b is packed up front). The terms go by chunks of `chunk`, whose a's side by
    side make one run over CHUNK_K of k per accumulator tile load and store. Regions: packed a (the
    group's rows of a chunk), packed b (a chunk's, or every term's), the group's float32 sums, the tile
    configuration."""
    mp, kp, np_ = round_up(m, BLOCK), round_up(k, BLOCK), round_up(n, BLOCK)
    group = mp if mp * np_ * 4 <= SUMS_BYTES else max(BLOCK, SUMS_BYTES // (np_ * 4) // BLOCK * BLOCK)
    chunk = max(1, CHUNK_K // kp)
    b_terms = round_up(terms, chunk) if group < mp else chunk
    return group, chunk, [group * chunk * kp * 2, b_terms * kp * np_ * 2, group * np_ * 4, 64]


def _regions(kf: KernelFunction, sizes: list[int]) -> list[ir.Value]:
    """Consecutive regions of the thread's scratch, 64-byte aligned."""
    base, at, regions = kf.thread_scratch(), 0, []
    for size in sizes:
        regions.append(elem_ptr(kf.builder, base, at, I8))
        at += round_up(size)
    return regions


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

    def zero(self) -> None:
        for acc in range(4):
            self("tilezero", acc)

    def load_block(self, block: ir.Value, stride: int) -> None:
        """The accumulators from a 32x32 float block (rows `stride` floats apart)."""
        for acc in range(4):
            self.load(acc, self._quarter(block, acc, stride), stride * 4)

    def store_block(self, block: ir.Value, stride: int) -> None:
        for acc in range(4):
            self.store(acc, self._quarter(block, acc, stride), stride * 4)

    def _quarter(self, block: ir.Value, acc: int, stride: int) -> ir.Value:
        return elem_ptr(self.b, block, (acc // 2) * 16 * stride + (acc % 2) * LANES, V16F32.element)


def emit_amx_gemm(kf: KernelFunction, m: int, k: int, n: int, pack_a, pack_b, finish, images=None) -> None:
    """The thread's part of y[i] = A @ B[i] over `images` (default: the run-time `kf.batch`), A [m, k] and
    B[i] [k, n] given by their packers (`gemm_packers`, or a convolution's taps: conv_amx.py):
    pack_a(dst) writes A's rows into [mp, kp]; pack_b(image, col0, width, dst) writes the k-pairs of
    B[image]'s 32 columns from col0 ([kp / 2, 32, 2]; `width` of them in y), every pair of k, zero where
    a value is missing (both start zeroed: pairs past k stay so), or reads them in place: it then returns
    add(tiles, a_rows), which adds a's 32 rows at a_rows (kp apart) times those columns into the
    accumulator tiles (add_k_block). finish(image, row, col, lanes, acc) stores the float32 vector acc of
    y[image][row, col:col + lanes]."""
    b = kf.builder
    mp, kp = round_up(m, BLOCK), round_up(k, BLOCK)
    a_packed, b_packed, block, config = _regions(kf, [mp * kp * 2, kp * BLOCK * 2, BLOCK * BLOCK * 4, 64])
    tiles = _Tiles(b)
    tiles.configure(config)
    zero_region(b, a_packed, mp * kp * 2)
    zero_region(b, b_packed, kp * BLOCK * 2)
    pack_a(a_packed)

    full, tail = divmod(n, BLOCK)
    column_blocks = full + (tail > 0)
    lo, hi = emit_split_range(b, kf.tid, kf.nthreads, b.mul(images or kf.batch, i64(column_blocks)))
    with counted_loop(b, lo, hi, name="item") as item:
        image = b.udiv(item, i64(column_blocks))
        col0 = b.mul(b.urem(item, i64(column_blocks)), i64(BLOCK))

        def columns(width: int) -> None:
            add = pack_b(image, col0, width, b_packed) or \
                (lambda tiles, a_rows: _add_products(tiles, a_rows, kp, kp // BLOCK, b_packed, BLOCK))
            with counted_loop(b, 0, mp // BLOCK, name="rows") as row_block:
                row0 = b.mul(row_block, i64(BLOCK))
                tiles.zero()
                add(tiles, elem_ptr(b, a_packed, b.mul(row0, i64(kp)), I16))
                tiles.store_block(block, BLOCK)
                _finish_block(b, block, BLOCK, row0, col0, m, width, lambda *args: finish(image, *args))

        _by_width(b, b.icmp_signed("==", col0, i64(full * BLOCK)), tail, columns)
    tiles("tilerelease")


def emit_amx_summed(kf: KernelFunction, m: int, k: int, n: int, pack_a, pack_b, finish, terms=None,
                    max_terms: int = 0, transposed: bool = False) -> None:
    """The thread's part of y = sum over `terms` (default: the run-time `kf.batch`, at most `max_terms`)
    of A[t] @ B[t], A[t] [m, k] and B[t] [k, n] given by their packers (`summed_packers`, or a
    convolution's taps): pack_a(term, dst, first, end, stride) writes A[term]'s rows [first, min(end, m))
    from dst on, `stride` bfloat16s apart (`first` and `end` multiples of 32); pack_b(term, dst) B[term]'s
    k-pairs, [kp / 2, np, 2]. Both start zeroed, and padding written once stays zero. finish(row, col,
    lanes, acc) stores the float32 vector acc of y[row, col:col + lanes], or, `transposed`, of
    y.T[row, col:col + lanes] (blocks transposed 16x16 in registers, so y.T's stores and epilogue are
    contiguous).

    The thread's blocks of y accumulate in float32 scratch, by groups of rows and chunks of terms
    (_summed_layout): a y larger than SUMS_BYTES would otherwise stream through memory once per term."""
    b = kf.builder
    mp, kp, np_ = round_up(m, BLOCK), round_up(k, BLOCK), round_up(n, BLOCK)
    group, chunk, sizes = _summed_layout(m, k, n, max_terms)
    a_packed, b_packed, sums, config = _regions(kf, sizes)
    tiles = _Tiles(b)
    tiles.configure(config)
    for region, size in zip((a_packed, b_packed), sizes):
        zero_region(b, region, size)          # the padding stays zero: the packing writes only real rows and pairs
    column_blocks = np_ // BLOCK
    terms = terms or kf.batch
    b_at = lambda term: elem_ptr(b, b_packed, b.mul(term, i64(kp * np_)), I16)     # noqa: E731

    def blocks(lo, hi, first, body) -> None:
        """body(row0, col0, its float32 block of y in `sums`) for blocks [lo, hi) (`sums` from row `first`)."""
        with counted_loop(b, lo, hi, name="item") as item:
            row0 = b.mul(b.udiv(item, i64(column_blocks)), i64(BLOCK))
            col0 = b.mul(b.urem(item, i64(column_blocks)), i64(BLOCK))
            body(row0, col0, elem_ptr(b, sums, affine(b, [(row0, np_), (first, -np_), (col0, 1)]), V16F32.element))

    def add_terms(lo, hi, chunk_b) -> None:
        """Every term into blocks [lo, hi), then finish them; chunk_b(first term, count) gives their packed b."""
        first = b.mul(b.udiv(lo, i64(column_blocks)), i64(BLOCK))
        end = b.mul(b.udiv(b.add(hi, i64(column_blocks - 1)), i64(column_blocks)), i64(BLOCK))
        zero_region(b, sums, sizes[2])
        with counted_loop(b, 0, b.udiv(b.add(terms, i64(chunk - 1)), i64(chunk)), name="chunk") as c:
            t0 = b.mul(c, i64(chunk))
            left = b.sub(terms, t0)
            count = b.select(b.icmp_signed("<", left, i64(chunk)), left, i64(chunk))
            with counted_loop(b, 0, count, name="term") as j:
                pack_a(b.add(t0, j), elem_ptr(b, a_packed, b.mul(j, i64(kp)), I16), first, end, chunk * kp)
            packed = chunk_b(t0, count)

            def add_chunk(row0, col0, block):
                tiles.load_block(block, np_)
                _add_products(tiles, elem_ptr(b, a_packed, b.mul(b.sub(row0, first), i64(chunk * kp)), I16),
                              chunk * kp, b.mul(count, i64(kp // BLOCK)),
                              elem_ptr(b, packed, b.mul(col0, i64(2)), I16), np_)
                tiles.store_block(block, np_)
            blocks(lo, hi, first, add_chunk)

        def finish_block(row0, col0, block):
            last = b.icmp_signed("==", col0, i64(np_ - BLOCK))
            if not transposed:
                _by_width(b, last, n % BLOCK, lambda width: _finish_block(b, block, np_, row0, col0, m, width, finish))
                return
            last_row = b.icmp_signed("==", row0, i64(mp - BLOCK))
            by_rows = lambda width: _by_width(b, last_row, m % BLOCK, lambda rows: _finish_transposed(  # noqa: E731
                b, block, np_, row0, col0, rows, width, finish))
            _by_width(b, last, n % BLOCK, by_rows)
        blocks(lo, hi, first, finish_block)

    if group == mp:                     # all of y at once, each chunk's b packed as it comes
        def this_chunk(t0, count):
            with counted_loop(b, 0, count, name="bterm") as j:
                pack_b(b.add(t0, j), b_at(j))
            return b_packed
        add_terms(*emit_split_range(b, kf.tid, kf.nthreads, i64(mp // BLOCK * column_blocks)), this_chunk)
    else:                               # whole rows of blocks by groups, every b packed first
        with counted_loop(b, 0, terms, name="bterm") as term:
            pack_b(term, b_at(term))
        lo, hi = emit_split_range(b, kf.tid, kf.nthreads, i64(mp // BLOCK))
        with counted_loop(b, lo, hi, step=group // BLOCK, name="group") as row_block:
            end = b.add(row_block, i64(group // BLOCK))
            end = b.select(b.icmp_signed("<", end, hi), end, hi)
            add_terms(b.mul(row_block, i64(column_blocks)), b.mul(end, i64(column_blocks)), lambda t0, _: b_at(t0))
    tiles("tilerelease")


def _by_width(b: ir.IRBuilder, last: ir.Value, tail: int, emit) -> None:
    """emit(width) for a 32-column block of y with `width` columns in y: `tail` when `last` (y's last
    block, partial), else 32."""
    if not tail:
        emit(BLOCK)
        return
    with b.if_else(last) as (partial, whole):
        with partial:
            emit(tail)
        with whole:
            emit(BLOCK)


def zero_region(b: ir.IRBuilder, dst: ir.Value, nbytes: int) -> None:
    """nbytes (a multiple of 64) of zeros at dst."""
    zero = ir.Constant(ir.VectorType(I16, BLOCK), None)
    with counted_loop(b, 0, nbytes // 64, name="zero") as chunk:
        store_vector(b, zero, dst, affine(b, [(chunk, BLOCK)]), BLOCK)


def _finish_block(b: ir.IRBuilder, block: ir.Value, stride: int, row0: ir.Value, col0: ir.Value, m: int,
                  width: int, finish) -> None:
    """finish(row, col, lanes, acc) for each vector of a float32 block of y (rows `stride` floats apart)
    within y's m rows and the block's `width` columns."""
    left = b.sub(i64(m), row0)
    rows = b.select(b.icmp_signed("<", left, i64(BLOCK)), left, i64(BLOCK))
    with counted_loop(b, 0, rows, name="r") as r:
        for half in range(2):
            lanes = min(LANES, width - half * LANES)
            if lanes > 0:
                acc = load_vector(b, block, affine(b, [(r, stride)], half * LANES), vty=V16F32)
                finish(affine(b, [(row0, 1), (r, 1)]), affine(b, [(col0, 1)], half * LANES), lanes, acc)


def _finish_transposed(b: ir.IRBuilder, block: ir.Value, stride: int, row0: ir.Value, col0: ir.Value, rows: int,
                       width: int, finish) -> None:
    """finish(col, row, lanes, acc) for y.T's vectors of a float32 block of y (rows `stride` floats apart;
    its first `rows` rows and `width` columns are y's), 16x16 at a time."""
    for i in range(0, rows, LANES):
        lanes = min(LANES, rows - i)
        for j in range(0, width, LANES):
            vectors = [load_vector(b, block, (i + r) * stride + j, vty=V16F32) for r in range(lanes)]
            for c, column in enumerate(transpose(b, vectors)[:min(LANES, width - j)]):
                finish(affine(b, [(col0, 1)], j + c), affine(b, [(row0, 1)], i), lanes, column)


def summed_packers(kf: KernelFunction, m: int, k: int, n: int):
    """emit_amx_summed's packers for matmul's a[t] [m, k] and b[t] [n, k] (B[t] = b[t].T)."""
    b, np_ = kf.builder, round_up(n, BLOCK)

    def pack_a(term, dst, first, end, stride):
        pack_rows(b, elem_ptr(b, kf["a"], b.mul(term, i64(m * k)), I16), dst, m, k, stride, rows=(first, end))

    def pack_b(term, dst):
        pack_transposed_pairs(b, elem_ptr(b, kf["b"], b.mul(term, i64(n * k)), I16), dst, n, k, np_)
    return pack_a, pack_b


def pack_rows(b: ir.IRBuilder, a: ir.Value, dst: ir.Value, m: int, k: int, kp: int, transpose_a: bool = False,
              rows=None) -> None:
    """dst[r, c] = op(a)[r, c] for r < m, c < k (dst zeroed before: its padding stays zero); given
    rows=(first, end), dst[r - first, c] for r in [first, end) only."""
    if transpose_a:                 # a is [k, m]: read along its rows, write down dst's columns
        with counted_loop(b, 0, k, name="ak") as c:
            with counted_loop(b, 0, m, name="am") as r:
                store_scalar(b, load_scalar(b, a, affine(b, [(c, m), (r, 1)]), I16), dst, affine(b, [(r, kp), (c, 1)]))
        return
    first, end = rows or (0, m)
    if rows:
        end = b.select(b.icmp_signed("<", end, i64(m)), end, i64(m))
    with counted_loop(b, first, end, name="am") as r:
        for c0 in range(0, k, BLOCK):
            chunk = load_vector(b, a, affine(b, [(r, k)], c0), min(BLOCK, k - c0), align=2,
                                vty=ir.VectorType(I16, BLOCK))
            store_vector(b, chunk, dst, affine(b, [(r, kp), (first, -kp)], c0), BLOCK)


def gemm_packers(kf: KernelFunction, m: int, k: int, n: int, transpose_a: bool):
    """emit_amx_gemm's packers for matmul's operands: a ([m, k], or [k, m] with transpose_a) and b[i] [k, n]."""
    b, kp = kf.builder, round_up(k, BLOCK)

    def pack_b(image, col0, width, dst):
        src = elem_ptr(b, kf["b"], b.mul(image, i64(k * n)), I16)
        rows = lambda kk, half: load_vector(b, src, affine(b, [(kk, n), (col0, 1)], half * LANES),
                                            min(LANES, width - half * LANES), align=2, vty=BF16_VECTOR)
        whole, odd = divmod(k, 2)
        with counted_loop(b, 0, whole, name="pair") as p:
            store_pair(b, dst, p, width, lambda half: rows(affine(b, [(p, 2)]), half),
                       lambda half: rows(affine(b, [(p, 2)], 1), half))
        if odd:
            store_pair(b, dst, whole, width, lambda half: rows(k - 1, half), None)
    return (lambda dst: pack_rows(b, kf["a"], dst, m, k, kp, transpose_a)), pack_b


def store_pair(b: ir.IRBuilder, dst: ir.Value, p, width: int, even, odd) -> None:
    """Pair p of a packed 32-column block of b: even(half) and odd(half) give the two k's 16 values of
    each half of the block (odd None: zeros); a half past `width` is left as it is (no output reads it)."""
    interleave = [lane // 2 + (lane % 2) * LANES for lane in range(2 * LANES)]
    for half in range(2):
        if width > half * LANES:
            second = odd(half) if odd else ir.Constant(BF16_VECTOR, None)
            store_vector(b, shuffle(b, even(half), second, interleave), dst,
                         affine(b, [(p, PAIR_ROW)], half * 2 * LANES), 2 * LANES)


def masked_load(b: ir.IRBuilder, ptr: ir.Value, mask: ir.Value, vector: ir.VectorType = BF16_VECTOR) -> ir.Value:
    """A `vector` from 2-byte aligned ptr, the lanes off the run-time `mask` zero and not read (so ptr
    may lie outside the buffer where they would)."""
    suffix = f"v{vector.count}i{vector.element.width}"
    load = declare(b.module, f"llvm.masked.load.{suffix}.p0", vector, [PTR, ir.VectorType(I1, vector.count), vector])
    call = b.call(load, [ptr, mask, ir.Constant(vector, None)], arg_attrs={0: ()})
    call.arg_attributes[0].align = 2
    return call


def masked_gather(b: ir.IRBuilder, base: ir.Value, first, index: ir.Value, mask: ir.Value) -> ir.Value:
    """16 bfloat16s, element first + index[lane] (i64; <16 x i32>) of the array at the 4-byte aligned
    `base`, the lanes off `mask` zero and not read. x86 gathers 32-bit words at the least, so each lane
    reads the aligned word that holds its value and shifts the value out: at an odd end of the array that
    word's other half lies outside it, but never on another page."""
    word_vector = ir.VectorType(WORD, LANES)
    at = b.add(index, broadcast(b, b.trunc(b.and_(first, i64(1)), I32)))
    words = b.gep(b.gep(base, [b.ashr(first, i64(1))], source_etype=WORD),
                  [b.ashr(at, broadcast(b, ir.Constant(I32, 1)))], source_etype=WORD)
    words.type = ir.VectorType(PTR, LANES)      # llvmlite types a vector-index gep as one pointer
    gather = declare(b.module, "llvm.masked.gather.v16i32.v16p0", word_vector,
                     [words.type, ir.VectorType(I1, LANES), word_vector])
    loaded = b.call(gather, [words, mask, ir.Constant(word_vector, None)], arg_attrs={0: ()})
    loaded.arg_attributes[0].align = 4
    odd = b.and_(at, broadcast(b, ir.Constant(I32, 1)))
    return b.trunc(b.lshr(loaded, b.shl(odd, broadcast(b, ir.Constant(I32, 4)))), BF16_VECTOR)


def masked_words(b: ir.IRBuilder, ptr: ir.Value, mask: ir.Value) -> ir.Value:
    """16 k-pairs (<16 x i32>) from ptr: masked_load."""
    return masked_load(b, ptr, mask, ir.VectorType(WORD, LANES))


def pack_transposed_pairs(b: ir.IRBuilder, src: ir.Value, dst: ir.Value, n: int, k: int, np_: int,
                          row_words=None) -> None:
    """dst[p, j] = (src[j, 2p], src[j, 2p + 1]) for j < n and 2p < k (a missing value is zero): src [n, k]
    read as 32-bit pairs, transposed 16x16 at a time (dst zeroed before: its padding stays zero).
    `row_words(j, p0, mask)` may read row j's 16 words from p0 instead (a row made of pieces); k even."""
    words, odd = divmod(k, 2)
    word_vector = ir.VectorType(WORD, LANES)
    row_words = row_words or (lambda j, p0, mask: masked_words(b, elem_ptr(b, src, affine(b, [(j, k), (p0, 2)]), I16),
                                                               mask))
    if words:
        with counted_loop(b, 0, -(-n // LANES), name="tj") as tj:
            with counted_loop(b, 0, -(-words // LANES), name="tp") as tp:
                j0, p0 = affine(b, [(tj, LANES)]), affine(b, [(tp, LANES)])
                pairs = b.trunc(b.sub(i64(words), p0), I32)             # of the rows' 16 words, those within k
                in_k = b.icmp_signed("<", iota(), broadcast(b, pairs))
                rows = []
                for j in range(LANES):                                  # rows past n read as zeros
                    row = affine(b, [(j0, 1)], j)
                    in_n = broadcast(b, b.icmp_signed("<", row, i64(n)))
                    rows.append(b.bitcast(row_words(row, p0, b.and_(in_k, in_n)), V16F32))
                for i, column in enumerate(transpose(b, rows)):
                    b.store(b.bitcast(column, word_vector), elem_ptr(b, dst, affine(b, [(p0, np_), (j0, 1)], i * np_),
                                                                     WORD), align=4)
    if odd:                           # the last pair of each row: its one value, then zero
        with counted_loop(b, 0, n, name="tail") as j:
            value = b.zext(load_scalar(b, src, affine(b, [(j, k)], k - 1), I16), WORD)
            b.store(value, elem_ptr(b, dst, affine(b, [(j, 1)], words * np_), WORD), align=4)


def _add_products(tiles: _Tiles, a_rows: ir.Value, stride: int, k_blocks, b_pairs: ir.Value, columns: int) -> None:
    """The 2x2 accumulator tiles += a_rows[0:32, :32·k_blocks] (rows `stride` apart) @ the 32 columns of
    packed b at b_pairs (pair rows `columns` pairs apart)."""
    b = tiles.b
    with counted_loop(b, 0, k_blocks, name="kb") as kb:
        halves = [elem_ptr(b, b_pairs, affine(b, [(kb, 16 * 2 * columns)], half * LANES * 2), I16) for half in range(2)]
        add_k_block(tiles, elem_ptr(b, a_rows, affine(b, [(kb, BLOCK)]), I16), stride * 2, halves, columns * 4)


def add_k_block(tiles: _Tiles, a_rows: ir.Value, a_stride: int, b_halves: list[ir.Value], b_stride: int) -> None:
    """The 2x2 accumulator tiles += 32 k of a's 32 rows at a_rows (`a_stride` bytes apart) @ 16 k-pairs of
    b's two 16-column halves at b_halves (pair rows `b_stride` bytes apart)."""
    for half, tile in enumerate(_A):
        tiles.load(tile, elem_ptr(tiles.b, a_rows, half * 16 * a_stride, I8), a_stride)
    for tile, at in zip(_B, b_halves):
        tiles.load(tile, at, b_stride)
    for acc, (x, y) in enumerate((x, y) for x in _A for y in _B):
        tiles("tdpbf16ps", acc, x, y)


