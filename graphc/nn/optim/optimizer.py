"""Optimizer: the base of every optimizer (MindSpore's nn.Optimizer).

An optimizer is a Cell (auto_prefix=False, so its state keeps the names checkpoints use:
`learning_rate`, `global_step`, `moments.<param name>`, ...). `construct(gradients)` writes each
trained Parameter and each state Parameter once with `ops.assign`, computing every new value from
pre-step values, so the same code runs eagerly (PYNATIVE: an assign writes at once) and traced
(GRAPH_MODE: impure assign nodes inside the one training-step graph).

A step follows MindSpore's order: decay_weight -> scale_grad -> get_lr -> update.
- weight decay is L2 added to the gradient, g + wd * w. Without groups it skips parameters whose
  name contains 'beta' or 'gamma'; a group's own weight_decay applies to all of its parameters.
  It is a float, or a Cell computing it from `global_step` (MindSpore's dynamic weight decay).
- loss_scale divides the gradients. The decay is stored multiplied by loss_scale because it is
  added before that division, so the update sees g / loss_scale + wd * w.
- the learning rate is a float (Parameter `learning_rate`), a list or 1-D Tensor (Parameter
  `learning_rate` holding the table; step i uses element i) or a LearningRateSchedule Cell.
  `global_step` (int32, shape [1]) counts the steps taken; get_lr reads it and advances it. Unlike
  MindSpore it advances with a fixed rate too, so the host always knows the step count.

Running past the end of a learning-rate list is an error raised on the host before the step runs
(by Optimizer.__call__ and TrainOneStepCell.__call__, which read `global_step`), rather than a
silent clamp. A graph traced from another Cell's construct that calls the optimizer gets no such
check, so there the rate past the end is NaN: the loss turns NaN at once instead of training on
silently with a rate of 0.
"""
from __future__ import annotations

import functools

import numbers
from collections.abc import Iterable

import numpy as np

from ... import ops
from ...errors import GraphcError
from ...tracing import Tensor, current_trace
from ...types import float32
from ..cell import Cell
from ..parameter import Parameter, ParameterTuple
from .lr import LearningRateSchedule
from .validation import as_float, check_range

__all__ = ["Optimizer"]

_GROUP_KEYS = ("params", "lr", "weight_decay", "grad_centralization", "order_params")


class StateOwner(Cell):
    """A Cell keeping optimizer state: a ParameterTuple assigned to one of its attributes (state
    cloned as in MindSpore, `self.moments = self.parameters.clone('moments', init='zeros')`) is
    registered, so checkpoints save it; `parameters`, the trained Parameters, is not."""

    def __init__(self):
        super().__init__(auto_prefix=False)

    def _register(self, params: ParameterTuple) -> ParameterTuple:
        for param in params:
            self.insert_param_to_cell(param.name, param)
        return params

    def __setattr__(self, name: str, value):
        fresh = isinstance(value, ParameterTuple) and name != "parameters"
        super().__setattr__(name, self._register(value) if fresh else value)


class Optimizer(StateOwner):
    def __init__(self, learning_rate, parameters, weight_decay=0.0, loss_scale=1.0):
        super().__init__()
        owner = type(self).__name__
        self.weight_decay = _weight_decay(owner, weight_decay)
        self.loss_scale = check_range(owner, "loss_scale", as_float(owner, "loss_scale", loss_scale, allow_int=True),
                                      0.0, low_open=True)
        parameters = _as_list(owner, "params", parameters)
        groups, order = _parse_groups(owner, parameters)
        self.is_group = isinstance(parameters[0], dict)
        self.is_group_lr = any("lr" in group for group in groups)
        self.parameters = ParameterTuple(order)
        self.global_step = Parameter(np.zeros(1, np.int32), name="global_step", requires_grad=False)
        self.learning_rate = _learning_rate_source(owner, learning_rate, "learning_rate")
        self._lr_sources = [self.learning_rate]        # and one per group that sets its own 'lr'
        settings = {}                                  # id(param) -> (its source in _lr_sources, decay)
        for index, group in enumerate(groups):
            settings.update(self._group_settings(owner, index, group))
        self._lr_index = [settings[id(p)][0] for p in self.parameters]
        self._decays = [settings[id(p)][1] for p in self.parameters]     # a float (0: none) or a Cell

    def _group_settings(self, owner: str, index: int, group: dict) -> dict:
        lr_index = 0
        if "lr" in group:
            name = f"learning_rate_group_{index}"
            setattr(self, name, _learning_rate_source(owner, group["lr"], name))
            self._lr_sources.append(getattr(self, name))
            lr_index = len(self._lr_sources) - 1
        decay = self.weight_decay
        if "weight_decay" in group:
            decay = _weight_decay(owner, group["weight_decay"])
            if isinstance(decay, Cell):
                setattr(self, f"weight_decay_group_{index}", decay)
        return {id(param): (lr_index, self._decay_of(param, decay)) for param in group["params"]}

    def _decay_of(self, param: Parameter, decay):
        """A group's weight decay applies to all its parameters; without groups, to those whose name
        has neither 'beta' nor 'gamma'. A float is stored times loss_scale (see decay_weight)."""
        if not self.is_group and ("beta" in param.name or "gamma" in param.name):
            return 0.0
        return decay if isinstance(decay, Cell) else decay * self.loss_scale

    # -- what subclasses build on ------------------------------------------------------------------
    def clone_state(self, prefix: str, init: str | float) -> tuple[Parameter, ...]:
        """One state Parameter per trained Parameter, named `<prefix>.<param name>` and registered so
        that checkpoints save it; init is 'zeros', 'ones' or a number."""
        return self._register(self.parameters.clone(prefix, init))


    def weight_decays(self) -> list:
        """This step's weight decay of each parameter, times loss_scale: None where there is none; a
        weight_decay Cell gives its value at global_step (the steps taken), called once per step."""
        cells = {id(decay): decay for decay in self._decays if isinstance(decay, Cell)}
        values = {key: _value_at(cell, self.global_step) * self.loss_scale for key, cell in cells.items()}
        return [values[id(decay)] if isinstance(decay, Cell) else decay or None for decay in self._decays]

    def decay_weight(self, gradients) -> tuple:
        return tuple(grad if decay is None else grad + decay * param
                     for grad, param, decay in zip(gradients, self.parameters, self.weight_decays()))

    def scale_grad(self, gradients) -> tuple:
        if self.loss_scale == 1.0:
            return tuple(gradients)
        return tuple(grad * (1.0 / self.loss_scale) for grad in gradients)

    def get_lr(self):
        """This step's learning rate: a float32 scalar Tensor, or with group learning rates a tuple
        of one per parameter. It advances `global_step`, so call it once per construct."""
        rates = self._rates_at(self.global_step)
        ops.assign(self.global_step, self.global_step + 1)
        return tuple(rates[i] for i in self._lr_index) if self.is_group_lr else rates[0]

    @functools.cached_property
    def _lr_tables(self) -> list:
        """The learning-rate lists some parameter uses (checked before every step, so found once)."""
        return [source for source in self._sources_in_use().values() if _is_table(source)]

    def _sources_in_use(self) -> dict:
        """{index in _lr_sources: source} for the sources some parameter uses."""
        return {i: self._lr_sources[i] for i in sorted(set(self._lr_index))}

    def _rates_at(self, step: Tensor) -> dict:
        return {i: _value_at(source, step) for i, source in self._sources_in_use().items()}

    def lr_per_parameter(self) -> tuple:
        """get_lr() spread over the parameters: one rate for each."""
        lr = self.get_lr()
        return lr if self.is_group_lr else (lr,) * len(self.parameters)

    # -- the host side -------------------------------------------------------------------------------
    def __call__(self, gradients):
        gradients = tuple(gradients)
        if len(gradients) != len(self.parameters):
            raise GraphcError(f"{type(self).__name__}: got {len(gradients)} gradient(s) for "
                              f"{len(self.parameters)} parameter(s); pass one gradient per optimizer.parameters entry")
        if current_trace() is None:      # a step is about to run (eagerly, or as this optimizer's graph)
            self.check_lr_steps()
        return super().__call__(gradients)

    @property
    def steps_taken(self) -> int:
        """How many steps this optimizer has run (its global_step)."""
        return int(self.global_step.asnumpy()[0])

    def check_lr_steps(self, step: int | None = None) -> None:
        """Raise if a learning-rate list has no entry for `step` (default: the next step to run)."""
        tables = self._lr_tables
        step = self.steps_taken if step is None and tables else step
        for source in tables:
            if step >= source.shape[0]:
                raise GraphcError(f"{type(self).__name__}: step {step} has no learning rate: the list "
                                  f"'{source.name}' has {source.shape[0]} values (steps 0 to {source.shape[0] - 1}); "
                                  "give one value per step to run, or a LearningRateSchedule")

    def get_lr_value(self, step: int | None = None):
        """The learning rate used at `step` as a float (a tuple of one per parameter with group rates),
        for logging. step defaults to the last step run, so a callback after a step logs its rate."""
        step = max(self.steps_taken - 1, 0) if step is None else step
        self.check_lr_steps(step)
        counter = Tensor(np.array([step], np.int32))
        rates = {i: float(rate.asnumpy()) for i, rate in self._rates_at(counter).items()}
        return tuple(rates[i] for i in self._lr_index) if self.is_group_lr else rates[0]


# -- parameters and groups ---------------------------------------------------------------------------
def _as_list(owner: str, name: str, parameters) -> list:
    """Parameters or group dicts from any iterable, as MindSpore: a list, net.trainable_params(),
    filter(lambda p: p.requires_grad, net.get_parameters()), a generator."""
    if isinstance(parameters, (Tensor, dict, str)) or not isinstance(parameters, Iterable):
        raise TypeError(f"{owner}: {name} must be an iterable of Parameters (e.g. net.trainable_params()) or of "
                        f"group dicts, got {type(parameters).__name__}")
    parameters = list(parameters)
    if not parameters:
        raise ValueError(f"{owner}: {name} is empty; give the Parameters to train (e.g. net.trainable_params())")
    return parameters


def _parse_groups(owner: str, parameters: list) -> tuple[list[dict], tuple[Parameter, ...]]:
    """(the groups, the parameters in training order): one group of everything for a plain list;
    the order is the groups' unless a group dict gives `order_params`."""
    if not isinstance(parameters[0], dict):
        groups = [{"params": parameters}]
    else:
        groups = [_check_group(owner, i, group) for i, group in enumerate(parameters)]
    orders = [group["order_params"] for group in groups if "order_params" in group]
    groups = [group for group in groups if "order_params" not in group]
    for group in groups:
        group["params"] = [_check_parameter(owner, p) for p in _as_list(owner, "a group's 'params'", group["params"])]
    grouped = tuple(p for group in groups for p in group["params"])
    _check_unique(owner, grouped)
    return groups, _ordered(owner, grouped, orders[0]) if orders else grouped


def _check_group(owner: str, index: int, group) -> dict:
    if not isinstance(group, dict):
        raise TypeError(f"{owner}: params mixes group dicts with {type(group).__name__}; make every entry a dict")
    unknown = [key for key in group if key not in _GROUP_KEYS]
    if unknown:
        raise KeyError(f"{owner}: group {index} has unknown key(s) {', '.join(map(repr, unknown))}; "
                       f"valid keys: {', '.join(_GROUP_KEYS)}")
    if group.get("grad_centralization", False):
        raise ValueError(f"{owner}: group {index}: grad_centralization is not supported by graphc")
    if "order_params" not in group and "params" not in group:
        raise KeyError(f"{owner}: group {index} has no 'params' key")
    return dict(group)


def _check_parameter(owner: str, param) -> Parameter:
    if not isinstance(param, Parameter):
        raise TypeError(f"{owner}: params must hold Parameters, got {type(param).__name__}")
    return param


def _check_unique(owner: str, params: tuple[Parameter, ...]) -> None:
    seen = set()
    for param in params:
        if id(param) in seen:
            raise RuntimeError(f"{owner}: Parameter '{param.name}' is listed more than once (in one group or in "
                               "two); each Parameter must appear once")
        seen.add(id(param))


def _ordered(owner: str, grouped: tuple[Parameter, ...], order) -> tuple[Parameter, ...]:
    """order_params, which must list exactly the grouped parameters."""
    order = tuple(_check_parameter(owner, p) for p in order)
    if len(order) != len(grouped) or {id(p) for p in order} != {id(p) for p in grouped}:
        raise ValueError(f"{owner}: order_params must list each grouped Parameter exactly once "
                         f"({len(grouped)} of them), got {len(order)} entries")
    return order


# -- learning rates -----------------------------------------------------------------------------------
def _learning_rate_source(owner: str, value, name: str):
    """A schedule as given; a float as a scalar Parameter; a list or 1-D Tensor as a table Parameter."""
    if isinstance(value, LearningRateSchedule):
        return value
    if isinstance(value, (Tensor, np.ndarray, list, tuple)):
        rates = np.asarray(value.asnumpy() if isinstance(value, Tensor) else value, dtype=np.float64)
        if rates.ndim > 1 or rates.size == 0 or not np.all(rates >= 0):
            raise ValueError(f"{owner}: {name} as a list or Tensor must be a non-empty 0-d or 1-D sequence of "
                             f"rates >= 0, got shape {list(rates.shape)}")
        return Parameter(rates.astype(np.float32), name=name, requires_grad=False)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        rate = check_range(owner, name, float(value), 0.0)
        return Parameter(np.array(rate, np.float32), name=name, requires_grad=False)
    raise TypeError(f"{owner}: {name} must be a float, a list or Tensor of per-step rates, or a "
                    f"LearningRateSchedule, got {type(value).__name__}")


def _weight_decay(owner: str, value):
    """A float >= 0, or a Cell computing the decay from global_step (MindSpore's dynamic weight decay)."""
    if isinstance(value, Cell):
        return value
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{owner}: weight_decay must be a float or a Cell taking global_step (as a "
                        f"LearningRateSchedule does), got {type(value).__name__}")
    return check_range(owner, "weight_decay", float(value), 0.0)


def _is_table(source) -> bool:
    return isinstance(source, Parameter) and source.ndim == 1


def _value_at(source, step: Tensor) -> Tensor:
    """The rate (or weight decay) a source gives at `step` (int32 [1]), as a float32 scalar."""
    if isinstance(source, Cell):
        rate = source(step)
        return ops.reshape(ops.cast(rate, dtype=float32), shape=())
    return _lookup(source, step) if _is_table(source) else source


def _lookup(table: Tensor, step: Tensor) -> Tensor:
    """table[step]; NaN once step runs past the end (0 / 0: the one-hot row is all zeros there)."""
    hot = ops.one_hot(step, table.shape[0], 1.0, 0.0)
    return ops.reduce_sum(hot * table) / ops.reduce_sum(hot)
