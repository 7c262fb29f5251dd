"""The op registry and MindSpore's `ops` namespace. Every op is an `Op` (see core.py) and is callable
on Tensors: `ops.relu(ops.matmul(x, w) + 1.0)` runs eagerly in PYNATIVE_MODE and records nodes when
traced. MindSpore's primitive classes (primitives.py) and 2.x functions (function/) are built on them."""
from .core import REGISTRY, Op, OpError, get, register
from .state import assign, const, grad, input, param
from .shaping import cast, one_hot, reshape, transpose
from .reduction import argmax, broadcast_to, reduce_max, reduce_mean, reduce_sum, unbroadcast
from .elementwise import (abs, add, div, eq, equal, exp, floor_div, floor_mod, ge, greater, greater_equal, gt, le,
                          less, less_equal, log, lt, maximum, minimum, mul, ne, neg, not_equal, pow, relu, relu_grad,
                          rsqrt, select, sigmoid, sign, sqrt, stop_gradient, sub, tanh, where)
from .linalg import matmul
from .nn import *  # noqa: F401,F403  (conv2d, pooling, softmax, cross-entropy and their gradients)
from .activation import *  # noqa: F401,F403  (relu6, leaky_relu, gelu, hswish, hsigmoid, silu, erf)
from .random import dropout, philox4x32_10  # noqa: F401
from .pad import pad  # noqa: F401
from .normalization import batch_stats, channel_affine, channel_row, channel_sums  # noqa: F401
from .indexing import *  # noqa: F401,F403  (strided_slice, pack, gather, their gradients, getitem)
from .join import concat, split, stack
from .collective import allreduce
from .primitives import *  # noqa: F401,F403  (MindSpore's primitive classes: Abs, ReduceMean, MatMul, ...)
from .summary import HistogramSummary, ImageSummary, ScalarSummary, TensorSummary  # noqa: F401
# MindSpore's functions come last: where one shares its name with an op (reshape, argmax, gather, ...),
# `ops.<name>` is the function, with MindSpore's signature, and the op stays `ops.get(name)`
from .function import *  # noqa: F401,F403  (ops.mean, ops.sum, ops.max, ops.zeros, ops.interpolate, ...)
from ..faces import lookup as _lookup

# operations (P), functional (F), composite (C) on first use; an error naming MindSpore's APIs graphc lacks
__getattr__ = _lookup(__name__)
