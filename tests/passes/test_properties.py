"""Property tests: on random well-typed graphs every pass keeps every result bit for bit (NaN where
NaN, and the sign of every zero), finds nothing more to do when run again, and the memory plan
never lets two live temporaries share bytes."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import graphc
from graphc import interp, ops
from graphc.errors import GraphcError
from graphc.jit import trace
from graphc.passes import run_pipeline
from graphc.passes.memory import ALIGNMENT, assigned_params
from graphc.tracing import Tensor, current_trace
from passes_support import assert_same_results, run_pass

SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, np.inf, -np.inf, np.nan]
SHAPES = [(), (4,), (1, 4), (3, 1), (3, 4), (4, 3), (2, 3, 4)]
PARAM_SHAPE = (3, 4)
FLOATS = st.sampled_from([0.0, -0.0]) | st.sampled_from(SPECIALS) | st.floats(-10, 10, width=32)


def constant(draw) -> Tensor:
    return Tensor(draw(arrays(np.float32, draw(st.sampled_from(SHAPES)), elements=st.sampled_from(SPECIALS))))


def pick(draw, pool):
    return draw(st.sampled_from(pool))


def unary(draw, pool):
    op = draw(st.sampled_from([ops.neg, ops.exp, ops.abs, ops.relu, ops.sqrt, ops.log, ops.tanh, ops.sign]))
    return op(pick(draw, pool))


def binary(draw, pool):
    op = draw(st.sampled_from([ops.add, ops.sub, ops.mul, ops.div, ops.maximum, ops.minimum]))
    x, y = pick(draw, pool), draw(st.sampled_from(pool + [constant(draw), draw(st.sampled_from(SPECIALS))]))
    return op(x, y) if draw(st.booleans()) else op(y, x)


def identity(draw, pool):
    """A pattern simplify knows, or one it must leave alone (x + 0.0, x - (-0.0), f64 -> f32 -> f64)."""
    x = pick(draw, pool)
    patterns = [lambda: x * 1.0, lambda: 1.0 * x, lambda: x + (-0.0), lambda: (-0.0) + x, lambda: x + 0.0,
                lambda: x - 0.0, lambda: x - (-0.0), lambda: x / 1.0, lambda: -(-x),
                lambda: ops.reshape(ops.reshape(x, shape=(-1,)), shape=x.shape),
                lambda: x.T.T, lambda: ops.broadcast_to(x, shape=x.shape),
                lambda: ops.cast(ops.cast(x, dtype="f64"), dtype="f32"),
                lambda: ops.cast(ops.cast(ops.cast(x, dtype="f64") / 3.0, dtype="f32"), dtype="f64")]
    return draw(st.sampled_from(patterns))()


def reduction(draw, pool):
    x = pick(draw, pool)
    op = draw(st.sampled_from([ops.reduce_sum, ops.reduce_mean, ops.reduce_max]))
    axis = draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    return op(x, axis=axis, keep_dims=draw(st.booleans()))


def reshape(draw, pool):
    x = pick(draw, pool)
    return ops.reshape(x, shape=draw(st.sampled_from([(-1,), tuple(reversed(x.shape)), (1,) + tuple(x.shape)])))


def transpose(draw, pool):
    x = pick(draw, pool)
    return ops.transpose(x, tuple(draw(st.permutations(range(x.ndim)))))


def matmul(draw, pool):
    return ops.get("matmul")(pick(draw, pool), pick(draw, pool), transpose_a=draw(st.booleans()),
                      transpose_b=draw(st.booleans()))


def broadcast(draw, pool):
    return ops.broadcast_to(pick(draw, pool), shape=draw(st.sampled_from(SHAPES)))


def selection(draw, pool):
    x, y = pick(draw, pool), pick(draw, pool)
    return ops.select(x > y, x, pick(draw, pool))


def assignment(draw, pool):
    """Assign a value to the parameter, once; the assign's result is not reused (reads after a write
    are not allowed), so the step adds the assigned value."""
    value = pick(draw, pool)
    if current_trace().graph.of_op("assign") or value.shape != PARAM_SHAPE:
        raise GraphcError("no assignment here")
    ops.assign(draw_param(pool), value)
    return value


def draw_param(pool):
    return next(t for t in pool if getattr(t, "is_parameter", False))


STEPS = [unary, binary, binary, identity, identity, identity, reduction, reshape, transpose, matmul, matmul, broadcast, selection,
         assignment, lambda draw, pool: constant(draw), lambda draw, pool: constant(draw)]


@st.composite
def programs(draw, steps=STEPS, elements=FLOATS):
    """(graph, inputs, parameter values): a random graph traced through the ops, so every node has
    passed its shape rule, with inputs full of signed zeros, infinities and NaN."""
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3))
    param = graphc.Parameter(np.zeros(PARAM_SHAPE, np.float32), name="p")

    def program(*inputs):
        pool = list(inputs) + [param]
        for _ in range(draw(st.integers(1, 14))):
            try:
                pool.append(draw(st.sampled_from(steps))(draw, pool))
            except GraphcError:
                pass       # not well typed for the operands drawn; the next step tries again
        return (pool[-1],) + tuple(draw(st.lists(st.sampled_from(pool), max_size=2)))

    with np.errstate(all="ignore"):
        graph = trace(program, tuple(np.zeros(s, np.float32) for s in shapes)).graph
    inputs = [draw(arrays(np.float32, s, elements=elements)) for s in shapes]
    return graph, inputs, {"p": draw(arrays(np.float32, PARAM_SHAPE, elements=elements))}


def identities(draw, pool):
    """A pattern simplify rewrites, or must not, on the newest value: the patterns chain, and as
    each keeps the sign of zero or is a near miss that does not, the output shows every near miss."""
    return identity(draw, pool[-1:])


def run(graph, inputs, params):
    with np.errstate(all="ignore"):
        return interp.run(graph, inputs, params)


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", ["fold", "cse", "dce", "simplify", "fuse", "plan-memory"])
@PROPERTY
@given(program=programs())
def test_a_pass_keeps_every_result_bit_for_bit_and_settles_in_one_run(name, program):
    graph, inputs, params = program
    before = run(graph, inputs, params)
    run_pass(name, graph)
    assert run_pass(name, graph) is False
    assert_same_results(before, run(graph, inputs, params))


@PROPERTY
@given(program=programs(steps=[identities], elements=st.sampled_from([-0.0, 0.0, 1.0, np.nan])))
def test_simplify_keeps_signed_zeros_through_chains_of_identities(program):
    graph, inputs, params = program
    before = run(graph, inputs, params)
    run_pass("simplify", graph)
    assert_same_results(before, run(graph, inputs, params))


@PROPERTY
@given(program=programs())
def test_the_default_pipeline_keeps_every_result_and_plans_memory_soundly(program):
    graph, inputs, params = program
    before = run(graph, inputs, params)
    run_pipeline(graph)
    assert_same_results(before, run(graph, inputs, params))
    check_memory_plan(graph)


def check_memory_plan(graph):
    plan = graph.memory_plan
    step = {node_id: i for i, node_id in enumerate(plan.schedule)}
    assert sorted(step) == sorted(graph.nodes)
    for node in graph.nodes.values():
        assert all(step[operand.id] < step[node.id] for operand in node.inputs)
        for target in assigned_params(node):
            assert all(step[reader.id] < step[node.id] for reader in graph.users(target) if reader is not node)
    outputs = {out.id for out in graph.outputs}
    lifetimes = {node_id: (step[node_id], len(step) if node_id in outputs else
                           max([step[node_id]] + [step[u.id] for u in graph.users(graph.nodes[node_id])]))
                 for node_id in plan.offsets}
    for node_id, (offset, nbytes) in plan.offsets.items():
        assert offset % ALIGNMENT == 0 and offset + nbytes <= plan.arena_bytes
        assert nbytes == graph.nodes[node_id].type.nbytes
        for other, (other_offset, other_nbytes) in plan.offsets.items():
            (first, last), (other_first, other_last) = lifetimes[node_id], lifetimes[other]
            live_together = other != node_id and first <= other_last and other_first <= last
            assert not (live_together and offset < other_offset + other_nbytes and other_offset < offset + nbytes)
    assert plan.arena_bytes <= plan.naive_bytes
