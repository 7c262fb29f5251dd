"""One converter per graphc op: the ONNX nodes (opset onnx_model.OPSET) that compute it.

A converter is `fn(builder, node, *operand_names) -> output name`; it reads the node's attrs and
types and adds nodes and constants through the Builder. An op missing from CONVERTERS cannot be
exported (onnx_model.py names it and the user's line). docs/export.md has the table.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.nn import conv_padding
from ..ops.reduction import normalize_axes


class Builder:
    """The ONNX nodes and constants of a model being built, each value named once."""

    def __init__(self):
        from onnx import helper, numpy_helper
        self._helper, self._numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []

    def add(self, op_type: str, inputs: list[str], node, **attrs) -> str:
        """A node of `op_type`, named after the graphc node it helps compute (%id)."""
        out = f"n{node.id}_{op_type}_{len(self.nodes)}"
        self.nodes.append(self._helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def constant(self, array: np.ndarray, name: str) -> str:
        self.initializers.append(self._numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def scalar(self, value: float, node) -> str:
        """A scalar of the node's dtype (ONNX never promotes: Mul(f32, f64) is invalid)."""
        return self.constant(np.asarray(value, node.type.dtype.np), f"n{node.id}_c{len(self.initializers)}")

    def ints(self, values, node) -> str:
        return self.constant(np.asarray(values, np.int64), f"n{node.id}_i{len(self.initializers)}")


def _same(op_type: str):
    """Ops whose ONNX counterpart has the same operands and meaning (broadcasting as NumPy's)."""
    return lambda b, node, *names: b.add(op_type, list(names), node)


def _rsqrt(b, node, x):
    return b.add("Reciprocal", [b.add("Sqrt", [x], node)], node)


def _relu6(b, node, x):
    return b.add("Clip", [x, b.scalar(0.0, node), b.scalar(6.0, node)], node)


def _hsigmoid(b, node, x):
    return b.add("HardSigmoid", [x], node, alpha=1.0 / 6.0, beta=0.5)     # relu6(x + 3) / 6


def _silu(b, node, x):
    return b.add("Mul", [x, b.add("Sigmoid", [x], node)], node)


def _gelu(b, node, x):
    """Opset 17 has no Gelu (20 does): x · Φ(x), with Φ from Erf or from tanh as graphc's gelu."""
    half = b.add("Mul", [x, b.scalar(0.5, node)], node)
    if node.attrs["approximate"]:
        cube = b.add("Mul", [b.add("Mul", [x, x], node), x], node)
        inner = b.add("Add", [x, b.add("Mul", [cube, b.scalar(0.044715, node)], node)], node)
        core = b.add("Tanh", [b.add("Mul", [inner, b.scalar(math.sqrt(2 / math.pi), node)], node)], node)
    else:
        core = b.add("Erf", [b.add("Mul", [x, b.scalar(1 / math.sqrt(2), node)], node)], node)
    return b.add("Mul", [half, b.add("Add", [core, b.scalar(1.0, node)], node)], node)


def _leaky_relu(b, node, x):
    return b.add("LeakyRelu", [x], node, alpha=node.attrs["alpha"])


def _not_equal(b, node, x, y):
    return b.add("Not", [b.add("Equal", [x, y], node)], node)


def _channel_affine(b, node, x, scale, shift):
    return b.add("Add", [b.add("Mul", [x, scale], node), shift], node)


def _onnx_pads(node, kernel_hw) -> list[int]:
    """graphc's (top, bottom, left, right), 'same' resolved, as ONNX's [top, left, bottom, right]."""
    top, bottom, left, right = conv_padding(node.attrs, node.inputs[0].type.shape[2:], kernel_hw)
    return [top, left, bottom, right]


def _conv2d(b, node, x, w):
    kernel = node.inputs[1].type.shape[2:]
    return b.add("Conv", [x, w], node, kernel_shape=list(kernel), strides=list(node.attrs["stride"]),
                 dilations=list(node.attrs["dilation"]), group=node.attrs["group"], pads=_onnx_pads(node, kernel))


def _matmul(b, node, a, w):
    return b.add("Gemm", [a, w], node, transA=int(node.attrs["transpose_a"]), transB=int(node.attrs["transpose_b"]))


def _max_pool2d(b, node, x):
    kernel = node.attrs["kernel_size"]      # ONNX pads a max pool with -inf, as graphc's 'same'
    return b.add("MaxPool", [x], node, kernel_shape=list(kernel), strides=list(node.attrs["stride"]),
                 pads=_onnx_pads(node, kernel))


def _avg_pool2d(b, node, x):
    kernel = node.attrs["kernel_size"]      # graphc's 'same' divides by the real elements only
    return b.add("AveragePool", [x], node, kernel_shape=list(kernel), strides=list(node.attrs["stride"]),
                 pads=_onnx_pads(node, kernel), count_include_pad=0)


def _axes(node) -> list[int]:
    return list(normalize_axes(node.attrs["axis"], node.inputs[0].type.ndim))


def _reduce_sum(b, node, x):
    # ReduceSum takes its axes as an input from opset 13, ReduceMean and ReduceMax from 18
    return b.add("ReduceSum", [x, b.ints(_axes(node), node)], node, keepdims=int(node.attrs["keep_dims"]))


def _reduce_attr(op_type: str):
    return lambda b, node, x: b.add(op_type, [x], node, axes=_axes(node), keepdims=int(node.attrs["keep_dims"]))


def _argmax(b, node, x):
    index = b.add("ArgMax", [x], node, axis=_axes(node)[0], keepdims=0)
    return b.add("Cast", [index], node, to=onnx_dtype(node.type.dtype))       # ONNX's is int64, graphc's int32


def _softmax(op_type: str):
    return lambda b, node, x: b.add(op_type, [x], node, axis=node.attrs["axis"])


def _reshape(b, node, x):
    return b.add("Reshape", [x, b.ints(node.type.shape, node)], node)        # the result shape, -1 resolved


def _broadcast_to(b, node, x):
    return b.add("Expand", [x, b.ints(node.type.shape, node)], node)


def _transpose(b, node, x):
    return b.add("Transpose", [x], node, perm=list(node.attrs["perm"]))


def _cast(b, node, x):
    return b.add("Cast", [x], node, to=onnx_dtype(node.attrs["dtype"]))


def _concat(b, node, *tensors):
    return b.add("Concat", list(tensors), node, axis=node.attrs["axis"])


def _pad(b, node, x):
    before, after = zip(*node.attrs["paddings"])
    return b.add("Pad", [x, b.ints(before + after, node), b.scalar(node.attrs["value"], node)], node)


def _strided_slice(b, node, x):
    begin, end, strides = node.attrs["begin"], node.attrs["end"], node.attrs["strides"]
    return b.add("Slice", [x, b.ints(begin, node), b.ints(end, node), b.ints(range(len(begin)), node),
                           b.ints(strides, node)], node)


def _gather(b, node, x, indices):
    return b.add("Gather", [x, indices], node, axis=node.attrs["axis"])


def onnx_dtype(dtype) -> int:
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype.np))


CONVERTERS = {
    **{op: _same(op_type) for op, op_type in {
        "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "maximum": "Max", "minimum": "Min", "pow": "Pow",
        "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "sign": "Sign", "relu": "Relu",
        "sigmoid": "Sigmoid", "tanh": "Tanh", "sin": "Sin", "cos": "Cos", "floor": "Floor", "erf": "Erf",
        "hswish": "HardSwish", "eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater",
        "ge": "GreaterOrEqual", "select": "Where", "stop_gradient": "Identity", "summary": "Identity"}.items()},
    "rsqrt": _rsqrt, "relu6": _relu6, "hsigmoid": _hsigmoid, "silu": _silu, "gelu": _gelu, "leaky_relu": _leaky_relu,
    "ne": _not_equal, "channel_affine": _channel_affine, "conv2d": _conv2d, "matmul": _matmul,
    "max_pool2d": _max_pool2d, "avg_pool2d": _avg_pool2d, "reduce_sum": _reduce_sum,
    "reduce_mean": _reduce_attr("ReduceMean"), "reduce_max": _reduce_attr("ReduceMax"), "argmax": _argmax,
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"), "reshape": _reshape,
    "broadcast_to": _broadcast_to, "transpose": _transpose, "cast": _cast, "concat": _concat, "pad": _pad,
    "strided_slice": _strided_slice, "gather": _gather,
}
