"""Copies into scratch that let the fast loops run without bounds checks.

`Placement` describes a staged image: source element (c, h, w) lands at
(c, top + h*step_h, left + w*step_w) of a zero-filled [channels, dst_h, dst_w] buffer; positions
outside the buffer are dropped. Zero padding (conv forward, filter gradient) is step 1 with
top/left = the padding; the input gradient's zero-inserted, padded dy uses step = stride.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from .loops import affine, counted_loop
from .simd import I1, I8, I64, PTR, VOID, declare, elem_ptr, i64, load_scalar, store_scalar


@dataclass(frozen=True)
class Placement:
    channels: int
    src_h: int
    src_w: int
    dst_h: int
    dst_w: int
    top: int = 0
    left: int = 0
    step_h: int = 1
    step_w: int = 1

    @property
    def is_identity(self) -> bool:
        return (self.top, self.left, self.step_h, self.step_w) == (0, 0, 1, 1) and \
            (self.dst_h, self.dst_w) == (self.src_h, self.src_w)

    @property
    def dst_elements(self) -> int:
        return self.channels * self.dst_h * self.dst_w


def _kept(extent: int, offset: int, step: int, dst_extent: int) -> range:
    """Source indices i in [0, extent) with 0 <= offset + i*step < dst_extent."""
    first = max(0, -(offset // step))               # ceil(-offset / step)
    stop = min(extent, -((offset - dst_extent) // step))  # ceil((dst_extent - offset) / step)
    return range(first, max(first, stop))


def emit_zero(builder: ir.IRBuilder, dst: ir.Value, count: int) -> None:
    """dst[0:count] = 0.0 (llvm.memset)."""
    memset = declare(builder.module, "llvm.memset.p0.i64", VOID, [PTR, I8, I64, I1])
    builder.call(memset, [dst, ir.Constant(I8, 0), i64(4 * count), ir.Constant(I1, 0)])


def emit_copy(builder: ir.IRBuilder, dst: ir.Value, src: ir.Value, count: int) -> None:
    """dst[0:count] = src[0:count] for non-overlapping float buffers (llvm.memcpy)."""
    memcpy = declare(builder.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
    builder.call(memcpy, [dst, src, i64(4 * count), ir.Constant(I1, 0)])


def emit_source_images(builder: ir.IRBuilder, operand: ir.Value, n0, count, place: Placement,
                       staged: Callable[[], ir.Value], each: Callable[[ir.Value, ir.Value], None] | None = None
                       ) -> ir.Value:
    """Images n0 .. n0+count-1 of `operand` as the loops read them, one after another every
    `place.dst_elements` floats: the operand itself when the placement is the identity, else their
    staged copies written into `staged()` (a scratch region of `count` images). `each(n, i)`, if
    given, runs after image n (at place i) is staged. Returns the first image's address."""
    image_elements = place.channels * place.src_h * place.src_w
    destination = None if place.is_identity else staged()
    if destination is not None or each is not None:
        with counted_loop(builder, 0, count, name="image") as i:
            n = affine(builder, [(n0, 1), (i, 1)])
            if destination is not None:
                emit_stage(builder, elem_ptr(builder, operand, affine(builder, [(n, image_elements)])),
                           elem_ptr(builder, destination, affine(builder, [(i, place.dst_elements)])), place)
            if each is not None:
                each(n, i)
    return destination if destination is not None else elem_ptr(builder, operand, affine(builder, [(n0, image_elements)]))


def emit_stage(builder: ir.IRBuilder, src: ir.Value, dst: ir.Value, place: Placement) -> None:
    """Write the staged image of `src` ([channels, src_h, src_w]) into `dst`."""
    emit_zero(builder, dst, place.dst_elements)
    rows = _kept(place.src_h, place.top, place.step_h, place.dst_h)
    cols = _kept(place.src_w, place.left, place.step_w, place.dst_w)
    if not rows or not cols:
        return
    with counted_loop(builder, 0, place.channels, name="stage.c") as c:
        with counted_loop(builder, rows.start, rows.stop, name="stage.h") as h:
            src_row = affine(builder, [(c, place.src_h * place.src_w), (h, place.src_w)], cols.start)
            dst_row = affine(builder, [(c, place.dst_h * place.dst_w), (h, place.step_h * place.dst_w)],
                             place.top * place.dst_w + place.left + cols.start * place.step_w)
            if place.step_w == 1:
                emit_copy(builder, elem_ptr(builder, dst, dst_row), elem_ptr(builder, src, src_row), len(cols))
            else:
                with counted_loop(builder, 0, len(cols), name="stage.w") as w:
                    value = load_scalar(builder, src, affine(builder, [(src_row, 1), (w, 1)]))
                    store_scalar(builder, value, dst, affine(builder, [(dst_row, 1), (w, place.step_w)]))
