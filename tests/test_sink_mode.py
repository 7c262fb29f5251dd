"""Dataset sink mode: Model.train(..., dataset_sink_mode=True, sink_size=N) runs N steps per native call
(graphc/codegen/ring.py, runtime/sink.py), computing what N single steps compute, bit for bit; the
callbacks see MindSpore's sink mode (one step_end per sink); bad sink sizes and batches are errors."""
import numpy as np
import pytest

import graphc
from graphc import nn
from graphc.codegen import ring
from graphc.codegen.executable import NativeExecutable
from graphc.nn.loss_scale import DynamicLossScaleManager
from runtime import Model
from runtime.callbacks import Callback
from runtime.dataset import NumpySlicesDataset

ROWS, BATCH = 48, 8                     # 6 batches a pass


class DropoutNet(nn.Cell):
    """Dropout draws from its step counter: a sink that ran the steps in another order, or advanced the
    counter once per sink, would draw other masks."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(6, 16, weight_init="he_uniform")
        self.drop = nn.Dropout(p=0.3)
        self.fc2 = nn.Dense(16, 3, weight_init="he_uniform")

    def construct(self, x):
        return self.fc2(self.drop(nn.ReLU()(self.fc1(x))))


def dataset(rows=ROWS, drop_remainder=True):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, rows).astype(np.int32)
    x = np.eye(3, 6, dtype=np.float32)[labels] * 3 + rng.standard_normal((rows, 6)).astype(np.float32)
    return NumpySlicesDataset({"x": x, "y": labels}, shuffle=True).batch(BATCH, drop_remainder=drop_remainder)


def make_model(**kwargs):
    graphc.set_seed(3)
    net = DropoutNet()
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9)
    return Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), opt, metrics={"acc"},
                 **kwargs), net


class Recorder(Callback):
    def __init__(self):
        self.events, self.losses, self.fields = [], {}, []

    def epoch_begin(self, rc): self.events.append(f"epoch_begin {rc.original_args().cur_epoch_num}")
    def step_begin(self, rc): self.events.append(f"step_begin {rc.original_args().cur_step_num}")
    def epoch_end(self, rc): self.events.append(f"epoch_end {rc.original_args().cur_epoch_num}")

    def step_end(self, rc):
        cb = rc.original_args()
        self.events.append(f"step_end {cb.cur_step_num}")
        self.losses[cb.cur_step_num] = np.asarray(
            [out.asnumpy() for out in cb.net_outputs] if isinstance(cb.net_outputs, tuple) else cb.net_outputs.asnumpy())
        self.fields.append((cb.batch_num, cb.dataset_sink_mode))


def parameters(net):
    return {p.name: p.asnumpy().copy() for p in net.get_parameters()}


def assert_same_parameters(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def train(epochs, **kwargs):
    model, net = make_model()
    recorder = Recorder()
    model.train(epochs, dataset(), callbacks=[recorder], **kwargs)
    return parameters(net), recorder


@pytest.mark.parametrize("sink_size, epochs, plain_epochs", [(-1, 2, 2), (4, 3, 2), (9, 2, 3)])
def test_a_sink_computes_what_single_steps_compute_bit_for_bit(sink_size, epochs, plain_epochs):
    """sink_size 4 over 6 batches a pass: the second sink runs on into the second pass (set_epoch(1)'s
    order), as MindSpore's stream of sinks does; 3 sinks of 4 are the 12 steps of 2 plain epochs."""
    plain, plain_steps = train(plain_epochs)
    sunk, sinks = train(epochs, dataset_sink_mode=True, sink_size=sink_size)
    assert_same_parameters(sunk, plain)
    steps = 6 if sink_size == -1 else sink_size
    assert list(sinks.losses) == [steps * (k + 1) for k in range(epochs)]
    for step, loss in sinks.losses.items():
        np.testing.assert_array_equal(loss, plain_steps.losses[step], err_msg=f"step {step}")


def test_the_callbacks_see_one_step_per_sink():
    _, recorder = train(2, dataset_sink_mode=True, sink_size=4)
    assert recorder.events == ["epoch_begin 1", "step_begin 4", "step_end 4", "epoch_end 1",
                               "epoch_begin 2", "step_begin 8", "step_end 8", "epoch_end 2"]
    assert recorder.fields == [(4, True), (4, True)]


def test_a_sink_is_one_native_call(monkeypatch):
    runs = []
    real = NativeExecutable._run
    monkeypatch.setattr(NativeExecutable, "_run", lambda self: (
        runs.append(tuple(self._words[[ring.TRIPS, ring.SLOTS]])), real(self))[1])
    train(2, dataset_sink_mode=True)
    assert runs == [(6, 4), (6, 4)]             # 6 trips over a ring of 4 slots, once per epoch


def test_a_loss_scaled_sink_returns_the_last_steps_outputs():
    """TrainOneStepWithLossScaleCell returns its scale, a parameter read before the step updates it:
    the sink copies it before its last trip (lower.py), so it is the last step's, not the first's."""
    def run(**kwargs):
        model, net = make_model(loss_scale_manager=DynamicLossScaleManager(2 ** 10, 2, scale_window=2))
        recorder = Recorder()
        model.train(1, dataset(), callbacks=[recorder], **kwargs)
        return parameters(net), recorder.losses
    (plain, plain_outputs), (sunk, sunk_outputs) = run(), run(dataset_sink_mode=True)
    assert_same_parameters(sunk, plain)
    np.testing.assert_array_equal(sunk_outputs[6], plain_outputs[6])
    assert plain_outputs[6][2] != plain_outputs[1][2]         # the scale grew during the epoch


def test_eval_and_fit_take_sink_mode():
    model, _ = make_model()
    modes = []

    class Mode(Callback):
        def on_eval_step_end(self, rc): modes.append(rc.original_args().dataset_sink_mode)

    model.fit(1, dataset(), dataset(), callbacks=[Mode()], dataset_sink_mode=True, valid_dataset_sink_mode=True)
    assert modes == [True] * 6
    sunk = model.eval(dataset(), dataset_sink_mode=True)
    assert sunk == model.eval(dataset()) and set(sunk) == {"acc"}


def test_the_interpreter_backend_runs_a_sink_step_by_step_with_the_same_numbers():
    backend = graphc.get_context("backend")
    graphc.set_context(backend="interp")
    try:
        plain, _ = train(1)
        sunk, recorder = train(2, dataset_sink_mode=True, sink_size=3)
    finally:
        graphc.set_context(backend=backend)
    assert recorder.events == ["epoch_begin 1", "step_begin 3", "step_end 3", "epoch_end 1",
                               "epoch_begin 2", "step_begin 6", "step_end 6", "epoch_end 2"]
    assert_same_parameters(sunk, plain)


@pytest.mark.parametrize("sink_size, error", [(0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)])
def test_a_bad_sink_size_is_refused_as_mindspore_refuses_it(sink_size, error):
    model, _ = make_model()
    with pytest.raises(error, match=r"sink_size must be"):
        model.train(1, dataset(), dataset_sink_mode=True, sink_size=sink_size)
    with pytest.raises(error, match=r"sink_size must be"):
        model.fit(1, dataset(), sink_size=sink_size)


def test_a_batch_of_another_shape_mid_sink_is_an_error_naming_it_and_leaves_whole_steps():
    """44 rows in batches of 8: the sixth batch has 4 rows. The five steps before it ran, each whole
    (the parameters are those of five single steps), and the error says which batch it was."""
    model, net = make_model()
    with pytest.raises(graphc.GraphcError, match=r"test_sink_mode.py:\d+: Model.train in dataset sink mode, epoch 1, "
                                                 r"step 6: batch 6 of the 6 of this sink cannot run: input of shape "
                                                 r"\[4, 6\] where the compiled graph expects \[8, 6\]\. The 5 step\(s\) "
                                                 r"before it ran, each whole; .* drop_remainder=True"):
        model.train(1, dataset(44, drop_remainder=False), dataset_sink_mode=True)
    plain, plain_net = make_model()
    stop = type("StopAt5", (Callback,), {"step_end": lambda self, rc: rc.original_args().cur_step_num == 5
                                         and rc.request_stop()})()
    plain.train(1, dataset(44, drop_remainder=False), callbacks=[stop])
    assert_same_parameters(parameters(net), parameters(plain_net))


def test_a_label_out_of_range_mid_sink_is_an_error_naming_its_batch():
    x = np.zeros((24, 6), np.float32)
    labels = np.zeros(24, np.int32)
    labels[17] = 3                                       # in the third batch of 8; the net has 3 classes
    model, _ = make_model()
    with pytest.raises(graphc.GraphcError, match=r"epoch 1, step 3: batch 3 of the 3 of this sink cannot run: .*label "
                                                 r"3 is out of range for 3 classes.*The 2 step\(s\) before it ran"):
        model.train(1, NumpySlicesDataset({"x": x, "y": labels}, shuffle=False).batch(8), dataset_sink_mode=True)


def test_pynative_mode_feeds_one_batch_per_step_as_mindspore_does_where_it_cannot_sink():
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    try:
        _, recorder = train(1, dataset_sink_mode=True, sink_size=2)
    finally:
        graphc.set_context(mode=graphc.GRAPH_MODE)
    assert recorder.events[1:4] == ["step_begin 1", "step_end 1", "step_begin 2"]
    assert recorder.fields[0] == (6, False)


def test_a_run_resumed_at_an_epoch_goes_on_with_the_same_stream_of_batches():
    """sink_size 4 over 6 batches a pass: epoch 3 starts at batch 2 of the second pass."""
    straight, _ = train(3, dataset_sink_mode=True, sink_size=4)
    model, net = make_model()
    model.train(2, dataset(), dataset_sink_mode=True, sink_size=4)
    recorder = Recorder()
    model.train(3, dataset(), callbacks=[recorder], dataset_sink_mode=True, sink_size=4, initial_epoch=2)
    assert recorder.events == ["epoch_begin 3", "step_begin 12", "step_end 12", "epoch_end 3"]
    assert_same_parameters(parameters(net), straight)
