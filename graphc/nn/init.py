"""Parameter initializers with the names, defaults and fan rules of mindspore.common.initializer.

Every random draw comes from graphc.context.rng(), so graphc.set_seed(n) rebuilds the same network.
An Initializer fills a NumPy array in place (`init(array)`), as MindSpore's do; `initializer(...)`
turns a name, a number, an Initializer or a Tensor into a Tensor of the requested shape.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import context
from ..errors import ArgumentError
from ..tracing import Tensor
from ..types import dtype_of, float32

__all__ = ["Constant", "HeNormal", "HeUniform", "Initializer", "Normal", "One", "Uniform", "XavierUniform", "Zero",
           "initializer"]


class Initializer:
    """Base class: subclasses implement `_initialize(array)`, which fills `array` in place."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs          # kept for repr: Conv2d and Dense print their initializers

    def __call__(self, array: np.ndarray) -> None:
        self._initialize(array)

    def _initialize(self, array: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _initialize(array)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items()) + ")"


class Zero(Initializer):
    def _initialize(self, array):
        array.fill(0)


class One(Initializer):
    def _initialize(self, array):
        array.fill(1)


class Constant(Initializer):
    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _initialize(self, array):
        array.fill(self.value)


class Normal(Initializer):
    """N(mean, sigma²). MindSpore's default sigma is 0.01 (PyTorch's is 1)."""

    def __init__(self, sigma=0.01, mean=0.0):
        super().__init__(sigma=sigma, mean=mean)
        if sigma < 0:
            raise ArgumentError(f"Normal: sigma must be >= 0, got {sigma}")
        self.sigma, self.mean = sigma, mean

    def _initialize(self, array):
        array[...] = context.rng().normal(self.mean, self.sigma, array.shape)


class Uniform(Initializer):
    """U(-scale, scale)."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _initialize(self, array):
        array[...] = context.rng().uniform(-self.scale, self.scale, array.shape)


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """(fan_in, fan_out) as MindSpore computes them: a Dense weight (out, in) gives (in, out); a conv
    weight (out, in, kh, kw) multiplies both by the receptive field kh·kw."""
    if len(shape) < 2:
        raise ArgumentError(f"fan_in and fan_out need a weight of rank >= 2, got shape {list(shape)}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(shape, mode: str) -> int:
    fans = dict(zip(("fan_in", "fan_out"), fan_in_and_fan_out(shape)))
    if mode not in fans:
        raise ArgumentError(f"mode {mode!r} is not supported; use 'fan_in' or 'fan_out'")
    return fans[mode]


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid")


def calculate_gain(nonlinearity: str, negative_slope=0) -> float:
    """The gain recommended for a nonlinearity (the same table as PyTorch's and MindSpore's)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    raise ArgumentError(f"nonlinearity {nonlinearity!r} is not supported; use one of "
                        f"{', '.join(_LINEAR + ('tanh', 'relu', 'leaky_relu'))}")


class HeUniform(Initializer):
    """U(-b, b) with b = gain·sqrt(3 / fan)."""

    def __init__(self, negative_slope=0, mode="fan_in", nonlinearity="leaky_relu"):
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _initialize(self, array):
        bound = calculate_gain(self.nonlinearity, self.negative_slope) * math.sqrt(3.0 / _fan(array.shape, self.mode))
        array[...] = context.rng().uniform(-bound, bound, array.shape)


class HeNormal(Initializer):
    """N(0, σ²) with σ = gain / sqrt(fan)."""

    def __init__(self, negative_slope=0, mode="fan_in", nonlinearity="leaky_relu"):
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _initialize(self, array):
        sigma = calculate_gain(self.nonlinearity, self.negative_slope) / math.sqrt(_fan(array.shape, self.mode))
        array[...] = context.rng().normal(0.0, sigma, array.shape)


class XavierUniform(Initializer):
    """U(-b, b) with b = gain·sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, gain=1):
        super().__init__(gain=gain)
        self.gain = gain

    def _initialize(self, array):
        bound = self.gain * math.sqrt(6.0 / sum(fan_in_and_fan_out(array.shape)))
        array[...] = context.rng().uniform(-bound, bound, array.shape)


def layer_defaults(weight_init, bias_init, weight_shape) -> tuple:
    """MindSpore 2.x's defaults for Dense and the convolutions, where the layer got None: the weight
    HeUniform(√5), i.e. U(-1/√fan_in, 1/√fan_in), and the bias U(-1/√fan_in, 1/√fan_in), fan_in taken
    from the weight's shape (r1.x defaulted to 'normal' and 'zeros')."""
    bound = 1 / math.sqrt(fan_in_and_fan_out(weight_shape)[0])
    return (HeUniform(negative_slope=math.sqrt(5)) if weight_init is None else weight_init,
            Uniform(bound) if bias_init is None else bias_init)


_BY_NAME = {"normal": Normal, "uniform": Uniform, "he_uniform": HeUniform, "he_normal": HeNormal,
            "xavier_uniform": XavierUniform, "zeros": Zero, "ones": One}


def _shape_tuple(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(d, numbers.Integral) and d > 0 for d in shape):
        raise ArgumentError(f"initializer: shape must be positive integers, got {list(shape)}")
    return tuple(int(d) for d in shape)


def _as_initializer(init) -> Initializer:
    if isinstance(init, Initializer):
        return init
    if isinstance(init, str):
        if init.lower() not in _BY_NAME:
            raise ArgumentError(f"unknown initializer {init!r}; valid names: {', '.join(_BY_NAME)} "
                                "(or pass an Initializer, a number or a Tensor)")
        return _BY_NAME[init.lower()]()
    if isinstance(init, numbers.Number) and not isinstance(init, bool):
        return Constant(init)
    raise ArgumentError(f"initializer: init must be a Tensor, a number, a name or an Initializer, "
                        f"got {type(init).__name__}")


def initializer(init, shape, dtype=float32) -> Tensor:
    """A Tensor of `shape` and `dtype` filled by `init` (a Tensor is returned as is, if its shape fits)."""
    shape = _shape_tuple(shape)
    if isinstance(init, Tensor):
        if init.shape != shape:
            raise ArgumentError(f"initializer: the init Tensor has shape {list(init.shape)} but shape "
                                f"{list(shape)} was requested")
        return init
    values = np.zeros(shape, dtype=np.float64)
    _as_initializer(init)(values)
    return Tensor(values, dtype=dtype_of(dtype))
