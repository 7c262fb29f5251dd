"""2-D max and average pooling (NCHW float32, pad_mode 'valid' or 'same') and their gradients.

    max:  y[n, c, oh, ow] = max over kh < KH, kw < KW of xp[n, c, oh*sh + kh, ow*sw + kw]
    avg:  the sum over the same window / the number of real (unpadded) elements in it

where xp is x with `pad` (top, bottom, left, right) rows and columns of -inf (max) or 0 (avg)
around it, as the ops' references pad for 'same'.

Operands: forward x, y; max gradient x, dy, dx (the window maximum is recomputed from x and dy
goes to its first occurrence in row-major window order, as numpy.argmax picks); avg gradient
dy, dx (dy / window size to every real element of the window); the max gradient's own gradient
x, g, y (g picked at each window's first maximum). Windows in the same plane may overlap, so
work items are whole (n, c) planes, split over threads. The gradients take an epilogue (e.g. the
ReLU mask of the layer before the pool), applied to each element of dx as it is written.

Lanes run along output width; a strided row of window elements is one wide load plus a shuffle.
With padding, each thread first copies the plane it works on into a padded plane in its scratch,
so the window loops never check bounds. Gradients: when the windows tile the unpadded plane
exactly (kernel == stride, no leftover rows or columns, LeNet's 2x2/2) each input row is written
once by interleaving the per-tap vectors; otherwise the contributions are added one element at a
time into a zeroed plane (dx itself, or a padded plane in scratch), then written out through the
epilogue.

Fusing into conv2d later: with a width-lanes conv tile holding KH output rows, the epilogue can
take the maximum of the row accumulators, then of lane pairs (a shuffle), and store the pooled
row plus the argmax taps as a mask for the gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from ..parallel import emit_split_range
from .contract import Kernel, KernelFunction, Operand, ScratchPlan, kernel_operands
from .epilogue import IDENTITY, Epilogue, LanePosition
from .loops import affine, counted_loop
from .simd import F32, I32, LANES, V16F32, elem_ptr, i64, load_scalar, load_strided, load_vector, shuffle, store_scalar, \
    store_vector
from .staging import emit_copy, emit_zero
from .tile import emit_grid, vector_blocks

MAX_PAD, AVG_PAD = float("-inf"), 0.0      # what padding holds for the max and the average


@dataclass(frozen=True)
class PoolGeometry:
    batch: int
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)     # top, bottom, left, right

    @property
    def padded_h(self) -> int:
        return self.height + self.pad[0] + self.pad[1]

    @property
    def padded_w(self) -> int:
        return self.width + self.pad[2] + self.pad[3]

    @property
    def out_h(self) -> int:
        return (self.padded_h - self.kernel[0]) // self.stride[0] + 1

    @property
    def out_w(self) -> int:
        return (self.padded_w - self.kernel[1]) // self.stride[1] + 1

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
    def is_padded(self) -> bool:
        return any(self.pad)

    @property
    def tiles_exactly(self) -> bool:
        return not self.is_padded and self.kernel == self.stride and self.out_h * self.stride[0] == self.height \
            and self.out_w * self.stride[1] == self.width

    def window_sizes(self) -> list[float]:
        """Per output element (row-major in a plane), how many real elements its window covers."""
        (kh, kw), (sh, sw), (top, _, left, _) = self.kernel, self.stride, self.pad
        rows = [_overlap(oh * sh - top, kh, self.height) for oh in range(self.out_h)]
        cols = [_overlap(ow * sw - left, kw, self.width) for ow in range(self.out_w)]
        return [float(r * c) for r in rows for c in cols]


def _overlap(start: int, length: int, extent: int) -> int:
    """How much of [start, start + length) lies in [0, extent)."""
    return min(start + length, extent) - max(start, 0)


@dataclass(frozen=True)
class _Plane:
    """One (n, c) plane: element (h, w) is base[h * width + w]."""
    base: ir.Value
    width: int


def _plane(b: ir.IRBuilder, tensor: ir.Value, plane, height: int, width: int) -> _Plane:
    return _Plane(elem_ptr(b, tensor, affine(b, [(plane, height * width)])), width)


# -- forward ------------------------------------------------------------------------------------------------
def emit_max_pool2d(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    return _emit_forward(module, name, geo, _first_max, MAX_PAD, averaged=False)


def _first_max(b: ir.IRBuilder, best: ir.Value, value: ir.Value) -> ir.Value:
    """value if it beats best (_beats), else best: the comparison the gradient uses to route dy."""
    return b.select(_beats(b, value, best), value, best)


def _beats(b: ir.IRBuilder, value: ir.Value, best: ir.Value) -> ir.Value:
    """value > best, or value is the window's first NaN: numpy's max propagates NaN and its argmax
    picks the first NaN, so a NaN in a window gives NaN and routes the gradient to it. Two compares
    and an and, cheaper than llvm.maximum, which also gives no tap."""
    return b.and_(b.fcmp_unordered(">", value, best), b.fcmp_ordered("ord", best, best))


def emit_avg_pool2d(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    return _emit_forward(module, name, geo, lambda b, acc, v: b.fadd(acc, v), AVG_PAD, averaged=True)


def _emit_forward(module, name, geo: PoolGeometry, combine, fill: float, averaged: bool) -> Kernel:
    operands = (Operand("x", geo.x_shape), Operand("y", geo.y_shape, "out"))
    plan = _staging_plan(geo, ["x"])
    kf = KernelFunction(module, name, operands, plan.scratch)
    b = kf.builder
    window_size = _window_size(kf, geo) if averaged else None

    def plane_body(plane):
        x = _padded_source(kf, plan, "x", geo, plane, fill)
        y = _plane(b, kf["y"], plane, geo.out_h, geo.out_w)

        def vector(oh, ow0, lanes):
            acc = None
            for kh, kw in geo.taps:
                value = _window_row(b, x, geo, oh, ow0, kh, kw, lanes)
                acc = value if acc is None else combine(b, acc, value)
            if averaged:
                acc = b.fdiv(acc, window_size(oh, ow0, lanes))
            store_vector(b, acc, y.base, _pooled_index(b, geo, oh, ow0), lanes)

        _for_each_output_vector(kf, geo, vector)

    _planes(kf, geo, plane_body)
    return Kernel(name, (kf.finish(),), operands, plan.scratch, _flops(geo), geo.batch)


def _window_size(kf: KernelFunction, geo: PoolGeometry):
    """fn(oh, ow0, lanes): per lane, the number of real elements in the window (the average's
    divisor): a constant without padding, else read from a table in the module."""
    if not geo.is_padded:
        size = ir.Constant(V16F32, float(len(geo.taps)))
        return lambda oh, ow0, lanes: size
    sizes = geo.window_sizes()
    table = ir.GlobalVariable(kf.function.module, ir.ArrayType(F32, len(sizes)), f"{kf.function.name}.window_sizes")
    table.global_constant, table.linkage = True, "internal"
    table.initializer = ir.Constant(ir.ArrayType(F32, len(sizes)), sizes)
    b = kf.builder
    return lambda oh, ow0, lanes: load_vector(b, table, _pooled_index(b, geo, oh, ow0), lanes)


# -- gradients ----------------------------------------------------------------------------------------------
def emit_max_pool2d_grad(module: ir.Module, name: str, geo: PoolGeometry, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("x", geo.x_shape), Operand("dy", geo.y_shape), Operand("dx", geo.x_shape, "out")]

    def per_plane(kf, plan, plane):
        """Per tap: dy where that tap is the window's first maximum, else 0."""
        b = kf.builder
        x = _padded_source(kf, plan, "x", geo, plane, MAX_PAD)
        dy = _plane(b, kf["dy"], plane, geo.out_h, geo.out_w)
        zero = ir.Constant(V16F32, 0.0)

        def contributions(oh, ow0, lanes):
            best_tap = _first_max_taps(b, geo, x, oh, ow0, lanes)
            dy_row = load_vector(b, dy.base, _pooled_index(b, geo, oh, ow0), lanes)
            return [b.select(b.icmp_signed("==", best_tap, ir.Constant(best_tap.type, t)), dy_row, zero)
                    for t in range(len(geo.taps))]
        return contributions

    return _emit_gradient(module, name, geo, own, ["x"], per_plane, epilogue)


def emit_avg_pool2d_grad(module: ir.Module, name: str, geo: PoolGeometry, epilogue: Epilogue = IDENTITY) -> Kernel:
    own = [Operand("dy", geo.y_shape), Operand("dx", geo.x_shape, "out")]

    def per_plane(kf, plan, plane):
        """dy / window size to every tap."""
        b = kf.builder
        dy = _plane(b, kf["dy"], plane, geo.out_h, geo.out_w)
        window_size = _window_size(kf, geo)

        def contributions(oh, ow0, lanes):
            dy_row = load_vector(b, dy.base, _pooled_index(b, geo, oh, ow0), lanes)
            return [b.fdiv(dy_row, window_size(oh, ow0, lanes))] * len(geo.taps)
        return contributions

    return _emit_gradient(module, name, geo, own, [], per_plane, epilogue)


def emit_max_pool2d_grad_grad(module: ir.Module, name: str, geo: PoolGeometry) -> Kernel:
    """y[n, c, oh, ow] = g at the first maximum of x in window (oh, ow): operands x, g (shaped
    like x), y (pooled)."""
    operands = (Operand("x", geo.x_shape), Operand("g", geo.x_shape), Operand("y", geo.y_shape, "out"))
    plan = _staging_plan(geo, ["x", "g"])
    kf = KernelFunction(module, name, operands, plan.scratch)
    b = kf.builder

    def plane_body(plane):
        x = _padded_source(kf, plan, "x", geo, plane, MAX_PAD)
        g = _padded_source(kf, plan, "g", geo, plane, AVG_PAD)
        y = _plane(b, kf["y"], plane, geo.out_h, geo.out_w)

        def vector(oh, ow0, lanes):
            best_tap = _first_max_taps(b, geo, x, oh, ow0, lanes)
            picked = None
            for t, (kh, kw) in enumerate(geo.taps):
                value = _window_row(b, g, geo, oh, ow0, kh, kw, lanes)
                hit = b.icmp_signed("==", best_tap, ir.Constant(best_tap.type, t))
                picked = value if picked is None else b.select(hit, value, picked)
            store_vector(b, picked, y.base, _pooled_index(b, geo, oh, ow0), lanes)

        _for_each_output_vector(kf, geo, vector)

    _planes(kf, geo, plane_body)
    return Kernel(name, (kf.finish(),), operands, plan.scratch, batch=geo.batch)


def _first_max_taps(b: ir.IRBuilder, geo: PoolGeometry, x: _Plane, oh, ow0, lanes) -> ir.Value:
    """Per lane, the tap (row-major in the window) of the window's first maximum of x."""
    best_value, best_tap = None, None
    for t, (kh, kw) in enumerate(geo.taps):
        value = _window_row(b, x, geo, oh, ow0, kh, kw, lanes)
        if best_value is None:
            best_value, best_tap = value, ir.Constant(ir.VectorType(I32, LANES), 0)
            continue
        better = _beats(b, value, best_value)
        best_value = b.select(better, value, best_value)
        best_tap = b.select(better, ir.Constant(best_tap.type, t), best_tap)
    return best_tap


def _emit_gradient(module, name, geo: PoolGeometry, own, staged: list[str], per_plane, epilogue: Epilogue) -> Kernel:
    """per_plane(kf, plan, plane) -> contributions(oh, ow0, lanes): per tap, the vector each
    window adds to its element of dx."""
    plan = _staging_plan(geo, staged + ["dx"])
    operands = kernel_operands(own, epilogue.operands)
    kf = KernelFunction(module, name, operands, plan.scratch)
    b = kf.builder

    def plane_body(plane):
        contributions = per_plane(kf, plan, plane)
        dx = _plane(b, kf["dx"], plane, geo.height, geo.width)
        if geo.tiles_exactly:
            _for_each_output_vector(kf, geo, lambda oh, ow0, lanes: _store_interleaved(
                kf, geo, plane, dx, oh, ow0, lanes, contributions(oh, ow0, lanes), epilogue))
            return
        sums = _Plane(plan.private_region(kf, "dx"), geo.padded_w) if geo.is_padded else dx
        emit_zero(b, sums.base, geo.padded_h * geo.padded_w)
        _for_each_output_vector(kf, geo, lambda oh, ow0, lanes: _add_each(
            b, geo, sums, oh, ow0, lanes, contributions(oh, ow0, lanes)))
        if sums is not dx or epilogue is not IDENTITY:     # dx is final once every window has added
            _write_out(kf, geo, plane, sums, dx, epilogue)

    _planes(kf, geo, plane_body)
    return Kernel(name, (kf.finish(),), operands, plan.scratch, _flops(geo), geo.batch)


def _store_interleaved(kf, geo: PoolGeometry, plane, dx: _Plane, oh, ow0, lanes: int, parts,
                       epilogue: Epilogue) -> None:
    """Kernel == stride: input row oh*sh + kh is the lanes of taps (kh, 0..sw-1) interleaved; each
    element is written once, so the epilogue runs on the way out."""
    b = kf.builder
    sh, sw = geo.stride
    for kh in range(sh):
        row_parts = parts[kh * sw:(kh + 1) * sw]
        row = affine(b, [(oh, sh)], kh)
        for first in range(0, lanes * sw, LANES):
            # lane j of the output vector starting at element `first` is tap (first+j) % sw of lane (first+j) // sw
            vector = _gather_lanes(b, row_parts, [((first + j) % sw, (first + j) // sw) for j in range(LANES)])
            _store_dx(kf, geo, vector, plane, dx, row, affine(b, [(ow0, sw)], first),
                      min(LANES, lanes * sw - first), epilogue)


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


def _add_each(b: ir.IRBuilder, geo: PoolGeometry, sums: _Plane, oh, ow0, lanes: int, parts) -> None:
    """General windows: sums[window element] += contribution, one lane at a time (overlaps allowed)."""
    sh, sw = geo.stride
    for t, (kh, kw) in enumerate(geo.taps):
        for lane in range(lanes):
            value = b.extract_element(parts[t], ir.Constant(I32, lane))
            index = affine(b, [(oh, sh * sums.width), (ow0, sw)], kh * sums.width + kw + lane * sw)
            store_scalar(b, b.fadd(load_scalar(b, sums.base, index), value), sums.base, index)


def _write_out(kf, geo: PoolGeometry, plane, sums: _Plane, dx: _Plane, epilogue: Epilogue) -> None:
    """dx = epilogue(the real elements of sums); sums may be dx itself."""
    b = kf.builder
    top, left = geo.pad[0], geo.pad[2]
    with counted_loop(b, 0, geo.height, name="h") as row:
        def vector(starts, kinds):
            col, count = affine(b, [(starts[0], LANES)]), kinds[0].lanes(0)
            value = load_vector(b, sums.base, affine(b, [(row, sums.width), (col, 1)], top * sums.width + left), count)
            _store_dx(kf, geo, value, plane, dx, row, col, count, epilogue)

        emit_grid(b, [vector_blocks(geo.width, 1)], vector)


def _store_dx(kf, geo: PoolGeometry, value, plane, dx: _Plane, row, col, count: int, epilogue: Epilogue) -> None:
    """Store `count` lanes of dx from (row, col) of `plane` along the row, through the epilogue."""
    b = kf.builder
    view = (("plane", geo.batch * geo.channels), ("h", geo.height), ("w", geo.width))
    position = LanePosition({"plane": plane, "h": row, "w": col}, "w", count, view)
    store_vector(b, epilogue.apply(b, value, position, kf.args), dx.base, affine(b, [(row, dx.width), (col, 1)]), count)


# -- shared loops and addressing ------------------------------------------------------------------------------
def _planes(kf: KernelFunction, geo: PoolGeometry, body) -> None:
    """body(plane) for this thread's share of the N*C planes (N read at run time)."""
    b = kf.builder
    lo, hi = emit_split_range(b, kf.tid, kf.nthreads, b.mul(kf.batch, i64(geo.channels)))
    with counted_loop(b, lo, hi, name="plane") as plane:
        body(plane)


def _for_each_output_vector(kf: KernelFunction, geo: PoolGeometry, body) -> None:
    b = kf.builder
    with counted_loop(b, 0, geo.out_h, name="oh") as oh:
        emit_grid(b, [vector_blocks(geo.out_w, 1)],
                  lambda starts, kinds: body(oh, affine(b, [(starts[0], LANES)]), kinds[0].lanes(0)))


def _window_row(b: ir.IRBuilder, source: _Plane, geo: PoolGeometry, oh, ow0, kh: int, kw: int, lanes: int) -> ir.Value:
    """source[oh*sh + kh, (ow0 + i)*sw + kw] for lanes i."""
    sh, sw = geo.stride
    index = affine(b, [(oh, sh * source.width), (ow0, sw)], kh * source.width + kw)
    return load_strided(b, source.base, index, sw, lanes)


def _pooled_index(b: ir.IRBuilder, geo: PoolGeometry, oh, ow0):
    """Element (oh, ow0) of a pooled plane."""
    return affine(b, [(oh, geo.out_w), (ow0, 1)])


def _staging_plan(geo: PoolGeometry, names: list[str]) -> ScratchPlan:
    """A padded plane per thread for each of `names` when the geometry pads; nothing otherwise."""
    plan = ScratchPlan()
    for name in names if geo.is_padded else []:
        plan.private(name, 4 * geo.padded_h * geo.padded_w)
    return plan


def _padded_source(kf: KernelFunction, plan: ScratchPlan, name: str, geo: PoolGeometry, plane, fill: float) -> _Plane:
    """Plane `plane` of operand `name` (shaped like x) as the windows read it: itself, or when the
    geometry pads, a copy surrounded by `fill` in this thread's scratch."""
    b = kf.builder
    source = _plane(b, kf[name], plane, geo.height, geo.width)
    if not geo.is_padded:
        return source
    padded = _Plane(plan.private_region(kf, name), geo.padded_w)
    _fill(b, padded.base, geo.padded_h * geo.padded_w, fill)
    top, left = geo.pad[0], geo.pad[2]
    with counted_loop(b, 0, geo.height, name="stage.h") as row:
        emit_copy(b, elem_ptr(b, padded.base, affine(b, [(row, padded.width)], top * padded.width + left)),
                  elem_ptr(b, source.base, affine(b, [(row, geo.width)])), geo.width)
    return padded


def _fill(b: ir.IRBuilder, dst: ir.Value, count: int, value: float) -> None:
    vector = ir.Constant(V16F32, value)
    emit_grid(b, [vector_blocks(count, 1)],
              lambda starts, kinds: store_vector(b, vector, dst, affine(b, [(starts[0], LANES)]), kinds[0].lanes(0)))


def _flops(geo: PoolGeometry) -> int:
    return len(geo.taps) * geo.batch * geo.channels * geo.out_h * geo.out_w
