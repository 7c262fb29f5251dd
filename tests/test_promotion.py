"""Implicit dtype promotion against the table MindSpore 2.10 gave (tests/mindspore_reference/): for every
pair of dtypes, and a tensor with a Python bool, int or float on either side, the result dtype of
`+ - * / maximum < % //`, traced and eager; and the issue's case, a float64 Parameter times a float32
input, in both modes with its gradient."""
import numpy as np
import pytest

import graphc
from graphc import Parameter, Tensor, ops
from graphc.jit import trace
from graphc.types import bool_, float32, float64, int32, int64, promote_types
from ms_reference import graphc_dtype, in_mode, recorded, tensor

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")    # the samples divide by zero (False)

OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "maximum": ops.maximum, "lt": lambda a, b: a < b, "mod": lambda a, b: a % b, "floordiv": lambda a, b: a // b}
SAMPLE = {"bool": [True, False], "int32": [3, 4], "int64": [3, 4], "float32": [1.5, 2.5], "float64": [1.5, 2.5]}
SCALARS = {"True": True, "2": 2, "2.5": 2.5}
BOOLS = {"bool", "True"}
# Not compared: where MindSpore 2.10 raises, and where graphc refuses bools that MindSpore computes with
# (a bool minus or floor-divided by a bool; NumPy refuses them as well).
ROWS = [row for row in recorded("layers")["promotion"]
        if row["dtype"] != "error" and not (row["op"] in ("sub", "floordiv") and {row["a"], row["b"]} <= BOOLS)]


def operand(name):
    return SCALARS[name] if name in SCALARS else tensor(SAMPLE[name], name)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['a']}-{r['op']}-{r['b']}" for r in ROWS])
def test_result_dtype_is_mindsporess_eager_and_traced(row):
    a, b, f = operand(row["a"]), operand(row["b"]), OPS[row["op"]]
    want = graphc_dtype(row["dtype"])
    assert f(a, b).dtype == want
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        traced = trace(f, (a, b))
    else:           # the scalar stays a Python value while the tensor is traced
        traced = trace(lambda x: f(x, b) if isinstance(a, Tensor) else f(a, x), (a if isinstance(a, Tensor) else b,))
    assert traced.graph.outputs[0].type.dtype == want


@pytest.mark.parametrize("dtypes, scalars, want", [
    ((float32, float64), (), float64), ((int32, float32), (), float32), ((int64, float32), (), float32),
    ((int32, int64), (), int64), ((bool_, int32), (), int32), ((int32,), (1,), int32), ((int32,), (2,), float32),
    ((float32,), (1,), float32), ((float64,), (2,), float64), ((bool_,), (1,), int64), ((bool_,), (0,), bool_),
    ((), (1,), int64), ((), (2,), float32)])
def test_the_rule(dtypes, scalars, want):
    """promote_types(tensor dtypes, scalar kinds: 0 bool, 1 int, 2 float), as the table above measures."""
    assert promote_types(dtypes, scalars) == want


@pytest.mark.parametrize("mode", [graphc.PYNATIVE_MODE, graphc.GRAPH_MODE], ids=["pynative", "graph"])
def test_a_float64_parameter_times_a_float32_input_computes_in_float64(mode):
    scale = Parameter(np.array([6.0]), name="scale")
    x = Tensor(np.array([0.5, 1.25], np.float32))
    out = in_mode(mode, lambda x: scale * x, x)
    assert out.dtype == float64
    np.testing.assert_array_equal(out.asnumpy(), [3.0, 7.5])
    gradient = in_mode(mode, graphc.grad(lambda s, x: (s * x).sum()), Tensor(np.array([6.0])), x)
    assert gradient.dtype == float64
    np.testing.assert_array_equal(gradient.asnumpy(), [1.75])


def test_an_int_tensor_times_a_python_float_is_float32_not_truncated():
    """Before promotion the 0.5 took the tensor's int32 and became 0."""
    out = Tensor(np.array([3, 5], np.int32)) * 0.5
    assert out.dtype == float32
    np.testing.assert_array_equal(out.asnumpy(), [1.5, 2.5])


def test_bools_graphc_refuses_are_refused_clearly():
    flags = Tensor(np.array([True, False]))
    with pytest.raises(graphc.GraphcError, match="floor_div needs int or float operands, got bool"):
        flags // flags


def test_a_traced_promotion_is_a_cast_node_the_gradient_flows_through():
    traced = trace(lambda x, w: ops.reduce_sum(x * w), (np.ones(3, np.float32), np.ones(3, np.float64)))
    casts = [n for n in traced.graph.nodes.values() if n.op == "cast"]
    assert len(casts) == 1 and casts[0].type.dtype == float64
