"""Run a function natively (1 and 2 threads) and on the reference interpreter, on the same inputs
and fresh copies of the same parameters, and compare.

Tolerances (docs/codegen.md, "Tolerances"): results that involve no rounding difference (data
movement, comparisons, IEEE arithmetic done in the same order) must be equal bit for bit; sums
(dot products, convolutions, reductions) and transcendental functions may differ from the
interpreter by |native - interp| <= RTOL * |interp| + ATOL * max|interp|.
"""
from __future__ import annotations

import numpy as np

import graphc
from graphc import Parameter, Tensor

RTOL, ATOL = 1e-4, 1e-5


def run_both(fn, inputs: list[np.ndarray], params: dict[str, np.ndarray] | None = None):
    """(native, interpreter) results: each a list of the outputs followed by the parameters' final
    values (in name order). Native runs on 1 and 2 threads must agree bitwise."""
    native = [_run(fn, inputs, params or {}, "llvm", threads) for threads in (1, 2)]
    for one, two in zip(*native):
        np.testing.assert_array_equal(one, two, err_msg="1 and 2 threads disagree")
    return native[0], _run(fn, inputs, params or {}, "interp", 1)


def _run(fn, inputs, params, backend: str, threads: int) -> list[np.ndarray]:
    graphc.set_context(num_threads=threads)
    parameters = {name: Parameter(value.copy(), name=name) for name, value in params.items()}
    outputs = graphc.jit(lambda *xs: fn(parameters, *xs), backend=backend)(*[Tensor(x) for x in inputs])
    outputs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
    return [np.asarray(o.asnumpy()) for o in outputs] + [parameters[n].asnumpy().copy() for n in sorted(parameters)]


def assert_same(native: list, interp: list) -> None:
    for k, (got, want) in enumerate(zip(native, interp, strict=True)):
        assert got.dtype == want.dtype and got.shape == want.shape, f"result {k}: {got.dtype}{got.shape} vs " \
                                                                    f"{want.dtype}{want.shape}"
        np.testing.assert_array_equal(got, want, err_msg=f"result {k}")


def assert_close(native: list, interp: list) -> None:
    for k, (got, want) in enumerate(zip(native, interp, strict=True)):
        assert got.dtype == want.dtype and got.shape == want.shape, f"result {k}: {got.dtype}{got.shape} vs " \
                                                                    f"{want.dtype}{want.shape}"
        scale = float(np.max(np.abs(want), initial=0.0)) if want.dtype.kind == "f" else 0.0
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL * scale, err_msg=f"result {k}")
