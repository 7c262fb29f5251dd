"""MindSpore's primitive classes (`ops.Abs()(x)`, `ops.ReduceMean(keep_dims=True)(x, axis)`): each
is constructed with its MindSpore attributes and called with its MindSpore inputs, and hands the
call to a registered op (or a short composition of them). Nothing is implemented twice.

A primitive checks its constructor arguments when it is built and the number of its inputs when it
is called; either error names the user's line, the primitive and what it expects.
"""
from __future__ import annotations

import math
import numbers

from ..errors import ArgumentError
from ..types import dtype_of, float32, int32, promote_types
from . import elementwise as ew
from .indexing import gather
from .join import concat, split, stack
from .linalg import matmul
from .activation import gelu, hsigmoid, hswish, relu6
from .nn import (avg_pool2d, conv2d, log_softmax, max_pool2d, softmax, sparse_softmax_cross_entropy,
                 sparse_softmax_cross_entropy_grad)
from .pad import pad_op
from .reduction import argmax, broadcast_to, reduce_max, reduce_mean, reduce_sum
from .shaping import cast, one_hot, reshape, transpose
from .state import assign as assign_op


class Primitive:
    """A callable with MindSpore's constructor attributes; `inputs` names what a call takes."""
    inputs: tuple[str, ...] = ()

    def __call__(self, *inputs):
        if len(inputs) != len(self.inputs):
            raise ArgumentError(f"ops.{type(self).__name__}: takes {len(self.inputs)} input(s) "
                                f"({', '.join(self.inputs)}), got {len(inputs)}; call it as "
                                f"ops.{type(self).__name__}(...)({', '.join(self.inputs)})")
        return self.compute(*inputs)

    def compute(self, *inputs):
        raise NotImplementedError

    def _bad(self, argument: str, value, expected: str) -> ArgumentError:
        return ArgumentError(f"ops.{type(self).__name__}: {argument}={value!r} is not valid; expected {expected}")

    def _bool(self, argument: str, value) -> bool:
        if not isinstance(value, bool):
            raise self._bad(argument, value, "a bool")
        return value

    def _int(self, argument: str, value, minimum: int | None = None) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
            raise self._bad(argument, value, "an int" + (f" >= {minimum}" if minimum is not None else ""))
        return value

    def _pair(self, argument: str, value, nchw_four: bool = False) -> tuple[int, int]:
        """An int or a pair of ints, each >= 1, as a pair (kernel_size=3 -> (3, 3)); with nchw_four,
        also MindSpore's NCHW 4-tuple (1, 1, h, w)."""
        pair = (value, value) if isinstance(value, numbers.Integral) else value
        if nchw_four and isinstance(pair, (tuple, list)) and len(pair) == 4 and tuple(pair[:2]) == (1, 1):
            pair = pair[2:]
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in pair)):
            four = " (or (1, 1, h, w))" if nchw_four else ""
            raise self._bad(argument, value, "an int >= 1 or a pair of them" + four)
        return int(pair[0]), int(pair[1])

    def _choice(self, argument: str, value, choices: tuple[str, ...]) -> str:
        """One of `choices`, in any case ('SAME' is 'same', as in MindSpore)."""
        if not isinstance(value, str) or value.lower() not in choices:
            raise self._bad(argument, value, "one of " + ", ".join(map(repr, choices)))
        return value.lower()

    def _nchw(self, data_format) -> None:
        if data_format != "NCHW":
            raise self._bad("data_format", data_format, "'NCHW' (graphc's convolution and pooling kernels read NCHW; "
                                                        "transpose NHWC input with ops.Transpose()(x, (0, 3, 1, 2)))")

    def __repr__(self) -> str:
        return f"Prim[{type(self).__name__}]"


def _primitive(name: str, inputs: tuple[str, ...], function, doc: str) -> type:
    """A primitive without constructor attributes, calling `function` on its inputs."""
    return type(name, (Primitive,), {"inputs": inputs, "compute": staticmethod(function), "__doc__": doc,
                                     "__module__": __name__})


def _flatten(x):
    """x with axis 0 (the batch) kept and the rest flattened: [N, C, H, W] -> [N, C·H·W]."""
    if x.ndim < 1:
        raise ArgumentError(f"ops.Flatten: the input is {x.type}, a scalar; Flatten keeps axis 0 (the batch), so it "
                            "needs a tensor [N, ...]")
    return reshape(x, shape=(x.shape[0], math.prod(x.shape[1:])))


def assign(variable, value):
    """Writes value into the Parameter variable (when a traced step ends; at once eagerly) and
    returns it. As in MindSpore, a value of another dtype is converted only when promoting the two
    gives the Parameter's dtype (an int64 tensor into a float32 Parameter); a wider or a float
    value into an int Parameter is refused, since a Parameter keeps its dtype."""
    target, given = getattr(variable, "dtype", None), getattr(value, "dtype", None)
    if target is not None and given is not None and given != target and promote_types([target, given]) == target:
        value = cast(value, dtype=target)
    return assign_op(variable, value)


UNARY, BINARY = ("x",), ("x", "y")
Abs = _primitive("Abs", UNARY, ew.abs, "|x|")
Neg = _primitive("Neg", UNARY, ew.neg, "-x")
Exp = _primitive("Exp", UNARY, ew.exp, "e ** x")
Log = _primitive("Log", UNARY, ew.log, "natural logarithm")
Sqrt = _primitive("Sqrt", UNARY, ew.sqrt, "square root")
Rsqrt = _primitive("Rsqrt", UNARY, ew.rsqrt, "1 / sqrt(x)")
Sign = _primitive("Sign", UNARY, ew.sign, "-1, 0 or 1")
Square = _primitive("Square", UNARY, lambda x: ew.mul(x, x), "x * x")
ReLU = _primitive("ReLU", UNARY, ew.relu, "max(x, 0)")
Sigmoid = _primitive("Sigmoid", UNARY, ew.sigmoid, "1 / (1 + exp(-x))")
Tanh = _primitive("Tanh", UNARY, ew.tanh, "hyperbolic tangent")
Add = _primitive("Add", BINARY, ew.add, "x + y, broadcasting")
Sub = _primitive("Sub", BINARY, ew.sub, "x - y, broadcasting")
Mul = _primitive("Mul", BINARY, ew.mul, "x * y, broadcasting")
Div = _primitive("Div", BINARY, ew.div, "x / y, broadcasting")
RealDiv = _primitive("RealDiv", BINARY, ew.div, "x / y, broadcasting")
Pow = _primitive("Pow", BINARY, ew.pow, "x ** y, broadcasting")
Maximum = _primitive("Maximum", BINARY, ew.maximum, "the larger of x and y")
Minimum = _primitive("Minimum", BINARY, ew.minimum, "the smaller of x and y")
Equal = _primitive("Equal", BINARY, ew.equal, "x == y, bool")
NotEqual = _primitive("NotEqual", BINARY, ew.not_equal, "x != y, bool")
Less = _primitive("Less", BINARY, ew.less, "x < y, bool")
LessEqual = _primitive("LessEqual", BINARY, ew.less_equal, "x <= y, bool")
Greater = _primitive("Greater", BINARY, ew.greater, "x > y, bool")
GreaterEqual = _primitive("GreaterEqual", BINARY, ew.greater_equal, "x >= y, bool")
Select = _primitive("Select", ("condition", "x", "y"), ew.select, "x where condition, else y")
Assign = _primitive("Assign", ("variable", "value"), assign, "writes value into the Parameter variable")
Reshape = _primitive("Reshape", ("input_x", "input_shape"), lambda x, shape: reshape(x, shape=shape),
                     "x with a new shape (one dimension may be -1)")
Transpose = _primitive("Transpose", ("input_x", "input_perm"), lambda x, perm: transpose(x, perm=perm),
                       "the axes of x permuted")
Cast = _primitive("Cast", ("input_x", "type"), lambda x, dtype: cast(x, dtype=dtype), "x converted to dtype")
Shape = _primitive("Shape", ("input_x",), lambda x: tuple(x.shape), "the static shape of x, a tuple of ints")
ZerosLike = _primitive("ZerosLike", ("input_x",), lambda x: _filled(x.dtype, x.shape, 0), "zeros of x's type")
OnesLike = _primitive("OnesLike", ("input_x",), lambda x: _filled(x.dtype, x.shape, 1), "ones of x's type")
Fill = _primitive("Fill", ("type", "shape", "value"), lambda dtype, shape, value: _filled(dtype, shape, value),
                  "a tensor of the given dtype and shape holding value everywhere")
ExpandDims = _primitive("ExpandDims", ("input_x", "axis"), lambda x, axis: expand_dims(x, axis),
                        "x with a new axis of size 1 at position axis")
ReLU6 = _primitive("ReLU6", UNARY, relu6, "min(max(x, 0), 6)")
HSwish = _primitive("HSwish", UNARY, hswish, "x * relu6(x + 3) / 6")
HSigmoid = _primitive("HSigmoid", UNARY, hsigmoid, "relu6(x + 3) / 6")
GeLU = _primitive("GeLU", UNARY, lambda x: gelu(x, approximate=True),
                  "0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), the tanh form MindSpore's GeLU computes")
Flatten = _primitive("Flatten", ("input_x",), _flatten, "[N, ...] -> [N, product of the rest]")
Depend = _primitive("Depend", ("value", "expr"), lambda value, expr: depend(value, expr),
                    "value, once expr has run (ops.depend)")
Gather = _primitive("Gather", ("input_params", "input_indices", "axis"),
                    lambda table, index, axis: gather(table, index, axis=axis), "the slices of a table at the indices")


def depend(value, expr):
    """MindSpore's ops.depend: value, once expr has run. In graphc every op of a traced step runs
    (assignments are impure, so no pass removes them) and they write when the step ends, after
    every read; so value needs no extra ordering and is returned as it is."""
    return value


def _filled(dtype, shape, value):
    return broadcast_to(cast(value, dtype=dtype_of(dtype)), shape=tuple(shape))


def expand_dims(x, axis: int):
    """x with a new axis of size 1 at position axis (negative counts from the end of the result)."""
    if not isinstance(axis, int) or not -x.ndim - 1 <= axis <= x.ndim:
        raise ArgumentError(f"expand_dims: axis {axis!r} is out of range for a tensor {x.type}; use an int in "
                            f"[{-x.ndim - 1}, {x.ndim}]")
    axis %= x.ndim + 1
    return reshape(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    """x without its size-1 axes (axis None or ()), or without the given ones, which must have size 1."""
    axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not isinstance(a, int) or not -x.ndim <= a < x.ndim or x.shape[a] != 1:
            raise ArgumentError(f"squeeze: axis {a!r} of a tensor {x.type} is not an axis of size 1; name only "
                                "axes of size 1 (or none, to drop them all)")
    dropped = {a % x.ndim for a in axes} or {i for i, d in enumerate(x.shape) if d == 1}
    return reshape(x, shape=tuple(d for i, d in enumerate(x.shape) if i not in dropped))


# -- primitives with constructor attributes -------------------------------------------------------------------
class _Reduce(Primitive):
    inputs = ("x", "axis")
    op = None

    def __init__(self, keep_dims: bool = False):
        self.keep_dims = self._bool("keep_dims", keep_dims)

    def __call__(self, x, axis=()):        # the axis may be left out: every axis
        return super().__call__(x, axis)

    def compute(self, x, axis):
        return self.op(x, axis=None if axis == () else axis, keep_dims=self.keep_dims)


class ReduceSum(_Reduce):
    """The sum over axis (() or left out: every axis); keep_dims keeps reduced axes as size 1."""
    op = reduce_sum


class ReduceMean(_Reduce):
    """The mean over axis (() or left out: every axis); keep_dims keeps reduced axes as size 1."""
    op = reduce_mean


class ReduceMax(_Reduce):
    """The maximum over axis (() or left out: every axis); keep_dims keeps reduced axes as size 1."""
    op = reduce_max


class _Filled(Primitive):
    """A new tensor of shape size (an int or a tuple of ints) and dtype type (float32 if left out)."""
    inputs = ("size", "type")
    value = None

    def __call__(self, size, type=None):
        return super().__call__(size, type)

    def compute(self, size, dtype):
        shape = (size,) if isinstance(size, int) and not isinstance(size, bool) else size
        if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                           for d in shape):
            raise self._bad("size", size, "an int >= 0 or a tuple of them")
        return _filled(float32 if dtype is None else dtype, shape, self.value)


class Zeros(_Filled):
    __doc__ = "Zeros: " + _Filled.__doc__
    value = 0


class Ones(_Filled):
    __doc__ = "Ones: " + _Filled.__doc__
    value = 1


class ApplyMomentum(Primitive):
    """One momentum step on Parameters: accumulation <- accumulation * momentum + gradient, then
    variable <- variable - learning_rate * accumulation; returns the new variable. MindSpore 2.10's
    CPU kernel ignores use_nesterov and gradient_scale (measured), so graphc refuses them rather
    than pick a meaning; nn.Momentum(use_nesterov=True) has the Nesterov step."""
    inputs = ("variable", "accumulation", "learning_rate", "gradient", "momentum")

    def __init__(self, use_nesterov: bool = False, use_locking: bool = False, gradient_scale: float = 1.0):
        if self._bool("use_nesterov", use_nesterov):
            raise self._bad("use_nesterov", use_nesterov, "False (MindSpore's CPU kernel ignores it; for a "
                                                          "Nesterov step use nn.Momentum(use_nesterov=True))")
        self.use_locking = self._bool("use_locking", use_locking)    # graphc's writes never race
        if gradient_scale != 1.0:
            raise self._bad("gradient_scale", gradient_scale, "1.0 (MindSpore's CPU kernel ignores it; scale "
                                                              "the gradient before the call)")

    def compute(self, variable, accumulation, learning_rate, gradient, momentum):
        velocity = accumulation * momentum + gradient
        assign(accumulation, velocity)
        return assign(variable, variable - learning_rate * velocity)


class MatMul(Primitive):
    """x @ y of 2-D tensors, either transposed first."""
    inputs = BINARY

    def __init__(self, transpose_a: bool = False, transpose_b: bool = False):
        self.transpose_a, self.transpose_b = self._bool("transpose_a", transpose_a), self._bool("transpose_b",
                                                                                               transpose_b)

    def compute(self, x, y):
        return matmul(x, y, transpose_a=self.transpose_a, transpose_b=self.transpose_b)


class BatchMatMul(MatMul):
    """x @ y over leading batch dimensions (equal in x and y): one MatMul per batch element, stacked.
    The graph holds one matmul node per batch element, each with the native matmul kernel."""

    def compute(self, x, y):
        if x.ndim < 3 or x.ndim != y.ndim or x.shape[:-2] != y.shape[:-2]:
            raise ArgumentError(f"ops.BatchMatMul: x {x.type} and y {y.type} need rank >= 3 and the same batch "
                                "dimensions (all but the last two); reshape or broadcast them to agree")
        batch = x.shape[:-2]
        xs, ys = reshape(x, shape=(-1,) + x.shape[-2:]), reshape(y, shape=(-1,) + y.shape[-2:])
        products = [super(BatchMatMul, self).compute(xs[i], ys[i]) for i in range(xs.shape[0])]
        result = stack(products, axis=0)
        return reshape(result, shape=batch + result.shape[1:])


class Squeeze(Primitive):
    """x without its size-1 axes, or without the ones in axis (each must have size 1)."""
    inputs = ("input_x",)

    def __init__(self, axis=()):
        if not isinstance(axis, (int, tuple, list)) or isinstance(axis, bool):
            raise self._bad("axis", axis, "an int or a tuple of ints")
        self.axis = axis

    def compute(self, x):
        return squeeze(x, self.axis)


class _AlongAxis(Primitive):
    """A primitive whose one attribute is an int axis."""

    def __init__(self, axis: int = 0):
        self.axis = self._int("axis", axis)


class Concat(_AlongAxis):
    """The tensors of a tuple joined along axis."""
    inputs = ("input_x",)

    def compute(self, tensors):
        return concat(tensors, self.axis)


class Stack(_AlongAxis):
    """The tensors of a tuple (one shape) joined along a new axis."""
    inputs = ("input_x",)

    def compute(self, tensors):
        return stack(tensors, self.axis)


class Softmax(_AlongAxis):
    """exp(x) / sum(exp(x)) along axis."""
    inputs = ("logits",)

    def __init__(self, axis: int = -1):
        super().__init__(axis)

    def compute(self, x):
        return softmax(x, axis=self.axis)


class LogSoftmax(Softmax):
    """log(softmax(x)) along axis, computed stably."""

    def compute(self, x):
        return log_softmax(x, axis=self.axis)


class Split(Primitive):
    """x cut into output_num equal pieces along axis (a tuple); the axis must divide evenly."""
    inputs = ("input_x",)

    def __init__(self, axis: int = 0, output_num: int = 1):
        self.axis, self.output_num = self._int("axis", axis), self._int("output_num", output_num, minimum=1)

    def compute(self, x):
        return split(x, axis=self.axis, output_num=self.output_num)


class Argmax(Primitive):
    """The index of the first maximum along axis, int32."""
    inputs = ("input_x",)

    def __init__(self, axis: int = -1, output_type=int32):
        self.axis = self._int("axis", axis)
        if dtype_of(output_type) != int32:
            raise self._bad("output_type", output_type, "int32 (graphc's argmax gives int32)")

    def compute(self, x):
        return argmax(x, axis=self.axis)


class OneHot(Primitive):
    """Rows of depth values, on_value at each index and off_value elsewhere (the dtype of on_value)."""
    inputs = ("indices", "depth", "on_value", "off_value")

    def __init__(self, axis: int = -1):
        if self._int("axis", axis) != -1:
            raise self._bad("axis", axis, "-1 (graphc adds the one-hot axis last)")
        self.axis = axis

    def compute(self, indices, depth, on_value, off_value):
        dtype = getattr(on_value, "dtype", "f32")
        return one_hot(indices, depth=self._int("depth", depth, minimum=1), on_value=float(on_value),
                       off_value=float(off_value), dtype=dtype)


class BroadcastTo(Primitive):
    """x repeated along its size-1 (or missing leading) axes to shape."""
    inputs = ("input_x",)

    def __init__(self, shape):
        if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) for d in shape):
            raise self._bad("shape", shape, "a tuple of ints")
        self.shape = tuple(shape)

    def compute(self, x):
        return broadcast_to(x, shape=self.shape)


class SparseSoftmaxCrossEntropyWithLogits(Primitive):
    """The mean over the batch of -log softmax(logits)[label] (logits [N, C], int labels [N]); with
    is_grad, its gradient with respect to the logits, (softmax - one_hot) / N."""
    inputs = ("logits", "labels")

    def __init__(self, is_grad: bool = False):
        self.is_grad = self._bool("is_grad", is_grad)

    def compute(self, logits, labels):
        if self.is_grad:
            return sparse_softmax_cross_entropy_grad(logits, labels) / float(logits.shape[0])
        return reduce_mean(sparse_softmax_cross_entropy(logits, labels))


class SoftmaxCrossEntropyWithLogits(Primitive):
    """(loss, dlogits) for logits [N, C] and one-hot (or soft) labels [N, C] of the same dtype:
    loss[n] = -sum_c labels[n, c] log softmax(logits)[n, c], and dlogits = softmax(logits) - labels,
    the gradient of loss.sum() (not divided by N)."""
    inputs = ("logits", "labels")

    def compute(self, logits, labels):
        if logits.ndim != 2 or labels.type != logits.type:
            raise ArgumentError(f"ops.SoftmaxCrossEntropyWithLogits: logits {logits.type} and labels {labels.type} "
                                "must both be [N, C] with the same shape and dtype; for int class indices use "
                                "ops.SparseSoftmaxCrossEntropyWithLogits or ops.OneHot first")
        loss = -reduce_sum(labels * log_softmax(logits, axis=-1), axis=-1)
        return loss, softmax(logits, axis=-1) - labels


# -- convolution, pooling, padding, bias ------------------------------------------------------------------------
class Conv2D(Primitive):
    """2-D convolution of x [N, C_in, H, W] with weight [out_channel, C_in / group, kh, kw] (NCHW).
    out_channel and kernel_size must describe the weight; pad (an int or (top, bottom, left, right))
    only with pad_mode='pad'. mode is MindSpore's unused convolution mode and must be 1."""
    inputs = ("x", "weight")

    def __init__(self, out_channel, kernel_size, mode=1, pad_mode="valid", pad=0, stride=1, dilation=1, group=1,
                 data_format="NCHW"):
        self.out_channel = self._int("out_channel", out_channel, minimum=1)
        self.kernel_size = self._pair("kernel_size", kernel_size)
        if self._int("mode", mode) != 1:
            raise self._bad("mode", mode, "1 (MindSpore's only convolution mode)")
        self.pad_mode = self._choice("pad_mode", pad_mode, ("valid", "same", "pad"))
        self.pad = self._padding(pad)
        self.stride, self.dilation = self._pair("stride", stride, True), self._pair("dilation", dilation, True)
        self.group = self._int("group", group, minimum=1)
        self._nchw(data_format)

    def _padding(self, pad) -> tuple[int, int, int, int]:
        pads = (pad,) * 4 if isinstance(pad, numbers.Integral) else pad
        if (not isinstance(pads, (tuple, list)) or len(pads) != 4
                or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0 for p in pads)):
            raise self._bad("pad", pad, "an int >= 0 or 4 of them (top, bottom, left, right)")
        if self.pad_mode != "pad" and any(pads):
            raise self._bad("pad", pad, f"0 with pad_mode={self.pad_mode!r}, which pads by itself; to pad explicitly "
                                        "set pad_mode='pad'")
        return tuple(int(p) for p in pads)

    def compute(self, x, weight):
        if weight.ndim != 4 or weight.shape[0] != self.out_channel or weight.shape[2:] != self.kernel_size:
            kh, kw = self.kernel_size
            fix = (f"build ops.Conv2D({weight.shape[0]}, {weight.shape[2:]}, ...) for this weight" if weight.ndim == 4
                   else "pass a 4-D weight")
            raise ArgumentError(f"ops.Conv2D: the weight is {weight.type} but the primitive was built with "
                                f"out_channel={self.out_channel} and kernel_size={self.kernel_size}, which expect a "
                                f"weight [{self.out_channel}, C_in / group, {kh}, {kw}]; {fix}")
        return conv2d(x, weight, stride=self.stride, pad_mode=self.pad_mode, padding=self.pad,
                      dilation=self.dilation, group=self.group)


class _Pool(Primitive):
    """A pooling window over x [N, C, H, W]: kernel_size and strides (ints or pairs), pad_mode
    'valid' (no padding) or 'same' (ceil(H / stride) outputs)."""
    inputs = ("x",)
    op = None

    def __init__(self, kernel_size=1, strides=1, pad_mode="valid", data_format="NCHW"):
        self.kernel_size, self.strides = self._pair("kernel_size", kernel_size), self._pair("strides", strides)
        self.pad_mode = self._choice("pad_mode", pad_mode, ("valid", "same"))
        self._nchw(data_format)

    def compute(self, x):
        return self.op(x, kernel_size=self.kernel_size, stride=self.strides, pad_mode=self.pad_mode)


class MaxPool(_Pool):
    """The maximum of each window."""
    op = max_pool2d


class AvgPool(_Pool):
    """The mean of each window (of its elements inside the input, with pad_mode='same')."""
    op = avg_pool2d


class Pad(Primitive):
    """x surrounded by zeros: paddings holds one (before, after) pair of ints >= 0 per axis of x."""
    inputs = ("input_x",)

    def __init__(self, paddings):
        if not isinstance(paddings, (tuple, list)) or not all(
                isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in pair)
                for pair in paddings):
            raise self._bad("paddings", paddings, "a tuple of (before, after) pairs of ints >= 0, one per axis, e.g. "
                                                  "((0, 0), (0, 0), (1, 1), (2, 2)) for the H and W of NCHW")
        self.paddings = tuple((int(a), int(b)) for a, b in paddings)

    def compute(self, x):
        if len(self.paddings) != x.ndim:
            raise ArgumentError(f"ops.Pad: paddings has {len(self.paddings)} (before, after) pair(s) but the input is "
                                f"{x.type}; give one pair per axis")
        return pad_op(x, paddings=self.paddings)


class BiasAdd(Primitive):
    """input_x + bias, the 1-D bias added along the channel axis (axis 1 for 'NCHW', the last for 'NHWC')."""
    inputs = ("input_x", "bias")

    def __init__(self, data_format="NCHW"):
        if data_format not in ("NCHW", "NHWC"):
            raise self._bad("data_format", data_format, "'NCHW' or 'NHWC'")
        self.data_format = data_format

    def compute(self, x, bias):
        axis = 1 if self.data_format == "NCHW" else x.ndim - 1
        if x.ndim < 2 or bias.ndim != 1 or bias.shape[0] != x.shape[axis]:
            raise ArgumentError(f"ops.BiasAdd: input_x {x.type} and bias {bias.type} do not fit: a {self.data_format} "
                                "input of rank >= 2 takes a 1-D bias with one value per channel (its axis "
                                f"{axis if x.ndim >= 2 else 1}); make the bias that long or fix data_format")
        return ew.add(x, reshape(bias, shape=tuple(-1 if i == axis else 1 for i in range(x.ndim))))


PRIMITIVES = sorted(name for name, value in globals().items()
                    if isinstance(value, type) and issubclass(value, Primitive) and not name.startswith("_")
                    and value is not Primitive)
__all__ = ["Primitive", "assign", "depend", "expand_dims", "squeeze", *PRIMITIVES]
