"""Evaluation metrics with MindSpore's semantics (mindspore.train.metrics), in numpy.

Every metric has clear(), update(*inputs) and eval(); inputs are numpy arrays, lists, or objects
with .asnumpy() (Tensors). Classification metrics take y_pred (N, C) scores and y as (N,) class
indices or (N, C) one-hot rows; evaluating before any update raises RuntimeError.
"""
from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import Any, Callable

import numpy as np


def _to_numpy(value: Any) -> np.ndarray:
    return np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value)


def _require_inputs(metric: Metric, inputs: tuple, count: int) -> None:
    if len(inputs) != count:
        what = "(loss)" if count == 1 else "(y_pred, y)"
        raise ValueError(f"{type(metric).__name__}.update takes {count} input{'s' if count > 1 else ''} {what}, "
                         f"got {len(inputs)}")


def _require_samples(metric: Metric, count: int) -> None:
    if count == 0:
        raise RuntimeError(f"{type(metric).__name__}.eval: no samples; call update with data before eval")


class Metric(ABC):
    """Base class: accumulate with update(), read with eval(), start over with clear().

    `_additive` names the attributes update() accumulates by adding: the metric over several
    processes' data is the metric of their sums (state / merge_states, used by a data-parallel
    Model.eval)."""

    _additive: tuple[str, ...] = ()

    def __init__(self):
        self.clear()

    def state(self) -> dict:
        """What merge_states needs from this metric, as plain values."""
        if not self._additive:
            raise TypeError(f"{type(self).__name__} cannot be combined across processes: name the attributes "
                            "its update() adds to in `_additive`")
        return {name: getattr(self, name) for name in self._additive}

    def merge_states(self, states: list[dict]) -> None:
        """Become the metric over the updates the states (this metric's among them) were taken after."""
        for name in self._additive:
            setattr(self, name, sum(state[name] for state in states))

    def __call__(self, *inputs):
        """Evaluate one set of inputs on its own."""
        self.clear()
        self.update(*inputs)
        return self.eval()

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def update(self, *inputs) -> None: ...

    @abstractmethod
    def eval(self): ...


class _Classification(Metric):
    """Checks and converts (y_pred, y) into scores (N, C) and int class indices (N,)."""

    def clear(self) -> None:
        self._class_num = 0

    def state(self) -> dict:
        return {**super().state(), "_class_num": self._class_num}

    def merge_states(self, states: list[dict]) -> None:
        super().merge_states(states)
        self._class_num = max(state["_class_num"] for state in states)

    def _scores_and_labels(self, inputs: tuple) -> tuple[np.ndarray, np.ndarray]:
        _require_inputs(self, inputs, 2)
        y_pred, y = _to_numpy(inputs[0]), _to_numpy(inputs[1])
        name = type(self).__name__
        if y_pred.ndim != 2:
            raise ValueError(f"{name}.update: y_pred must be scores shaped (N, C), got shape {y_pred.shape}")
        if y.ndim == 2 and _is_one_hot(y):
            y = y.argmax(axis=1)
        if y.shape != (len(y_pred),):
            raise ValueError(f"{name}.update: y must be {len(y_pred)} class indices or one-hot rows shaped "
                             f"{y_pred.shape}, got shape {y.shape}")
        if self._class_num and y_pred.shape[1] != self._class_num:
            raise ValueError(f"{name}.update: y_pred has {y_pred.shape[1]} classes, earlier updates had "
                             f"{self._class_num}")
        self._class_num = y_pred.shape[1]
        return y_pred, y.astype(np.int64)


def _is_one_hot(y: np.ndarray) -> bool:
    return bool(np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1))


class Accuracy(_Classification):
    """The fraction of samples whose highest score is at the true class."""
    _additive = ("_correct", "_total")

    def __init__(self, eval_type: str = "classification"):
        if eval_type != "classification":
            raise ValueError(f"Accuracy: eval_type={eval_type!r} is not supported; graphc's Accuracy is MindSpore's "
                             "'classification' (the highest score at the true class); MindSpore's 'multilabel' is not "
                             "implemented")
        super().__init__()

    def clear(self) -> None:
        super().clear()
        self._correct = self._total = 0

    def update(self, *inputs) -> None:
        y_pred, y = self._scores_and_labels(inputs)
        self._correct += int(np.sum(y_pred.argmax(axis=1) == y))
        self._total += len(y)

    def eval(self) -> float:
        _require_samples(self, self._total)
        return self._correct / self._total


class TopKCategoricalAccuracy(_Classification):
    """The fraction of samples whose true class is among the k highest scores (ties: lower index first)."""

    _additive = ("_correct", "_total")

    def __init__(self, k: int):
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"TopKCategoricalAccuracy: k must be an int >= 1, got {k!r}")
        self.k = k
        super().__init__()

    def clear(self) -> None:
        super().clear()
        self._correct = self._total = 0

    def update(self, *inputs) -> None:
        y_pred, y = self._scores_and_labels(inputs)
        top_k = np.argsort(-y_pred, axis=1, kind="stable")[:, :self.k]
        self._correct += int(np.sum(top_k == y[:, None]))
        self._total += len(y)

    def eval(self) -> float:
        _require_samples(self, self._total)
        return self._correct / self._total


class Top1CategoricalAccuracy(TopKCategoricalAccuracy):
    def __init__(self):
        super().__init__(1)


class Top5CategoricalAccuracy(TopKCategoricalAccuracy):
    def __init__(self):
        super().__init__(5)


class _ClassCounts(_Classification):
    """Per-class true positives, predicted positives and actual positives over all updates."""

    eps = sys.float_info.min  # MindSpore's guard against 0/0: a class never predicted scores 0
    _additive = ("_true", "_predicted", "_actual")

    def clear(self) -> None:
        super().clear()
        self._true = self._predicted = self._actual = 0

    def update(self, *inputs) -> None:
        y_pred, y = self._scores_and_labels(inputs)
        classes = self._class_num
        if len(y) and (y.min() < 0 or y.max() >= classes):
            raise ValueError(f"{type(self).__name__}.update: labels must be in [0, {classes}), "
                             f"got values from {y.min()} to {y.max()}")
        predicted = y_pred.argmax(axis=1)
        self._true = self._true + np.bincount(y[predicted == y], minlength=classes)
        self._predicted = self._predicted + np.bincount(predicted, minlength=classes)
        self._actual = self._actual + np.bincount(y, minlength=classes)

    def eval(self, average: bool = False) -> np.ndarray | float:
        """Per-class values, or their mean when `average`."""
        _require_samples(self, self._class_num)
        per_class = self._per_class()
        return float(per_class.mean()) if average else per_class

    @abstractmethod
    def _per_class(self) -> np.ndarray: ...


class Precision(_ClassCounts):
    """Per class: true positives / predicted positives."""

    def _per_class(self) -> np.ndarray:
        return self._true / (self._predicted + self.eps)


class Recall(_ClassCounts):
    """Per class: true positives / actual positives."""

    def _per_class(self) -> np.ndarray:
        return self._true / (self._actual + self.eps)


class Fbeta(_ClassCounts):
    """Per class: (1 + beta²) tp / (beta² actual positives + predicted positives)."""

    def __init__(self, beta: float):
        if not beta > 0:
            raise ValueError(f"Fbeta: beta must be > 0, got {beta!r}")
        self.beta = beta
        super().__init__()

    def _per_class(self) -> np.ndarray:
        beta2 = self.beta ** 2
        return (1 + beta2) * self._true / (beta2 * self._actual + self._predicted + self.eps)


class F1(Fbeta):
    def __init__(self):
        super().__init__(1.0)


class Loss(Metric):
    """The mean over updates of each update's mean loss (a scalar or a 1-D array)."""
    _additive = ("_sum", "_count")

    def clear(self) -> None:
        self._sum = 0.0
        self._count = 0

    def update(self, *inputs) -> None:
        _require_inputs(self, inputs, 1)
        loss = _to_numpy(inputs[0])
        if loss.ndim > 1:
            raise ValueError(f"Loss.update: the loss must be a scalar or 1-D, got shape {loss.shape}")
        self._sum += float(loss.mean())
        self._count += 1

    def eval(self) -> float:
        _require_samples(self, self._count)
        return self._sum / self._count


class _Error(Metric):
    """Summed `_error` of (y_pred - y) over all elements, divided by the number of samples (the
    length of the first axis), as MindSpore computes it."""

    _error: Callable[[np.ndarray], np.ndarray]
    _additive = ("_error_sum", "_samples")

    def clear(self) -> None:
        self._error_sum = 0.0
        self._samples = 0

    def update(self, *inputs) -> None:
        _require_inputs(self, inputs, 2)
        y_pred, y = _to_numpy(inputs[0]), _to_numpy(inputs[1])
        if y.size != y_pred.size:
            raise ValueError(f"{type(self).__name__}.update: y_pred {y_pred.shape} and y {y.shape} differ in size")
        self._error_sum += float(self._error(y_pred - y.reshape(y_pred.shape)).sum())
        self._samples += len(y) if y.ndim else 1

    def eval(self) -> float:
        _require_samples(self, self._samples)
        return self._error_sum / self._samples


class MAE(_Error):
    _error = staticmethod(np.abs)


class MSE(_Error):
    _error = staticmethod(np.square)


METRIC_NAMES = {
    "acc": Accuracy, "accuracy": Accuracy, "loss": Loss,
    "top_1_accuracy": Top1CategoricalAccuracy, "top_5_accuracy": Top5CategoricalAccuracy,
    "mae": MAE, "mse": MSE, "precision": Precision, "recall": Recall, "F1": F1,
}


def get_metrics(metrics: Any) -> dict[str, Metric]:
    """{user name: Metric} from None, names (a set, list or tuple) or a dict name -> Metric or metric name."""
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, (set, frozenset, list, tuple)):
        metrics = {name: name for name in metrics}
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a set or list of names or a dict name -> Metric, "
                        f"got {type(metrics).__name__}")
    return {name: _metric(metric) for name, metric in metrics.items()}


def _metric(metric: Metric | str) -> Metric:
    if isinstance(metric, Metric):
        return metric
    if metric not in METRIC_NAMES:
        raise KeyError(f"unknown metric {metric!r}; valid names: {', '.join(sorted(METRIC_NAMES))}")
    return METRIC_NAMES[metric]()
