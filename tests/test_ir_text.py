"""The IR text format (docs/ir.md): exact print/parse round trips, attribute edge cases, parse errors."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import graphc
from graphc import nn, ops
from graphc.passes.autodiff import expand_gradients
from graphc.ir import Graph
from graphc.ir.text import ParseError, format_value, parse_attrs, parse_graph, print_graph
from graphc.ir.verify import verify
from graphc.jit import trace
from graphc.models import lenet
from graphc.types import DTYPES, TensorType, float32

HAND_WRITTEN = """\
graph @step {
  %0: f32[4,3] = input() {name='x', index=0}
  %1: i32[4] = input() {name='labels', index=1}
  %2: f32[3,2] = param() {name='fc.weight'}  # scope=net.fc loc=model.py:12
  %3: f32[4,2] = matmul(%0, %2) {transpose_a=False, transpose_b=False}  # scope=net.fc loc=model.py:12
  %4: f32[4,2] = one_hot(%1) {depth=2, on_value=1.0, off_value=-0.0, axis=-1, dtype=f32}  # scope=net loc="my model.py:14"
  %5: f32[4,2] = mul(%3, %4)  # scope=net loc="my model.py:14"
  %6: f32[] = reduce_sum(%5) {axis=None, keep_dims=False}  # loc="my model.py:15"
  %7: f32[] = const() {value=array(1.0, f32)}
  %8: f32[3,2] = grad(%6, %7, %2)  # loc="my model.py:16"
  %9: f32[] = const() {value=array(0.009999999776482582, f32)}
  %10: f32[3,2] = mul(%9, %8)
  %11: f32[3,2] = sub(%2, %10)  # scope=Gradients/net.fc grad_of=%3
  %12: f32[3,2] = assign(%2, %11)
  return %6, %12
}"""


def roundtrip(text: str) -> str:
    return print_graph(parse_graph(text))


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(1)
        self.w1 = graphc.Parameter(rng.standard_normal((6, 5)).astype(np.float32), name="fc1.weight")
        self.w2 = graphc.Parameter(rng.standard_normal((5, 3)).astype(np.float32), name="fc2.weight")

    def construct(self, x):
        return ops.matmul(ops.relu(ops.matmul(x, self.w1)), self.w2)


def mlp_train_graph() -> Graph:
    net = MLP()

    def loss(x):
        return ops.reduce_mean(net(x) * 2.0)

    def step(x):
        value, grads = graphc.value_and_grad(loss, None, [net.w1, net.w2])(x)
        for weight, grad in zip([net.w1, net.w2], grads):
            ops.assign(weight, weight - 0.5 * grad)
        return value

    return trace(step, (np.zeros((4, 6), np.float32),), name="mlp_step").graph


# -- round trips -------------------------------------------------------------------------------------
def test_hand_written_ir_prints_back_exactly():
    graph = parse_graph(HAND_WRITTEN)
    assert print_graph(graph) == HAND_WRITTEN
    verify(graph)


def test_parsed_nodes_carry_what_the_text_says():
    graph = parse_graph(HAND_WRITTEN)
    one_hot = graph.nodes[4]
    assert one_hot.op == "one_hot" and [i.id for i in one_hot.inputs] == [1]
    assert one_hot.scope == "net" and one_hot.loc == "my model.py:14"
    assert math.copysign(1.0, one_hot.attrs["off_value"]) == -1.0
    assert graph.nodes[0].attrs["type"] == TensorType((4, 3), float32)   # restored from the node type
    assert graph.nodes[11].meta == {"grad_of": 3}
    assert [o.id for o in graph.outputs] == [6, 12]


def test_comments_and_blank_lines_are_ignored():
    commented = HAND_WRITTEN.replace("  %7:", "\n  // the seed of the gradient\n  %7:")
    assert roundtrip(commented) == HAND_WRITTEN


def test_traced_mlp_round_trips_before_and_after_autodiff():
    graph = mlp_train_graph()
    traced = print_graph(graph)
    assert "= grad(" in traced and "= assign(" in traced
    assert roundtrip(traced) == traced
    expand_gradients(graph)
    expanded = print_graph(graph)
    assert "grad_of=%" in expanded and "= grad(" not in expanded
    assert roundtrip(expanded) == expanded
    verify(parse_graph(expanded))


def test_traced_lenet_round_trips():
    text = print_graph(trace(lenet(), (np.zeros((32, 1, 32, 32), np.float32),), name="lenet").graph)
    assert "conv2d(" in text and "max_pool2d(" in text
    assert roundtrip(text) == text


def test_an_empty_graph_round_trips():
    assert roundtrip("graph @nothing {\n  return\n}") == "graph @nothing {\n  return\n}"


# -- attribute values ----------------------------------------------------------------------------------
def reparse(value):
    return parse_attrs(f"v={format_value(value)}")["v"]


@pytest.mark.parametrize("value, text", [
    (-0.0, "-0.0"), (0.0, "0.0"), (math.inf, "inf"), (-math.inf, "-inf"), (1e-300, "1e-300"),
    ((), "()"), ((1,), "(1,)"), ((1, (2, (3,)), ()), "(1, (2, (3,)), ())"), ([4, 5], "(4, 5)"),
    ("it's \"quoted\"", "'it\\'s \"quoted\"'"), ("# not a comment", "'# not a comment'"), ("", "''"),
    (None, "None"), (True, "True"), (-7, "-7"), (float32, "f32"),
    (TensorType((2, 3), float32), "type('f32[2,3]')"),
])
def test_attribute_values_print_as_documented_and_parse_back(value, text):
    assert format_value(value) == text
    parsed = reparse(value)
    assert format_value(parsed) == text
    assert parsed == (tuple(value) if isinstance(value, list) else value)
    if isinstance(value, float):
        assert math.copysign(1.0, parsed) == math.copysign(1.0, value)


def test_nan_prints_as_nan_and_parses_back():
    assert format_value(math.nan) == "nan"
    assert math.isnan(reparse(math.nan))


def test_a_string_with_a_comment_marker_survives_in_a_node():
    text = "graph @g {\n  %0: f32[2] = input() {name='a  # b', index=0}  # scope=\"s  # t\"\n  return %0\n}"
    graph = parse_graph(text)
    assert graph.nodes[0].attrs["name"] == "a  # b" and graph.nodes[0].scope == "s  # t"
    assert print_graph(graph) == text


def _array_samples(dtype):
    rng = np.random.default_rng(7)
    if dtype.is_float:
        info = np.finfo(dtype.np)
        special = np.array([-0.0, np.inf, -np.inf, np.nan, info.max, info.tiny, info.smallest_subnormal, 0.1])
        return [special.astype(dtype.np), rng.standard_normal((2, 3, 4)).astype(dtype.np)]
    if dtype.np is np.bool_:
        return [rng.random((3, 5)) > 0.5]
    info = np.iinfo(dtype.np)
    return [np.array([info.min, -1, 0, 1, info.max], dtype.np), rng.integers(-9, 9, (2, 2, 2)).astype(dtype.np)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.short)
def test_const_arrays_of_every_dtype_and_rank_round_trip(dtype):
    arrays = _array_samples(dtype) + [np.array(_array_samples(dtype)[0].flat[1]),   # 0-d
                                      np.zeros((0, 3), dtype.np), np.zeros((2, 0), dtype.np)]
    graph = Graph("consts")
    for array in arrays:
        graph.add("const", (), ops.const.check_attrs({"value": array}), TensorType(array.shape, dtype))
    graph.outputs = list(graph.nodes.values())
    text = print_graph(graph)
    parsed = parse_graph(text)
    assert print_graph(parsed) == text
    for array, node in zip(arrays, parsed.order()):
        value = node.attrs["value"]
        assert value.dtype == array.dtype and value.shape == array.shape
        assert np.array_equal(value, array, equal_nan=dtype.is_float)
        if dtype.is_float:
            assert np.array_equal(np.signbit(value), np.signbit(array))


_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats() | st.text(max_size=8)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=8)


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return isinstance(b, float) and (math.isnan(a) and math.isnan(b) or repr(a) == repr(b))
    return type(a) is type(b) and a == b


@given(_values)
def test_any_attribute_value_round_trips(value):
    assert _same(reparse(value), value)


# -- errors ----------------------------------------------------------------------------------------------
def _one_node(line: str) -> str:
    return f"graph @g {{\n  %0: f32[2] = input() {{name='x', index=0}}\n  {line}\n  return %0\n}}"


@pytest.mark.parametrize("text, line_no, message", [
    ("", 1, "expected 'graph @name {'"),
    ("graph g {\n}", 1, "expected 'graph @name {'"),
    (_one_node("%1: f32[2] = frobnicate(%0)"), 3, "unknown op 'frobnicate'"),
    (_one_node("%1: f32[2] = neg(%7)"), 3, "unknown value '%7'"),
    (_one_node("%0: f32[2] = neg(%0)"), 3, "already exists"),
    (_one_node("%1: f32[2] = neg(%0) {axis=}"), 3, "invalid syntax"),
    (_one_node("%1: f32[2] = neg(%0) {alpha=1}"), 3, "unknown attribute(s) alpha"),
    (_one_node("%1: f32[2] = cast(%0) {dtype=float16}"), 3, "unknown name 'float16'"),
    (_one_node("%1: f32[2] = neg(%0) {"), 3, "unbalanced"),
    (_one_node("%1: f32[2] = neg(%0) junk"), 3, "unexpected text after operands"),
    (_one_node("%1: f32[2] = neg(%0)  # colour=red"), 3, "unknown note(s) colour"),
    (_one_node("%1: f32[2] = neg(%0)  # grad_of=0"), 3, "grad_of must name a value"),
    (_one_node("%1: f32[2] = neg(%0)  # just words"), 3, "notes must be key=value words"),
    (_one_node("%1: f33[2] = neg(%0)"), 3, "unsupported dtype"),
    (_one_node("%1 f32[2] = neg(%0)"), 3, "expected '%N: type = op(operands)"),
    (_one_node("return %x"), 3, "unknown value '%x'"),
    ("graph @g {\n  %0: f32[2] = input() {name='x', index=0}\n  return %0", 3, "missing closing '}'"),
    ("graph @g {\n  return\n}\ngraph @h {\n}", 4, "unexpected text after the closing '}'"),
])
def test_parse_errors_name_the_line(text, line_no, message):
    with pytest.raises(ParseError) as error:
        parse_graph(text)
    assert str(error.value).startswith(f"line {line_no}: ")
    assert message in str(error.value)
