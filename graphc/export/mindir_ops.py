"""Which MindSpore primitive stands for which graphc ops, both ways (docs/export.md, MINDIR op coverage).

MindSpore 2.10 writes most primitives as PRIMITIVE_FUNCTION (every argument, attributes included,
is an input: MatMul(x, w, transpose_a, transpose_b)) and a few (Conv2D, MaxPool) as PRIMITIVE with
named attributes. `IMPORTS[op_type] = (argument names, build)`: the loader names the inputs by
position and merges in the primitive's attributes, and `build(b, args)` makes graphc nodes with the
loader's builder. `EXPORTS[graphc op] = emit(e, node, operands)` writes one node with the
exporter's emitter, the way MindSpore writes it, and returns the name of its value.
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphcError

NCHW = 0                                   # MindSpore's Format enum, as BiasAdd/AvgPool/BatchNorm take it
POOL_PAD_MODES = {0: "pad", 1: "same", 2: "valid"}      # MindSpore's PadMode enum
_UNARY = {"ReLU": "relu", "ReLU6": "relu6", "Rsqrt": "rsqrt", "Sqrt": "sqrt", "Exp": "exp", "Neg": "neg",
          "Sigmoid": "sigmoid", "Tanh": "tanh", "Abs": "abs", "Log": "log"}
_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "RealDiv": "div", "Div": "div", "Maximum": "maximum",
           "Minimum": "minimum"}


def _pair(value) -> tuple[int, int]:
    """MindSpore's 2- or 4-tuples (N and C first) or a single int, as (h, w)."""
    value = (value, value) if isinstance(value, int) else tuple(value)
    return value[-2:]


def _nchw(args, where_key="data_format"):
    fmt = args.get(where_key, args.get("format", NCHW))
    if fmt not in (NCHW, "NCHW"):
        raise GraphcError(f"data format {fmt!r}: graphc runs NCHW only; export the network with NCHW layout")


def _conv2d(b, a):
    _nchw(a)
    mode = a.get("pad_mode", "valid").lower()
    padding = tuple(a.get("pad_list", (0, 0, 0, 0))) if mode == "pad" else (0, 0, 0, 0)
    return b.op("conv2d", [a["x"], a["w"]], stride=_pair(a.get("stride", 1)), pad_mode=mode, padding=padding,
                dilation=_pair(a.get("dilation", 1)), group=int(a.get("group", 1)))


def _pool(op):
    def build(b, a):
        _nchw(a)
        mode = a.get("pad_mode", "valid")
        mode = POOL_PAD_MODES[mode] if isinstance(mode, int) else mode.lower()
        if mode == "pad":
            raise GraphcError(f"{op} with explicit padding: graphc pools with pad_mode 'valid' or 'same'")
        return b.op(op, [a["x"]], kernel_size=_pair(a["kernel_size"]), stride=_pair(a["strides"]), pad_mode=mode)
    return build


def _bias_add(b, a):
    _nchw(a)
    x, bias = a["x"], a["bias"]
    rank = len(x.type.shape)
    shaped = bias if rank <= 2 else b.op("reshape", [bias], shape=(1, -1) + (1,) * (rank - 2))
    return b.op("add", [x, shaped])


def _batch_norm(b, a):
    """Inference batch norm: (x - mean) / sqrt(var + eps) * gamma + beta, per channel (NCHW)."""
    _nchw(a)
    if a.get("is_training"):
        raise GraphcError("BatchNorm in training mode: an exported graph infers; export with net.set_train(False)")
    x, gamma, beta, mean, var = (a[k] for k in ("x", "scale", "bias", "mean", "variance"))
    scale = b.op("mul", [gamma, b.op("rsqrt", [b.op("add", [var, b.const(np.float32(a.get("epsilon", 1e-5)))])])])
    shift = b.op("sub", [beta, b.op("mul", [mean, scale])])
    shape = (1, -1) + (1,) * (len(x.type.shape) - 2)
    y = b.op("channel_affine", [x, b.op("reshape", [scale], shape=shape), b.op("reshape", [shift], shape=shape)])
    return (y, mean, var, mean, var)        # MindSpore's five outputs; inference reads the first


def _flatten(b, a):
    x = a["x"]
    return b.op("reshape", [x], shape=(x.type.shape[0], -1))


IMPORTS = {
    **{name: (("x",), lambda b, a, op=op: b.op(op, [a["x"]])) for name, op in _UNARY.items()},
    **{name: (("x", "y"), lambda b, a, op=op: b.op(op, [a["x"], a["y"]])) for name, op in _BINARY.items()},
    "Conv2D": (("x", "w"), _conv2d),
    "MaxPool": (("x", "kernel_size", "strides", "pad_mode", "data_format"), _pool("max_pool2d")),
    "AvgPool": (("x", "kernel_size", "strides", "pad_mode", "data_format"), _pool("avg_pool2d")),
    "BiasAdd": (("x", "bias", "data_format"), _bias_add),
    "BatchNorm": (("x", "scale", "bias", "mean", "variance", "is_training", "epsilon", "momentum", "data_format"),
                  _batch_norm),
    "MatMul": (("x", "w", "transpose_a", "transpose_b"),
               lambda b, a: b.op("matmul", [a["x"], a["w"]], transpose_a=bool(a.get("transpose_a", False)),
                                 transpose_b=bool(a.get("transpose_b", False)))),
    "Reshape": (("x", "shape"), lambda b, a: b.op("reshape", [a["x"]], shape=tuple(a["shape"]))),
    "Flatten": (("x",), _flatten),
    "Transpose": (("x", "perm"), lambda b, a: b.op("transpose", [a["x"]], perm=tuple(a["perm"]))),
    "ReduceMean": (("x", "axis", "keep_dims"),
                   lambda b, a: b.op("reduce_mean", [a["x"]], axis=_axes(a.get("axis", ())),
                                     keep_dims=bool(a.get("keep_dims", False)))),
}


def _axes(axis):
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return axis or None              # MindSpore's () means every axis


# -- export ------------------------------------------------------------------------------------
def _conv2d_out(e, node, x, w):
    a = node.attrs
    kh, kw = node.inputs[1].type.shape[2:]
    pads = _padding(a, node.inputs[0].type.shape[2:], (kh, kw))
    sh, sw = a["stride"]
    dh, dw = a["dilation"]
    return e.call("Conv2D", [x, w], primitive=True, attrs={
        "kernel_size": (kh, kw), "mode": 1, "out_channel": node.type.shape[1], "pad": pads, "pad_mode": "pad",
        "format": "NCHW", "pad_list": pads, "groups": a["group"], "stride": (1, 1, sh, sw), "group": a["group"],
        "dilation": (1, 1, dh, dw)})


def _padding(attrs, spatial, kernel) -> tuple[int, int, int, int]:
    """Explicit (top, bottom, left, right) padding for every pad_mode, so MindSpore pads exactly as graphc."""
    if attrs["pad_mode"] == "pad":
        return tuple(attrs["padding"])
    if attrs["pad_mode"] == "valid":
        return (0, 0, 0, 0)
    pads = []
    for size, k, s, d in zip(spatial, kernel, attrs["stride"], attrs["dilation"]):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def _max_pool(e, node, x):
    a = node.attrs
    return e.call("MaxPool", [x], primitive=True, attrs={
        "pad_mode": a["pad_mode"].upper(), "kernel_size": (1, 1, *a["kernel_size"]), "format": "NCHW",
        "strides": (1, 1, *a["stride"])})


def _avg_pool(e, node, x):
    a = node.attrs
    mode = {v: k for k, v in POOL_PAD_MODES.items()}[a["pad_mode"]]
    return e.call("AvgPool", [x, e.constant(tuple(a["kernel_size"])), e.constant(tuple(a["stride"])),
                              e.constant(mode), e.constant(NCHW)])


def _matmul(e, node, a, b):
    if len(node.type.shape) != 2:
        raise GraphcError(f"matmul of rank {len(node.type.shape)} ({node.type}): MINDIR export writes 2-D MatMul "
                          "only; reshape to 2-D around it")
    return e.call("MatMul", [a, b, e.constant(node.attrs["transpose_a"]), e.constant(node.attrs["transpose_b"])])


def _channel_affine(e, node, x, scale, shift):
    scaled = e.call("Mul", [x, scale], type=node.type)
    return e.call("Add", [scaled, shift])


def _reduce_mean(e, node, x):
    axis = node.attrs["axis"]
    axis = tuple(range(len(node.inputs[0].type.shape))) if axis is None else tuple(axis)
    return e.call("ReduceMean", [x, e.constant(axis), e.constant(node.attrs["keep_dims"])])


EXPORTS = {
    **{op: (lambda e, node, x, name=name: e.call(name, [x])) for name, op in _UNARY.items()},
    **{op: (lambda e, node, x, y, name=name: e.call(name, [x, y]))
       for name, op in _BINARY.items() if name != "Div"},
    "conv2d": _conv2d_out,
    "max_pool2d": _max_pool,
    "avg_pool2d": _avg_pool,
    "matmul": _matmul,
    "channel_affine": _channel_affine,
    "reshape": lambda e, node, x: e.call("Reshape", [x, e.constant(tuple(node.type.shape))]),
    "transpose": lambda e, node, x: e.call("Transpose", [x, e.constant(
        tuple(node.attrs["perm"] or reversed(range(len(node.type.shape)))))]),
    "reduce_mean": _reduce_mean,
}
