"""Threads: tracing state is per thread, and steps that share Parameters are serialized with each
other and with set_data on those Parameters (one lock per parameter set)."""
import threading

import numpy as np

import graphc
from graphc import Parameter, Tensor, interp, nn, ops
from graphc.nn.parameter import ParameterSet

WAIT = 30.0     # seconds; only reached when something is broken


def f32(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_eager_ops_in_one_thread_while_another_traces():
    inside, finish = threading.Event(), threading.Event()

    def traced(x):
        y = ops.relu(x)
        inside.set()
        assert finish.wait(WAIT)        # the trace stays open while the other thread computes
        return y * 2.0

    fn = graphc.jit(traced, backend="interp")
    result = {}
    tracer = threading.Thread(target=lambda: result.setdefault("out", fn(f32(3))))
    tracer.start()
    assert inside.wait(WAIT)
    eager = ops.add(Tensor(np.ones(3, np.float32)), 1.0)     # another thread, no trace of its own
    finish.set()
    tracer.join(WAIT)
    assert not eager.is_symbolic and eager.asnumpy().tolist() == [2.0, 2.0, 2.0]
    np.testing.assert_allclose(result["out"].asnumpy(), np.maximum(f32(3).asnumpy(), 0) * 2)
    graph = fn.lower(f32(3)).graph
    assert [n.op for n in graph.order()] == ["input", "relu", "const", "mul"]


def test_cell_scopes_do_not_leak_across_threads():
    inside, finish = threading.Event(), threading.Event()

    class Slow(nn.Cell):
        def construct(self, x):
            inside.set()
            assert finish.wait(WAIT)
            return ops.relu(x)

    seen = {}
    thread = threading.Thread(target=lambda: Slow()(f32(2)))
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    try:
        thread.start()
        assert inside.wait(WAIT)
        seen["scope"] = graphc.tracing.current_scope()
        finish.set()
        thread.join(WAIT)
    finally:
        graphc.set_context(mode=graphc.GRAPH_MODE)
    assert seen["scope"] == ""


def test_set_data_waits_for_a_step_using_the_parameter(monkeypatch):
    weight = Parameter(np.ones(3, np.float32), name="w")
    step = graphc.jit(lambda x: ops.assign(weight, weight * x), backend="interp")
    step(f32(3))                                       # compiled; the next call is only a run
    running, finish = threading.Event(), threading.Event()
    real_run = interp.run

    def slow_run(*args):
        running.set()
        assert finish.wait(WAIT)
        return real_run(*args)

    monkeypatch.setattr(interp, "run", slow_run)
    stepping = threading.Thread(target=step, args=(f32(3),))
    stepping.start()
    assert running.wait(WAIT)
    written = threading.Event()
    writer = threading.Thread(target=lambda: (weight.set_data(np.zeros(3, np.float32)), written.set()))
    writer.start()
    assert not written.wait(0.5), "set_data ran while a step using the Parameter was running"
    finish.set()
    stepping.join(WAIT)
    assert written.wait(WAIT)
    writer.join(WAIT)
    assert weight.asnumpy().tolist() == [0.0, 0.0, 0.0]    # the write came after the step's update


def test_executables_sharing_parameters_share_one_lock():
    net = nn.Dense(4, 2)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    x, y = f32(8, 4), f32(8, 2, seed=1)
    train_step = train.compile(x, y)
    forward = net.compile(x)
    assert train_step._parameter_set.current() is forward._parameter_set.current()
    for p in train.get_parameters():
        assert p._set.current() is forward._parameter_set.current()
    other = nn.Dense(4, 2).compile(x)
    assert other._parameter_set.current() is not forward._parameter_set.current()


def test_merged_sets_forward_to_the_one_that_absorbed_them():
    a, b, c = (Parameter(np.zeros(1, np.float32), name=n) for n in "abc")
    first, second = ParameterSet.of([a, b]), ParameterSet.of([c])
    merged = ParameterSet.of([b, c])
    assert first.current() is second.current() is merged
    assert sorted(p.name for p in merged.members) == ["a", "b", "c"]
    with first.locked():          # taking a merged-away set's lock takes the current one
        assert merged.lock._is_owned()
    assert not merged.lock._is_owned()
