"""matmul against float64 NumPy: LeNet's dense-layer shapes, awkward shapes, all flag pairs,
the epilogue hook; 1 and 2 threads bitwise equal (support.run_threads)."""
import numpy as np
import pytest

from graphc.codegen.kernels import epilogue as ep
from graphc.codegen.kernels.matmul import emit_matmul

from graphc.codegen.machine import has_amx, has_dpbf16
from graphc.types import dtype_of

from .support import EPS32, assert_dot_close, random, run_threads

LENET = [  # (m, k, n, transpose_a, transpose_b): forward x@w.T, input grad dy@w, weight grad dy.T@x
    (32, 400, 120, False, True), (32, 120, 84, False, True), (32, 84, 10, False, True),
    (32, 120, 400, False, False), (32, 84, 120, False, False), (32, 10, 84, False, False),
    (120, 32, 400, True, False), (84, 32, 120, True, False), (10, 32, 84, True, False),
]
AWKWARD = [(1, 1, 1), (1, 17, 33), (7, 5, 3), (13, 31, 17), (6, 16, 64), (5, 16, 7), (19, 3, 97), (64, 64, 64)]


def _check(m, k, n, ta, tb, epilogue=ep.IDENTITY, extra=None):
    a = random((k, m) if ta else (m, k), seed_offset=1)
    b = random((n, k) if tb else (k, n), seed_offset=2)
    inputs = {"a": a, "b": b, **(extra or {})}
    out = run_threads(lambda mod: emit_matmul(mod, "mm", m, k, n, ta, tb, epilogue), inputs, ["y"])["y"]
    op_a = a.T if ta else a
    op_b = b.T if tb else b
    ref = op_a.astype(np.float64) @ op_b
    return out, ref, np.abs(op_a).astype(np.float64) @ np.abs(op_b)


@pytest.mark.parametrize("m,k,n,ta,tb", LENET)
def test_lenet_shapes(m, k, n, ta, tb):
    out, ref, magnitude = _check(m, k, n, ta, tb)
    assert_dot_close(out, ref, magnitude, k, "matmul")


@pytest.mark.parametrize("m,k,n", AWKWARD)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_awkward_shapes_and_flags(m, k, n, ta, tb):
    out, ref, magnitude = _check(m, k, n, ta, tb)
    assert_dot_close(out, ref, magnitude, k, "matmul")


@pytest.mark.parametrize("m,k,n,tb", [(256, 128, 128, False), (263, 37, 133, False), (300, 100, 150, True),
                                       (50, 37, 133, False), (60, 100, 150, True)])
def test_b_copied_into_panels(m, k, n, tb):
    """Shapes whose b each thread copies into column panels (matmul._copy_panels), with tails on every
    edge: of a panel's vectors, of k's 16-blocks (transposed), of the panels; with PANEL_ROWS rows or
    more (taken panel by panel) and fewer (b in place, or the transposed copy's panels tile by tile)."""
    out, ref, magnitude = _check(m, k, n, False, tb)
    assert_dot_close(out, ref, magnitude, k, "matmul")


@pytest.mark.parametrize("tb", [False, True])
def test_bias_relu_epilogue(tb):
    m, k, n = 9, 40, 37
    bias = random((n,), seed_offset=3)
    out, ref, magnitude = _check(m, k, n, False, tb, ep.chain(ep.bias_add("n", n), ep.relu()), {"bias": bias})
    expected = np.maximum(ref + bias, 0)
    assert_dot_close(out, expected, magnitude + np.abs(bias), k, "matmul+bias+relu")
    assert np.all(out[expected < -1e-3] == 0)


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("batch, m, k, n", [(3, 7, 5, 37), (2, 16, 24, 64), (4, 6, 1, 100)])
def test_batched_gemm_is_a_pointwise_convolution(batch, m, k, n, transpose_a):
    a = random((k, m) if transpose_a else (m, k), seed_offset=1)
    b = random((batch, k, n), seed_offset=2)
    bias = random((m,), seed_offset=3)
    epilogue = ep.chain(ep.bias_add("m", m), ep.relu())
    y = run_threads(lambda mod: emit_matmul(mod, "bmm", m, k, n, transpose_a, epilogue=epilogue, batch=batch),
                    {"a": a, "b": b, "bias": bias}, ["y"])["y"]
    weights = a.T if transpose_a else a
    want = np.maximum(np.einsum("mk,ikn->imn", weights.astype(np.float64), b) + bias[None, :, None], 0)
    magnitude = np.einsum("mk,ikn->imn", np.abs(weights).astype(np.float64), np.abs(b)) + np.abs(bias)[None, :, None]
    assert_dot_close(y, want, magnitude, k, "batched matmul")


@pytest.mark.parametrize("terms, m, k, n", [(3, 7, 37, 5), (2, 16, 32, 9), (5, 13, 7, 4)])
def test_dot_products_summed_over_terms_are_a_pointwise_filter_gradient(terms, m, k, n):
    a, b = random((terms, m, k), seed_offset=1), random((terms, n, k), seed_offset=2)
    y = run_threads(lambda mod: emit_matmul(mod, "sum", m, k, n, transpose_b=True, terms=terms), {"a": a, "b": b},
                    ["y"])["y"]
    want = np.einsum("tmk,tnk->mn", a.astype(np.float64), b)
    magnitude = np.einsum("tmk,tnk->mn", np.abs(a).astype(np.float64), np.abs(b))
    assert_dot_close(y, want, magnitude, terms * k, "dot products summed over terms")



# -- half operands (issue 23): converted to float32 in registers, accumulated in float32 ---------------------
HALF_SHAPES = LENET[::3] + [(13, 31, 17, False, False), (7, 5, 3, True, True), (19, 3, 97, False, True),
                            (5, 70, 9, False, True)]


def _half_inputs(dtype, m, k, n, ta, tb):
    half = dtype_of(dtype).np
    return (random((k, m) if ta else (m, k), seed_offset=1).astype(half),
            random((n, k) if tb else (k, n), seed_offset=2).astype(half))


def _assert_rounded_dot(out, a, b, ta, tb, k):
    """Within a half ulp of a float32 dot product (and its bound) of float64 NumPy."""
    op_a, op_b = (a.T if ta else a).astype(np.float64), (b.T if tb else b).astype(np.float64)
    ref, magnitude = op_a @ op_b, np.abs(op_a) @ np.abs(op_b)
    half_ulp = float(np.finfo(out.dtype).eps) / 2 * np.abs(ref)
    assert_dot_close(out.astype(np.float64), ref, magnitude + half_ulp / (4 * EPS32 * np.sqrt(k)), k, "half matmul")


@pytest.mark.parametrize("dtype", ["bf16", "f16"])
@pytest.mark.parametrize("m,k,n,ta,tb", HALF_SHAPES)
def test_half_operands_give_the_float32_kernel_rounded(dtype, m, k, n, ta, tb):
    """The same FMA chains as float32 on the half values (the conversion is exact), so the result is
    the float32 kernel's rounded once (bfloat16 adds its products in pairs instead, except in a weight
    gradient's GEMM, whose k is the run-time batch: below)."""
    if dtype == "bf16" and (tb or not ta):
        pytest.skip("bfloat16 adds products in pairs here: test_bfloat16_pairs_*")
    a, b = _half_inputs(dtype, m, k, n, ta, tb)
    out = run_threads(lambda mod: emit_matmul(mod, "mm", m, k, n, ta, tb, dtype=dtype), {"a": a, "b": b}, ["y"])["y"]
    wide = run_threads(lambda mod: emit_matmul(mod, "mm32", m, k, n, ta, tb),
                       {"a": a.astype(np.float32), "b": b.astype(np.float32)}, ["y"])["y"]
    assert out.dtype == a.dtype
    np.testing.assert_array_equal(out.view(np.uint16), wide.astype(a.dtype).view(np.uint16))
    _assert_rounded_dot(out, a, b, ta, tb, k)


@pytest.mark.parametrize("m,k,n,ta,tb", [s for s in HALF_SHAPES if s[4] or not s[3]])
def test_bfloat16_pairs_vdpbf16ps_equals_its_widened_twin(m, k, n, ta, tb):
    """Dot and GEMM forms: vdpbf16ps and the two FMAs on widened halves (CPUs without AVX512-BF16) give
    the same bits (no subnormals here: vdpbf16ps flushes them), within rounding of float64 NumPy."""
    a, b = _half_inputs("bf16", m, k, n, ta, tb)
    widened = run_threads(lambda mod: emit_matmul(mod, "mm", m, k, n, ta, tb, dtype="bf16"), {"a": a, "b": b},
                          ["y"])["y"]
    _assert_rounded_dot(widened, a, b, ta, tb, k)
    if not has_dpbf16():
        pytest.skip("this CPU has no AVX512-BF16: only the widened path ran")
    native = run_threads(lambda mod: emit_matmul(mod, "mm", m, k, n, ta, tb, dtype="bf16", dpbf16=True),
                         {"a": a, "b": b}, ["y"])["y"]
    np.testing.assert_array_equal(native.view(np.uint16), widened.view(np.uint16))


@pytest.mark.parametrize("dtype", ["bf16", "f16"])
@pytest.mark.parametrize("transpose_a", [False, True])
def test_batched_half_gemm_is_the_pointwise_convolution(dtype, transpose_a):
    """The pointwise convolution's kernel on half images, each at its own (2-byte) offset: float16 is
    the float32 kernel rounded; bfloat16's k-pairs give vdpbf16ps's bits on both paths."""
    batch, m, k, n = 3, 7, 5, 37
    half = dtype_of(dtype).np
    a = random((k, m) if transpose_a else (m, k), seed_offset=1).astype(half)
    b = random((batch, k, n), seed_offset=2).astype(half)
    paths = [False, True] if dtype == "bf16" and has_dpbf16() else [False]
    outs = [run_threads(lambda mod: emit_matmul(mod, "bmm", m, k, n, transpose_a, batch=batch, dtype=dtype,
                                                dpbf16=native), {"a": a, "b": b}, ["y"])["y"] for native in paths]
    for out in outs[1:]:
        np.testing.assert_array_equal(out.view(np.uint16), outs[0].view(np.uint16))
    op_a = (a.T if transpose_a else a).astype(np.float64)
    for image in range(batch):
        _assert_rounded_dot(outs[0][image], op_a, b[image].astype(np.float64), False, False, k)
    if dtype == "f16":
        wide = run_threads(lambda mod: emit_matmul(mod, "bmm32", m, k, n, transpose_a, batch=batch),
                           {"a": a.astype(np.float32), "b": b.astype(np.float32)}, ["y"])["y"]
        np.testing.assert_array_equal(outs[0].view(np.uint16), wide.astype(half).view(np.uint16))


@pytest.mark.skipif(not has_amx(), reason="this CPU (or its OS) has no AMX bfloat16 tiles")
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("batch, m, k, n", [(3, 7, 5, 37), (2, 40, 70, 33), (2, 33, 64, 64), (5, 96, 576, 4),
                                            (1, 1, 1, 1), (2, 64, 33, 17)])
def test_amx_gemm_is_the_pointwise_convolution(batch, m, k, n, transpose_a):
    """AMX tiles (padding every tail: rows, columns, odd k) within the rounding bound of float64 NumPy,
    with the epilogue, and 1 and 2 threads bitwise equal; against vdpbf16ps's (or the widened pairs')
    bits, at most one bfloat16 ulp apart (a tile adds a pair's products in its own rounding sequence)."""
    a = random((k, m) if transpose_a else (m, k), seed_offset=1).astype(dtype_of("bf16").np)
    b = random((batch, k, n), seed_offset=2).astype(dtype_of("bf16").np)
    bias = random((m,), seed_offset=3)
    epilogue = ep.chain(ep.bias_add("m", m), ep.relu())
    outs = [run_threads(lambda mod: emit_matmul(mod, "bmm", m, k, n, transpose_a, epilogue=epilogue, batch=batch,
                                                dtype="bf16", dpbf16=has_dpbf16(), amx=amx),
                        {"a": a, "b": b, "bias": bias}, ["y"])["y"] for amx in (True, False)]
    weights = (a.T if transpose_a else a).astype(np.float64)
    products = np.einsum("mk,ikn->imn", weights, b.astype(np.float64))
    want = np.maximum(products + bias[None, :, None], 0)
    magnitude = np.einsum("mk,ikn->imn", np.abs(weights), np.abs(b.astype(np.float64))) + np.abs(bias)[None, :, None]
    half_ulp = float(np.finfo(outs[0].dtype).eps) / 2 * np.abs(want)
    assert_dot_close(outs[0].astype(np.float64), want, magnitude + half_ulp / (4 * EPS32 * np.sqrt(k)), k, "amx")
    bits = [out.view(np.uint16).astype(np.int32) for out in outs]
    assert np.abs(bits[0] - bits[1]).max() <= 1


@pytest.mark.skipif(not has_amx(), reason="this CPU (or its OS) has no AMX bfloat16 tiles")
@pytest.mark.parametrize("terms, m, k, n", [(3, 7, 5, 37), (2, 40, 70, 33), (4, 96, 32, 16), (1, 1, 1, 1),
                                            (2, 64, 33, 17), (3, 33, 64, 64)])
def test_amx_summed_is_the_pointwise_filter_gradient(terms, m, k, n):
    """The sum over terms on AMX tiles (a 1x1 convolution's filter gradient: dy[t] @ x[t].T), padding
    every tail, within the rounding bound of float64 NumPy with the epilogue, 1 and 2 threads bitwise
    equal; so is the dot form's, which adds in another order (where terms cancel, their bits differ)."""
    bf16 = dtype_of("bf16").np
    a = random((terms, m, k), seed_offset=1).astype(bf16)
    b = random((terms, n, k), seed_offset=2).astype(bf16)
    bias = random((n,), seed_offset=3)
    epilogue = ep.bias_add("n", n)
    outs = [run_threads(lambda mod: emit_matmul(mod, "dw", m, k, n, False, True, epilogue, terms=terms, dtype="bf16",
                                                dpbf16=has_dpbf16(), amx=amx),
                        {"a": a, "b": b, "bias": bias}, ["y"])["y"] for amx in (True, False)]
    wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)
    want = np.einsum("tmk,tnk->mn", wide_a, wide_b) + bias
    magnitude = np.einsum("tmk,tnk->mn", np.abs(wide_a), np.abs(wide_b)) + np.abs(bias)
    half_ulp = float(np.finfo(outs[0].dtype).eps) / 2 * np.abs(want)
    for out, path in zip(outs, ("amx summed", "dot form summed")):
        assert_dot_close(out.astype(np.float64), want, magnitude + half_ulp / (4 * EPS32 * np.sqrt(k * terms)),
                         k * terms, path)
