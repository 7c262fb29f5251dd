"""Callbacks driven by hand through the MindSpore hook order, with fake cb_params."""
import io
import re
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from graphc import Parameter
from runtime.callbacks import (Callback, CallbackList, CallbackParams, EarlyStopping, History, LambdaCallback,
                               LearningRateScheduler, LossMonitor, ReduceLROnPlateau, RunContext, TimeMonitor)

MS = r"\d+\.\d{3}"  # a time printed with {:5.3f}


class FakeTensor:
    def __init__(self, value):
        self.value = np.asarray(value, np.float32)

    def asnumpy(self):
        return self.value


def train(callbacks, losses_per_epoch, eval_results=None, **fields):
    """The non-sink training loop of MindSpore's Model, with the given step losses."""
    cb = CallbackParams(epoch_num=len(losses_per_epoch), batch_num=len(losses_per_epoch[0]), cur_epoch_num=0,
                        cur_step_num=0, net_outputs=None, optimizer=None)
    cb.update(fields)
    context = RunContext(cb)
    callbacks = CallbackList(callbacks)
    with callbacks:
        callbacks.on_train_begin(context)
        for epoch, losses in enumerate(losses_per_epoch, 1):
            cb.cur_epoch_num = epoch
            callbacks.on_train_epoch_begin(context)
            for loss in losses:
                cb.cur_step_num += 1
                callbacks.on_train_step_begin(context)
                cb.net_outputs = loss
                callbacks.on_train_step_end(context)
            if eval_results:
                cb.eval_results = eval_results[epoch - 1]
            callbacks.on_train_epoch_end(context)
            if context.get_stop_requested():
                break
        callbacks.on_train_end(context)
    return cb


def step_line(epoch, epochs, step, steps, loss, mean, lr=None):
    """The regex of a LossMonitor step line; loss, mean and lr are the exact printed texts."""
    line = re.escape(f"Epoch:[{epoch:3d}/{epochs:3d}], step:[{step:5d}/{steps:5d}], loss:[{loss}/{mean}], time:")
    return line + rf"{MS} ms" + (re.escape(f", lr:{lr}") if lr else "")


def epoch_line(avg):
    return rf"Epoch time: {MS} ms, per step time: {MS} ms, avg loss: {re.escape(avg)}"


def assert_lines(output, patterns):
    lines = output.splitlines()
    assert len(lines) == len(patterns), output
    for line, pattern in zip(lines, patterns):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


def test_loss_monitor_prints_every_step_in_mindvision_format(capsys):
    monitor = LossMonitor(0.01)
    train([monitor], [[0.5, 0.25, 0.125], [0.1, FakeTensor(0.2), (np.float32(0.3), "other output")]])
    assert_lines(capsys.readouterr().out, [
        step_line(0, 2, 1, 3, "0.500", "0.500", "0.01000"),
        step_line(0, 2, 2, 3, "0.250", "0.375", "0.01000"),
        step_line(0, 2, 3, 3, "0.125", "0.292", "0.01000"),
        epoch_line("0.292"),
        step_line(1, 2, 1, 3, "0.100", "0.100", "0.01000"),
        step_line(1, 2, 2, 3, "0.200", "0.150", "0.01000"),
        step_line(1, 2, 3, 3, "0.300", "0.200", "0.01000"),
        epoch_line("0.200"),
    ])
    assert monitor.losses == pytest.approx([0.5, 0.25, 0.125, 0.1, 0.2, 0.3])
    assert monitor.epoch_losses == pytest.approx([0.875 / 3, 0.2])


def test_loss_monitor_seed_tutorial_prints_one_line_per_epoch(capsys):
    train([LossMonitor(0.01, 1875)], [[1.0] * 1874 + [0.189]] * 2)
    mean = (1874 + 0.189) / 1875
    assert_lines(capsys.readouterr().out, [
        step_line(0, 2, 1875, 1875, "0.189", f"{mean:5.3f}", "0.01000"), epoch_line(f"{mean:5.3f}"),
        step_line(1, 2, 1875, 1875, "0.189", f"{mean:5.3f}", "0.01000"), epoch_line(f"{mean:5.3f}"),
    ])


def test_loss_monitor_per_step_learning_rates_and_zero_print_times(capsys):
    train([LossMonitor([0.1, 0.05, 0.025, 0.0125], per_print_times=2)], [[1.0, 1.0], [1.0, 1.0]])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch:")]
    assert [line.rsplit("lr:", 1)[1] for line in lines] == ["0.05000", "0.01250"]
    train([LossMonitor(0.1, per_print_times=0)], [[1.0, 1.0]])
    assert_lines(capsys.readouterr().out, [epoch_line("1.000")])


def test_loss_monitor_learning_rate_from_the_optimizer_or_left_out(capsys):
    train([LossMonitor(lr_init=None)], [[0.5]])
    assert_lines(capsys.readouterr().out, [step_line(0, 1, 1, 1, "0.500", "0.500"), epoch_line("0.500")])
    optimizer = SimpleNamespace(get_lr_value=lambda: np.float32(0.002))
    cb = CallbackParams(epoch_num=1, batch_num=1, cur_epoch_num=1, cur_step_num=1, net_outputs=0.5, optimizer=optimizer)
    monitor = LossMonitor(lr_init=None)
    monitor.on_train_epoch_begin(RunContext(cb))
    monitor.on_train_step_end(RunContext(cb))
    assert capsys.readouterr().out.rstrip().endswith(", lr:0.00200")


def test_loss_monitor_rejects_a_short_learning_rate_schedule():
    with pytest.raises(ValueError, match="lr_init has 1 values, but this is step 2"):
        train([LossMonitor([0.1])], [[1.0, 1.0]])


@pytest.mark.parametrize("bad_loss", [float("nan"), np.float32("nan"), FakeTensor(np.inf), (np.float64(-np.inf),)])
def test_loss_monitor_stops_on_invalid_loss(bad_loss, capsys):
    with pytest.raises(ValueError, match=r"^epoch: 2 step: 2\. Invalid loss, terminating training\.$"):
        train([LossMonitor(0.1)], [[1.0, 1.0], [1.0, bad_loss]])


def test_loss_monitor_argument_checks():
    with pytest.raises(ValueError, match="per_print_times"):
        LossMonitor(0.1, -1)


@pytest.mark.parametrize("make", [lambda: LossMonitor(2), lambda: LossMonitor(per_print_times=2)])
def test_loss_monitor_mindspore_form_prints_mindspore_lines(make, capsys):
    monitor = make()
    train([monitor], [[0.5, 0.25, 0.125], [0.1, 0.2, 0.3]])
    assert capsys.readouterr().out.splitlines() == [
        "epoch: 1 step: 2, loss is 0.25", "epoch: 2 step: 1, loss is 0.1", "epoch: 2 step: 3, loss is 0.3"]
    assert monitor.form == "mindspore" and monitor.epoch_losses == pytest.approx([0.875 / 3, 0.2])


def test_loss_monitor_without_arguments_is_mindspore_s(capsys):
    train([LossMonitor()], [[0.5]])
    assert capsys.readouterr().out == "epoch: 1 step: 1, loss is 0.5\n"


@pytest.mark.parametrize("args, kwargs", [((1, 100), {}), ((100,), {"per_print_times": 5}), (("0.01",), {})])
def test_loss_monitor_ambiguous_arguments_show_both_forms(args, kwargs):
    with pytest.raises(ValueError, match=r"is ambiguous: .*MindSpore's form is LossMonitor\(per_print_times=1\).*"
                                         r"mindvision's form is LossMonitor\(lr_init, per_print_times=1\)"):
        LossMonitor(*args, **kwargs)
    with pytest.raises(TypeError, match="unexpected argument"):
        LossMonitor(0.1, 2, 3)


class FakeOptimizer:
    def __init__(self, lr):
        self.learning_rate = Parameter(np.array(lr, np.float32), name="learning_rate")


def test_reduce_lr_on_plateau_after_patience_then_cooldown():
    optimizer = FakeOptimizer(1.0)
    plateau = ReduceLROnPlateau(monitor="acc", factor=0.5, patience=2, cooldown=1, min_lr=0.2, min_delta=0)
    seen = []
    watch = LambdaCallback(on_train_epoch_end=lambda rc: seen.append(float(optimizer.learning_rate.asnumpy())))
    accuracy = [{"acc": a} for a in (0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6)]
    train([plateau, watch], [[1.0]] * 9, eval_results=accuracy, optimizer=optimizer)
    # improves at epochs 1-2; no gain at 3, 4: halved. As in MindSpore (and Keras), the cooldown counter
    # is decremented before the check, so cooldown=1 lets epoch 5 count again: halved at 6, and at 8 it
    # stops at min_lr
    assert seen == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2])
    with pytest.raises(ValueError, match="factor must be in \\[0, 1\\)"):
        ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler_sets_the_rate_after_each_step():
    optimizer = FakeOptimizer(0.1)
    seen = []
    watch = LambdaCallback(on_train_step_end=lambda rc: seen.append(float(optimizer.learning_rate.asnumpy())))
    scheduler = LearningRateScheduler(lambda lr, step: lr * 0.5 if step % 2 == 0 else lr)
    train([scheduler, watch], [[1.0, 1.0, 1.0, 1.0]], optimizer=optimizer)
    assert seen == pytest.approx([0.1, 0.05, 0.05, 0.025])
    table = SimpleNamespace(learning_rate=Parameter(np.ones(4, np.float32), name="learning_rate"))
    with pytest.raises(ValueError, match="learning rate must be a float"):
        train([scheduler], [[1.0]], optimizer=table)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_only_on_a_terminal(monkeypatch, capsys):
    train([LossMonitor(0.1, per_print_times=3)], [[1.0, 1.0, 1.0]])
    assert "\r" not in capsys.readouterr().out
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    train([LossMonitor(0.1, per_print_times=3)], [[1.0, 1.0, 1.0]])
    output = terminal.getvalue()
    assert "\r[" in output and "] 1/3 loss 1.000" in output
    # the bar is erased before each printed line, which stays exact
    [printed] = [segment for segment in output.split("\r") if segment.startswith("Epoch")]
    assert_lines(printed, [step_line(0, 1, 3, 3, "1.000", "1.000", "0.10000"), epoch_line("1.000")])


def test_time_monitor(capsys):
    train([TimeMonitor()], [[1.0] * 4])
    line = capsys.readouterr().out.strip()
    match = re.fullmatch(rf"epoch time: ({MS}) ms, per step time: ({MS}) ms", line)
    assert match and float(match[2]) == pytest.approx(float(match[1]) / 4, abs=1e-3)
    monitor = TimeMonitor(data_size=2)
    context = RunContext(SimpleNamespace())  # no batch_num: data_size counts the steps
    monitor.epoch_begin(context)
    monitor.epoch_end(context)
    assert re.fullmatch(rf"epoch time: {MS} ms, per step time: {MS} ms", capsys.readouterr().out.strip())
    with pytest.raises(ValueError, match="data_size"):
        TimeMonitor().epoch_end(context)


def test_history_records_the_last_loss_and_eval_results_per_epoch():
    history = History()
    train([history], [[3.0, 2.0], [1.5, 1.0]], eval_results=[{"acc": 0.5}, {"acc": 0.75}])
    assert history.epoch == {"epoch": [1, 2]}
    assert history.history == {"net_output": [2.0, 1.0], "acc": [0.5, 0.75]}


def stopped_at(stopper, results):
    seen = []
    recorder = LambdaCallback(on_train_epoch_end=lambda context: seen.append(context.original_args().cur_epoch_num))
    train([recorder, stopper], [[1.0]] * len(results), eval_results=[{k: v} for k, v in results])
    return stopper.stopped_epoch, seen[-1]


@pytest.mark.parametrize("kwargs, results, stop_epoch", [
    (dict(monitor="acc", patience=2), [("acc", 0.5), ("acc", 0.6), ("acc", 0.6), ("acc", 0.59), ("acc", 0.9)], 4),
    (dict(monitor="acc", patience=1, min_delta=0.05), [("acc", 0.5), ("acc", 0.52), ("acc", 0.9)], 2),
    (dict(monitor="acc", patience=1), [("acc", 0.5), ("acc", 0.52), ("acc", 0.9)], 0),
    (dict(patience=2), [("eval_loss", 1.0), ("eval_loss", 0.9), ("eval_loss", 0.95), ("eval_loss", 0.96)], 4),
    (dict(monitor="acc", mode="min", patience=1), [("acc", 0.5), ("acc", 0.6)], 2),
    (dict(monitor="acc", patience=2, baseline=0.8), [("acc", 0.5), ("acc", 0.6), ("acc", 0.7)], 2),
])
def test_early_stopping(kwargs, results, stop_epoch):
    stopper = EarlyStopping(**kwargs)
    stopped, last_epoch_run = stopped_at(stopper, results)
    assert stopped == stop_epoch
    assert last_epoch_run == (stop_epoch or len(results))


def test_early_stopping_on_training_loss_and_on_missing_monitor(caplog):
    stopper = EarlyStopping(monitor="loss", patience=1)
    train([stopper], [[1.0], [0.5], [0.7], [0.1]])
    assert stopper.stopped_epoch == 3
    stopper = EarlyStopping(monitor="acc", patience=0)
    train([stopper], [[1.0], [1.0]], eval_results=[{"eval_loss": 1.0}] * 2)
    assert stopper.stopped_epoch == 0 and "'acc', which is not available" in caplog.text


class FakeParameter:
    def __init__(self, value):
        self.value = np.asarray(value, np.float32)

    def asnumpy(self):
        return self.value

    def set_data(self, value):
        self.value = np.asarray(value, np.float32)


def test_early_stopping_restores_the_best_weights(capsys):
    weights = {"w": FakeParameter([0.0, 0.0])}
    network = SimpleNamespace(parameters_dict=lambda: weights)
    # each epoch trains the weight to [epoch, epoch]; accuracy is best after epoch 2
    trainer = LambdaCallback(on_train_epoch_end=lambda c: weights["w"].set_data([c.original_args().cur_epoch_num] * 2))
    stopper = EarlyStopping(monitor="acc", patience=2, restore_best_weights=True, verbose=True)
    train([trainer, stopper], [[1.0]] * 5, eval_results=[{"acc": a} for a in (0.5, 0.9, 0.8, 0.7, 0.95)],
          train_network=network)
    assert stopper.stopped_epoch == 4
    np.testing.assert_array_equal(weights["w"].value, [2.0, 2.0])
    assert capsys.readouterr().out.splitlines() == ["Restoring model weights from the end of the best epoch.",
                                                    "Epoch 00004: early stopping"]


def test_early_stopping_argument_checks():
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


class Recorder(Callback):
    """Overrides the 1.x hooks."""

    def __init__(self, log, name):
        self.log, self.name = log, name

    def begin(self, run_context):
        self.log.append((self.name, "begin"))

    def step_end(self, run_context):
        self.log.append((self.name, "step_end"))

    def end(self, run_context):
        self.log.append((self.name, "end"))

    def __enter__(self):
        self.log.append((self.name, "enter"))
        return self

    def __exit__(self, *exc_info):
        self.log.append((self.name, "exit"))


class NewStyleRecorder(Callback):
    """Overrides the 2.x hook only."""

    def __init__(self, log):
        self.log = log

    def on_train_step_end(self, run_context):
        self.log.append(("new", "step_end"))


def test_callback_list_runs_in_order_and_maps_both_hook_names():
    log = []
    train([Recorder(log, "a"), NewStyleRecorder(log), Recorder(log, "b")], [[1.0]])
    assert log == [("a", "enter"), ("b", "enter"), ("a", "begin"), ("b", "begin"),
                   ("a", "step_end"), ("new", "step_end"), ("b", "step_end"), ("a", "end"), ("b", "end"),
                   ("b", "exit"), ("a", "exit")]
    log.clear()
    callbacks = CallbackList([Recorder(log, "a"), NewStyleRecorder(log)])
    callbacks.step_end(RunContext(CallbackParams()))  # the 1.x name reaches the 2.x override too
    assert log == [("a", "step_end"), ("new", "step_end")]


def test_callback_list_arguments():
    assert CallbackList(None).callbacks == []
    single = TimeMonitor()
    assert CallbackList(single).callbacks == [single]
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([lambda context: None])


def test_lambda_callback_and_eval_hooks():
    calls = []
    callback = LambdaCallback(on_train_begin=lambda c: calls.append("begin"), on_eval_end=lambda c: calls.append("eval"),
                              on_train_end=None)
    context = RunContext(CallbackParams())
    callback.on_train_begin(context)
    callback.on_train_end(context)
    callback.on_eval_end(context)
    callback.on_eval_begin(context)
    assert calls == ["begin", "eval"]
    with pytest.raises(TypeError, match="unknown hook 'on_epoch_end'"):
        LambdaCallback(on_epoch_end=print)


def test_run_context_and_cb_params():
    cb = CallbackParams(epoch_num=3)
    cb.cur_step_num = 5
    assert cb["cur_step_num"] == 5 and cb.get("epoch_num") == 3 and cb.epoch_num == 3
    assert getattr(cb, "missing", "default") == "default"
    context = RunContext(cb)
    assert context.original_args() is cb and not context.get_stop_requested()
    context.request_stop()
    assert context.get_stop_requested()
