"""graphc.Profiler: the native step's timeline in the Trace Event Format (one track per native thread,
a span per kernel call and per barrier wait), the per-kernel CSV, `graphc profile`, and misuse."""
import csv
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import GraphcError, nn
from graphc.jit import JitFunction
from graphc.models import lenet

from test_cli import fails, succeeds

SOURCE = Path(__file__).read_text().splitlines()
STEPS = 16          # the median step of 15 (the first binds the parameters), steady on a shared machine


def lenet_step():
    net = lenet(num_classes=10)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.01, 0.9))


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """STEPS LeNet training steps on 2 threads under a Profiler, each step timed by the caller."""
    graphc.set_context(mode=graphc.GRAPH_MODE, num_threads=2)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((32, 1, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 32).astype(np.int32)
    step = lenet_step()
    output = tmp_path_factory.mktemp("profile")
    profiler = graphc.Profiler(output)
    executable = step.compile(images, labels)
    seconds = []
    for _ in range(STEPS):
        start = time.perf_counter()
        step(images, labels)
        seconds.append(time.perf_counter() - start)
    trace_path, kernels_path = profiler.analyse()
    graphc.set_context(num_threads=None)
    return json.loads(Path(trace_path).read_text()), kernels_path, seconds, executable


def spans(trace, pid=1):
    """(tid, step) -> that thread's complete events of that step, in time order."""
    by_thread = defaultdict(list)
    for event in trace["traceEvents"]:
        if event["ph"] == "X" and event["pid"] == pid:
            by_thread[event["tid"], event["args"]["step"]].append(event)
    return {key: sorted(events, key=lambda e: e["ts"]) for key, events in by_thread.items()}


def test_each_native_thread_has_a_track_with_a_span_per_kernel_call_and_barrier_wait(profiled):
    trace, _, _, executable = profiled
    calls = len(executable.lowered.calls)
    tracks = spans(trace)
    assert sorted(tracks) == [(tid, step) for tid in (0, 1) for step in range(1, STEPS + 1)]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names[1, 0] == "thread 0 (caller)" and names[1, 1] == "thread 1"
    for events in tracks.values():
        kernels = [e for e in events if e["cat"] == "kernel"]
        assert len(kernels) == calls
        assert len([e for e in events if e["cat"] == "barrier"]) >= calls // 2
        assert all(e["args"]["after"] in {k["name"] for k in kernels} for e in events if e["cat"] == "barrier")
    first = next(e for e in trace["traceEvents"] if e.get("cat") == "kernel" and e["args"]["ops"] == "conv2d+relu")
    assert first["args"]["scope"] == "backbone.relu" and first["args"]["flops"] > 0 and first["args"]["bytes"] > 0


def test_spans_per_thread_do_not_overlap_and_add_up_to_the_measured_step_time(profiled):
    """The caller's thread (0) runs the whole call: its spans of a step against the step's time as the
    caller measured it around the call are never more, and for the typical step (the median: a step
    whose caller was descheduled outside the executable on this shared machine is longer than
    anything inside it) within 10%. The first step is left out: its call also binds the parameters
    and allocates the threads' scratch. A worker thread takes part in the native step only, so its
    spans add up to the native call (the caller's span minus its inputs and outputs), for the
    typical step within 3%."""
    trace, _, seconds, _ = profiled
    tracks = spans(trace)
    for events in tracks.values():
        for before, after in zip(events, events[1:]):
            assert before["ts"] + before["dur"] <= after["ts"] + 1e-3, (before, after)
    total = {key: sum(e["dur"] for e in events) for key, events in tracks.items()}
    caller = [total[0, step] / (seconds[step - 1] * 1e6) for step in range(2, STEPS + 1)]
    native_call = {step: total[0, step] - sum(e["dur"] for e in tracks[0, step] if e["cat"] == "call")
                   for step in range(2, STEPS + 1)}
    native = {tid: [total[tid, step] / native_call[step] for step in range(2, STEPS + 1)]
              for tid, _ in tracks if tid}
    assert max(caller) <= 1.001 and statistics.median(caller) >= 0.9, caller
    # a worker's clock and the caller's agree to a few microseconds (0.993-1.007 of the native call per
    # step, measured), but a worker descheduled on this shared machine stretches a step of its own, as
    # the caller's does: the typical step is held to it
    assert list(native) == [1], native
    assert 0.97 <= statistics.median(native[1]) <= 1.03, sorted(native[1])


def test_analyse_writes_the_per_kernel_table_as_csv(profiled):
    _, kernels_path, _, executable = profiled
    with open(kernels_path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(executable.lowered.calls)
    assert {row["graph"] for row in rows} == {"TrainOneStepCell"}
    assert all(int(row["calls"]) == STEPS for row in rows)
    times = [float(row["total_us"]) for row in rows]
    assert times == sorted(times, reverse=True) and times[-1] > 0
    assert sum(float(row["share"]) for row in rows) == pytest.approx(1.0, abs=1e-3)


def test_graphc_profile_writes_the_timeline_and_the_table(tmp_path):
    trace = tmp_path / "trace.json"
    out = succeeds("profile", "examples/lenet.py:train_step", "--input", "images:f32[32,1,32,32]",
                   "--input", "labels:i32[32]", "--steps", "3", "-o", str(trace))
    assert out.strip().endswith(f"timeline {trace}, kernels {tmp_path / 'trace.csv'}")
    events = json.loads(trace.read_text())["traceEvents"]
    assert [e["args"]["step"] for e in events if e.get("cat") == "step"] == [1, 2, 3]
    assert any(e.get("cat") == "kernel" for e in events)
    assert (tmp_path / "trace.csv").read_text().startswith("graph,kernel,node,ops,calls,")


def test_graphc_profile_refuses_no_steps_and_a_target_that_is_not_python(tmp_path):
    lenet_inputs = ("--input", "images:f32[32,1,32,32]", "--input", "labels:i32[32]")
    assert "--steps must be at least 1, got 0" in fails("profile", "examples/lenet.py:train_step", *lenet_inputs,
                                                         "--steps", "0", "-o", str(tmp_path / "t.json"))
    assert "graphc profile runs a Python target, file.py:object" in fails("profile", "saved.ir", "--steps", "1")
    assert not any(tmp_path.iterdir())


def test_a_profiler_started_twice_names_where_the_first_started(tmp_path):
    first = graphc.Profiler(tmp_path / "first")  # first start
    try:
        with pytest.raises(GraphcError) as error:
            graphc.Profiler(tmp_path / "second")  # second start
        message = str(error.value)
        [line] = [i + 1 for i, text in enumerate(SOURCE) if text.rstrip().endswith("# second start")]
        assert message.split(": ")[0].endswith(f"test_profiler.py:{line}"), message
        assert "already running" in message and f"test_profiler.py:{line - 3}" in message
        assert "call its stop() or analyse() first" in message
    finally:
        first.stop()
    graphc.Profiler(tmp_path / "again").stop()      # after stop(), a new one starts


def test_analyse_without_a_native_step_is_an_error(tmp_path):
    profiler = graphc.Profiler(tmp_path)
    JitFunction(lambda x: x + 1, "add_one", backend="interp")(np.ones(2, np.float32))
    with pytest.raises(GraphcError, match="no native step ran since the Profiler started"):
        profiler.analyse()
    assert not any(tmp_path.iterdir())
