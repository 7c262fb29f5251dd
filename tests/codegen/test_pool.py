"""Pooling forward and gradients against NumPy (exact: no rounding except the average's)."""
import numpy as np
import pytest

from graphc.codegen.kernels.pool import PoolGeometry, emit_avg_pool2d, emit_avg_pool2d_grad, emit_max_pool2d, \
    emit_max_pool2d_grad

from .support import EPS32, random, run_threads

GEOMETRIES = [
    PoolGeometry(32, 6, 28, 28, (2, 2), (2, 2)),     # LeNet pool1
    PoolGeometry(32, 16, 10, 10, (2, 2), (2, 2)),    # LeNet pool2
    PoolGeometry(2, 3, 7, 9, (2, 2), (2, 2)),        # leftover row and column
    PoolGeometry(2, 3, 7, 9, (3, 3), (2, 2)),        # overlapping windows
    PoolGeometry(1, 2, 40, 37, (3, 2), (1, 3)),      # stride 3 along width, wider than 16 lanes
    PoolGeometry(1, 1, 5, 5, (1, 1), (1, 1)),
]


def _windows(x, geo):
    (kh, kw), (sh, sw) = geo.kernel, geo.stride
    taps = [x[:, :, i: i + sh * (geo.out_h - 1) + 1: sh, j: j + sw * (geo.out_w - 1) + 1: sw]
            for i in range(kh) for j in range(kw)]
    return np.stack(taps, axis=-1).astype(np.float64)


def _grad_ref(x, dy, geo, kind):
    (kh, kw), (sh, sw) = geo.kernel, geo.stride
    first_max = _windows(x, geo).argmax(-1)
    dx = np.zeros(geo.x_shape)
    for t in range(kh * kw):
        i, j = divmod(t, kw)
        share = dy * (first_max == t) if kind == "max" else dy / (kh * kw)
        dx[:, :, i: i + sh * (geo.out_h - 1) + 1: sh, j: j + sw * (geo.out_w - 1) + 1: sw] += share
    return dx


def _input(geo):
    x = random(geo.x_shape, seed_offset=1)
    x[:, :, 0, :3] = 2.5   # ties: the gradient must pick the first maximum
    return x


@pytest.mark.parametrize("geo", GEOMETRIES, ids=str)
def test_max_pool(geo):
    x, dy = _input(geo), random(geo.y_shape, seed_offset=2)
    y = run_threads(lambda mod: emit_max_pool2d(mod, "pool", geo), {"x": x}, ["y"])["y"]
    np.testing.assert_array_equal(y, _windows(x, geo).max(-1))
    dx = run_threads(lambda mod: emit_max_pool2d_grad(mod, "pool_grad", geo), {"x": x, "dy": dy}, ["dx"])["dx"]
    # overlapping windows add several dy values into one element: float32 sums
    taps = geo.kernel[0] * geo.kernel[1]
    np.testing.assert_allclose(dx, _grad_ref(x, dy, geo, "max"), rtol=0, atol=taps * EPS32 * np.abs(dy).max())


@pytest.mark.parametrize("geo", GEOMETRIES, ids=str)
def test_avg_pool(geo):
    x, dy = _input(geo), random(geo.y_shape, seed_offset=2)
    taps = geo.kernel[0] * geo.kernel[1]
    y = run_threads(lambda mod: emit_avg_pool2d(mod, "pool", geo), {"x": x}, ["y"])["y"]
    np.testing.assert_allclose(y, _windows(x, geo).mean(-1), rtol=0,
                               atol=2 * taps * EPS32 * np.abs(_windows(x, geo)).max())
    dx = run_threads(lambda mod: emit_avg_pool2d_grad(mod, "pool_grad", geo), {"dy": dy}, ["dx"])["dx"]
    np.testing.assert_allclose(dx, _grad_ref(x, dy, geo, "avg"), rtol=0, atol=4 * taps * EPS32 * np.abs(dy).max())
