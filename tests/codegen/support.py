"""Shared test helpers: NumPy float64 references and a runner that checks 1 vs 2 threads.

Tolerances: a dot product of K float32 terms is compared with
    |out - ref| <= 4 * eps32 * sqrt(K) * (sum of |terms|) + tiny,
i.e. the usual probabilistic rounding bound scaled by the magnitude of the terms, not of the
(possibly cancelling) result. Elementwise kernels use a few ulp.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.codegen.kernels.launch import Launcher, aligned, aligned_empty
from graphc.types import dtype_of

EPS32 = float(np.finfo(np.float32).eps)
RNG_SEED = 1234


def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def run_threads(emit, inputs: dict, outputs: list[str], threads=(1, 2)) -> dict:
    """Compile the kernel `emit(module)` returns, run it on 1 and 2 threads, assert bitwise equal
    results, return the outputs of the first run."""
    module = ir.Module()
    kernel = emit(module)
    launcher = Launcher(kernel, module)
    shapes = {op.name: (op.shape, dtype_of(op.dtype).np) for op in kernel.operands}
    results = []
    for nthreads in threads:
        arrays = {name: aligned(value, shapes[name][1]) for name, value in inputs.items()}
        for name in outputs:
            if name not in arrays:
                arrays[name] = aligned_empty(*shapes[name])
                arrays[name][...] = np.nan if dtype_of(shapes[name][1]).is_float else -12345   # "never written"
        launcher(arrays, nthreads=nthreads)
        results.append({name: arrays[name].copy() for name in outputs})
    for name in outputs:
        for other in results[1:]:
            np.testing.assert_array_equal(results[0][name], other[name],
                                          err_msg=f"{kernel.name}.{name}: thread counts disagree")
    return results[0]


def assert_dot_close(out, ref, magnitude, k: int, what: str = "") -> None:
    tolerance = 4 * EPS32 * np.sqrt(k) * magnitude + 1e-30
    excess = np.abs(out.astype(np.float64) - ref) - tolerance
    assert np.all(excess <= 0), f"{what}: max error {np.max(np.abs(out - ref)):.3g} beyond tolerance " \
                                f"(worst at {np.unravel_index(np.argmax(excess), excess.shape)})"


def random(shape, scale=1.0, seed_offset=0):
    return (np.random.default_rng(RNG_SEED + seed_offset).standard_normal(shape) * scale).astype(np.float32)


# --- convolution references (float64, NCHW / OIHW) -------------------------------------------

def _padded(x, pad):
    top, bottom, left, right = pad
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + top + bottom, w + left + right))
    out[:, :, top:top + h, left:left + w] = x
    return out


def _window(xp, geo, kh, kw):
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    return xp[:, :, kh * dh: kh * dh + sh * (geo.out_h - 1) + 1: sh, kw * dw: kw * dw + sw * (geo.out_w - 1) + 1: sw]


def conv_ref(x, w, geo):
    xp = _padded(np.asarray(x, np.float64), geo.pad)
    w = np.asarray(w, np.float64)
    y = np.zeros(geo.y_shape)
    cg, og = geo.cin_g, geo.cout_g
    for kh in range(geo.kernel_h):
        for kw in range(geo.kernel_w):
            patch = _window(xp, geo, kh, kw)
            for g in range(geo.group):
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch[:, g * cg:(g + 1) * cg],
                                                       w[g * og:(g + 1) * og, :, kh, kw])
    return y


def conv_grad_input_ref(dy, w, geo):
    dy, w = np.asarray(dy, np.float64), np.asarray(w, np.float64)
    top, bottom, left, right = geo.pad
    dxp = np.zeros((geo.batch, geo.in_channels, geo.height + top + bottom, geo.width + left + right))
    cg, og = geo.cin_g, geo.cout_g
    for kh in range(geo.kernel_h):
        for kw in range(geo.kernel_w):
            patch = _window(dxp, geo, kh, kw)          # a view: adding into it adds into dxp
            for g in range(geo.group):
                patch[:, g * cg:(g + 1) * cg] += np.einsum("nohw,oc->nchw", dy[:, g * og:(g + 1) * og],
                                                           w[g * og:(g + 1) * og, :, kh, kw])
    return dxp[:, :, top:top + geo.height, left:left + geo.width]


def conv_grad_filter_ref(dy, x, geo):
    xp = _padded(np.asarray(x, np.float64), geo.pad)
    dy = np.asarray(dy, np.float64)
    dw = np.zeros(geo.w_shape)
    cg, og = geo.cin_g, geo.cout_g
    for kh in range(geo.kernel_h):
        for kw in range(geo.kernel_w):
            patch = _window(xp, geo, kh, kw)
            for g in range(geo.group):
                dw[g * og:(g + 1) * og, :, kh, kw] = np.einsum("nohw,nchw->oc", dy[:, g * og:(g + 1) * og],
                                                               patch[:, g * cg:(g + 1) * cg])
    return dw


def scale_module(factor: int) -> ir.Module:
    """A module with one function, i64 scale(i64 x) = x * factor: a distinct cache entry per factor."""
    module = ir.Module()
    i64 = ir.IntType(64)
    fn = ir.Function(module, ir.FunctionType(i64, [i64]), "scale")
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(b.mul(fn.args[0], ir.Constant(i64, factor)))
    return module
