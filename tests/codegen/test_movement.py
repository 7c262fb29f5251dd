"""Transposes as strided copies against NumPy: the inner axes swapped go by 16x16 blocks transposed in
registers (movement._transpose_grid), with tails at both block edges; 1, 2 and 3 threads bitwise equal."""
import numpy as np
import pytest

from graphc.codegen.kernels.movement import Strided, emit_strided_copy, row_major_strides

from .support import random, run_threads


@pytest.mark.parametrize("shape,perm", [((28, 128, 128), (0, 2, 1)), ((3, 17, 33), (0, 2, 1)), ((5, 7), (1, 0)),
                                        ((2, 3, 20, 18), (0, 1, 3, 2)), ((4, 20, 18), (2, 0, 1)),
                                        ((6, 5, 4), (1, 0, 2)), ((1, 40), (1, 0))])
def test_transpose(shape, perm):
    x = random(shape)
    out_shape = tuple(shape[p] for p in perm)
    source = Strided(0, tuple(row_major_strides(shape)[p] for p in perm))
    target = Strided(0, tuple(row_major_strides(out_shape)))
    out = run_threads(lambda mod: emit_strided_copy(mod, "t", out_shape, shape, source, out_shape, target, "f32"),
                      {"x": x}, ["y"], threads=(1, 2, 3))["y"]
    np.testing.assert_array_equal(out, x.transpose(perm))
