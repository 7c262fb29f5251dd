"""MindSpore's SummaryCollector: what training records for TensorBoard (runtime/summary.py writes it).

Every `collect_freq` steps: the loss (`loss/auto`) and the learning rate (`learning_rate/auto`).
Every `collect_tensor_freq` steps (default: collect_freq): a histogram of each trainable parameter
whose name matches `histogram_regular` (`<name>/auto`). Once, at the first step in GRAPH_MODE: the
optimized train graph. At each of those steps, the values the network's summary ops gave
(`ops.ScalarSummary()('acc', x)` in construct: its name is the tag; SummaryRecord takes them).
After an evaluation (Model.fit's, or Model.eval's given the collector): its metrics
(`eval/<metric>/auto`, apart from the training loss), at the last training step.
"""
from __future__ import annotations

import os
import re

import graphc
from graphc.errors import ArgumentError

from ..summary import SummaryRecord
from .base import Callback, RunContext, loss_value

_DEFAULTS = {"collect_metric": True, "collect_graph": True, "histogram_regular": ""}   # "": every parameter
# MindSpore's other keys, which graphc has nothing to collect for: accepted when False only
_NOT_COLLECTED = ("collect_train_lineage", "collect_eval_lineage", "collect_input_data", "collect_dataset_graph",
                  "collect_landscape")


class SummaryCollector(Callback):
    def __init__(self, summary_dir, collect_freq=10, collect_specified_data=None, keep_default_action=True,
                 custom_lineage_data=None, collect_tensor_freq=None, max_file_size=None, export_options=None):
        if not isinstance(summary_dir, (str, os.PathLike)) or not str(summary_dir):
            raise ArgumentError(f"SummaryCollector: summary_dir must be a directory path, got {summary_dir!r}")
        for name, value in (("custom_lineage_data", custom_lineage_data), ("export_options", export_options)):
            if value is not None:
                raise ArgumentError(f"SummaryCollector: graphc does not write {name} (MindInsight's lineage and "
                                    f"tensor export); leave it None")
        self.collect_freq = _positive_int("collect_freq", collect_freq)
        self.collect_tensor_freq = collect_freq if collect_tensor_freq is None else \
            _positive_int("collect_tensor_freq", collect_tensor_freq)
        if not isinstance(keep_default_action, bool):
            raise ArgumentError(f"SummaryCollector: keep_default_action must be a bool, got {keep_default_action!r}")
        self.collect = _what_to_collect(collect_specified_data, keep_default_action)
        self.summary_dir, self.max_file_size = summary_dir, max_file_size
        regular = self.collect["histogram_regular"]
        self._histograms = None if regular is None else re.compile(regular)
        self._record: SummaryRecord | None = None
        self._step = 0

    def begin(self, run_context: RunContext) -> None:
        self._open()
        self._graph_pending = self.collect["collect_graph"]

    def step_end(self, run_context: RunContext) -> None:
        cb = run_context.original_args()
        self._step = cb.cur_step_num
        record = self._open()
        graph = self._graph_pending and graphc.get_context("mode") == graphc.GRAPH_MODE
        if graph:
            record.add_value("graph", "train_network", cb.train_network.compile(*cb.train_dataset_element).graph)
            self._graph_pending = False
        collect = self._step % self.collect_freq == 0
        if collect and self.collect["collect_metric"]:
            record.add_value("scalar", "loss/auto", loss_value(cb.net_outputs))
            self._add_learning_rate(record, cb.optimizer)
        histograms = self._histograms is not None and self._step % self.collect_tensor_freq == 0
        if histograms:
            for param in cb.train_network.trainable_params():
                if self._histograms.search(param.name):
                    record.add_value("histogram", f"{param.name}/auto", param.asnumpy())
        if graph or collect or histograms:
            record.record(self._step)     # with the values the summary ops gave at this step

    def on_eval_end(self, run_context: RunContext) -> None:
        metrics = run_context.original_args().metrics or {}
        if self.collect["collect_metric"] and metrics:
            record = self._open()
            for name, value in metrics.items():
                record.add_value("scalar", f"eval/{name}/auto", value)
            record.record(self._step)

    def end(self, run_context: RunContext) -> None:
        self._close()

    def __exit__(self, *exc_info) -> None:
        self._close()

    def _add_learning_rate(self, record: SummaryRecord, optimizer) -> None:
        rate = optimizer.get_lr_value() if hasattr(optimizer, "get_lr_value") else None
        rates = rate if isinstance(rate, tuple) else () if rate is None else (rate,)
        for group, value in enumerate(rates):
            record.add_value("scalar", "learning_rate/auto" + (f"/group{group}" if len(rates) > 1 else ""), value)

    def _open(self) -> SummaryRecord:
        if self._record is None:
            self._record = SummaryRecord(self.summary_dir, max_file_size=self.max_file_size)
        return self._record

    def _close(self) -> None:
        if self._record is not None:
            self._record.close()
            self._record = None


def _positive_int(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ArgumentError(f"SummaryCollector: {name} must be a positive int (record every N steps), got {value!r}")
    return value


def _what_to_collect(specified, keep_default_action: bool) -> dict:
    if specified is not None and not isinstance(specified, dict):
        raise ArgumentError(f"SummaryCollector: collect_specified_data must be a dict, got {type(specified).__name__}")
    specified = dict(specified or {})
    unknown = set(specified) - set(_DEFAULTS) - set(_NOT_COLLECTED)
    if unknown:
        raise ArgumentError(f"SummaryCollector: collect_specified_data has unknown key(s) {sorted(unknown)}; "
                            f"graphc collects {', '.join(_DEFAULTS)}")
    wanted = [key for key in _NOT_COLLECTED if specified.pop(key, False)]
    if wanted:
        raise ArgumentError(f"SummaryCollector: graphc does not collect {', '.join(wanted)} (MindInsight's "
                            f"lineage and input views); set them False or leave them out")
    regular = specified.get("histogram_regular")
    if regular is not None:
        try:
            re.compile(regular)
        except (re.error, TypeError) as error:
            raise ArgumentError(f"SummaryCollector: histogram_regular {regular!r} is not a regular expression: "
                                f"{error}") from None
    defaults = _DEFAULTS if keep_default_action else {key: False if key != "histogram_regular" else None
                                                      for key in _DEFAULTS}
    return {**defaults, **specified}
