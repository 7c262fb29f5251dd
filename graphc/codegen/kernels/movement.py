"""Kernels that move elements without arithmetic: strided copies (transpose, slicing and its
gradient), gather and its gradient, one-hot rows.

* `emit_strided_copy(module, name, shape, src, dst, dtype, fill)`: for every index i of
  `shape`, y[dst.offset + i·dst.strides] = x[src.offset + i·src.strides] (element strides, may be
  negative). With fill, a first phase fills all of y with it (a slice gradient, a pad). Operands x, y.
* `emit_concat(module, name, piece_shapes, out_shape, axis, dtype)`: y = the pieces x0, x1, ...
  laid end to end along `axis`, one strided copy per piece into its slab of y (stack is concat of
  pieces with a size-1 axis). Operands x0..x(n-1), y.
* `emit_gather(module, name, pre, size, post, count, index_dtype, dtype)`: x viewed [pre, size,
  post], index [count] -> y [pre, count, post]. The index is declared bounded by [0, size)
  (`Kernel.index_bounds`: the step checks it first); the kernel still clamps, so that memory is
  never touched out of bounds even by a caller that skips the check.
* `emit_gather_grad(...)`: the transpose: dx [pre, size, post] = zeros, then ct [pre, count, post]
  added at the indices in index order, so repeated indices sum deterministically.
* `emit_one_hot(module, name, rows, depth, index_dtype, dtype, on, off)`: y[r, d] = on if
  index[r] == d else off (an index outside [0, depth) matches no column).
* `emit_zero_ranges(module, name, size, ranges, dtype)`: zeros at a few short ranges of y (a
  pack's gaps), written by thread 0.

Work is split over threads by output rows or chunks; each output element has one writer.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Sequence

from llvmlite import ir

from .contract import IR_TYPES, Kernel, KernelFunction, Operand
from .elementwise import collapse
from .loops import affine, as_value, counted_loop
from .simd import F32, I64, LANES, broadcast, i64, iota, load_scalar, load_vector, store_scalar, store_vector, \
    transpose
from .tile import blocks, emit_grid, vector_blocks

CHUNK = 256        # elements per work item along a copied row


@dataclass(frozen=True)
class Strided:
    """Where index i of the copy's iteration space lives in a buffer: offset + i·strides."""
    offset: int
    strides: tuple[int, ...]


def emit_strided_copy(module: ir.Module, name: str, shape: Sequence[int], src_shape: Sequence[int], src: Strided,
                      dst_shape: Sequence[int], dst: Strided, dtype: str, fill=None) -> Kernel:
    """y[dst positions] = x[src positions]; with `fill` (a number), y is first filled with it
    (a phase of its own: the copy splits its work between threads differently)."""
    operands = (Operand("x", tuple(src_shape), "in", dtype), Operand("y", tuple(dst_shape), "out", dtype))
    phases = []
    if fill is not None:
        kf = KernelFunction(module, f"{name}.fill", operands)
        elem = IR_TYPES[dtype]
        _fill(kf, "y", prod(dst_shape), ir.Constant(elem, fill if isinstance(elem, (ir.FloatType, ir.DoubleType))
                                                     else int(fill)))
        phases.append(kf.finish())
    kf = KernelFunction(module, name if fill is None else f"{name}.copy", operands)
    dims, (src_strides, dst_strides) = collapse(shape, [list(src.strides), list(dst.strides)])
    if prod(shape):
        _copy_grid(kf, dims, src.offset, src_strides, dst.offset, dst_strides, IR_TYPES[dtype])
    phases.append(kf.finish())
    return Kernel(name, tuple(phases), operands)


def emit_concat(module: ir.Module, name: str, piece_shapes: Sequence[Sequence[int]], out_shape: Sequence[int],
                axis: int, dtype: str) -> Kernel:
    pieces = [Operand(f"x{i}", tuple(shape), "in", dtype) for i, shape in enumerate(piece_shapes)]
    operands = (*pieces, Operand("y", tuple(out_shape), "out", dtype))
    kf = KernelFunction(module, name, operands)
    out_strides = row_major_strides(out_shape)
    start = 0
    for piece in pieces:       # the slabs are disjoint, so the copies need no barrier between them
        if prod(piece.shape):
            dims, (src_strides, dst_strides) = collapse(piece.shape, [row_major_strides(piece.shape), out_strides])
            _copy_grid(kf, dims, 0, src_strides, start * out_strides[axis], dst_strides, IR_TYPES[dtype],
                       src=piece.name)
        start += piece.shape[axis]
    return Kernel(name, (kf.finish(),), operands)


def row_major_strides(shape: Sequence[int]) -> list[int]:
    return [prod(shape[axis + 1:]) for axis in range(len(shape))]


def transpose_block(b: ir.IRBuilder, src: ir.Value, src_at, src_row: int, dst: ir.Value, dst_at, dst_row: int,
                    height: int, width: int) -> None:
    """Copy a float32 block transposed: `height` rows of `width` elements at src_at + i·src_row are loaded
    as vectors, transposed in registers (at most 16 x 16), and stored as `width` rows of `height` at
    dst_at + j·dst_row."""
    vectors = [load_vector(b, src, affine(b, [(src_at, 1)], i * src_row), width) for i in range(height)]
    for j, vector in enumerate(transpose(b, vectors)[:width]):
        store_vector(b, vector, dst, affine(b, [(dst_at, 1)], j * dst_row), height)


def _copy_grid(kf: KernelFunction, dims, src_offset, src_strides, dst_offset, dst_strides, elem: ir.Type,
               src: str = "x") -> None:
    b = kf.builder
    contiguous = src_strides[-1] == 1 and dst_strides[-1] == 1
    if len(dims) >= 2 and src_strides[-2] == 1 and dst_strides[-1] == 1 and elem == F32:
        _transpose_grid(kf, dims, src_offset, src_strides, dst_offset, dst_strides, src)
        return

    def tile(starts, kinds):
        src_at = affine(b, [(i, s) for i, s in zip(starts, src_strides)], src_offset)
        dst_at = affine(b, [(i, s) for i, s in zip(starts, dst_strides)], dst_offset)
        count = kinds[-1].size
        if contiguous:
            _copy_run(b, kf[src], src_at, kf["y"], dst_at, count, elem)
            return
        with counted_loop(b, 0, count, name="e") as e:
            value = load_scalar(b, kf[src], affine(b, [(src_at, 1), (e, src_strides[-1])]), elem)
            store_scalar(b, value, kf["y"], affine(b, [(dst_at, 1), (e, dst_strides[-1])]))

    axes = [blocks(d, 1) for d in dims[:-1]] + [blocks(dims[-1], CHUNK)]
    emit_grid(b, axes, tile, threads=(kf.tid, kf.nthreads))


def _transpose_grid(kf: KernelFunction, dims, src_offset, src_strides, dst_offset, dst_strides, src: str) -> None:
    """A copy whose two inner axes are swapped between x and y (a transpose, of every matrix of a batch): 16 x 16
    blocks transposed in registers, instead of one element at a time across x's rows (measured in a training
    step, 2 threads, [28,128,128] with its inner axes swapped: 172 us element by element, 98 us by blocks)."""
    b = kf.builder

    def tile(starts, kinds):
        src_at = affine(b, [(i, s) for i, s in zip(starts, src_strides)], src_offset)
        dst_at = affine(b, [(i, s) for i, s in zip(starts, dst_strides)], dst_offset)
        transpose_block(b, kf[src], src_at, src_strides[-1], kf["y"], dst_at, dst_strides[-2], kinds[-1].size,
                        kinds[-2].size)

    axes = [blocks(d, 1) for d in dims[:-2]] + [blocks(dims[-2], LANES), blocks(dims[-1], LANES)]
    emit_grid(b, axes, tile, threads=(kf.tid, kf.nthreads))


def _copy_run(b: ir.IRBuilder, src: ir.Value, src_at, dst: ir.Value, dst_at, count: int, elem: ir.Type) -> None:
    """dst[dst_at:dst_at+count] = src[src_at:src_at+count], 16 lanes at a time (masked tail)."""
    vty = ir.VectorType(elem, LANES)
    full, tail = divmod(count, LANES)
    if full:
        with counted_loop(b, 0, full, name="v") as v:
            value = load_vector(b, src, affine(b, [(src_at, 1), (v, LANES)]), vty=vty)
            store_vector(b, value, dst, affine(b, [(dst_at, 1), (v, LANES)]))
    if tail:
        value = load_vector(b, src, affine(b, [(src_at, 1)], full * LANES), tail, vty=vty)
        store_vector(b, value, dst, affine(b, [(dst_at, 1)], full * LANES), tail)


def emit_zero_ranges(module: ir.Module, name: str, size: int, ranges: Sequence[range], dtype: str) -> Kernel:
    """y[r] = 0 for each (short) range r of the 1-D operand y, on thread 0: the gaps of a pack."""
    kf = KernelFunction(module, name, (Operand("y", (size,), "out", dtype),))
    b = kf.builder
    zero = ir.Constant(IR_TYPES[dtype], 0)
    with b.if_then(b.icmp_signed("==", kf.tid, ir.Constant(kf.tid.type, 0))):
        for r in ranges:
            for position in r:
                store_scalar(b, zero, kf["y"], position)
    return Kernel(name, (kf.finish(),), (kf.operand("y"),))


def _fill(kf: KernelFunction, name: str, count: int, value: ir.Constant) -> None:
    """operand[0:count] = value, split over threads in vectors."""
    b = kf.builder
    vector = ir.Constant(ir.VectorType(value.type, LANES), value.constant)

    def tile(starts, kinds):
        for j in range(kinds[0].size):
            store_vector(b, vector, kf[name], affine(b, [(starts[0], LANES)], j * LANES), kinds[0].lanes(j))

    if count:
        emit_grid(b, [vector_blocks(count, 16)], tile, threads=(kf.tid, kf.nthreads))


def _clamped_index(b: ir.IRBuilder, index: ir.Value, position, size: int, index_dtype: str) -> ir.Value:
    """index[position] as i64, clamped into [0, size)."""
    value = load_scalar(b, index, position, IR_TYPES[index_dtype])
    value = b.sext(value, I64) if value.type != I64 else value
    value = b.select(b.icmp_signed("<", value, i64(0)), i64(0), value)
    return b.select(b.icmp_signed(">", value, i64(size - 1)), i64(size - 1), value)


def emit_gather(module: ir.Module, name: str, pre: int, size: int, post: int, count: int, index_dtype: str,
                dtype: str) -> Kernel:
    operands = (Operand("x", (pre, size, post), "in", dtype), Operand("index", (count,), "in", index_dtype),
                Operand("y", (pre, count, post), "out", dtype))
    kf = KernelFunction(module, name, operands)
    b = kf.builder

    def tile(starts, kinds):
        p, j = starts
        row = _clamped_index(b, kf["index"], j, size, index_dtype)
        _copy_run(b, kf["x"], affine(b, [(p, size * post), (row, post)]), kf["y"],
                  affine(b, [(p, count * post), (j, post)]), post, IR_TYPES[dtype])

    if pre * count * post:
        emit_grid(b, [blocks(pre, 1), blocks(count, 1)], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, index_bounds=(("index", size),))


def emit_gather_grad(module: ir.Module, name: str, pre: int, size: int, post: int, count: int, index_dtype: str,
                     dtype: str) -> Kernel:
    operands = (Operand("ct", (pre, count, post), "in", dtype), Operand("index", (count,), "in", index_dtype),
                Operand("dx", (pre, size, post), "out", dtype))
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    elem = IR_TYPES[dtype]
    add = b.fadd if dtype in ("f32", "f64") else b.add

    def column(starts, kinds):
        p, q = starts
        with counted_loop(b, 0, size, name="r") as r:
            store_scalar(b, ir.Constant(elem, 0), kf["dx"], affine(b, [(p, size * post), (r, post), (q, 1)]))
        with counted_loop(b, 0, count, name="j") as j:
            at = affine(b, [(p, size * post), (_clamped_index(b, kf["index"], j, size, index_dtype), post), (q, 1)])
            value = load_scalar(b, kf["ct"], affine(b, [(p, count * post), (j, post), (q, 1)]), elem)
            store_scalar(b, add(load_scalar(b, kf["dx"], at, elem), value), kf["dx"], at)

    if pre * size * post:
        emit_grid(b, [blocks(pre, 1), blocks(post, 1)], column, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands, flops=pre * count * post, index_bounds=(("index", size),))


def emit_one_hot(module: ir.Module, name: str, rows: int, depth: int, index_dtype: str, dtype: str,
                 on: ir.Constant, off: ir.Constant) -> Kernel:
    operands = (Operand("index", (rows,), "in", index_dtype), Operand("y", (rows, depth), "out", dtype))
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    on_vector, off_vector = (ir.Constant(ir.VectorType(c.type, LANES), c.constant) for c in (on, off))

    def tile(starts, kinds):
        r, v0 = starts
        label = load_scalar(b, kf["index"], r, IR_TYPES[index_dtype])
        label = b.sext(label, I64) if label.type != I64 else label
        for j in range(kinds[1].size):
            first = affine(b, [(v0, LANES)], j * LANES)
            columns = b.add(b.sext(iota(), ir.VectorType(I64, LANES)), broadcast(b, as_value(first)))
            hot = b.icmp_signed("==", columns, broadcast(b, label))
            store_vector(b, b.select(hot, on_vector, off_vector), kf["y"], affine(b, [(r, depth), (first, 1)]),
                         kinds[1].lanes(j))

    if rows * depth:
        emit_grid(b, [blocks(rows, 1), vector_blocks(depth, 4)], tile, threads=(kf.tid, kf.nthreads))
    return Kernel(name, (kf.finish(),), operands)
