"""Conformance of every op in graphc.ops.REGISTRY (DESIGN.md §3).

Each check is one parametrized test that walks the registry, so an op added without one of its
parts fails here: it defines every part; its shape rule agrees with its reference; eager and graph
execution agree; its VJP, and the VJP of its VJP, agree with finite differences (tests/gradcheck.py);
its graphs print and parse back. The error tests check that a bad call names the user's line, the
op, the operand types and a fix.
"""
from __future__ import annotations

import os
import zlib

import numpy as np
import pytest

import graphc
from graphc import Parameter, Tensor, ops
from graphc.interp import run
from graphc.ir.text import parse_graph, print_graph
from graphc.jit import trace
from graphc.ops import REGISTRY
from graphc.ops.core import ELEMENTWISE
from graphc.types import type_of
from gradcheck import check_second_order, check_vjp, vjp

# Placeholder ops stand for values the executor binds (input, param), constants (const) or
# gradients the autodiff pass expands (grad). They never compute from operands, so they have no
# samples and no VJP; every other part is still required.
PLACEHOLDERS = {"input", "param", "const", "grad"}


def _samples(name: str) -> list:
    """The op's sample calls, from a generator seeded by the op's name (stable across runs)."""
    op = REGISTRY[name]
    return op.samples(np.random.default_rng(zlib.crc32(name.encode()))) if op.samples else []


def _is_float(array: np.ndarray) -> bool:
    return np.issubdtype(array.dtype, np.floating)


def _as(arrays, dtype) -> list[np.ndarray]:
    return [a.astype(dtype) if _is_float(a) else a for a in arrays]


def _differentiable(op, arrays, attrs) -> list[int]:
    """Positions of the operands to perturb: float ones, except an assignment's target parameter.
    Empty unless the result (with float64 operands) is float64: other results have nothing to
    differentiate, or (a cast to float32) are too coarse for finite differences."""
    arrays = _as(arrays, np.float64)
    result = op.infer_type([type_of(a) for a in arrays], op.check_attrs(dict(attrs)))
    if result.dtype != graphc.float64:
        return []
    return [k for k, a in enumerate(arrays) if _is_float(a) and not (op.impure and k == 0)]


# Ops that hide their operand from autodiff: their VJP is zero by definition, while finite differences
# see the identity; test_gradient_stoppers_give_zero checks them instead.
GRADIENT_STOPPERS = {"stop_gradient"}

SAMPLES = [pytest.param(name, index, id=f"{name}-{index}")
           for name in sorted(REGISTRY) if name not in PLACEHOLDERS for index in range(len(_samples(name)))]
DIFFERENTIABLE = [case for case in SAMPLES if case.values[0] not in GRADIENT_STOPPERS
                  and _differentiable(REGISTRY[case.values[0]], *_samples(case.values[0])[case.values[1]])]


TARGET = "target"   # the name of the Parameter an impure op (assign) writes


def _operands(op, arrays) -> list:
    """Tensors for an op call; an impure op's first operand is a Parameter, as in real use."""
    tensors = [Tensor(a) for a in arrays]
    if op.impure:
        tensors[0] = Parameter(arrays[0], name=TARGET)
    return tensors


def _call_with(op, arrays, attrs, positions):
    """fn(*xs) calling op with xs at `positions` and the sample's other operands fixed."""
    fixed = _operands(op, _as(arrays, np.float64))

    def fn(*xs):
        operands = list(fixed)
        for position, x in zip(positions, xs):
            operands[position] = x
        return op(*operands, **attrs)
    return fn


# -- every part ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_op_defines_every_part(name):
    op = REGISTRY[name]
    required = ["infer", "ref", "flops", "doc"] + (["samples", "vjp"] if name not in PLACEHOLDERS else [])
    required += ["lower"] if op.kind == ELEMENTWISE else []
    missing = [part for part in required if not getattr(op, part)]
    assert not missing, f"op {name} lacks {', '.join(missing)}"
    assert name in PLACEHOLDERS or _samples(name), f"op {name} has an empty sample list"


# -- shape rule, flops and reference agree -------------------------------------------------------------------
@pytest.mark.parametrize("name, index", SAMPLES)
def test_shape_rule_matches_reference(name, index):
    op = REGISTRY[name]
    arrays, attrs = _samples(name)[index]
    dtypes = (np.float32, np.float64) if any(_is_float(a) for a in arrays) else (None,)
    for dtype in dtypes:
        typed = _as(arrays, dtype) if dtype else arrays
        canonical = op.check_attrs(dict(attrs))
        types = [type_of(a) for a in typed]
        inferred = op.infer_type(types, canonical)
        result = np.asarray(op.ref(*typed, **canonical))
        assert type_of(result) == inferred, f"{name}: the shape rule says {inferred}, the reference gives " \
                                            f"{type_of(result)} (operands {', '.join(map(str, types))})"
        flops = op.flops(inferred, *types, **canonical)
        assert isinstance(flops, int) and flops >= 0, f"{name}: flops gave {flops!r}"


# -- eager (PYNATIVE) and graph (trace + interpreter) agree ------------------------------------------------------
def _eager(op, arrays, attrs):
    operands = _operands(op, arrays)
    result = op(*operands, **attrs).asnumpy()
    return result, (operands[0].asnumpy() if op.impure else None)


def _graph(op, arrays, attrs):
    target = _operands(op, arrays)[0] if op.impure else None
    inputs = arrays[1:] if op.impure else arrays
    traced = trace(lambda *xs: op(*([target] if op.impure else []), *xs, **attrs), tuple(inputs))
    params = {name: p.asnumpy() for name, p in traced.params.items()}
    [result], updates = run(traced.graph, list(inputs), params)
    return result, updates.get(TARGET)


@pytest.mark.parametrize("name, index", SAMPLES)
def test_eager_matches_graph(name, index):
    op = REGISTRY[name]
    arrays, attrs = _samples(name)[index]
    arrays = _as(arrays, np.float32)
    (eager, eager_write), (graph, graph_write) = _eager(op, arrays, attrs), _graph(op, arrays, attrs)
    assert eager.dtype == graph.dtype
    np.testing.assert_array_equal(eager, graph)
    np.testing.assert_array_equal(eager_write, graph_write)


# -- gradients --------------------------------------------------------------------------------------------------
def _gradient_case(name, index):
    op = REGISTRY[name]
    arrays, attrs = _samples(name)[index]
    positions = _differentiable(op, arrays, attrs)
    args = [_as(arrays, np.float64)[k] for k in positions]
    return _call_with(op, arrays, attrs, positions), args, np.random.default_rng(index)


@pytest.mark.parametrize("name, index", DIFFERENTIABLE)
def test_vjp_matches_finite_differences(name, index):
    check_vjp(*_gradient_case(name, index))


@pytest.mark.parametrize("name", sorted(GRADIENT_STOPPERS))
def test_gradient_stoppers_give_zero(name):
    fn, args, rng = _gradient_case(name, 0)
    ct = rng.standard_normal(np.shape(args[0]))
    for gradient in vjp(fn, args, ct):
        np.testing.assert_array_equal(gradient, np.zeros_like(args[0]))


@pytest.mark.parametrize("name, index", DIFFERENTIABLE)
def test_vjp_of_vjp_matches_finite_differences(name, index):
    check_second_order(*_gradient_case(name, index))


# -- IR text round trip -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, index", SAMPLES)
def test_graph_text_round_trips(name, index):
    op = REGISTRY[name]
    arrays, attrs = _samples(name)[index]
    fn = _call_with(op, arrays, attrs, range(1 if op.impure else 0, len(arrays)))
    text = print_graph(trace(fn, tuple(_as(arrays, np.float64)[1 if op.impure else 0:])).graph)
    assert print_graph(parse_graph(text)) == text


# -- errors name the user's line, the op, the operand types and a fix -------------------------------------------
def _f32(*shape):
    return np.zeros(shape, np.float32)


BAD_CALLS = [  # (op name, call, operands, a fragment of the fix hint)
    ("add", lambda x, y: ops.add(x, y), [_f32(2, 3), _f32(4)], "reshape or broadcast_to"),
    ("matmul", lambda a, b: ops.matmul(a, b), [_f32(2, 3), _f32(4, 5)], "transpose or reshape"),
    ("reshape", lambda x: ops.reshape(x, shape=(4,)), [_f32(2, 3)], "same number of elements"),
    ("reduce_sum", lambda x: ops.reduce_sum(x, axis=2), [_f32(2, 3)], "use an axis in [-2, 2)"),
    ("select", lambda c, x, y: ops.select(c, x, y), [_f32(3), _f32(3), _f32(3)], "compare first"),
    ("conv2d", lambda x, w: ops.get("conv2d")(x, w), [_f32(1, 3, 8, 8), _f32(4, 2, 3, 3)], "in_channels / group"),
    ("conv2d", lambda x, w: ops.get("conv2d")(x, w, padding=1), [_f32(1, 3, 8, 8), _f32(4, 3, 3, 3)], "pad_mode='pad'"),
    ("conv2d", lambda x, w: ops.get("conv2d")(x, w), [_f32(1, 3, 2, 8), _f32(4, 3, 3, 3)], "pad_mode='same'"),
    ("max_pool2d", lambda x: ops.get("max_pool2d")(x, kernel_size=2), [_f32(3, 8, 8)], "reshape"),
    ("softmax", lambda x: ops.softmax(x, axis=2), [_f32(2, 3)], "use an axis in [-2, 2)"),
    ("sparse_softmax_cross_entropy", lambda x, y: ops.sparse_softmax_cross_entropy(x, y),
     [_f32(4, 10), _f32(4)], "cast or reshape the labels"),
    ("strided_slice", lambda x: ops.strided_slice(x, begin=(0, 0, 0), end=(1, 1, 1)), [_f32(2, 3)], "at most one"),
    ("gather", lambda t, i: ops.gather(t, i, 0), [_f32(5), _f32(1)], "cast it"),
    ("concat", lambda x, y: ops.concat((x, y), 0), [_f32(2, 3), _f32(2, 4)], "slice them to agree"),
    ("stack", lambda x, y: ops.stack([x, y], 3), [_f32(2, 3), _f32(2, 3)], "use an axis in [-3, 3)"),
]


@pytest.mark.parametrize("mode", ["eager", "traced"])
@pytest.mark.parametrize("name, call, arrays, hint", [pytest.param(*case, id=f"{case[0]}-{i}")
                                                      for i, case in enumerate(BAD_CALLS)])
def test_bad_call_names_line_op_types_and_fix(mode, name, call, arrays, hint):
    with pytest.raises(graphc.GraphcError) as caught:
        if mode == "eager":
            call(*[Tensor(a) for a in arrays])
        else:
            trace(call, tuple(arrays))
    message = str(caught.value)
    assert f"{os.path.basename(__file__)}:{call.__code__.co_firstlineno}" in message
    assert message.split(": ")[1].startswith(name)
    for operand in arrays:
        assert str(type_of(operand)) in message
    assert hint in message
