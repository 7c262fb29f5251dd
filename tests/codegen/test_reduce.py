"""Reductions over at most two runs of axes (the second at the end), with a prologue; sum
tolerances scale with the sum of magnitudes; max is exact and NaN-propagating."""
import numpy as np
import pytest

from graphc.codegen.kernels.reduce import emit_reduce, split_axes

from .support import assert_dot_close, random, run_threads


@pytest.mark.parametrize("shape,axes", [
    ((32, 16, 10, 10), (0, 2, 3)),   # conv2 bias gradient
    ((32, 120), (0,)),               # dense bias gradient
    ((32, 10), (1,)), ((7, 33), (1,)), ((5, 3, 17), (0,)), ((1000,), (0,)), ((3, 4, 5), (0, 1, 2)),
    ((40, 17, 3), (1, 2)), ((17, 2), (0,)),
    ((3, 4, 5), (1,)), ((2, 3, 20, 5), (1, 3)), ((2, 1, 7, 1, 3), (0, 4)), ((4, 5), ()),   # middle runs, size-1 axes
])
@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
def test_reduce(shape, axes, kind):
    x = random(shape)
    y = run_threads(lambda mod: emit_reduce(mod, "red", shape, axes, kind), {"x": x}, ["y"])["y"]
    ref = getattr(np, kind)(x.astype(np.float64), axis=axes)
    if kind == "max":
        np.testing.assert_array_equal(y, ref)
        return
    count = int(np.prod([shape[a] for a in axes]))
    magnitude = np.abs(x.astype(np.float64)).sum(axis=axes) / (count if kind == "mean" else 1)
    assert_dot_close(y, ref, magnitude, count, kind)


def test_prologue_dot_rows():
    a, b = random((6, 50), seed_offset=1), random((6, 50), seed_offset=2)
    y = run_threads(lambda mod: emit_reduce(mod, "dot", (6, 50), (1,), "sum", inputs=("a", "b"),
                                            prologue=lambda bld, v: bld.fmul(v[0], v[1])), {"a": a, "b": b}, ["y"])["y"]
    assert_dot_close(y, (a.astype(np.float64) * b).sum(1), np.abs(a.astype(np.float64) * b).sum(1), 50, "dot")


def test_max_propagates_nan():
    x = np.array([[1, np.nan, 3], [1, 2, 3]], np.float32)
    y = run_threads(lambda mod: emit_reduce(mod, "max", (2, 3), (1,), "max"), {"x": x}, ["y"])["y"]
    assert np.isnan(y[0]) and y[1] == 3


@pytest.mark.parametrize("shape,axes,parts", [
    ((2, 3, 4), (1,), (2, 3, 4, 1)), ((2, 3, 4, 5), (1, 3), (2, 3, 4, 5)), ((2, 3, 4), (0, 2), (1, 2, 3, 4)),
    ((6, 1, 4), (1, 2), (1, 1, 6, 4)), ((5,), (), (1, 1, 5, 1)), ((), (), (1, 1, 1, 1)),
])
def test_split_axes(shape, axes, parts):
    assert split_axes(shape, axes) == parts


def test_three_runs_of_reduced_axes_are_rejected():
    with pytest.raises(ValueError, match="at most two runs"):
        split_axes((2, 3, 4, 5, 6), (0, 2, 4))
