"""Model: the training and evaluation loop (MindSpore's mindspore.Model).

It wraps the network as MindSpore does (WithLossCell + TrainOneStepCell for training,
WithEvalCell for evaluation), compiles each step once before the loop (GRAPH_MODE; the compile
time is logged apart from step times), then runs one compiled call per batch and drives the
callbacks in MindSpore's order: begin, (epoch_begin, (step_begin, step_end)*, epoch_end)*, end.
In dataset sink mode (runtime/sink.py) an epoch is one call of `sink_size` steps, and one step_begin
and step_end.

Under data parallelism (runtime/distributed.py) every rank takes the same number of steps per epoch
(the fewest its shard allows), and eval sums each metric over every rank's shard.
"""
from __future__ import annotations

import itertools
import logging
import time
from types import SimpleNamespace

import numpy as np

import graphc
from graphc import nn
from graphc.errors import ArgumentError, SinkError
from graphc.nn.amp import auto_mixed_precision, check_level, level_loss_scale_manager
from graphc.nn.loss_scale import LossScaleManager
from graphc.tracing import Tensor

from . import distributed, sink
from .callbacks import Callback, RunContext
from .metrics import Loss, get_metrics

log = logging.getLogger("runtime.model")


class Model:
    """Model(network, loss_fn, optimizer, metrics, eval_network, eval_indexes, amp_level, boost_level,
    loss_scale_manager=...), or Model(train_net) for a network that returns its loss and updates
    itself (a user's TrainOneStepCell): train then calls it once per batch."""

    def __init__(self, network, loss_fn=None, optimizer=None, metrics=None, eval_network=None,
                 eval_indexes=None, amp_level="O0", boost_level="O0", **kwargs):
        _check_options(kwargs)
        _check_levels(amp_level, kwargs.get("acc_level", boost_level))        # acc_level: boost_level's old name
        manager = kwargs.get("loss_scale_manager")
        if amp_level != "O0":
            network, manager = _mixed_precision(network, optimizer, amp_level, kwargs)
        self._loss_scale_manager = _loss_scale_manager(manager, optimizer)
        self._network, self._loss_fn, self._optimizer = network, loss_fn, optimizer
        self._metrics = get_metrics(metrics) if metrics else {}
        self._train_network = self._build_train_network()
        self._eval_network, self._eval_indexes = self._build_eval_network(eval_network, eval_indexes)

    @property
    def train_network(self):
        return self._train_network

    @property
    def predict_network(self):
        return self._network

    @property
    def eval_network(self):
        return self._eval_network

    def _build_train_network(self):
        """As MindSpore's amp.build_train_network at level O0: the loss cell, then the step cell
        the loss-scale manager asks for (a fixed scale without overflow checks is a sens)."""
        net = nn.WithLossCell(self._network, self._loss_fn) if self._loss_fn is not None else self._network
        if self._optimizer is None:
            return net
        manager = self._loss_scale_manager
        if manager is None:
            return nn.TrainOneStepCell(net, self._optimizer)
        update_cell = manager.get_update_cell()
        if update_cell is None:
            return nn.TrainOneStepCell(net, self._optimizer, sens=float(manager.get_loss_scale()))
        return nn.TrainOneStepWithLossScaleCell(net, self._optimizer, scale_sense=update_cell)

    def _build_eval_network(self, eval_network, eval_indexes):
        if eval_network is not None:
            if eval_indexes is not None and len(eval_indexes) != 3:
                raise ArgumentError("Model: eval_indexes must list 3 output positions: loss, prediction, label")
            return eval_network, eval_indexes
        if self._metrics and self._loss_fn is None:
            raise ArgumentError("Model: metrics need an eval_network, or a loss_fn to build one from the network "
                                "(Model(network, loss_fn, optimizer, metrics)); a train network given alone cannot "
                                "be evaluated")
        if self._metrics:
            return nn.WithEvalCell(self._network, self._loss_fn), [0, 1, 2]
        return None, None

    # -- training ----------------------------------------------------------------------------------
    def train(self, epoch, train_dataset, callbacks=None, dataset_sink_mode=False, sink_size=-1, initial_epoch=0):
        sink.check_sink_args("Model.train", dataset_sink_mode, sink_size)
        self._check_train_args(epoch, train_dataset, initial_epoch)
        cb_params = self._train_cb_params(epoch, train_dataset, callbacks, _sinks(dataset_sink_mode), sink_size)
        self._train_loop(cb_params, train_dataset, initial_epoch)

    def fit(self, epoch, train_dataset, valid_dataset=None, valid_frequency=1, callbacks=None,
            dataset_sink_mode=False, valid_dataset_sink_mode=False, sink_size=-1, initial_epoch=0):
        sink.check_sink_args("Model.fit", dataset_sink_mode, sink_size)
        sink.check_sink_args("Model.fit", valid_dataset_sink_mode, -1)
        self._check_train_args(epoch, train_dataset, initial_epoch)
        if valid_dataset is not None and (not isinstance(valid_frequency, int) or valid_frequency < 1):
            raise ValueError(f"Model.fit: valid_frequency must be a positive int, got {valid_frequency!r}")
        cb_params = self._train_cb_params(epoch, train_dataset, callbacks, _sinks(dataset_sink_mode), sink_size)
        self._train_loop(cb_params, train_dataset, initial_epoch, (valid_dataset, valid_dataset_sink_mode),
                         valid_frequency)

    def _check_train_args(self, epoch, dataset, initial_epoch):
        if self._optimizer is None and self._loss_fn is not None:
            raise ValueError("Model.train needs an optimizer: Model(network, loss_fn, optimizer=...); without one "
                             "the loss is computed and nothing is trained")
        if not isinstance(epoch, int) or epoch < 1:
            raise ValueError(f"Model.train: epoch must be a positive int, got {epoch!r}")
        if not isinstance(initial_epoch, int) or not 0 <= initial_epoch < epoch:
            raise ValueError(f"Model.train: initial_epoch must be in [0, {epoch}), got {initial_epoch!r}")
        if dataset.get_dataset_size() == 0:
            raise ValueError("Model.train: the training dataset is empty (0 batches); check its path, "
                             "batch size and drop_remainder")

    def _train_cb_params(self, epoch, dataset, callbacks, sinks, sink_size):
        """As MindSpore's: in sink mode, batch_num is the steps of a sink (an epoch)."""
        world = distributed.group()
        batch_num = sink_size if sinks and sink_size > 0 else distributed.agreed_steps(dataset.get_dataset_size())
        return SimpleNamespace(
            train_network=self._train_network, network=self._network, loss_fn=self._loss_fn,
            optimizer=self._optimizer, train_dataset=dataset, epoch_num=epoch,
            batch_num=batch_num, cur_epoch_num=0, cur_step_num=0,
            net_outputs=None, mode="train", dataset_sink_mode=sinks, list_callback=_callback_list(callbacks),
            parallel_mode=graphc.get_auto_parallel_context("parallel_mode"),
            device_number=1 if world is None else world.size, eval_results=None)

    def _train_loop(self, cb, dataset, initial_epoch, valid=(None, False), valid_frequency=1):
        with cb.list_callback as callbacks:      # MindSpore enters callbacks as context managers
            self._run_epochs(cb, callbacks, dataset, initial_epoch, valid, valid_frequency)

    def _run_epochs(self, cb, callbacks, dataset, initial_epoch, valid, valid_frequency):
        run_context = RunContext(cb)
        self._network.set_train(True)
        cb.cur_step_num = initial_epoch * cb.batch_num
        run_epoch = self._sink_epoch(cb, dataset) if cb.dataset_sink_mode else self._step_epoch(cb, dataset)
        callbacks.begin(run_context)
        for epoch in range(initial_epoch, cb.epoch_num):
            cb.cur_epoch_num = epoch + 1
            callbacks.epoch_begin(run_context)
            run_epoch(callbacks, run_context)
            if valid[0] is not None and cb.cur_epoch_num % valid_frequency == 0:
                cb.eval_results = self._eval_loop(valid[0], callbacks, valid[1])
                self._network.set_train(True)
            callbacks.epoch_end(run_context)
            if run_context.get_stop_requested():
                break
        callbacks.end(run_context)

    def _step_epoch(self, cb, dataset):
        """An epoch as one call per batch: step_begin, the step, step_end, for each batch."""
        first_step = cb.cur_step_num

        def run(callbacks, run_context):
            dataset.set_epoch(cb.cur_epoch_num - 1)
            for batch in itertools.islice(_batches(dataset, self._loss_fn is not None, "training"), cb.batch_num):
                if cb.cur_step_num == first_step:
                    self._compile(self._train_network, batch, "train step")
                cb.cur_step_num += 1
                cb.train_dataset_element = batch
                callbacks.step_begin(run_context)
                cb.net_outputs = self._train_network(*batch)
                callbacks.step_end(run_context)
                if run_context.get_stop_requested():
                    break
        return run

    def _sink_epoch(self, cb, dataset):
        """An epoch as one sink of cb.batch_num steps (runtime/sink.py), over one stream of batches."""
        pass_steps = distributed.agreed_steps(dataset.get_dataset_size())
        stream = sink.batch_stream(dataset, cb.cur_step_num, pass_steps,
                                   lambda ds: _batches(ds, self._loss_fn is not None, "training", as_arrays=True))
        start = cb.cur_step_num

        def run(callbacks, run_context):
            nonlocal stream
            if cb.cur_step_num == start:
                first = next(stream)
                self._compile(self._train_network, first, "train step")
                stream = itertools.chain([first], stream)
            first_step = cb.cur_step_num + 1
            cb.cur_step_num += cb.batch_num
            callbacks.step_begin(run_context)
            try:
                cb.net_outputs = sink.run_sink(self._train_network, stream, cb.batch_num)
            except SinkError as error:
                raise sink.sink_failed(error, cb.cur_epoch_num, first_step) from error
            callbacks.step_end(run_context)
        return run

    @staticmethod
    def _compile(network, batch, what):
        """Compile before the first step, so step times never include compilation."""
        if graphc.get_context("mode") != graphc.GRAPH_MODE:
            return
        start = time.perf_counter()
        network.compile(*batch)
        log.info("compiled %s (%s) in %.3f s", what, type(network).__name__, time.perf_counter() - start)

    # -- evaluation and prediction -------------------------------------------------------------------
    def eval(self, valid_dataset, callbacks=None, dataset_sink_mode=False):
        """The metrics over valid_dataset, running the callbacks' on_eval_* hooks (as context managers).
        In sink mode too, MindSpore's evaluation runs one batch per step (each updates the metrics)."""
        sink.check_sink_args("Model.eval", dataset_sink_mode, -1)
        with _callback_list(callbacks) as entered:
            return self._eval_loop(valid_dataset, entered, dataset_sink_mode)

    def _eval_loop(self, valid_dataset, callbacks, dataset_sink_mode):
        if self._eval_network is None:
            raise ValueError("Model.eval needs metrics and a loss_fn (or an eval_network): "
                             "Model(network, loss_fn, optimizer, metrics={'acc'})")
        cb = SimpleNamespace(eval_network=self._eval_network, network=self._network, valid_dataset=valid_dataset,
                             batch_num=valid_dataset.get_dataset_size(), cur_step_num=0, net_outputs=None,
                             mode="eval", dataset_sink_mode=_sinks(dataset_sink_mode), list_callback=callbacks,
                             metrics=None)
        run_context = RunContext(cb)
        self._eval_network.set_train(False)
        for metric in self._metrics.values():
            metric.clear()
        callbacks.on_eval_begin(run_context)
        callbacks.on_eval_epoch_begin(run_context)
        for batch in _batches(valid_dataset, self._loss_fn is not None, "evaluation"):
            if cb.cur_step_num == 0:
                self._compile(self._eval_network, batch, "eval step")
            cb.cur_step_num += 1
            callbacks.on_eval_step_begin(run_context)
            cb.net_outputs = self._eval_network(*batch)
            callbacks.on_eval_step_end(run_context)
            self._update_metrics(cb.net_outputs)
        distributed.merge_metrics(self._metrics)
        cb.metrics = {name: metric.eval() for name, metric in self._metrics.items()}
        callbacks.on_eval_epoch_end(run_context)
        callbacks.on_eval_end(run_context)
        return cb.metrics

    def _update_metrics(self, outputs):
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        for metric in self._metrics.values():
            if self._eval_indexes is None:
                metric.update(*outputs)
            elif isinstance(metric, Loss):
                metric.update(outputs[self._eval_indexes[0]])
            else:
                metric.update(outputs[self._eval_indexes[1]], outputs[self._eval_indexes[2]])

    def predict(self, *predict_data):
        self._network.set_train(False)
        return self._network(*(x if isinstance(x, Tensor) else Tensor(x) for x in predict_data))


_BOOST_LEVELS = ("O0", "O1", "O2")
# keep_batchnorm_fp32 chooses between O2 and O3 (at O0 and O1 MindSpore ignores it, as graphc does);
# boost_config_dict tunes boost mode, which graphc refuses unless O0, where it changes nothing.
_MODEL_OPTIONS = ("loss_scale_manager", "keep_batchnorm_fp32", "boost_config_dict", "acc_level")


def _check_levels(amp_level, boost_level) -> None:
    """amp O0 to O3 run (graphc.nn.amp); boost levels other than O0 are refused with the reason."""
    if amp_level == "auto":
        raise ArgumentError("Model: amp_level='auto' (MindSpore's per-primitive lists, applied when its graph is "
                            "compiled) is not supported; use 'O1', 'O2' or 'O3'")
    check_level(amp_level, "Model")
    if boost_level not in _BOOST_LEVELS:
        raise ArgumentError(f"Model: boost_level={boost_level!r} is not valid; it must be one of "
                            f"{', '.join(_BOOST_LEVELS)}")
    if boost_level != "O0":
        raise ArgumentError(f"Model: boost_level={boost_level!r} is not supported: MindSpore's boost mode changes the "
                            "training (gradient freezing, fewer batch norms, other optimizers) to run faster on "
                            "Ascend, and graphc has none of it; use boost_level='O0'")


def _mixed_precision(network, optimizer, amp_level: str, kwargs: dict):
    """(the network at amp_level in bfloat16, graphc's half type on the CPU; the loss-scale manager),
    the level as MindSpore's Model takes it: keep_batchnorm_fp32 turns O2 into O3 and back, and O2
    scales the loss with a DynamicLossScaleManager unless loss_scale_manager is given (None included)."""
    if optimizer is None:
        raise ArgumentError(f"Model: amp_level={amp_level!r} needs an optimizer: mixed precision applies to the "
                            "training network Model builds; pass amp_level='O0' or an optimizer")
    keep_bn = kwargs.get("keep_batchnorm_fp32")
    if amp_level in ("O2", "O3") and keep_bn is not None:
        amp_level = "O2" if keep_bn else "O3"
    manager = kwargs["loss_scale_manager"] if "loss_scale_manager" in kwargs else level_loss_scale_manager(amp_level)
    return auto_mixed_precision(network, amp_level), manager


def _check_options(kwargs: dict) -> None:
    unknown = [key for key in kwargs if key not in _MODEL_OPTIONS]
    if unknown:
        raise ArgumentError(f"Model: unknown argument(s) {', '.join(unknown)}; Model takes "
                            f"{', '.join(_MODEL_OPTIONS)} as keywords")


def _loss_scale_manager(manager, optimizer):
    if manager is not None and not isinstance(manager, LossScaleManager):
        raise ArgumentError(f"Model: loss_scale_manager must be a FixedLossScaleManager or DynamicLossScaleManager, "
                            f"got {type(manager).__name__}")
    if manager is not None and optimizer is None:
        raise ArgumentError("Model: loss_scale_manager needs an optimizer: the scale acts on the gradients of the "
                            "training step Model builds")
    return manager


def _sinks(dataset_sink_mode: bool) -> bool:
    """Sink mode runs in GRAPH_MODE; in PYNATIVE_MODE there is no compiled step to loop, and the
    loop feeds one batch per step, as MindSpore's does where it cannot sink."""
    if dataset_sink_mode and graphc.get_context("mode") != graphc.GRAPH_MODE:
        log.info("dataset sink mode runs compiled steps (GRAPH_MODE); in PYNATIVE_MODE the dataset is fed one "
                 "batch per step")
        return False
    return dataset_sink_mode


def _callback_list(callbacks):
    from .callbacks import CallbackList
    callbacks = [] if callbacks is None else list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    return CallbackList(callbacks)


def _batches(dataset, expect_pairs, what, as_arrays=False):
    """The dataset's batches as Tensors (or NumPy arrays), checking the column count once."""
    columns = None
    for row in dataset.create_tuple_iterator(output_numpy=True):
        if columns is None:
            columns = len(row)
            if expect_pairs and columns != 2:
                raise ValueError(f"Model: the {what} dataset yields {columns} column(s) per batch; with a loss_fn "
                                 "it must yield exactly 2 (data, label)")
            _check_dtypes(dataset, row, what)
        yield tuple(np.asarray(col) for col in row) if as_arrays else tuple(Tensor(np.asarray(col)) for col in row)


def _check_dtypes(dataset, row, what):
    """Columns a Tensor cannot hold (uint8 images, uint32 labels straight from MnistDataset) get a fix."""
    for name, column in zip(dataset.get_col_names(), row):
        try:
            graphc.types.dtype_of(np.asarray(column).dtype)
        except TypeError:
            raise ArgumentError(f"Model: column {name!r} of the {what} dataset is {np.asarray(column).dtype}, which "
                                "graphc's Tensors do not hold; map a cast over it first, e.g. "
                                f"dataset.map(transforms.TypeCast(graphc.int32), input_columns={name!r})") from None
