"""MindSpore 2.x's `mindspore.experimental.optim`: optimizers configured per parameter group in
`param_groups` (PyTorch's form); lr_scheduler.py holds their schedules.

Each group's numbers live in Parameters that a compiled step reads: the learning rate is the
Parameter `learning_rate_group_<i>` held in the group's dict (as in MindSpore: `group["lr"]`), and
weight_decay, eps and betas are Parameters behind the dict. So `param_groups[i]["weight_decay"] =
0.02`, `ops.assign(group["lr"], ...)` or a schedule's step changes the next step, compiled or not.
`amsgrad` and `maximize` change the form of the update and are fixed when the optimizer is built.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ...errors import ArgumentError, GraphcError
from ...tracing import Tensor
from ..parameter import Parameter, ParameterTuple
from .optimizer import StateOwner
from .validation import as_float, check_bool

__all__ = ["Adam", "Optimizer"]


def _scalar(name: str, value: float) -> Parameter:
    return Parameter(np.array(value, np.float32), name=name, requires_grad=False)


# the settings a group keeps in Parameters (besides lr), and the names of those Parameters
_NUMBERS = {"weight_decay": ("weight_decay",), "eps": ("eps",), "betas": ("beta1", "beta2")}


class ParamGroup(dict):
    """One entry of param_groups: a dict whose numbers write through to the Parameters a step reads."""

    def __init__(self, owner: str, index: int, group: dict, defaults: dict, fixed: tuple[str, ...]):
        unknown = sorted(set(group) - set(defaults) - {"params"})
        if unknown or "params" not in group:
            raise ArgumentError(f"{owner}: a parameter group takes 'params' and {sorted(defaults)}, got "
                                f"{sorted(group)}")
        super().__init__({**group, "params": list(group["params"])})
        for key, default in defaults.items():
            super().setdefault(key, default)
        self._owner, self._fixed, self.numbers = owner, fixed, {}
        self.numbers["lr"] = _scalar(f"learning_rate_group_{index}", as_float(owner, "lr", self["lr"], True))
        super().__setitem__("lr", self.numbers["lr"])
        for key, names in _NUMBERS.items():
            if key in defaults:
                self.numbers[key] = [_scalar(f"{name}_group_{index}", 0.0) for name in names]
                self[key] = self[key]

    def __setitem__(self, key, value):
        if key in self._fixed:
            raise ArgumentError(f"{self._owner}: {key} is fixed when the optimizer is built (it changes the form of "
                                "the update); build a new optimizer to change it")
        if key in self.numbers:
            targets = self.numbers[key] if isinstance(self.numbers[key], list) else [self.numbers[key]]
            given = np.atleast_1d(value.asnumpy() if isinstance(value, Tensor) else value)
            if len(given.reshape(-1)) != len(targets):
                raise ArgumentError(f"{self._owner}: {key} takes {len(targets)} number(s), got {value!r}")
            for target, number in zip(targets, given.reshape(-1)):
                target.set_data(np.array(as_float(self._owner, key, float(number), True), np.float32))
            if key == "lr":
                return                     # the dict keeps holding the Parameter, as MindSpore's
        super().__setitem__(key, value)


class Optimizer(StateOwner):
    """The base: param_groups built from params (Parameters, or dicts of them with their own
    settings) and defaults; `parameters` is every group's Parameters, in order."""
    fixed: tuple[str, ...] = ()

    def __init__(self, params, defaults: dict):
        super().__init__()
        owner = type(self).__name__
        groups = list(params)
        if not groups:
            raise ArgumentError(f"{owner}: params is empty; give the Parameters to train (net.trainable_params())")
        groups = groups if isinstance(groups[0], dict) else [{"params": groups}]
        self.param_groups = [ParamGroup(owner, i, g, defaults, self.fixed) for i, g in enumerate(groups)]
        self.parameters = ParameterTuple(p for group in self.param_groups for p in group["params"])
        for group in self.param_groups:
            self.insert_param_to_cell(group["lr"].name, group["lr"])

    def __call__(self, gradients):
        gradients = tuple(gradients)
        if len(gradients) != len(self.parameters):
            raise GraphcError(f"{type(self).__name__}: got {len(gradients)} gradient(s) for "
                              f"{len(self.parameters)} parameter(s); pass one per optimizer.parameters entry")
        return super().__call__(gradients)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group.numbers['lr'].asnumpy() if key == 'lr' else group[key]}"
                      for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])


class Adam(Optimizer):
    """Adam as mindspore.experimental.optim has it (PyTorch's form): with g the gradient (negated
    with maximize) plus weight_decay * p, m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2 (with
    amsgrad, the running maximum of v is used), and p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps):
    eps is added to the uncorrected sqrt(v), as MindSpore 2.10 does (measured; PyTorch corrects v first).
    State: `exp_avg.<name>`, `exp_avg_sq.<name>` (`max_exp_avg_sq.<name>` with amsgrad) and `state_step`."""
    fixed = ("amsgrad", "maximize")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False):
        owner = type(self).__name__
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": check_bool(owner, "amsgrad", amsgrad),
                                  "maximize": check_bool(owner, "maximize", maximize)})
        self.exp_avg = self.parameters.clone("exp_avg", "zeros")
        self.exp_avg_sq = self.parameters.clone("exp_avg_sq", "zeros")
        self.max_exp_avg_sq = self.parameters.clone("max_exp_avg_sq", "zeros")
        self.state_step = _scalar("state_step", 0.0)

    def construct(self, gradients):
        step = self.state_step + 1.0
        ops.assign(self.state_step, step)
        position = 0
        for group in self.param_groups:
            (b1, b2), eps, decay = group.numbers["betas"], group.numbers["eps"][0], group.numbers["weight_decay"][0]
            for param in group["params"]:
                grad = -gradients[position] if group["maximize"] else gradients[position]
                grad = grad + decay * param
                m = b1 * self.exp_avg[position] + (1.0 - b1) * grad
                v = b2 * self.exp_avg_sq[position] + (1.0 - b2) * grad * grad
                ops.assign(self.exp_avg[position], m)
                ops.assign(self.exp_avg_sq[position], v)
                if group["amsgrad"]:
                    v = ops.maximum(self.max_exp_avg_sq[position], v)
                    ops.assign(self.max_exp_avg_sq[position], v)
                correction = ops.sqrt(1.0 - b2 ** step) / (1.0 - b1 ** step)
                ops.assign(param, param - group["lr"] * correction * m / (ops.sqrt(v) + eps))
                position += 1
        return True
