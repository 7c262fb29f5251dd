"""Vector vocabulary shared by every kernel emitter: IR types, constants, intrinsics, masked memory.

All kernels work on `<16 x float>` (one zmm register on AVX-512). Intrinsics whose overloaded name
involves a vector type are declared by hand because `Module.declare_intrinsic` cannot name them.
"""
from __future__ import annotations

import functools

from llvmlite import ir

LANES = 16
F32 = ir.FloatType()
F64 = ir.DoubleType()
I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
F16 = ir.HalfType()
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()
V16F32 = ir.VectorType(F32, LANES)


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


@functools.lru_cache(maxsize=None)
def vector_constant(element: ir.Type, values: tuple) -> ir.Constant:
    """One shared constant per vector value: llvmlite caches a value's text on the object, and printing
    vector constants afresh was a third of the time spent printing a kernel's IR."""
    return ir.Constant(ir.VectorType(element, len(values)), list(values))


def lane_mask(count: int, lanes: int = LANES, first: int = 0) -> ir.Constant:
    """Constant mask with lanes [first, count) enabled."""
    return vector_constant(I1, tuple(1 if first <= lane < count else 0 for lane in range(lanes)))


def declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type], var_arg=False) -> ir.Function:
    """Get or declare the function `name` (intrinsic or libc symbol) in `module`."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, args, var_arg=var_arg), name)


def _type_suffix(ty: ir.Type) -> str:
    if isinstance(ty, ir.VectorType):
        return f"v{ty.count}{_type_suffix(ty.element)}"
    return {F32: "f32", F64: "f64", F16: "f16", I32: "i32", I64: "i64", I16: "i16", I8: "i8", I1: "i1"}[ty]


def call_intrinsic(builder: ir.IRBuilder, base: str, args: list[ir.Value], ret: ir.Type | None = None):
    """Call an intrinsic overloaded on the type of its first operand, e.g. llvm.fma.v16f32."""
    ty = args[0].type
    fn = declare(builder.module, f"{base}.{_type_suffix(ty)}", ret or ty, [a.type for a in args])
    return builder.call(fn, args)


def fma(builder: ir.IRBuilder, a, b, c):
    """a * b + c with one rounding (vfmadd)."""
    return call_intrinsic(builder, "llvm.fma", [a, b, c])


def maximum(builder: ir.IRBuilder, a, b):
    """IEEE-754 2019 maximum: NaN-propagating, like numpy.maximum."""
    return call_intrinsic(builder, "llvm.maximum", [a, b])


def broadcast(builder: ir.IRBuilder, scalar: ir.Value, lanes: int = LANES) -> ir.Value:
    """Splat a scalar into every lane (insertelement + zero shuffle; LLVM folds it into vbroadcastss)."""
    vty = ir.VectorType(scalar.type, lanes)
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined), vector_constant(I32, (0,) * lanes))


def shuffle(builder: ir.IRBuilder, a: ir.Value, b: ir.Value | None, indices: list[int]) -> ir.Value:
    """shufflevector with python indices; `b=None` means an undefined second operand."""
    second = b if b is not None else ir.Constant(a.type, ir.Undefined)
    return builder.shuffle_vector(a, second, vector_constant(I32, tuple(indices)))


def elem_ptr(builder: ir.IRBuilder, base: ir.Value, offset, elem: ir.Type = F32) -> ir.Value:
    """Address of element `offset` (python int or i64 value) of an array of `elem` at `base`."""
    if isinstance(offset, int):
        if offset == 0:
            return base
        offset = i64(offset)
    return builder.gep(base, [offset], inbounds=True, source_etype=elem)


def element_bytes(ty: ir.Type) -> int:
    return {F16: 2, F32: 4, F64: 8}[ty] if ty in (F16, F32, F64) else max(1, ty.width // 8)


def load_scalar(builder: ir.IRBuilder, base: ir.Value, offset, elem: ir.Type = F32) -> ir.Value:
    return builder.load(elem_ptr(builder, base, offset, elem), typ=elem, align=element_bytes(elem))


def store_scalar(builder: ir.IRBuilder, value: ir.Value, base: ir.Value, offset) -> None:
    builder.store(value, elem_ptr(builder, base, offset, value.type), align=element_bytes(value.type))


def load_vector(builder: ir.IRBuilder, base: ir.Value, offset, count: int = LANES, align: int = 4,
                vty: ir.VectorType = V16F32, fill=None, first: int = 0) -> ir.Value:
    """Load a vector starting at element `offset`; lanes outside [first, count) are masked off and
    read as `fill` (zero by default).

    A full vector is a plain load; a partial one is `llvm.masked.load`, which never touches the
    masked-off addresses, so it is safe at the end of a buffer.
    """
    ptr = elem_ptr(builder, base, offset, vty.element)
    align = min(align, element_bytes(vty.element))      # a half or a bool vector may start anywhere
    if first == 0 and count >= vty.count:
        return builder.load(ptr, typ=vty, align=align)
    fn = declare(builder.module, f"llvm.masked.load.{_type_suffix(vty)}.p0", vty,
                 [PTR, ir.VectorType(I1, vty.count), vty])
    passthru = ir.Constant(vty, fill if fill is not None else None)
    call = builder.call(fn, [ptr, lane_mask(count, vty.count, first), passthru], arg_attrs={0: ()})
    call.arg_attributes[0].align = align
    return call


def store_vector(builder: ir.IRBuilder, value: ir.Value, base: ir.Value, offset, count: int = LANES,
                 align: int = 4) -> None:
    """Store the first `count` lanes of `value` at element `offset` (masked store when partial)."""
    vty = value.type
    ptr = elem_ptr(builder, base, offset, vty.element)
    align = min(align, element_bytes(vty.element))
    if count >= vty.count:
        builder.store(value, ptr, align=align)
        return
    if element_bytes(vty.element) == 2:
        # LLVM 22 turns a one-lane llvm.masked.store of 16-bit lanes on AVX512-FP16 CPUs into a 4-byte
        # vmovd, which writes the next element too: half tails are stored lane by lane instead
        for lane in range(count):
            store_scalar(builder, builder.extract_element(value, ir.Constant(I32, lane)), ptr, lane)
        return
    store_masked(builder, value, ptr, [lane < count for lane in range(vty.count)], align)


def store_masked(builder: ir.IRBuilder, value: ir.Value, ptr: ir.Value, enabled: list[bool],
                 align: int | None = None) -> None:
    """Store the lanes of `value` that `enabled` names at ptr; the memory under the others is untouched."""
    vty = value.type
    fn = declare(builder.module, f"llvm.masked.store.{_type_suffix(vty)}.p0", VOID,
                 [vty, PTR, ir.VectorType(I1, vty.count)])
    call = builder.call(fn, [value, ptr, vector_constant(I1, tuple(int(on) for on in enabled))], arg_attrs={1: ()})
    call.arg_attributes[1].align = align or element_bytes(vty.element)


def load_strided(builder: ir.IRBuilder, base: ir.Value, offset, stride: int, count: int = LANES) -> ir.Value:
    """Lanes i < count read element offset + i*stride: one wide (masked) load and a lane pick.

    One `<16*stride x float>` load plus a shufflevector is far cheaper than a gather for the small
    strides of pooling windows.
    """
    if stride == 1:
        return load_vector(builder, base, offset, count)
    wide_ty = ir.VectorType(F32, LANES * stride)
    span = (count - 1) * stride + 1
    wide = load_vector(builder, base, offset, span, vty=wide_ty)
    return shuffle(builder, wide, None, [lane * stride for lane in range(LANES)])


def iota(lanes: int = LANES) -> ir.Constant:
    return vector_constant(I32, tuple(range(lanes)))


def transpose(builder: ir.IRBuilder, vectors: list[ir.Value]) -> list[ir.Value]:
    """Transpose up to 16 `<16 x float>` rows: result[j] lane i = vectors[i] lane j.

    Missing rows are undefined, so their lanes in the result are undefined. Four butterfly stages
    of two-source shuffles (64 shuffles for a full 16x16 block, lowered to vpermt2ps).
    """
    undef = ir.Constant(V16F32, ir.Undefined)
    rows = list(vectors) + [undef] * (LANES - len(vectors))
    width = 1
    while width < LANES:
        lo, hi = _butterfly_indices(width)
        swapped = list(rows)
        for start in range(0, LANES, 2 * width):
            for i in range(start, start + width):
                swapped[i] = shuffle(builder, rows[i], rows[i + width], lo)
                swapped[i + width] = shuffle(builder, rows[i], rows[i + width], hi)
        rows = swapped
        width *= 2
    return rows


def _butterfly_indices(width: int) -> tuple[list[int], list[int]]:
    """Shuffle masks of one stage for rows a = i and b = i + width (b's lanes are 16..31):
    lo[L] = a[L] where bit `width` of L is clear, else b[L - width];
    hi[L] = a[L + width] where that bit is clear, else b[L].
    That swaps the off-diagonal width x width blocks; after widths 1, 2, 4, 8 the rows are transposed.
    """
    lo, hi = [], []
    for lane in range(LANES):
        in_upper = lane & width
        base = lane & ~width
        lo.append(base + LANES if in_upper else base)
        hi.append(lane + LANES if in_upper else lane | width)
    return lo, hi


def horizontal_sums(builder: ir.IRBuilder, vectors: list[ir.Value]) -> ir.Value:
    """Lane j of the result = sum of the lanes of vectors[j] (up to 16 vectors, in a fixed order)."""
    return horizontal_reduce(builder, vectors, builder.fadd, 0.0)


def horizontal_reduce(builder: ir.IRBuilder, vectors: list[ir.Value], combine, identity) -> ir.Value:
    """Lane j of the result = combine over the lanes of vectors[j] (up to 16 vectors).

    Pairwise halving: each stage combines the low and high halves of two rows packed into one
    vector, 15 shuffle pairs for 16 rows instead of 16 separate reductions.
    """
    filler = ir.Constant(vectors[0].type, identity)
    rows = list(vectors) + [filler] * (LANES - len(vectors))
    half = LANES // 2
    while len(rows) > 1:
        lo, hi = _halving_indices(half)
        rows = [combine(shuffle(builder, a, b, lo), shuffle(builder, a, b, hi)) for a, b in zip(rows[0::2], rows[1::2])]
        half //= 2
    return rows[0]


def _halving_indices(half: int) -> tuple[list[int], list[int]]:
    """Index lists that pair each row's lane blocks of size `half` (low blocks, then high blocks)."""
    blocks = LANES // (2 * half)  # blocks of 2*half lanes per source row
    lo, hi = [], []
    for src in (0, LANES):
        for block in range(blocks):
            start = src + block * 2 * half
            lo.extend(range(start, start + half))
            hi.extend(range(start + half, start + 2 * half))
    return lo, hi


# -- half types: storage only, computed in float32 (docs/codegen.md, "Half types") ---------------------------
def half_to_f32(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """float32 vectors of half ones: float16 (half) through F16C's vcvtph2ps; bfloat16 (i16, its bits)
    is the high half of a float32's bits. Exact."""
    ty = ir.VectorType(F32, x.type.count)
    if x.type.element == F16:
        return builder.fpext(x, ty)
    wide = builder.zext(x, ir.VectorType(I32, x.type.count))
    return builder.bitcast(builder.shl(wide, ir.Constant(wide.type, 16)), ty)


def f32_to_half(builder: ir.IRBuilder, x: ir.Value, dtype: str) -> ir.Value:
    """`dtype` ("f16" or "bf16") vectors of float32 ones, rounded to nearest even as NumPy's float16
    and ml_dtypes' bfloat16 round; a NaN stays a NaN (its bfloat16 is the quiet NaN with x's sign)."""
    count = x.type.count
    if dtype == "f16":
        return builder.fptrunc(x, ir.VectorType(F16, count))
    i32 = ir.VectorType(I32, count)
    bits = builder.bitcast(x, i32)
    const = lambda c: ir.Constant(i32, c)      # noqa: E731
    odd = builder.and_(builder.lshr(bits, const(16)), const(1))
    rounded = builder.lshr(builder.add(bits, builder.add(const(0x7FFF), odd)), const(16))
    quiet = builder.or_(builder.lshr(bits, const(16)), const(0x0040))
    nan = builder.fcmp_unordered("uno", x, x)
    return builder.trunc(builder.select(nan, quiet, rounded), ir.VectorType(I16, count))


class BFloat(ir.types.Type):
    """LLVM's bfloat, which llvmlite lacks: the element type of the AVX512-BF16 intrinsics' operands."""

    def _to_string(self) -> str:
        return "bfloat"

    def __eq__(self, other) -> bool:
        return isinstance(other, BFloat)

    def __hash__(self) -> int:
        return hash("bfloat")


def dot_bf16(builder: ir.IRBuilder, a: ir.Value, b: ir.Value, acc: ir.Value, native: bool) -> ir.Value:
    """acc + the products of 32 bfloat16 pairs (`a`, `b`: <32 x i16>, the bits): lane l adds
    a[2l+1]·b[2l+1], then a[2l]·b[2l], each product exact in float32. `native`: one vdpbf16ps
    (AVX512-BF16, which also flushes subnormal inputs and results to zero); else the same two steps as
    FMAs on the halves widened in registers (a bfloat16 is the high half of a float32)."""
    if native:
        pairs = ir.VectorType(BFloat(), 2 * LANES)
        fn = declare(builder.module, "llvm.x86.avx512bf16.dpbf16ps.512", V16F32, [V16F32, pairs, pairs])
        return builder.call(fn, [acc, builder.bitcast(a, pairs), builder.bitcast(b, pairs)])
    words = ir.VectorType(I32, LANES)
    high = ir.Constant(words, -0x10000)            # 0xFFFF0000: the odd element of each pair, in place

    def halves(x):
        bits = builder.bitcast(x, words)
        return (builder.bitcast(builder.shl(bits, ir.Constant(words, 16)), V16F32),
                builder.bitcast(builder.and_(bits, high), V16F32))
    (a_even, a_odd), (b_even, b_odd) = halves(a), halves(b)
    return fma(builder, a_even, b_even, fma(builder, a_odd, b_odd, acc))
