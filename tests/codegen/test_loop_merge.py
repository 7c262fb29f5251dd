"""Adjacent elementwise loops over one domain run as one kernel (codegen/loop_merge.py): the same bits as
the interpreter, every result read outside the run stored, and the runs an LSTM step makes."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from graphc import ops
from graphc.ir import Graph
from graphc.types import TensorType, float32, int64
from graphc.codegen.loop_merge import independent_parts, loop_member
from graphc.codegen.lower import Buffer, lower_graph
from graphc.jit import trace
from graphc.passes.manager import run_pipeline

from .native_support import assert_same, run_both


def three_loops(p, x, y):
    a = x * y + 1.0               # read by b, c and returned: a region of its own
    b = ops.abs(a) - y            # read by c and returned
    return a, b, a * b


def kernel_names(fn, *inputs) -> list[str]:
    traced = trace(fn, inputs)
    run_pipeline(traced.graph)
    return [call.name for call in lower_graph(traced.graph).calls]


def test_three_adjacent_loops_are_one_kernel_storing_each_result():
    x = np.random.default_rng(0).standard_normal((37, 19)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((37, 19)).astype(np.float32)
    assert_same(*run_both(three_loops, [x, y]))                 # bit for bit, on 1 and 2 threads
    names = kernel_names(lambda x, y: three_loops(None, x, y), x, y)
    assert len(names) == 1 and names[0].endswith("+2"), names


def test_loops_over_other_domains_stay_apart():
    x = np.random.default_rng(2).standard_normal((8, 16)).astype(np.float32)

    def two_shapes(p, x):
        row = ops.reduce_sum(x, axis=1, keep_dims=True)
        a = ops.exp(row) + 1.0                      # [8, 1]
        return a, a * x                             # [8, 16]: another domain
    native, interp = run_both(two_shapes, [x])
    np.testing.assert_allclose(native[1], interp[1], rtol=1e-5)
    assert not [name for name in kernel_names(lambda x: two_shapes(None, x), x) if "+" in name]


def test_positional_and_assigning_loops_never_join():
    graph, t = Graph(), TensorType((4,), float32)
    x = graph.add("input", (), {"name": "x", "index": 0}, t)
    counter = graph.add("input", (), {"name": "c", "index": 1}, TensorType((), int64))
    assert loop_member(graph.add("mul", (x, x), {}, t))
    assert not loop_member(graph.add("dropout", (x, counter), {"keep_prob": 0.5, "seed": 0}, t))
    assert not loop_member(graph.add("assign", (x, x), {}, t))


def test_buffers_that_move_together_overlap_only_where_their_bytes_do():
    """Two slices of one trip's slot of a stacked result move with the trip alike: they share a byte on
    some trip exactly when they do on the first (the merged loop writing both pieces of a concat)."""
    step = ((1, 4096, 28, 0),)
    first, second = Buffer("regions", None, 0, 1024, step), Buffer("regions", None, 1024, 1024, step)
    assert not first.overlaps(second)
    assert first.overlaps(Buffer("regions", None, 512, 1024, step))
    assert first.overlaps(Buffer("regions", None, 4096, 64))        # trip 1 of `first` is there


def test_an_lstm_step_runs_its_cell_as_one_loop_each_way():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import models
    traced = trace(models.make_train_step(models.make_network("lstm")), models.batch("lstm"))
    run_pipeline(traced.graph)
    loops: dict[str, list[str]] = {}          # the elementwise loops inside each scan, forward and backward
    for call in lower_graph(traced.graph).calls:
        scan, _, rest = call.name.partition(".body.")
        if rest and rest.split(".")[1].startswith("elementwise"):
            loops.setdefault(scan, []).append(call.name)
    # the batch of 128 runs as two blocks (nn/layers/rnn.py): a loop for each block's cell, each way
    assert len(loops) == 2 and all(len(names) == 2 and all("+" in name for name in names)
                                   for names in loops.values()), loops


def test_loops_that_share_only_constants_are_kept_apart():
    graph, t = Graph("g"), TensorType((8,), float32)
    x, y = (graph.add("input", (), {"name": name, "index": k}, t) for k, name in enumerate("xy"))
    one = graph.add("const", (), {"value": np.ones(8, np.float32)}, t)
    a1, b1 = graph.add("mul", (x, one), {}, t), graph.add("mul", (y, one), {}, t)
    a2, b2 = graph.add("exp", (a1,), {}, t), graph.add("exp", (b1,), {}, t)
    assert independent_parts([a1, b1, a2, b2]) == [[a1, a2], [b1, b2]]
    shared = graph.add("add", (x, y), {}, t)          # reads x as a1 does, y as b1 does: one loop
    assert independent_parts([a1, b1, shared, a2]) == [[a1, b1, shared, a2]]
