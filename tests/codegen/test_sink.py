"""NativeExecutable.sink: N steps in one native call over a ring of staged inputs (docs/codegen.md, "Trips
and the ring"): the same numbers as N calls, bit for bit, on 1 and 2 threads, with a scan inside the
step reading its slices out of the ring; outputs that are inputs are the last step's; a batch that
cannot be staged stops the sink between whole steps."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc import jit, nn
from graphc.errors import SinkError

from .test_native_loops import Recurrent


def recurrent_step(features: int, threads: int):
    graphc.set_seed(5)
    graphc.set_context(mode=graphc.GRAPH_MODE, backend="llvm", num_threads=threads)
    net = Recurrent(features=features)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.1, 0.9)), net


def batches(features: int, count: int = 6):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((7, 4, features)).astype(np.float32), rng.integers(0, 4, 4).astype(np.int32))
            for _ in range(count)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("features", [8, 5])            # 128-byte slices read in place; 80-byte ones staged
def test_a_sink_of_a_recurrent_step_equals_its_calls_bit_for_bit(features, threads):
    data = batches(features)
    step, net = recurrent_step(features, threads)
    losses = [step(*batch).asnumpy() for batch in data]
    called = {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}

    step, net = recurrent_step(features, threads)
    (loss,) = step.compile(*data[0]).sink(iter(data), len(data))         # 6 trips over 4 slots
    np.testing.assert_array_equal(loss, losses[-1])
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), called[name], err_msg=name)


def test_an_output_that_is_an_input_is_the_last_steps():
    fn = jit(lambda x, y: (x, y * 2.0))
    data = [(np.full(3, k, np.float32), np.full(5, k, np.float32)) for k in range(6)]
    x, doubled = fn.compile(*data[0]).sink(iter(data), 6)
    np.testing.assert_array_equal(x, data[-1][0])
    np.testing.assert_array_equal(doubled, data[-1][1] * 2.0)


def failing(data, at):
    for k, batch in enumerate(data):
        if k == at:
            raise OSError("the disk went away")
        yield batch


@pytest.mark.parametrize("source, detail", [
    (lambda data: failing(data, 3), "batch 4 of the 6 of this sink cannot run: the disk went away"),
    (lambda data: iter(data[:3]), "batch 4 of the 6 of this sink cannot run: the batches ran out after 3 of the "
                                  "6 steps asked for"),
])
def test_a_batch_that_cannot_be_staged_stops_the_sink_after_the_whole_steps_before_it(source, detail):
    data = batches(8)
    step, net = recurrent_step(8, 2)
    for batch in data[:3]:
        step(*batch)
    three = {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}

    step, net = recurrent_step(8, 2)
    with pytest.raises(SinkError, match=detail) as raised:
        step.compile(*data[0]).sink(source(data), 6)
    assert raised.value.batch == 3
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), three[name], err_msg=name)
    (loss,) = step.compile(*data[0]).sink(iter(data), 2)                  # the executable runs on
    assert np.isfinite(loss)
