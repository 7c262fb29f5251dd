"""matmul: y[M,N] = op(a) @ op(b), op = transpose when the flag is set (numpy `a.T @ b.T` style).

Operands: a ([M,K], or [K,M] with transpose_a), b ([K,N], or [N,K] with transpose_b), y [M,N],
then the epilogue's operands (and `scratch` when both flags are set). Given `batch` (GEMM form
only), b and y hold `batch` matrices and a is shared: y[i] = op(a) @ b[i], which is a 1x1
convolution over NCHW images (a = the weights [O, C], b[i] = image i as [C, H·W]); the epilogue
then sees coordinates (i, m, n).

Algorithms (each output element is one FMA chain over k = 0..K-1, so threads never change it):
* GEMM form (transpose_b False): 6 rows x 4 vectors of 16 columns = 24 zmm accumulators; per k,
  6 broadcasts of a and 4 vector loads of b. Column tails use masked loads and stores.
* dot form (transpose_b True, the `x @ w.T` of a dense layer): lanes run along k over contiguous
  rows of a and b; a 6x4 tile keeps 24 partial-sum vectors, summed horizontally at the end. With
  k <= SHORT_DOT (float32) each thread copies b transposed into panels instead and runs the GEMM form.
  With transpose_a too, each thread first copies a.T into its scratch.
* panels (float32, k <= PANEL_K): b as contiguous column panels of a tile's width, each thread's
  tiles taken panel by panel (PANEL_K, PANEL_ROWS).
Half operands (dtype "bf16" or "f16": a, b and y) are converted to float32 in registers where they
are loaded, and y rounded where it is stored; the accumulation is float32, as for "f32". bfloat16
goes by pairs of k, each float32 lane adding a pair of products (the odd one, then the even one):
one vdpbf16ps with `dpbf16` (a CPU with AVX512-BF16), else two FMAs on the halves widened in
registers, the same arithmetic (simd.dot_bf16). The dot form takes 32 elements of a row a step;
the GEMM form broadcasts a's pair and interleaves two rows of b (not when k is the run-time batch of
a weight gradient, which runs the float32 chain on widened values).
Given `terms` (dot form only), a and b hold `terms` matrices and y = sum over t of a[t] @ b[t].T: a
1x1 convolution's filter gradient, summed over its images (a[t] = dy[t] as [O, H·W], b[t] = x[t] as
[C, H·W]); each tile's sums run over every term, so a long reduction pays the horizontal sums once.
Work items are tiles, split contiguously over threads. The kernel's `batch`, read at run time, is
the number of matrices when given `batch` (the images of a 1x1 convolution), else the leading extent
of `a` (M, or K with transpose_a; with both flags, none): a dense layer's forward, input gradient
and weight gradient, and a 1x1 convolution, have the same IR at every batch size.
"""
from __future__ import annotations

from llvmlite import ir

from .contract import IR_TYPES, Kernel, KernelFunction, Operand, Scratch, kernel_operands
from .epilogue import IDENTITY, Epilogue, LanePosition
from .loops import affine, counted_loop, entry_alloca
from .simd import F32, I16, I32, LANES, V16F32, broadcast, dot_bf16, elem_ptr, f32_to_half, fma, half_to_f32, i64, \
    horizontal_sums, load_scalar, load_vector, shuffle, store_scalar, store_vector
from .movement import transpose_block
from .amx import emit_amx_gemm, emit_amx_summed, gemm_packers, scratch_bytes as amx_scratch_bytes, summed_packers
from .tile import Block, blocks, emit_fma_tile, emit_grid, runtime_blocks, vector_blocks

GEMM_ROWS, GEMM_VECTORS = 6, 4
DOT_ROWS, DOT_COLS = 6, 4
# `a @ b.T` with a reduction this short (an LSTM's dW_hh over its batch of 128) runs as the GEMM form
# on a copy of b transposed by each thread: the dot form's horizontal sums at every tile cost more
# than the copy (2 threads, [512,128] @ [128,128].T: 64 us dot form, 50 us copy and GEMM form).
SHORT_DOT = 128
# The GEMM form reads b by panels of a tile's width (GEMM_VECTORS vectors) over every k. A thread that
# takes its tiles row by row cycles through all the panels, and rows of b 512 bytes or more apart use
# half of L1's sets: where k is this short, each thread copies b into contiguous panels and takes its
# rows panel by panel, so one panel stays in L1. Measured, 1 thread, k = 128: 163-173 GFLOP/s on
# [510,128] @ [128,128] against 182-193 on [1020,128] @ [128,64] (b one contiguous panel); with panels,
# [512,128] @ [128,128] 162-173 -> 180-197, [300,100] @ [100,1000] 149-155 -> 171-187. At k = 256 a
# panel is past L1 (256^3: 173-181 -> 165-170), and at k = 512 the two layouts run alike.
PANEL_K = 128
# Each thread copies all of b, and reads each panel once per tile of its rows: with few rows the copy
# costs more than it saves ([48,120] @ [120,400], 2 threads: 14.4-14.8 us in place, 18.1-18.7 with panels;
# 128 and 192 rows: alike; 300 and 512 rows: 10-20% faster with panels).
PANEL_ROWS = 256
PANELS_ALWAYS, PANELS_LARGE = "always", "large"


def emit_matmul(module: ir.Module, name: str, m: int, k: int, n: int, transpose_a: bool = False,
                transpose_b: bool = False, epilogue: Epilogue = IDENTITY, batch: int | None = None, dtype: str = "f32",
                dpbf16: bool = False, terms: int | None = None, amx: bool = False) -> Kernel:
    if batch is not None and transpose_b:
        raise ValueError("a batched matmul has the GEMM form only (transpose_b=False)")
    if terms is not None and not (transpose_b and not transpose_a):
        raise ValueError("a sum of products over terms has the dot form only (transpose_b=True, transpose_a=False)")
    a_shape = (k, m) if transpose_a else (m, k)
    b_shape = (n, k) if transpose_b else (k, n)
    batched = (batch,) if batch is not None else ()
    summed = (terms,) if terms is not None else ()
    operands = kernel_operands([Operand("a", summed + a_shape, dtype=dtype),
                                Operand("b", summed + batched + b_shape, dtype=dtype),
                                Operand("y", batched + (m, n), "out", dtype)], epilogue.operands)
    amx = amx and dtype == "bf16" and (batch is not None or terms is not None)    # AMX tiles: kernels/amx.py
    # a bfloat16 pair of a.T's k (a 1x1 convolution's input gradient) is two elements m apart: one
    # 32-bit load each from a copy of a transposed, instead of two 16-bit loads joined in a vector
    # (measured, 2 threads, [576,96].T @ [96,4] over 64 images: 4.5 ms joined, float32's chain 0.5 ms)
    relayout_a = transpose_a and (transpose_b or (batch is not None and dtype == "bf16" and not amx))
    relayout_b = transpose_b and not transpose_a and terms is None and k <= SHORT_DOT and dtype == "f32"
    panels = PANELS_ALWAYS if relayout_b else PANELS_LARGE if _panelled(k, n, transpose_a, transpose_b, batch, dtype) \
        else None
    scratch = Scratch(per_thread=amx_scratch_bytes(m, k, n, terms)) if amx else \
        Scratch(per_thread=k * _panel_columns(n) * 4) if panels else \
        Scratch(per_thread=operands[0].nbytes) if relayout_a else Scratch()
    kf = KernelFunction(module, name, operands, scratch)
    shape = (m, k, n)
    if amx and terms is not None:
        finish = gemm_store(kf, shape, None, epilogue)
        emit_amx_summed(kf, m, k, n, *summed_packers(kf, m, k, n), lambda *args: finish(0, *args), max_terms=terms)
    elif amx:
        emit_amx_gemm(kf, m, k, n, *gemm_packers(kf, m, k, n, transpose_a), gemm_store(kf, shape, batch, epilogue))
    elif transpose_b and not relayout_b:
        a_rows = _transposed_copy(kf, kf["a"], k, m) if relayout_a else kf["a"]
        _emit_dot_form(kf, shape, a_rows, epilogue, runtime_rows=not transpose_a and terms is None,
                       summed=terms is not None, dpbf16=dpbf16)
    else:
        a_matrix = _transposed_copy(kf, kf["a"], k, m) if relayout_a else kf["a"]
        _emit_gemm_form(kf, shape, transpose_a and not relayout_a, epilogue, batch, dpbf16, a_matrix, panels)
    lead = terms if terms is not None else batch if batch is not None else 0 if relayout_a else a_shape[0]
    return Kernel(name, (kf.finish(),), operands, scratch, flops=2 * m * n * k * (batch or terms or 1), batch=lead)


def _split_tiles(kf: KernelFunction, axes, tile) -> None:
    emit_grid(kf.builder, axes, lambda starts, kinds: tile(*starts, *kinds), threads=(kf.tid, kf.nthreads))


def _emit_gemm_form(kf: KernelFunction, shape, transpose_a: bool, epilogue: Epilogue, batch: int | None,
                    dpbf16: bool, a: ir.Value, panels: str | None) -> None:
    """`panels`: None (b read where it is), PANELS_ALWAYS (b, transposed, copied into panels) or
    PANELS_LARGE (b copied into panels when a has PANEL_ROWS rows or more)."""
    m, k, n = shape
    b = kf.builder
    dtype = kf.operand("a").dtype
    element, vector = IR_TYPES[dtype], ir.VectorType(IR_TYPES[dtype], LANES)
    # bfloat16 k-pairs (simd.dot_bf16) when k is known here (not the run-time batch of a weight gradient)
    weight_gradient = batch is None and transpose_a
    pairs = dtype == "bf16" and not weight_gradient
    finish = gemm_store(kf, shape, batch, epilogue)
    # several matrices: their number is read at run time; one: a's leading extent (rows, or the
    # reduction with transpose_a)
    rows = blocks(m, GEMM_ROWS) if batch is not None or transpose_a else runtime_blocks(b, kf.batch, GEMM_ROWS)
    reduction = kf.batch if weight_gradient else k

    def tile(item, row0, vec0, _, rb: Block, cb: Block, b_matrix=kf["b"], panelled=False):
        col0 = affine(b, [(vec0, LANES)])
        bmat = elem_ptr(b, b_matrix, affine(b, [(item, k * n)]), element)
        lanes = [cb.lanes(j) for j in range(cb.size)]

        def a_scalar(i, kk):
            index = affine(b, [(kk, m), (row0, 1)], i) if transpose_a else affine(b, [(row0, k), (kk, 1)], i * k)
            return load_scalar(b, a, index, element)

        def b_row(j, kk):
            at = affine(b, [(col0, k), (kk, cb.size * LANES)], j * LANES) if panelled else \
                affine(b, [(kk, n), (col0, 1)], j * LANES)
            return load_vector(b, bmat, at, lanes[j], vty=vector)

        def a_pair(i, kk):
            return b.load(elem_ptr(b, a, affine(b, [(row0, k), (kk, 1)], i * k), element), typ=I32, align=2)

        if pairs:
            acc = _bf16_pairs_tile(b, rb.size, cb.size, k, a_scalar, None if transpose_a else a_pair, b_row,
                                   lambda builder, x, w, acc: dot_bf16(builder, x, w, acc, dpbf16))
        else:
            acc = emit_fma_tile(b, rb.size, cb.size, [(reduction, False)],
                                lambda i, kk: to_f32(b, broadcast(b, a_scalar(i, kk[0]))),
                                lambda j, kk: to_f32(b, b_row(j, kk[0])))
        for i in range(rb.size):
            for j in range(cb.size):
                finish(item, affine(b, [(row0, 1)], i), affine(b, [(col0, 1)], j * LANES), lanes[j], acc[i][j])

    def by_tiles(b_matrix, panelled):   # the tiles laid end to end, split over threads (the runtime axis first)
        _split_tiles(kf, [rows, vector_blocks(n, GEMM_VECTORS)],
                     lambda row0, vec0, rb, cb: tile(0, row0, vec0, None, rb, cb, b_matrix, panelled))

    def by_panels(b_matrix):    # panel by panel, the rows split over threads: one panel at a time in L1
        for kind in vector_blocks(n, GEMM_VECTORS):
            with counted_loop(b, 0, kind.count, name="panel") as panel:
                vec0 = affine(b, [(panel, kind.size)], kind.start)
                _split_tiles(kf, [rows], lambda row0, rb, vec0=vec0, kind=kind:
                             tile(0, row0, vec0, None, rb, kind, b_matrix, True))

    if batch is not None:
        _split_tiles(kf, [runtime_blocks(b, kf.batch, 1), rows, vector_blocks(n, GEMM_VECTORS)], tile)
    elif panels is None:
        by_tiles(kf["b"], False)
    else:       # with few rows a thread has too few tiles per panel, and the tiles are split instead
        copy = _copy_panels(kf, kf["b"], k, n, transposed=True) if panels == PANELS_ALWAYS else None
        with b.if_else(b.icmp_unsigned(">=", kf.batch, i64(PANEL_ROWS))) as (large, small):
            with large:
                by_panels(copy or _copy_panels(kf, kf["b"], k, n, transposed=False))
            with small:
                by_tiles(copy or kf["b"], copy is not None)


def gemm_store(kf: KernelFunction, shape, batch: int | None, epilogue: Epilogue):
    """finish(image, row, col, lanes, acc): the epilogue on the float32 vector acc of y[image][row, col:]
    (coordinates i, m, n), stored in operand y (rounded to its type)."""
    m, _, n = shape
    b, dtype = kf.builder, kf.operand("y").dtype
    view = ((("i", batch),) if batch is not None else ()) + (("m", m), ("n", n))

    def finish(image, row, col, lanes: int, acc: ir.Value) -> None:
        position = LanePosition({"i": image, "m": row, "n": col}, "n", lanes, view)
        value = stored(b, epilogue.apply(b, acc, position, kf.args), dtype)
        store_vector(b, value, kf["y"], affine(b, [(image, m * n), (row, n), (col, 1)]), lanes)
    return finish


def _bf16_pairs_tile(b: ir.IRBuilder, rows: int, cols: int, k: int, a_scalar, a_pair, b_row, accumulate):
    """The GEMM tile on bfloat16 k-pairs: per pair p, a[i, 2p..2p+1] broadcast as one 32-bit pair and
    rows 2p and 2p+1 of b interleaved, so each float32 lane adds its column's two products (an odd k
    is paired with a zero). `a_pair(i, 2p)`: the pair as one i32 where a's rows are contiguous, or None."""
    zero = ir.Constant(I16, 0)

    def pair_of(i, p):
        whole = not isinstance(p, int) or 2 * p + 1 < k
        if whole and a_pair is not None:          # a's two elements are adjacent: one 32-bit load
            pair = a_pair(i, affine(b, [(p, 2)]))
        else:
            first = a_scalar(i, affine(b, [(p, 2)]))
            second = a_scalar(i, affine(b, [(p, 2)], 1)) if whole else zero
            pair = b.bitcast(b.insert_element(b.insert_element(ir.Constant(ir.VectorType(I16, 2), None), first,
                                                               ir.Constant(I32, 0)), second, ir.Constant(I32, 1)), I32)
        return b.bitcast(broadcast(b, pair), ir.VectorType(I16, 2 * LANES))

    def rows_of(j, p):
        even = b_row(j, affine(b, [(p, 2)]))
        odd = b_row(j, affine(b, [(p, 2)], 1)) if not isinstance(p, int) or 2 * p + 1 < k else \
            ir.Constant(even.type, None)
        return shuffle(b, even, odd, [lane // 2 + (lane % 2) * LANES for lane in range(2 * LANES)])

    full, odd = divmod(k, 2)
    acc = emit_fma_tile(b, rows, cols, [(full, False)], lambda i, kk: pair_of(i, kk[0]),
                        lambda j, kk: rows_of(j, kk[0]), accumulate=accumulate) if full else None
    if odd:
        acc = emit_fma_tile(b, rows, cols, [(1, True)], lambda i, _: pair_of(i, full), lambda j, _: rows_of(j, full),
                            init=(lambda i, j: acc[i][j]) if acc else None, accumulate=accumulate)
    return acc


def _emit_dot_form(kf: KernelFunction, shape, a_rows: ir.Value, epilogue: Epilogue, runtime_rows: bool,
                   summed: bool, dpbf16: bool) -> None:
    """y[i, j] = dot(a_rows[i, :], b[j, :]), lanes along k; M read at run time if `runtime_rows`;
    `summed`: over the run-time batch of (a, b) pairs too. bfloat16 operands are multiplied in pairs
    (simd.dot_bf16; vdpbf16ps when `dpbf16`)."""
    m, k, n = shape
    b = kf.builder
    bmat, y = kf["b"], kf["y"]
    dtype = kf.operand("a").dtype
    pairs = dtype == "bf16"                  # 32 bfloat16s a step, added pairwise per float32 lane
    step = 2 * LANES if pairs else LANES
    vector = ir.VectorType(IR_TYPES[dtype], step)
    full_steps, tail = divmod(k, step)
    accumulate = (lambda builder, x, w, acc: dot_bf16(builder, x, w, acc, dpbf16)) if pairs else fma

    def tile(row0, col0, rb: Block, cb: Block):
        def operand(base, first, plane, term):
            def load(index, kk, lanes=step):
                terms = [(term, plane)] if term is not None else []
                value = load_vector(b, base, affine(b, terms + [(first, k), (kk[0], step)], index * k), lanes,
                                    vty=vector)
                return value if pairs else to_f32(b, value)
            return load

        def products(term, init):
            """The tile's sums over k of one (a, b) pair, added to `init` (None: zeros)."""
            a_load, b_load = operand(a_rows, row0, m * k, term), operand(bmat, col0, n * k, term)
            acc = init
            if full_steps:
                acc = emit_fma_tile(b, rb.size, cb.size, [(full_steps, False)], a_load, b_load,
                                    init=(lambda i, j: acc[i][j]) if acc else None, accumulate=accumulate)
            if tail:
                last = (full_steps,)
                acc = emit_fma_tile(b, rb.size, cb.size, [(1, True)],
                                    lambda i, _: a_load(i, last, tail), lambda j, _: b_load(j, last, tail),
                                    init=(lambda i, j: acc[i][j]) if acc else None, accumulate=accumulate)
            return acc

        acc = _summed_over_terms(b, kf.batch, rb.size, cb.size, products) if summed else products(None, None)
        rows_per_sum = LANES // cb.size   # whole rows per horizontal sum: lane = row * cols + col
        for first in range(0, rb.size, rows_per_sum):
            group = range(first, min(first + rows_per_sum, rb.size))
            sums = horizontal_sums(b, [acc[i][j] for i in group for j in range(cb.size)])
            for i in group:
                lane = (i - first) * cb.size
                row_values = shuffle(b, sums, None, [lane + j if j < cb.size else 0 for j in range(LANES)])
                row = affine(b, [(row0, 1)], i)
                position = LanePosition({"m": row, "n": col0}, "n", cb.size, (("m", m), ("n", n)))
                value = stored(b, epilogue.apply(b, row_values, position, kf.args), dtype)
                store_vector(b, value, y, affine(b, [(row0, n), (col0, 1)], i * n), cb.size)

    rows = runtime_blocks(b, kf.batch, DOT_ROWS) if runtime_rows else blocks(m, DOT_ROWS)
    _split_tiles(kf, [rows, blocks(n, DOT_COLS)], tile)


def _summed_over_terms(b: ir.IRBuilder, terms: ir.Value, rows: int, cols: int, products) -> list[list[ir.Value]]:
    """The accumulators of products(term, init) chained over term = 0..terms-1 (a run-time count)."""
    slots = [[entry_alloca(b, V16F32, f"sum{i}_{j}") for j in range(cols)] for i in range(rows)]
    for row in slots:
        for slot in row:
            b.store(ir.Constant(V16F32, 0.0), slot)
    with counted_loop(b, 0, terms, name="term") as term:
        acc = products(term, [[b.load(slot) for slot in row] for row in slots])
        for row, values in zip(slots, acc):
            for slot, value in zip(row, values):
                b.store(value, slot)
    return [[b.load(slot) for slot in row] for row in slots]


def _panelled(k: int, n: int, transpose_a: bool, transpose_b: bool, batch: int | None, dtype: str) -> bool:
    """Whether the GEMM form copies b, read in place otherwise, into panels when a has the rows to pay for it
    (PANEL_K, PANEL_ROWS): float32, b's rows 512 bytes apart or more."""
    return dtype == "f32" and not (transpose_a or transpose_b) and batch is None and k <= PANEL_K and \
        n >= 2 * GEMM_VECTORS * LANES


def _panel_columns(n: int) -> int:
    """The columns of b's panels: n rounded up to whole vectors."""
    return -(-n // LANES) * LANES


def _copy_panels(kf: KernelFunction, src: ir.Value, k: int, n: int, transposed: bool) -> ir.Value:
    """Copy the float32 b ([k, n], or [n, k] when `transposed`) into this thread's scratch as the GEMM
    tiles' column panels, one after another: the panel of columns col0.. (a block of vector_blocks) is k
    rows of its width, from offset col0 * k. Returns the copy."""
    b = kf.builder
    dst = kf.thread_scratch()
    for kind in vector_blocks(n, GEMM_VECTORS):
        width = kind.size * LANES
        with counted_loop(b, 0, kind.count, name="panel") as panel:
            col0 = affine(b, [(panel, width)], kind.start * LANES)
            if not transposed:        # one pass over b's rows, each row's part of the panel at once
                with counted_loop(b, 0, k, name="pk") as kk:
                    for j in range(kind.size):
                        value = load_vector(b, src, affine(b, [(kk, n), (col0, 1)], j * LANES), kind.lanes(j))
                        store_vector(b, value, dst, affine(b, [(col0, k), (kk, width)], j * LANES), kind.lanes(j))
            else:                     # 16 columns of b are 16 rows of src: transposed by 16 x 16 blocks
                for j in range(kind.size):
                    column = affine(b, [(col0, 1)], j * LANES)
                    for part in blocks(k, LANES):
                        with counted_loop(b, 0, part.count, name="pk") as step:
                            k0 = affine(b, [(step, LANES)], part.start)
                            transpose_block(b, src, affine(b, [(column, k), (k0, 1)]), k, dst, affine(
                                b, [(col0, k), (k0, width)], j * LANES), width, kind.lanes(j), part.size)
    return dst


def _transposed_copy(kf: KernelFunction, src: ir.Value, rows: int, cols: int) -> ir.Value:
    """Copy src[rows, cols] transposed into this thread's scratch; returns the copy ([cols, rows])."""
    b = kf.builder
    dst = kf.thread_scratch()
    element = IR_TYPES[kf.operand("a").dtype]
    with counted_loop(b, 0, rows, name="r") as r:
        with counted_loop(b, 0, cols, name="c") as c:
            value = load_scalar(b, src, affine(b, [(r, cols), (c, 1)]), element)
            store_scalar(b, value, dst, affine(b, [(c, rows), (r, 1)]))
    return dst


def to_f32(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """A loaded vector as float32 (converted in registers when it is a half type)."""
    return value if value.type.element == F32 else half_to_f32(b, value)


def stored(b: ir.IRBuilder, value: ir.Value, dtype: str) -> ir.Value:
    """The vector to store into y: a float32 result rounded when y is a half type (an epilogue whose
    result is y's half type returns it as such already)."""
    return f32_to_half(b, value, dtype) if dtype != "f32" and value.type.element == F32 else value
