"""2-D max and average pooling (pad_mode "valid", NCHW float32) and their gradients.

    max:  y[n, c, oh, ow] = max over kh < KH, kw < KW of x[n, c, oh*sh + kh, ow*sw + kw]
    avg:  the mean over the same window

Operands: forward x, y; max gradient x, dy, dx (the window maximum is recomputed from x and dy
goes to its first occurrence in row-major window order, as numpy.argmax picks); avg gradient
dy, dx (dy / (KH*KW) to every element of the window); the max gradient's own gradient x, g, y
(g picked at each window's first maximum). Windows in the same plane may overlap, so
work items are whole (n, c) planes, split over threads.

Lanes run along output width; a strided row of window elements is one wide load plus a shuffle.
Gradients: when the windows tile the plane exactly (kernel == stride, no leftover rows or
columns, LeNet's 2x2/2) each input row is written once by interleaving the per-tap vectors;
otherwise dx is zeroed and each lane's contributions are added one element at a time.

Fusing into conv2d later: with a width-lanes conv tile holding KH output rows, the epilogue can
take the maximum of the row accumulators, then of lane pairs (a shuffle), and store the pooled
row plus the argmax taps as a mask for the gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import Kernel, KernelFunction, Operand
from .loops import affine, counted_loop
from .simd import I32, LANES, V16F32, elem_ptr, load_scalar, load_strided, load_vector, shuffle, store_scalar, store_vector
from .staging import emit_zero
from .tile import emit_grid, vector_blocks


@dataclass(frozen=True)
class PoolGeometry:
    batch: int
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]

    @property
    def out_h(self) -> int:
        return (self.height - self.kernel[0]) // self.stride[0] + 1

    @property
    def out_w(self) -> int:
        return (self.width - self.kernel[1]) // self.stride[1] + 1

    @property
    def x_shape(self):
        return (self.batch, self.channels, self.height, self.width)

    @property
    def y_shape(self):
        return (self.batch, self.channels, self.out_h, self.out_w)

    @property
    def taps(self) -> list[tuple[int, int]]:
        return [(kh, kw) for kh in range(self.kernel[0]) for kw in range(self.kernel[1])]

    @property
    def tiles_exactly(self) -> bool:
        return self.kernel == self.stride and self.out_h * self.stride[0] == self.height \
            and self.out_w * self.stride[1] == self.width


def emit_max_pool2d(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    return _emit_forward(module, name, geo, _first_max, 1.0)


def _first_max(b: ir.IRBuilder, best: ir.Value, value: ir.Value) -> ir.Value:
    """value if value > best else best: the same comparison the gradient uses to route dy (one
    vmaxps; a NaN in a window is not propagated, 5x cheaper than llvm.maximum here)."""
    return b.select(b.fcmp_ordered(">", value, best), value, best)


def emit_avg_pool2d(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    return _emit_forward(module, name, geo, lambda b, acc, v: b.fadd(acc, v), 1.0 / len(geo.taps))


def emit_max_pool2d_grad(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    operands = (Operand("x", geo.x_shape), Operand("dy", geo.y_shape), Operand("dx", geo.x_shape, "out"))

    def contributions(kf, plane, oh, ow0, lanes):
        """Per tap: dy where that tap is the window's first maximum, else 0."""
        b = kf.builder
        best_tap = _first_max_taps(kf, geo, plane, oh, ow0, lanes)
        dy = _dy_row(kf, geo, plane, oh, ow0, lanes)
        zero = ir.Constant(V16F32, 0.0)
        return [b.select(b.icmp_signed("==", best_tap, ir.Constant(best_tap.type, t)), dy, zero)
                for t in range(len(geo.taps))]

    return _emit_gradient(module, name, geo, operands, contributions)


def emit_max_pool2d_grad_grad(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    """y[n, c, oh, ow] = g at the first maximum of x in window (oh, ow): operands x, g (shaped
    like x), y (pooled)."""
    operands = (Operand("x", geo.x_shape), Operand("g", geo.x_shape), Operand("y", geo.y_shape, "out"))
    kf = KernelFunction(module, name, operands)
    b = kf.builder

    def plane_body(plane):
        def vector(oh, ow0, lanes):
            best_tap = _first_max_taps(kf, geo, plane, oh, ow0, lanes)
            picked = None
            for t, (kh, kw) in enumerate(geo.taps):
                value = _window_row(kf, "g", geo, plane, oh, ow0, kh, kw, lanes)
                hit = b.icmp_signed("==", best_tap, ir.Constant(best_tap.type, t))
                picked = value if picked is None else b.select(hit, value, picked)
            index = affine(b, [(plane, geo.out_h * geo.out_w), (oh, geo.out_w), (ow0, 1)])
            store_vector(b, picked, kf["y"], index, lanes)

        _for_each_output_vector(kf, geo, vector)

    _planes(kf, geo, plane_body)
    return Kernel(name, (kf.finish(),), operands)


def _first_max_taps(kf, geo: PoolGeometry, plane, oh, ow0, lanes) -> ir.Value:
    """Per lane, the tap (row-major in the window) of the window's first maximum of x."""
    b = kf.builder
    best_value, best_tap = None, None
    for t, (kh, kw) in enumerate(geo.taps):
        value = _window_row(kf, "x", geo, plane, oh, ow0, kh, kw, lanes)
        if best_value is None:
            best_value, best_tap = value, ir.Constant(ir.VectorType(I32, LANES), 0)
            continue
        better = b.fcmp_ordered(">", value, best_value)
        best_value = _first_max(b, best_value, value)
        best_tap = b.select(better, ir.Constant(best_tap.type, t), best_tap)
    return best_tap


def emit_avg_pool2d_grad(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    operands = (Operand("dy", geo.y_shape), Operand("dx", geo.x_shape, "out"))

    def contributions(kf, plane, oh, ow0, lanes):
        share = kf.builder.fmul(_dy_row(kf, geo, plane, oh, ow0, lanes), ir.Constant(V16F32, 1.0 / len(geo.taps)))
        return [share] * len(geo.taps)

    return _emit_gradient(module, name, geo, operands, contributions)


def _planes(kf: KernelFunction, geo: PoolGeometry, body) -> None:
    """body(plane) for this thread's share of the N*C planes."""
    b = kf.builder
    lo, hi = emit_split_range(b, kf.tid, kf.nthreads, geo.batch * geo.channels)
    with counted_loop(b, lo, hi, name="plane") as plane:
        body(plane)


def _for_each_output_vector(kf: KernelFunction, geo: PoolGeometry, body) -> None:
    b = kf.builder
    with counted_loop(b, 0, geo.out_h, name="oh") as oh:
        emit_grid(b, [vector_blocks(geo.out_w, 1)],
                  lambda starts, kinds: body(oh, affine(b, [(starts[0], LANES)]), kinds[0].lanes(0)))


def _window_row(kf, name, geo: PoolGeometry, plane, oh, ow0, kh: int, kw: int, lanes: int) -> ir.Value:
    """x[plane, oh*sh + kh, (ow0 + i)*sw + kw] for lanes i."""
    b = kf.builder
    sh, sw = geo.stride
    index = affine(b, [(plane, geo.height * geo.width), (oh, sh * geo.width), (ow0, sw)], kh * geo.width + kw)
    return load_strided(b, kf[name], index, sw, lanes)


def _dy_row(kf, geo: PoolGeometry, plane, oh, ow0, lanes: int) -> ir.Value:
    b = kf.builder
    return load_vector(b, kf["dy"], affine(b, [(plane, geo.out_h * geo.out_w), (oh, geo.out_w), (ow0, 1)]), lanes)


def _emit_forward(module, name, geo: PoolGeometry, combine, scale: float) -> Kernel:
    operands = (Operand("x", geo.x_shape), Operand("y", geo.y_shape, "out"))
    kf = KernelFunction(module, name, operands)
    b = kf.builder

    def plane_body(plane):
        def vector(oh, ow0, lanes):
            acc = None
            for kh, kw in geo.taps:
                value = _window_row(kf, "x", geo, plane, oh, ow0, kh, kw, lanes)
                acc = value if acc is None else combine(b, acc, value)
            if scale != 1.0:
                acc = b.fmul(acc, ir.Constant(V16F32, scale))
            index = affine(b, [(plane, geo.out_h * geo.out_w), (oh, geo.out_w), (ow0, 1)])
            store_vector(b, acc, kf["y"], index, lanes)

        _for_each_output_vector(kf, geo, vector)

    _planes(kf, geo, plane_body)
    return Kernel(name, (kf.finish(),), operands, flops=len(geo.taps) * geo.batch * geo.channels * geo.out_h * geo.out_w)


def _emit_gradient(module, name, geo: PoolGeometry, operands, contributions) -> Kernel:
    kf = KernelFunction(module, name, operands)
    b = kf.builder
    plane_size = geo.height * geo.width

    def plane_body(plane):
        if not geo.tiles_exactly:
            emit_zero(b, elem_ptr(b, kf["dx"], affine(b, [(plane, plane_size)])), plane_size)

        def vector(oh, ow0, lanes):
            parts = contributions(kf, plane, oh, ow0, lanes)
            if geo.tiles_exactly:
                _store_interleaved(kf, geo, plane, oh, ow0, lanes, parts)
            else:
                _add_each(kf, geo, plane, oh, ow0, lanes, parts)

        _for_each_output_vector(kf, geo, vector)

    _planes(kf, geo, plane_body)
    return Kernel(name, (kf.finish(),), operands, flops=len(geo.taps) * geo.batch * geo.channels * geo.out_h * geo.out_w)


def _store_interleaved(kf, geo: PoolGeometry, plane, oh, ow0, lanes: int, parts) -> None:
    """Kernel == stride: input row oh*sh + kh is the lanes of taps (kh, 0..sw-1) interleaved."""
    b = kf.builder
    sh, sw = geo.stride
    for kh in range(sh):
        row_parts = parts[kh * sw:(kh + 1) * sw]
        index = affine(b, [(plane, geo.height * geo.width), (oh, sh * geo.width), (ow0, sw)], kh * geo.width)
        for first in range(0, lanes * sw, LANES):
            # lane j of the output vector starting at element `first` is tap (first+j) % sw of lane (first+j) // sw
            vector = _gather_lanes(b, row_parts, [((first + j) % sw, (first + j) // sw) for j in range(LANES)])
            store_vector(b, vector, kf["dx"], affine(b, [(index, 1)], first), min(LANES, lanes * sw - first))


def _gather_lanes(b: ir.IRBuilder, vectors: list[ir.Value], picks: list[tuple[int, int]]) -> ir.Value:
    """A vector whose lane j is vectors[picks[j][0]] lane picks[j][1] (lanes past 15 don't matter)."""
    result = None
    for source in sorted({s for s, _ in picks}):
        lanes = [lane if s == source and lane < LANES else -1 for s, lane in picks]
        if result is None:
            result = shuffle(b, vectors[source], None, [lane if lane >= 0 else 0 for lane in lanes])
        else:
            result = shuffle(b, result, vectors[source], [LANES + lane if lane >= 0 else j for j, lane in enumerate(lanes)])
    return result


def _add_each(kf, geo: PoolGeometry, plane, oh, ow0, lanes: int, parts) -> None:
    """General windows: dx[window element] += contribution, one lane at a time (overlaps allowed)."""
    b = kf.builder
    sh, sw = geo.stride
    for t, (kh, kw) in enumerate(geo.taps):
        for lane in range(lanes):
            value = b.extract_element(parts[t], ir.Constant(I32, lane))
            index = affine(b, [(plane, geo.height * geo.width), (oh, sh * geo.width), (ow0, sw)],
                           kh * geo.width + kw + lane * sw)
            store_scalar(b, b.fadd(load_scalar(b, kf["dx"], index), value), kf["dx"], index)
