"""The four places where graphc gave other numbers than MindSpore 2.x without an error, and
load_param_into_net's return value, checked against values recorded from MindSpore 2.10
(tests/mindspore_semantics/record_reference.py wrote reference.json beside itself)."""
import json
from pathlib import Path

import numpy as np
import pytest

import graphc
import runtime
from graphc import Parameter, Tensor, nn, ops

REFERENCE = json.loads((Path(__file__).parent / "mindspore_semantics" / "reference.json").read_text())


def nested(value):
    if isinstance(value, (tuple, list)):
        return [nested(v) for v in value]
    return value.asnumpy().tolist()


# -- the gradient of a tuple output sums every output's gradient ---------------------------------------------------
def sum_and_vector(x):
    return (x * x).sum(), 3 * x


GRAD_CASES = {   # the functions of record_reference.py
    "sum_and_vector": (sum_and_vector, {}),
    "nested_tuple": (lambda x: (x * x, (x * 5, x.sum())), {}),
    "list": (lambda x: [x * x, 2 * x], {}),
    "two_inputs": (lambda x, y: (x * y, x + y), {"grad_position": (0, 1)}),
    "has_aux": (sum_and_vector, {"has_aux": True}),
}


@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
@pytest.mark.parametrize("case", GRAD_CASES)
def test_grad_of_a_tuple_output_is_mindspores(mode, case):
    graphc.set_context(mode=mode)
    fn, kwargs = GRAD_CASES[case]
    inputs = (Tensor(np.array(REFERENCE["grad"]["x"], np.float32)), Tensor(np.array(REFERENCE["grad"]["y"], np.float32)))
    assert nested(graphc.grad(fn, **kwargs)(*inputs[:fn.__code__.co_argcount])) == REFERENCE["grad"][case]


@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def test_value_and_grad_of_a_tuple_output_and_grad_operation(mode):
    graphc.set_context(mode=mode)
    x = Tensor(np.array(REFERENCE["grad"]["x"], np.float32))
    assert nested(graphc.value_and_grad(sum_and_vector)(x)) == REFERENCE["grad"]["value_and_grad"]
    assert nested(ops.GradOperation()(sum_and_vector)(x)) == REFERENCE["grad"]["sum_and_vector"]


def test_a_function_with_no_float_output_cannot_be_differentiated():
    with pytest.raises(graphc.GraphcError, match=r"must return a float Tensor .* got tuple\(i32\[2\]\)"):
        graphc.grad(lambda x: (ops.cast(x, dtype=graphc.int32),))(Tensor(np.ones(2, np.float32)))


# -- set_seed seeds NumPy's global generator -----------------------------------------------------------------------
def test_set_seed_seeds_numpys_global_generator():
    expected = REFERENCE["set_seed"]
    np.random.seed(12345)                 # whatever state NumPy was in, set_seed decides the next draws
    graphc.set_seed(expected["seed"])
    assert np.random.normal(size=3).tolist() == expected["normal_3"]
    assert np.random.rand() == expected["rand"]
    assert graphc.get_seed() == expected["seed"]


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("1", TypeError)])
def test_set_seed_refuses_what_mindspore_refuses(seed, error):
    with pytest.raises(error, match="set_seed: seed must be"):
        graphc.set_seed(seed)
