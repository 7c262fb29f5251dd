"""Graph plumbing: where values come from (input, param, const) and the one impure op (assign)."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, dtype_of, type_of
from .core import OPAQUE, Op, OpError, no_flops, register


def _no_ref(name):
    def ref(*args, **attrs):
        raise RuntimeError(f"{name} nodes are bound by the executor, not computed")
    return ref


def _canon_placeholder(attrs):
    return {**attrs, "type": attrs["type"] if isinstance(attrs["type"], TensorType) else TensorType.parse(attrs["type"])}


input = register(Op("input", (), lambda name, index, type: type, _no_ref("input"), OPAQUE,
                    attrs={"name": None, "index": None, "type": None}, canon=_canon_placeholder,
                    flops=no_flops,
                    doc="the index-th argument of the graph"))
param = register(Op("param", (), lambda name, type: type, _no_ref("param"), OPAQUE,
                    attrs={"name": None, "type": None}, canon=_canon_placeholder, flops=no_flops,
                    doc="a Parameter, bound by name; its value persists across calls"))


def _canon_const(attrs):
    value = attrs["value"]
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype == np.float64 and not isinstance(value, np.ndarray):
        array = array.astype(np.float32)       # Python floats default to float32, as in MindSpore
    array = np.array(array, dtype=dtype_of(array.dtype).np)   # own copy, canonical dtype
    array.setflags(write=False)
    return {"value": array}


const = register(Op("const", (), lambda value: type_of(value), lambda value: value, OPAQUE,
                    attrs={"value": None}, canon=_canon_const, flops=no_flops, doc="a constant array"))


def _infer_assign(target, value):
    if target.shape != value.shape or target.dtype != value.dtype:
        raise OpError(f"cannot assign {value} to a parameter of type {target}; cast or reshape the value")
    return value


assign = register(Op("assign", ("target", "value"), _infer_assign, lambda target, value: value, OPAQUE,
                     impure=True, vjp=lambda ct, target, value, out: (None, ct), flops=no_flops,
                     samples=lambda rng: [([rng.standard_normal((3,)), rng.standard_normal((3,))], {})],
                     doc="writes value into the parameter `target` when the step ends; returns value"))


def _grad_ref(output, seed, wrt):
    raise RuntimeError("grad placeholders are replaced by the autodiff pass before a graph runs")


def _infer_grad(output, seed, wrt):
    if seed != output:
        raise OpError(f"the seed ({seed}) must have the type of the output ({output})")
    return wrt


grad = register(Op("grad", ("output", "seed", "wrt"), _infer_grad, _grad_ref, OPAQUE,
                   flops=no_flops,
                   doc="placeholder for d<output, seed>/d wrt, recorded by graphc.grad while tracing and "
                       "expanded into gradient nodes by the autodiff pass"))
