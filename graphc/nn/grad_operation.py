"""MindSpore's GradOperation: `GradOperation(get_all, get_by_list, sens_param)(network, weights)`
is a function of the network's inputs returning gradients, shaped as the flags say:

- neither flag: the gradient with respect to the first input;
- get_all: a tuple, one gradient per input;
- get_by_list: a tuple, one gradient per weight (a ParameterTuple or list of Parameters);
- both: (the inputs' gradients, the weights' gradients);
- sens_param: the call takes one more input, the output's gradient (sens: a tuple of them for a
  network with several outputs, as in a second-order gradient); without it, ones.

It is graphc.value_and_grad underneath, so it works in both modes and, called inside a traced
construct (a custom training cell), adds the backward pass to the same graph.
"""
from __future__ import annotations

import inspect

from ..autodiff import value_and_grad
from ..errors import ArgumentError
from .parameter import Parameter

__all__ = ["GradOperation"]


class GradOperation:
    def __init__(self, get_all: bool = False, get_by_list: bool = False, sens_param: bool = False):
        for name, value in (("get_all", get_all), ("get_by_list", get_by_list), ("sens_param", sens_param)):
            if not isinstance(value, bool):
                raise ArgumentError(f"GradOperation: {name}={value!r} must be a bool")
        self.get_all, self.get_by_list, self.sens_param = get_all, get_by_list, sens_param
        self._functions: dict[tuple, object] = {}    # one differentiated function per (network, weights, arity)

    def __call__(self, fn, weights=None):
        if self.get_by_list and weights is None:
            raise ArgumentError("GradOperation(get_by_list=True) needs the weights: grad_op(network, "
                                "ParameterTuple(network.trainable_params()))")
        if not self.get_by_list and weights is not None:
            raise ArgumentError("GradOperation: weights were given but get_by_list is False, so they would be "
                                "ignored; create GradOperation(get_by_list=True)")
        weights = _weights(weights, fn)

        def gradients(*inputs):
            return self.value_and_grads(fn, weights, inputs)[1]
        return gradients

    def value_and_grads(self, fn, weights: tuple, inputs: tuple):
        """(fn's output, the gradients the flags ask for) at inputs (the last one the sens with sens_param)."""
        count = len(inputs) - self.sens_param
        _check_arity(self, fn, count)
        key = (id(fn), tuple(map(id, weights)), count)
        if key not in self._functions:
            self._functions[key] = _differentiated(fn, weights, self.get_all, count, self.sens_param)
        return self._functions[key](*inputs)


def _differentiated(fn, weights, get_all: bool, count: int, with_sens: bool):
    positions = tuple(range(count)) if get_all else (None if weights else 0)
    return value_and_grad(fn, positions, weights or None, sens_param=with_sens)


def _weights(weights, fn) -> tuple:
    if weights is None:
        return ()
    weights = tuple(weights) if isinstance(weights, (tuple, list)) else (weights,)
    owned = {id(p) for p in fn.get_parameters()} if hasattr(fn, "get_parameters") else None
    for w in weights:
        if not isinstance(w, Parameter):
            raise ArgumentError(f"GradOperation: weights must be Parameters (a ParameterTuple), got a "
                                f"{type(w).__name__}")
        if owned is not None and id(w) not in owned:
            raise ArgumentError(f"GradOperation: weight {w.name!r} is not a Parameter of the {type(fn).__name__} "
                                "being differentiated; pass its own, e.g. ParameterTuple(net.trainable_params())")
    return weights


def _check_arity(grad_op: GradOperation, fn, count: int) -> None:
    """An input beyond what fn takes is most likely a sens given without sens_param=True."""
    target = fn.construct if hasattr(fn, "construct") else fn
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return
    takes = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    if count > takes:
        hint = ("to pass the output's gradient (sens), create GradOperation(sens_param=True)"
                if not grad_op.sens_param else "the last input is the sens; pass the network's inputs before it")
        raise ArgumentError(f"GradOperation: the gradient function got {count} network input(s) but "
                            f"{type(fn).__name__ if hasattr(fn, 'construct') else fn.__name__} takes {takes}; {hint}")
