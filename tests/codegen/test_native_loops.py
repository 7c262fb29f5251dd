"""Loops and branches in native code (docs/codegen.md, "Loops and branches"): cond, while and scan run
in the one step function, equal to the interpreter and bit for bit on 1 and 2 threads, in a training
step through a scan's reverse-scan gradient too; a scan is one loop whatever its length (its step's IR
differs only in the trip count); the step index and the fingerprint cover regions."""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.codegen import fingerprint, ring, step_index
from graphc.codegen.executable import NativeExecutable, compile_step
from graphc.codegen.lower import lower_graph
from graphc.compiler import compile_graph
from graphc.control_flow import cond, scan, while_loop
from graphc.errors import GraphcError
from graphc.interp import run
from graphc.ir.text import parse_graph
from graphc.jit import trace
from graphc.passes import DEFAULT_PIPELINE, run_pipeline

from test_control_flow import LOOPS, arrays, loops_reference

from .native_support import assert_close, assert_same, run_both


@pytest.fixture(autouse=True)
def natively(monkeypatch):
    """Every step built for the native backend is native (a graph with control flow used to run on the
    interpreter instead, with a warning)."""
    built = []

    def compile_and_record(graph, params, backend=None, *args, **kwargs):
        executable = compile_graph(graph, params, backend, *args, **kwargs)
        built.append((backend or graphc.get_context("backend"), type(executable)))
        return executable
    monkeypatch.setattr(sys.modules["graphc.jit"], "compile_graph", compile_and_record)
    yield
    native = [kind for backend, kind in built if backend == "llvm"]
    assert native == [NativeExecutable] * len(native)


def test_nested_scan_cond_and_while_run_natively_as_the_interpreter_does():
    """LOOPS: a scan over unaligned f32[3] slices whose body branches, then a while loop."""
    h, xs, w = arrays(3, (4, 3), 3)
    got = []
    for threads in (1, 2):
        graphc.set_context(num_threads=threads)
        step = compile_graph(parse_graph(LOOPS), {})
        assert isinstance(step, NativeExecutable)               # not on the interpreter any more
        got.append(step([h, xs, w]))
    for one, two in zip(*got):
        np.testing.assert_array_equal(one, two, err_msg="1 and 2 threads disagree")
    assert_close(got[0], run(parse_graph(LOOPS), [h, xs, w])[0])
    assert_close(got[0], list(loops_reference(h, xs, w)))


def test_cond_takes_the_branch_its_predicate_picks():
    def fn(params, x, y):
        return cond(x.sum() > 0, lambda a, b: (a * b, a - b), lambda a, b: (b - a, a + b * 2.0), x, y)
    x, y = arrays(5, 5)
    for sign in (1.0, -1.0):
        native, interp = run_both(fn, [sign * np.abs(x), y])
        assert_same(native, interp)


@pytest.mark.parametrize("body", [lambda c: (c[0] + c[1], c[0], c[2] + 1), lambda c: (c[1], c[0], c[2] + 1)],
                         ids=["passed-on", "swapped"])
def test_a_data_dependent_while_loop_passing_carried_values_on_in_other_positions(body):
    """(a, b) -> (a + b, a) passes a carried value on in another position: copying the new a in
    first would change the b copied after it. (a, b) -> (b, a) swaps them: one goes through a
    staged copy. The trip count depends on the input."""
    def fn(params, a, b, limit):
        return while_loop(lambda c: c[2] < limit, body, (a, b, Tensor(np.int32(0))))
    a, b = arrays((2, 3), (2, 3), seed=1)
    for limit in (0, 1, 7):
        native, interp = run_both(fn, [a, b, np.int32(limit)])
        assert_same(native, interp)
        assert int(native[2]) == limit


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_with_aligned_and_unaligned_slices_and_nested_scans(reverse):
    def fn(params, h, xs, rows):
        def inner(c, r):
            return c + r, c * r
        def body(c, x):
            total, products = scan(inner, c, rows)           # a scan inside a scan's body
            c = ops.tanh(c * 0.5 + x + total)
            # and a while loop reading this trip's slice, halving until small
            c = while_loop(lambda v: (v * v).sum() > 1.0, lambda v: v * 0.5 + x * 0.01, c * 4.0)
            return c, (c * 2.0, products)
        h, (doubled, products) = scan(body, h, xs, reverse=reverse)
        return h, doubled, products
    h, xs, rows = arrays(16, (6, 16), (3, 16), seed=2)          # f32[16]: 64-byte slices, read in place
    assert_close(*run_both(fn, [h, xs, rows]))
    h, xs, rows = arrays(5, (6, 5), (3, 5), seed=2)            # f32[5]: staged through an aligned copy
    assert_close(*run_both(fn, [h, xs, rows]))


class Recurrent(nn.Cell):
    def __init__(self, features=8, hidden=16, classes=4):
        super().__init__()
        rng = np.random.default_rng(7)
        self.w_in = graphc.Parameter((rng.standard_normal((features, hidden)) * 0.3).astype(np.float32), name="w_in")
        self.w_h = graphc.Parameter((rng.standard_normal((hidden, hidden)) * 0.3).astype(np.float32), name="w_h")
        self.head = nn.Dense(hidden, classes)

    def construct(self, xs):
        h = Tensor(np.zeros((xs.shape[1], self.w_h.shape[0]), np.float32))
        h, _ = scan(lambda c, x: (ops.tanh(ops.matmul(x, self.w_in) + ops.matmul(c, self.w_h)), c), h, xs)
        return self.head(h)


def train_recurrent(backend: str, threads: int, steps: int = 5) -> dict[str, np.ndarray]:
    graphc.set_seed(5)
    graphc.set_context(mode=graphc.GRAPH_MODE, backend=backend, num_threads=threads)
    net = Recurrent()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        xs = rng.standard_normal((7, 4, 8)).astype(np.float32)      # 7 steps of a batch of 4
        step(Tensor(xs), Tensor(rng.integers(0, 4, 4).astype(np.int32)))
    return {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}


def test_a_training_step_through_a_scans_reverse_scan_gradient_matches_the_interpreter():
    interp = train_recurrent("interp", 1)
    one, two, three = (train_recurrent("llvm", threads) for threads in (1, 2, 3))
    for name, want in interp.items():
        np.testing.assert_array_equal(one[name], two[name], err_msg=f"{name}: 1 and 2 threads disagree")
        # 3 threads: kernels running at once take 1 and 2 of them (lower.concurrent)
        np.testing.assert_array_equal(one[name], three[name], err_msg=f"{name}: 1 and 3 threads disagree")
        error = float(np.max(np.abs(one[name] - want)))
        assert error <= 1e-5 * float(np.max(np.abs(want))), f"{name}: max error {error:.3g}"
    assert not np.allclose(one["w_h"], Recurrent().w_h.asnumpy())          # it trained


def optimized_scan(length: int):
    def fn(h, xs, w):
        return scan(lambda c, x: (ops.tanh(ops.matmul(c, w) + x), c * 2.0), h, xs)
    graph = trace(fn, tuple(arrays((4, 16), (length, 4, 16), (16, 16)))).graph
    run_pipeline(graph, "autodiff," + DEFAULT_PIPELINE)
    return graph


def test_a_scans_step_ir_differs_only_in_its_trip_count():
    """...and in the stride of the stacked input's ring slots (ring.py), which is its size."""
    graphs = {length: optimized_scan(length) for length in (28, 784)}
    texts = {length: str(lower_graph(graph).module) for length, graph in graphs.items()}
    slot = {length: str(ring.slot_bytes(graph.inputs[1].type)) for length, graph in graphs.items()}
    assert len(re.findall(r"\b784\b", texts[784])) == 1         # the loop's bound, nothing else
    assert texts[784].replace(slot[784], slot[28]).replace("784", "28") == texts[28]


@pytest.mark.parametrize("length", [5, 6])
def test_a_scans_carried_values_ping_pong_between_two_buffers_and_are_copied_once_after_the_loop(length):
    # the body computes the new carried value and the y straight into their places: the only copies
    # are the initial value into its pair and the final one out of it, whatever the trip count
    text = str(lower_graph(optimized_scan(length)).module)
    assert len(re.findall(r"call void @\"?llvm\.memcpy", text)) == 2
    assert_close(*run_both(lambda params, h, xs, w: scan(lambda c, x: (ops.tanh(ops.matmul(c, w) + x), c * 2.0), h, xs),
                           arrays((4, 16), (length, 4, 16), (16, 16))))


def test_the_step_index_holds_regions_and_the_fingerprint_their_bodies(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    graph = optimized_scan(5)
    cold, _, _ = compile_step(graph)
    warm, _, report = compile_step(graph)
    assert report.warm and warm.calls == cold.calls and warm.region_bytes == cold.region_bytes > 0
    assert any(len(call.path) > 1 for call in warm.calls)                  # kernels inside the scan's body
    other = parse_graph(str(graph).replace("tanh", "sigmoid"))
    run_pipeline(other, "plan-memory")
    assert step_index.fingerprint(other, False) != step_index.fingerprint(graph, False)


def test_the_fingerprint_covers_the_lowering_rules_of_ops_inside_loops():
    assert {"tanh", "matmul"} <= fingerprint._op_names(optimized_scan(3))      # ops of the scan's body


def test_an_index_out_of_range_on_a_later_trip_stops_the_step_at_the_users_line():
    """An embedding lookup per step: the gather's index check runs each trip, every thread leaves
    the step together, and the error names the gather's line; the next good call runs."""
    table = np.arange(12, dtype=np.float32).reshape(4, 3)

    def lookup(h, indices):
        return scan(lambda c, i: (c + ops.gather(Tensor(table), i, 0).sum(0), c), h, indices)[0]
    fn = graphc.jit(lookup)
    good, bad = np.array([[0, 1], [2, 3], [3, 0]], np.int32), np.array([[0, 1], [2, 3], [3, 9]], np.int32)
    for threads in (1, 2):
        graphc.set_context(num_threads=threads)
        with pytest.raises(GraphcError, match=r"gather: index 9 is out of range for an axis of size 4") as error:
            fn(Tensor(np.zeros(3, np.float32)), Tensor(bad))
        assert "test_native_loops.py:" in str(error.value)
        np.testing.assert_array_equal(fn(Tensor(np.zeros(3, np.float32)), Tensor(good)).asnumpy(),
                                      table[good.reshape(-1)].sum(0))
