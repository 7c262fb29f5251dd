"""Elementwise loops with NumPy broadcasting: the body of every fused chain of elementwise ops.

    outputs[k][i] = expr(builder, [inputs[0][bcast(i)], inputs[1][bcast(i)], ...])[k]

`expr` receives one loaded `<16 x T>` vector per input (T = float for f32, i32 for i32; a
broadcast input arrives splatted) and returns one vector, or a list with one per output. Write
constants with `ir.Constant(value.type, c)` so the same expression works for any width.

Operands: the inputs (shapes broadcastable to `shape`, scalars as shape ()), then the outputs
(shape `shape`) except those updated in place: `inplace={"p_new": "p"}` stores output p_new into
input p's buffer (each element is read before it is written, by the same thread), as a fused
optimizer update needs.

Dimensions contiguous for every operand are merged; the innermost is vectorized (16 lanes,
masked tail). Work items are (outer index, chunk of up to CHUNK_VECTORS vectors), split over threads.
The leading dimension of a tensor of two or more is never merged: its extent is the kernel's
`batch`, read at run time, so the loop over a batch of activations has the same IR at every batch
size (kernels/contract.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Callable, Sequence

from llvmlite import ir

from .contract import IR_TYPES, Kernel, KernelFunction, Operand
from .loops import affine, as_value, counted_loop
from .simd import I64, LANES, broadcast, load_scalar, load_vector, store_vector
from .tile import blocks, emit_grid, runtime_blocks, vector_blocks

CHUNK_VECTORS = 64
Expr = Callable[[ir.IRBuilder, list], "ir.Value | list[ir.Value]"]


@dataclass(frozen=True)
class Tensor:
    """An operand; with position=True not a buffer but, in expr, the row-major element index
    (<16 x i64>) of a tensor of this shape at each point of the loop (what random ops draw for)."""
    name: str
    shape: tuple[int, ...]
    dtype: str = "f32"
    position: bool = False


def broadcast_strides(shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Element strides of `shape` viewed as `out_shape` (0 along broadcast dimensions)."""
    if len(shape) > len(out_shape):
        raise ValueError(f"cannot broadcast {tuple(shape)} to {tuple(out_shape)}")
    padded = [1] * (len(out_shape) - len(shape)) + list(shape)
    strides, step = [0] * len(out_shape), 1
    for axis in reversed(range(len(out_shape))):
        if padded[axis] not in (1, out_shape[axis]):
            raise ValueError(f"cannot broadcast {tuple(shape)} to {tuple(out_shape)}")
        strides[axis] = step if padded[axis] == out_shape[axis] and out_shape[axis] != 1 else 0
        step *= padded[axis]
    return strides


def collapse(out_shape: Sequence[int], strides: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 dimensions and merge adjacent ones that are contiguous for every operand
    (outer stride = inner stride * inner extent); returns (shape, strides), at least 1-D."""
    keep = [axis for axis, extent in enumerate(out_shape) if extent != 1]
    shape = [out_shape[a] for a in keep] or [1]
    strides = [[s[a] for a in keep] or [0] for s in strides]
    axis = len(shape) - 1
    while axis > 0:
        inner = shape[axis]
        if all(s[axis - 1] == s[axis] * inner for s in strides):
            shape[axis - 1] *= inner
            del shape[axis]
            for s in strides:
                del s[axis - 1]
        axis -= 1
    return shape, strides


def emit_elementwise(module: ir.Module, name: str, shape: Sequence[int], inputs: Sequence[Tensor],
                     outputs: Sequence[Tensor], expr: Expr, inplace: dict[str, str] | None = None) -> Kernel:
    shape = tuple(shape)
    inplace = inplace or {}
    operands = [Operand(t.name, t.shape, "inout" if t.name in inplace.values() else "in", t.dtype)
                for t in inputs if not t.position]
    operands += [Operand(t.name, shape, "out", t.dtype) for t in outputs if t.name not in inplace]
    kf = KernelFunction(module, name, tuple(operands))
    all_strides = [broadcast_strides(t.shape, shape) for t in inputs] + [broadcast_strides(shape, shape)]
    runtime_lead = len(shape) >= 2
    dims, strides = collapse(shape[runtime_lead:], [s[runtime_lead:] for s in all_strides])
    if runtime_lead:
        strides = [[whole[0]] + inner for whole, inner in zip(all_strides, strides)]
    destinations = [kf[inplace.get(t.name, t.name)] for t in outputs]
    _emit_loop(kf, dims, strides, runtime_lead, inputs, outputs, destinations, expr)
    return Kernel(name, (kf.finish(),), tuple(operands), flops=prod(shape) * len(outputs),
                  batch=shape[0] if runtime_lead else 0)


def _emit_loop(kf, dims, strides, runtime_lead: bool, inputs, outputs, destinations, expr) -> None:
    b = kf.builder
    out_strides = strides[-1]
    axes = [blocks(d, 1) for d in dims[:-1]] + [vector_blocks(dims[-1], CHUNK_VECTORS)]
    if runtime_lead:
        axes.insert(0, runtime_blocks(b, kf.batch, 1))

    def tile(starts, kinds):
        outer, chunk = starts[:-1], kinds[-1]
        base = [affine(b, [(i, s[a]) for a, i in enumerate(outer)]) for s in strides]
        first = affine(b, [(starts[-1], LANES)])

        def vector_at(v, lanes: int):
            offset = affine(b, [(first, 1), (v, LANES)])
            at = [affine(b, [(base[k], 1), (offset, strides[k][-1])]) for k in range(len(inputs))]
            values = [_position(b, at[k], strides[k][-1]) if t.position else
                      _load(b, kf[t.name], at[k], strides[k][-1], lanes, t.dtype) for k, t in enumerate(inputs)]
            results = expr(b, values)
            results = results if isinstance(results, (list, tuple)) else [results]
            if len(results) != len(outputs):
                raise ValueError(f"{kf.function.name}: expression returned {len(results)} values "
                                 f"for {len(outputs)} outputs")
            for value, dst in zip(results, destinations):
                store_vector(b, value, dst, affine(b, [(base[-1], 1), (offset, out_strides[-1])]), lanes)

        full = chunk.size if chunk.last_lanes == LANES else chunk.size - 1
        if full:
            with counted_loop(b, 0, full, name="v") as v:
                vector_at(v, LANES)
        if chunk.last_lanes != LANES:
            vector_at(full, chunk.last_lanes)

    emit_grid(b, axes, tile, threads=(kf.tid, kf.nthreads))


def _position(b: ir.IRBuilder, index, inner_stride: int) -> ir.Value:
    """Lane l holds index + l * inner_stride."""
    lanes = ir.Constant(ir.VectorType(I64, LANES), [lane * inner_stride for lane in range(LANES)])
    return b.add(broadcast(b, as_value(index)), lanes)


def _load(b: ir.IRBuilder, base: ir.Value, index, inner_stride: int, lanes: int, dtype: str) -> ir.Value:
    elem = IR_TYPES[dtype]
    if inner_stride == 0:
        return broadcast(b, load_scalar(b, base, index, elem))
    return load_vector(b, base, index, lanes, vty=ir.VectorType(elem, LANES))

