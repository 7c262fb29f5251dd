"""runtime.Model: the training loop, its callbacks and log, eval/predict/fit, resuming, errors."""
import re

import numpy as np
import pytest

import graphc
from graphc import nn
from runtime import CheckpointConfig, Model, ModelCheckpoint, load_checkpoint, load_param_into_net
from runtime.callbacks import Callback, LossMonitor
from runtime.dataset import GeneratorDataset, NumpySlicesDataset


class TinyNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(6, 8, weight_init="he_uniform")
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(8, 3, weight_init="he_uniform")

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def blobs(n=48, seed=0):
    """Three separable clusters: a task a tiny net learns in a few epochs."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype(np.int32)
    centers = np.eye(3, 6, dtype=np.float32) * 3
    return (centers[labels] + rng.standard_normal((n, 6)).astype(np.float32) * 0.3), labels


def dataset(batch=8, seed=0, **kwargs):
    x, y = blobs(seed=seed)
    return NumpySlicesDataset({"x": x, "y": y}, shuffle=True, **kwargs).batch(batch, drop_remainder=True)


def make_model(seed=0, lr=0.1):
    graphc.set_seed(seed)
    net = TinyNet()
    opt = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=0.9)
    return Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), opt,
                 metrics={"acc", "loss"}), net


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def begin(self, rc): self.events.append("begin")
    def epoch_begin(self, rc): self.events.append(f"epoch_begin {rc.original_args().cur_epoch_num}")
    def step_begin(self, rc): self.events.append(f"step_begin {rc.original_args().cur_step_num}")
    def step_end(self, rc): self.events.append(f"step_end {rc.original_args().cur_step_num}")
    def epoch_end(self, rc): self.events.append(f"epoch_end {rc.original_args().cur_epoch_num}")
    def end(self, rc): self.events.append("end")


def test_callback_order_and_run_context_fields():
    model, net = make_model()
    recorder = Recorder()
    seen = {}

    class Fields(Callback):
        def step_end(self, rc):
            cb = rc.original_args()
            seen.update(epoch_num=cb.epoch_num, batch_num=cb.batch_num, mode=cb.mode,
                        train_network=cb.train_network, optimizer=cb.optimizer, loss=cb.net_outputs)

    model.train(2, dataset(), callbacks=[recorder, Fields()])
    steps = 48 // 8
    expected = ["begin"]
    for epoch in (1, 2):
        expected.append(f"epoch_begin {epoch}")
        for step in range((epoch - 1) * steps + 1, epoch * steps + 1):
            expected += [f"step_begin {step}", f"step_end {step}"]
        expected.append(f"epoch_end {epoch}")
    assert recorder.events == expected + ["end"]
    assert seen["epoch_num"] == 2 and seen["batch_num"] == steps and seen["mode"] == "train"
    assert seen["train_network"] is model.train_network and seen["optimizer"] is model._optimizer
    assert seen["loss"].shape == ()


def test_loss_monitor_prints_the_tutorial_format(capsys):
    model, _ = make_model()
    model.train(2, dataset(), callbacks=[LossMonitor(0.1, 6)])
    lines = capsys.readouterr().out.strip().splitlines()
    step = r"Epoch:\[  {e}/  2\], step:\[    6/    6\], loss:\[\d\.\d{{3}}/\d\.\d{{3}}\], time:\d+\.\d{{3}} ms, lr:0\.10000"
    epoch = r"Epoch time: \d+\.\d{3} ms, per step time: \d+\.\d{3} ms, avg loss: \d\.\d{3}"
    assert len(lines) == 4
    for line, pattern in zip(lines, [step.format(e=0), epoch, step.format(e=1), epoch]):
        assert re.fullmatch(pattern, line), line


def test_training_learns_and_eval_predict_work():
    model, net = make_model()
    monitor = LossMonitor(0.1, 0)
    model.train(4, dataset(), callbacks=[monitor])
    assert monitor.epoch_losses[-1] < 0.5 * monitor.epoch_losses[0]
    result = model.eval(dataset(seed=1))
    assert set(result) == {"acc", "loss"} and result["acc"] > 0.9
    x, y = blobs(seed=2)
    predicted = model.predict(x).asnumpy().argmax(axis=1)
    assert predicted.shape == (48,) and np.mean(predicted == y) > 0.9


def test_request_stop_ends_training_after_the_step():
    model, _ = make_model()
    recorder = Recorder()

    class StopAt3(Callback):
        def step_end(self, rc):
            if rc.original_args().cur_step_num == 3:
                rc.request_stop()

    model.train(3, dataset(), callbacks=[StopAt3(), recorder])
    assert recorder.events[-3:] == ["step_end 3", "epoch_end 1", "end"]


def test_fit_evaluates_every_valid_frequency_epochs():
    model, _ = make_model()
    results = []

    class Collect(Callback):
        def epoch_end(self, rc):
            results.append(rc.original_args().eval_results)

    model.fit(4, dataset(), dataset(seed=1), valid_frequency=2, callbacks=[Collect()])
    assert results[0] is None and results[2] is results[1]
    assert set(results[1]) == {"acc", "loss"} and results[3]["acc"] >= 0


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    straight, straight_net = make_model(seed=0)
    straight.train(3, dataset(seed=4))

    first, _ = make_model(seed=0)
    checkpoint = ModelCheckpoint("tiny", tmp_path, CheckpointConfig(save_checkpoint_steps=6, keep_checkpoint_max=3))
    first.train(1, dataset(seed=4), callbacks=[checkpoint])
    resumed, resumed_net = make_model(seed=9)                       # different initial weights
    load_param_into_net(resumed.train_network, load_checkpoint(checkpoint.latest_ckpt_file_name))
    resumed.train(3, dataset(seed=4), initial_epoch=1)

    for (name, a), (_, b) in zip(straight.train_network.parameters_and_names(),
                                 resumed.train_network.parameters_and_names()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=name)


def test_bad_datasets_are_clear_errors():
    model, _ = make_model()
    x, y = blobs()
    three_columns = NumpySlicesDataset({"x": x, "y": y, "z": y}, shuffle=False).batch(8)
    with pytest.raises(ValueError, match="yields 3 column"):
        model.train(1, three_columns)
    small = NumpySlicesDataset({"x": x[:4], "y": y[:4]}, shuffle=False).batch(2)
    with pytest.raises(ValueError, match="epoch must be a positive int"):
        model.train(0, small)
    with pytest.raises(ValueError, match="initial_epoch"):
        model.train(2, small, initial_epoch=2)
    with pytest.raises(ValueError, match="drops all 4 rows|dataset is empty"):
        model.train(1, NumpySlicesDataset({"x": x[:4], "y": y[:4]}).batch(8, drop_remainder=True))


def test_training_on_an_empty_batch_is_an_error_at_the_train_call():
    model, _ = make_model()
    x, y = blobs()
    for rows in ([(x[:8], y[:8]), (x[:0], y[:0])], [(x[:0], y[:0])]):    # already batched: one is empty
        with pytest.raises(graphc.GraphcError, match=r"test_model.py:\d+: TrainOneStepCell: input 0 is an empty "
                                                     r"batch \(shape \[0, 6\]\)"):
            model.train(1, GeneratorDataset(lambda: iter(rows), ["x", "y"], shuffle=False))


def test_model_without_metrics_cannot_eval():
    graphc.set_seed(0)
    net = TinyNet()
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(net.trainable_params(), 0.1, 0.9))
    with pytest.raises(ValueError, match="needs metrics"):
        model.eval(dataset())


def test_loss_monitor_of_a_resumed_run_prints_at_epoch_ends_only(capsys):
    model, _ = make_model()
    model.train(3, dataset(), callbacks=[LossMonitor(0.1, 6)], initial_epoch=1)
    steps = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch:[")]
    assert [line[:32] for line in steps] == ["Epoch:[  1/  3], step:[    6/   ", "Epoch:[  2/  3], step:[    6/   "]


class EvalRecorder(Recorder):
    """Records the evaluation hooks and entering/leaving the callback's context."""

    def __enter__(self):
        self.events.append("enter")
        return self

    def __exit__(self, *exc_info):
        self.events.append("exit")

    def on_eval_begin(self, rc): self.events.append(f"eval_begin {rc.original_args().batch_num}")
    def on_eval_epoch_begin(self, rc): self.events.append("eval_epoch_begin")
    def on_eval_step_begin(self, rc): self.events.append(f"eval_step_begin {rc.original_args().cur_step_num}")
    def on_eval_step_end(self, rc): self.events.append(f"eval_step_end {len(rc.original_args().net_outputs)}")
    def on_eval_epoch_end(self, rc): self.events.append(f"eval_epoch_end {sorted(rc.original_args().metrics)}")
    def on_eval_end(self, rc): self.events.append(f"eval_end {rc.original_args().mode}")


def test_eval_runs_the_eval_hooks_inside_the_callbacks_context():
    model, _ = make_model()
    recorder = EvalRecorder()
    result = model.eval(dataset(batch=16), callbacks=[recorder])
    assert recorder.events == ["enter", "eval_begin 3", "eval_epoch_begin",
                               "eval_step_begin 1", "eval_step_end 3", "eval_step_begin 2", "eval_step_end 3",
                               "eval_step_begin 3", "eval_step_end 3", "eval_epoch_end ['acc', 'loss']",
                               "eval_end eval", "exit"]
    assert set(result) == {"acc", "loss"}


def test_train_enters_and_leaves_callbacks_even_when_a_step_fails():
    model, _ = make_model()
    recorder = EvalRecorder()
    model.train(1, dataset(batch=16), callbacks=[recorder])
    assert recorder.events[0] == "enter" and recorder.events[-2:] == ["end", "exit"]

    class Failing(Callback):
        def step_end(self, rc):
            raise RuntimeError("stop here")
    recorder.events.clear()
    with pytest.raises(RuntimeError, match="stop here"):
        model.train(1, dataset(batch=16), callbacks=[recorder, Failing()])
    assert recorder.events[0] == "enter" and recorder.events[-1] == "exit"


def test_fit_runs_the_eval_hooks_of_its_callbacks():
    model, _ = make_model()
    recorder = EvalRecorder()
    model.fit(2, dataset(batch=16), dataset(batch=16, seed=1), callbacks=[recorder])
    assert recorder.events.count("eval_epoch_begin") == 2 and recorder.events.count("enter") == 1


class ConvBnNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, pad_mode="same", weight_init="he_uniform")
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(4 * 6 * 6, 3, weight_init="he_uniform")

    def construct(self, x):
        return self.fc(self.flatten(self.relu(self.bn(self.conv(x)))))


def test_a_partial_last_batch_trains_as_in_pynative_mode():
    # 45 images in batches of 8: five full batches, then one of 5, whose step reuses the compiled
    # kernels (they read the batch size at run time); batch norm's statistics see only those 5
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((45, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, 45).astype(np.int32)

    def trained(mode):
        graphc.set_context(mode=mode)
        graphc.set_seed(0)
        net = ConvBnNet()
        opt = nn.Momentum(net.trainable_params(), learning_rate=0.05, momentum=0.9)
        model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), opt)
        model.train(2, NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(8))
        return {p.name: p.asnumpy().copy() for p in net.get_parameters()}

    native, eager = trained(graphc.GRAPH_MODE), trained(graphc.PYNATIVE_MODE)
    assert "bn.moving_mean" in native
    for name, value in eager.items():
        np.testing.assert_allclose(native[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
