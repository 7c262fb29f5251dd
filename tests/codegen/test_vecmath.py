"""Vector exp/log against float64 NumPy over the whole float32 range, in ulps of the result."""
import numpy as np
import pytest

from graphc.codegen import vecmath
from graphc.codegen.kernels.elementwise import Tensor, emit_elementwise

from .support import run_threads

MAX_ULP = 1.5   # measured: exp 1.25, log 0.82


def _apply(function, x):
    x = np.ascontiguousarray(x, np.float32)
    return run_threads(lambda mod: emit_elementwise(mod, function, x.shape, [Tensor("x", x.shape)], [Tensor("y", x.shape)],
                                                    lambda b, v: getattr(vecmath, function)(b, v[0])),
                       {"x": x}, ["y"], threads=(1,))["y"]


def _ulps(got, exact):
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_exp_accuracy_normal_results():
    x = np.random.default_rng(0).uniform(-87.3, 88.7, 1 << 20).astype(np.float32)
    assert _ulps(_apply("exp", x), np.exp(x.astype(np.float64))).max() <= MAX_ULP


def test_exp_subnormal_results_within_one_unit():
    x = np.random.default_rng(1).uniform(-103.9, -87.4, 1 << 16).astype(np.float32)
    error = np.abs(_apply("exp", x).astype(np.float64) - np.exp(x.astype(np.float64)))
    assert error.max() <= 2.0 ** -149


def test_exp_special_values():
    x = np.array([0, -0.0, 88.72, 88.73, 1000, -103, -104, -1000, np.inf, -np.inf, np.nan], np.float32)
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    np.testing.assert_array_equal(_apply("exp", x), expected)


@pytest.mark.parametrize("low,high", [(-87, 88), (-0.7, 0.7)])
def test_log_accuracy(low, high):
    x = np.exp(np.random.default_rng(2).uniform(low, high, 1 << 20)).astype(np.float32)
    assert _ulps(_apply("log", x), np.log(x.astype(np.float64))).max() <= MAX_ULP


def test_log_subnormal_inputs():
    x = (np.random.default_rng(3).uniform(0, 1, 1 << 16) * 2.0 ** -126).astype(np.float32)
    x[0] = np.float32(1.4e-45)
    x = x[x > 0]
    assert _ulps(_apply("log", x), np.log(x.astype(np.float64))).max() <= MAX_ULP


def test_log_special_values():
    x = np.array([0, -0.0, 1, -1, np.inf, -np.inf, np.nan, 3.4e38], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.log(x)
    np.testing.assert_array_equal(_apply("log", x), expected)


LOGISTIC_MAX_ULP = 5   # measured: 4.3 (the reciprocal estimate after its Newton step, and the cubic)


def test_logistic_accuracy():
    x = np.random.default_rng(4).uniform(-16, 87, 1 << 20).astype(np.float32)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert _ulps(_apply("logistic", x), exact).max() <= LOGISTIC_MAX_ULP


def test_logistic_far_left():
    """Down to -87 within the same ulps; below, the result is that of -87 (6e-39) instead of a smaller subnormal."""
    x = np.random.default_rng(5).uniform(-1000, -16, 1 << 16).astype(np.float32)
    with np.errstate(over="ignore"):
        exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    got, inside = _apply("logistic", x), x >= -87
    assert _ulps(got[inside], exact[inside]).max() <= LOGISTIC_MAX_ULP
    assert np.abs(got[~inside] - exact[~inside]).max() < 1e-38


def test_logistic_special_values():
    got = _apply("logistic", np.array([0, -0.0, 17, 88, 89, 1000, np.inf, -np.inf, np.nan], np.float32))
    np.testing.assert_array_equal(got[:7], [0.5, 0.5, 1, 1, 1, 1, 1])
    assert 0 < got[7] < 1e-38 and np.isnan(got[8])
