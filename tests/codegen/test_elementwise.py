"""Elementwise loops: broadcasting (incl. scalars), tails, several outputs, in-place, int32."""
import numpy as np
import pytest
from llvmlite import ir

from graphc.codegen import vecmath
from graphc.codegen.kernels.elementwise import Tensor, broadcast_strides, collapse, emit_elementwise

from .support import random, run_threads


def _fmuladd(b, v):
    return b.fadd(b.fmul(v[0], v[1]), v[2])


@pytest.mark.parametrize("out_shape,shapes", [
    ((37,), [(37,), (37,), (37,)]),
    ((5, 33), [(5, 33), (33,), ()]),
    ((3, 1, 17), [(3, 1, 17), (1, 1, 17), (3, 1, 1)]),
    ((4, 6, 7, 9), [(4, 6, 7, 9), (6, 1, 1), (1,)]),
    ((2, 3000), [(2, 3000), (2, 1), (3000,)]),
    ((1,), [(), (1,), ()]),
])
def test_broadcasting(out_shape, shapes):
    inputs = {f"x{i}": random(s, seed_offset=i) for i, s in enumerate(shapes)}
    tensors = [Tensor(name, s) for name, s in zip(inputs, shapes)]
    out = run_threads(lambda mod: emit_elementwise(mod, "ew", out_shape, tensors, [Tensor("y", out_shape)], _fmuladd),
                      inputs, ["y"])["y"]
    x0, x1, x2 = (inputs[f"x{i}"] for i in range(3))
    np.testing.assert_array_equal(out, (x0 * x1).astype(np.float32) + x2)


def test_fused_momentum_update_in_place():
    """p, v updated in one pass: v = momentum*v + g; p = p - lr*v (MindSpore Momentum)."""
    n = 1000
    p, v, g = random((n,), seed_offset=1), random((n,), seed_offset=2), random((n,), seed_offset=3)
    lr, momentum = np.float32(0.01), np.float32(0.9)

    def update(b, values):
        p_old, v_old, grad, rate, mom = values
        v_new = b.fadd(b.fmul(mom, v_old), grad)
        return [b.fsub(p_old, b.fmul(rate, v_new)), v_new]

    tensors = [Tensor("p", (n,)), Tensor("v", (n,)), Tensor("g", (n,)), Tensor("lr", ()), Tensor("momentum", ())]
    outs = run_threads(lambda mod: emit_elementwise(mod, "momentum", (n,), tensors,
                                                    [Tensor("p_new", (n,)), Tensor("v_new", (n,))], update,
                                                    inplace={"p_new": "p", "v_new": "v"}),
                       {"p": p, "v": v, "g": g, "lr": lr, "momentum": momentum}, ["p", "v"], threads=(1,))
    v_ref = momentum * v + g
    np.testing.assert_array_equal(outs["v"], v_ref)
    np.testing.assert_array_equal(outs["p"], p - lr * v_ref)


def test_int32_and_select():
    n = 50
    x = random((n,))
    labels = np.arange(n, dtype=np.int32) % 7

    def masked(b, values):
        value, label = values
        keep = b.icmp_signed("<", label, ir.Constant(label.type, 3))
        return [b.select(keep, value, ir.Constant(value.type, 0.0)), b.add(label, label)]

    outs = run_threads(lambda mod: emit_elementwise(mod, "mask", (n,), [Tensor("x", (n,)), Tensor("labels", (n,), "i32")],
                                                    [Tensor("y", (n,)), Tensor("twice", (n,), "i32")], masked),
                       {"x": x, "labels": labels}, ["y", "twice"])
    np.testing.assert_array_equal(outs["y"], np.where(labels < 3, x, 0))
    np.testing.assert_array_equal(outs["twice"], 2 * labels)


def test_vector_math_in_expression():
    x = random((3, 40))
    y = run_threads(lambda mod: emit_elementwise(mod, "logistic", x.shape, [Tensor("x", x.shape)], [Tensor("y", x.shape)],
                                                 lambda b, v: vecmath.log(b, b.fadd(vecmath.exp(b, v[0]),
                                                                                    ir.Constant(v[0].type, 1.0)))),
                    {"x": x}, ["y"])["y"]
    np.testing.assert_allclose(y, np.log1p(np.exp(x.astype(np.float64))), rtol=1e-6)


def test_collapse_merges_contiguous_dimensions():
    shape = (4, 6, 7, 9)
    strides = [broadcast_strides(s, shape) for s in [shape, (6, 1, 1), shape]]
    dims, merged = collapse(shape, strides)
    assert dims == [4, 6, 63] and merged[1] == [0, 1, 0]


def test_bad_broadcast_is_rejected():
    with pytest.raises(ValueError, match="broadcast"):
        broadcast_strides((3,), (4,))
