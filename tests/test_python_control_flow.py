"""Python `if`/`elif`/`else`, `while` and `for` over tensors in GRAPH_MODE (graphc/autograph.py): they
compile to cond, while and scan nodes, Python values keep Python's meaning (loops over them unroll),
results equal PYNATIVE_MODE (the same code run eagerly), gradients equal finite differences, and
what cannot be compiled is an error at the user's line that says what to change."""
import inspect

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.autograph import convert
from graphc.errors import GraphcError
from graphc.jit import trace

from gradcheck import check_vjp
import python_control_flow_programs as programs

programs.use(graphc)

SOURCE = inspect.getsource(inspect.getmodule(inspect.currentframe())).splitlines()
SCALE = 0.5          # a global read inside a rewritten branch


def line_of(marker: str) -> int:
    """The line of this file that ends with `# <marker>`."""
    [line] = [i + 1 for i, text in enumerate(SOURCE) if text.rstrip().endswith(f"# {marker}")]
    return line


def f32(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def ops_of(graph, op: str) -> list:
    """The nodes of `op` in graph and in every region below it."""
    found = []
    for node in graph:
        found += [node] if node.op == op else []
        for value in node.attrs.values():
            if isinstance(value, graphc.ir.Graph):
                found += ops_of(value, op)
    return found


def in_both_modes(fn, *args):
    """fn(*args) in GRAPH_MODE, then in PYNATIVE_MODE: the two results as NumPy arrays."""
    results = []
    for mode in (graphc.GRAPH_MODE, graphc.PYNATIVE_MODE):
        graphc.set_context(mode=mode)
        out = fn(*args)
        results.append([o.asnumpy() for o in (out if isinstance(out, tuple) else (out,))])
    return results


class Branches(nn.Cell):
    """if/elif/else on tensor conditions, one nested in a branch, reading self, a closure and a global."""

    def __init__(self):
        super().__init__()
        self.w = graphc.Parameter(np.full((3,), 2.0, np.float32), name="w")
        self.negate = False

    def construct(self, x):
        total = x.sum()
        if total > 1:
            y = x * self.w
            if x[0] > 0:
                y = y + 1
        elif total > -1:
            y = x * SCALE
        else:
            y = -x
            unused = y * 3      # assigned in one branch only, not read after: no error
        if self.negate:         # a Python bool: stays Python's `if`
            y = -y
        return y


@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [0.1, 0.2, -0.1], [-2.0, -1.0, -1.0]])
def test_if_elif_else_on_tensors_equals_pynative(values):
    graph_result, eager_result = in_both_modes(Branches(), Tensor(np.array(values, np.float32)))
    np.testing.assert_allclose(graph_result[0], eager_result[0], rtol=1e-6)


def test_a_tensor_if_is_a_cond_node_and_a_python_if_is_not():
    net = Branches()
    graph = graphc.jit(net).lower(f32(3)).graph
    assert len(graph.of_op("cond")) == 1           # the if on total; elif and the nested if are in its regions
    assert len(ops_of(graph, "cond")) == 3
    assert len(ops_of(graph, "neg")) == 1          # self.negate is False: the Python if left no node
    net.negate = True
    assert len(ops_of(graphc.jit(net).lower(f32(3)).graph, "neg")) == 2


# tests/python_control_flow_programs.py on its inputs, recorded on MindSpore 2.10 (CPU, the same in GRAPH_MODE and
# PYNATIVE_MODE) by tests/oracles/python_control_flow_mindspore.py.
MS_VALUES = {
    "branches": [[[3.0, 5.0, 7.0]], [[-2.0, 4.0, 6.0]], [[0.05, 0.1, -0.05]], [[2.0, 1.0, 1.0]]],
    "halving": [[[0.25, 0.5, 0.75]], [[-0.25, 0.5, 0.75]], [[0.1, 0.2, -0.1]], [[-2.0, -1.0, -1.0]]],
    "rows": [[14.0], [14.0], [0.06000001], [6.0]],
    "nested": [[[-1.0, 0.0, 1.0], 4.0], [[-2.0, 1.0, 2.0], 2.0], [[0.1, 0.2, -0.1], 0.0], [[-2.0, -1.0, -1.0], -0.0]],
}


@pytest.mark.parametrize("program", sorted(MS_VALUES))
@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE])
def test_programs_equal_mindspore(program, mode):
    graphc.set_context(mode=mode)
    fn = programs.PROGRAMS[program]
    run = graphc.jit(fn) if mode == graphc.GRAPH_MODE else fn
    for x, expected in zip(programs.inputs(), MS_VALUES[program]):
        got = run(x)
        for value, reference in zip(got if isinstance(got, tuple) else (got,), expected):
            np.testing.assert_allclose(value.asnumpy(), reference, rtol=1e-6)
    if mode == graphc.GRAPH_MODE:          # compiled as control-flow nodes, not run in Python
        assert any(node.op in ("cond", "while", "scan") for node in run.lower(programs.inputs()[0]).graph)


class Loops(nn.Cell):
    """A while on a tensor condition, a for over range(a tensor), a for over a tensor's rows, and
    loops over Python values."""

    def construct(self, x, n):
        i = 0
        while i < n:
            x = x * 1.5
            i = i + 1
        total = x * 0
        for row in x:
            total = total + row
        for j in range(n):
            total = total + j
        for k in range(3):
            total = total * 0.5
        return x, total


def test_tensor_loops_equal_pynative():
    for n in (0, 1, 4):
        graph_result, eager_result = in_both_modes(Loops(), f32(2, 3), Tensor(np.int64(n)))
        for got, expected in zip(graph_result, eager_result):
            np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_tensor_loops_are_nodes_and_python_loops_unroll():
    graph = graphc.jit(Loops()).lower(f32(2, 3), Tensor(np.int64(2))).graph
    assert len(graph.of_op("while")) == 2          # the while, and for j in range(n) (a trip count that is a value)
    assert len(graph.of_op("scan")) == 1           # for row in x: along the leading axis
    assert len(graph.of_op("mul")) == 1 + 3        # total = x * 0, then three copies of total * 0.5
    assert len(ops_of(graph, "mul")) == 1 + 3 + 1  # and x * 1.5, once, in the while's body


class NestedInALoop(nn.Cell):
    """A tensor `if` inside a tensor `while`, calling a method of self."""

    def shrink(self, x):
        if x.max() > 4.0:
            x = x / 2.0
        else:
            x = x - 0.5
        return x

    def construct(self, x):
        count = x.sum() * 0
        while x.sum() > 1.0:
            x = self.shrink(x)
            count = count + 1
        return x, count


def test_an_if_nested_in_a_while_equals_pynative():
    x = Tensor(np.array([9.0, 1.0], np.float32))
    graph_result, eager_result = in_both_modes(NestedInALoop(), x)
    for got, expected in zip(graph_result, eager_result):
        np.testing.assert_allclose(got, expected)
    assert eager_result[1] > 2                       # both branches ran in the loop
    [loop] = graphc.jit(NestedInALoop()).lower(x).graph.of_op("while")
    assert len(loop.attrs["body"].of_op("cond")) == 1


def halve_until_small(x):
    while x.max() > 1.0:
        x = x / 2.0
    return x


def test_a_while_on_a_tensor_condition_runs_until_it_is_false():
    x = Tensor(np.array([10.0, 3.0], np.float32))
    graph_result, eager_result = in_both_modes(graphc.jit(halve_until_small), x)
    np.testing.assert_allclose(graph_result[0], eager_result[0])
    assert eager_result[0].max() <= 1.0 < 2 * eager_result[0].max()
    assert len(graphc.jit(halve_until_small).lower(x).graph.of_op("while")) == 1


def sum_rows(x):
    total = 0.0
    for row in x:
        total = total + row         # a float that becomes a row: cannot be carried
    return total


def sum_rows_and_list_them(x):
    total, rows = x[0] * 0, []
    for row in x:
        total = total + row
        rows.append(row)            # grows a list: a side effect
    return total


def sum_rows_in_a_tensor(x):
    total = x[0] * 0
    for row in x:
        total = total + row
    return total


@pytest.mark.parametrize("fn, scans", [(sum_rows, 0), (sum_rows_and_list_them, 0), (sum_rows_in_a_tensor, 1)])
def test_a_for_over_a_tensors_rows_unrolls_when_a_scan_cannot_carry_it(fn, scans):
    x = f32(3, 4)
    assert len(trace(fn, (x,)).graph.of_op("scan")) == scans
    np.testing.assert_allclose(graphc.jit(fn)(x).asnumpy(), x.asnumpy().sum(axis=0), rtol=1e-6)


def test_closures_and_the_conversion_cache():
    offset = Tensor(np.float32(10.0))

    def shift(x):
        if x.sum() > 0:
            x = x + offset
        return x

    assert convert(shift).__code__ is convert(shift).__code__ is not shift.__code__
    np.testing.assert_allclose(graphc.jit(shift)(Tensor(np.ones(2, np.float32))).asnumpy(), [11.0, 11.0])
    offset = Tensor(np.float32(20.0))         # the closure cell is shared, not copied
    np.testing.assert_allclose(graphc.jit(shift)(Tensor(np.ones(2, np.float32))).asnumpy(), [21.0, 21.0])


def clipped(x):
    """A user's function construct calls: converted too."""
    while x.max() > 4.0:
        x = x - 1.0
    return x


class CallsAHelper(nn.Cell):
    def construct(self, x):
        y = clipped(x)
        return y * 2 if y.sum() > 0 else -y


@pytest.mark.parametrize("values", [[6.0, 1.0], [-6.0, 1.0]])
def test_functions_construct_calls_and_conditional_expressions_compile(values):
    x = Tensor(np.array(values, np.float32))
    graph_result, eager_result = in_both_modes(CallsAHelper(), x)
    np.testing.assert_allclose(graph_result[0], eager_result[0])
    graph = graphc.jit(CallsAHelper()).lower(x).graph
    assert (len(graph.of_op("while")), len(graph.of_op("cond"))) == (1, 1)


# -- gradients ------------------------------------------------------------------------------------------------------
def branchy(x):
    if x.sum() > 0:
        y = ops.sin(x) * x
    else:
        y = x * x * x
    return y


def scanned(h, xs):
    for x in xs:
        h = ops.tanh(h * x + 0.1)
    return h


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_gradient_through_a_rewritten_if_equals_finite_differences(sign):
    rng = np.random.default_rng(0)
    check_vjp(branchy, [sign * (np.abs(rng.standard_normal(4)) + 0.1)], rng)


def test_the_gradient_through_a_rewritten_for_equals_finite_differences():
    rng = np.random.default_rng(1)
    assert len(trace(scanned, (np.ones(3), np.ones((5, 3)))).graph.of_op("scan")) == 1
    check_vjp(scanned, [rng.standard_normal(3), rng.standard_normal((5, 3))], rng)


# -- what cannot be compiled ----------------------------------------------------------------------------------------
def break_on_a_tensor(x):
    for _ in range(10):
        x = x * 2
        if x.sum() > 100:  # tensor-break
            break
    return x


def continue_on_a_tensor(x):
    for _ in range(3):
        if x.sum() > 0:  # tensor-continue
            continue
        x = x * 2
    return x


def break_in_a_tensor_loop(x):
    while x.sum() < 100:  # break-in-tensor-loop
        x = x * 2
        if SCALE > 1:
            break
    return x


def branch_types_differ(x):
    if x.sum() > 0:  # types-differ
        y = x
    else:
        y = ops.cast(x, graphc.int32)
    return y


def branch_shapes_differ(x):
    if x.sum() > 0:  # shapes-differ
        y = x
    else:
        y = x[:2]
    return y


def one_branch_defines(x):
    if x.sum() > 0:  # one-branch
        y = x
    return y


def carry_changes_type(x):
    i = 0
    while i < x.sum():  # carry-type
        i = i + 0.5
    return i


def first_assigned_in_the_loop(x):
    while x.sum() < 10:  # first-assigned
        x = x * 2
        last = x
    return last


def stepped_range(x, n):
    for i in range(0, n, 2):  # stepped-range
        x = x + i
    return x


@pytest.mark.parametrize("fn, marker, message", [
    (break_on_a_tensor, "tensor-break", r"a condition that is a tensor \(bool\[\]\) and a `break` in its body, which a "
                                        r"compiled `if` cannot express: fold the condition of the break into the loop"),
    (continue_on_a_tensor, "tensor-continue", r"a `continue` in its body.*put the rest of the loop body under an `if`"),
    (break_in_a_tensor_loop, "break-in-tensor-loop", r"this `while` has a condition that is a tensor .* `break`"),
    (branch_types_differ, "types-differ", r"`y` is f32\[3\] after the if branch but i32\[3\] after the else branch of "
                                          r"an `if` on a tensor: both branches must give it the same type"),
    (branch_shapes_differ, "shapes-differ", r"`y` is f32\[3\] after the if branch but f32\[2\] after the else branch"),
    (one_branch_defines, "one-branch", r"`y` is assigned only in the if branch of an `if` on a tensor and used after "
                                       r"it: .*assign it in the other branch too, or before the `if`"),
    (carry_changes_type, "carry-type", r"`i` enters a `while` loop on a tensor as i64\[\] but is f32\[\] after a trip"),
    (first_assigned_in_the_loop, "first-assigned", r"`last` is first assigned inside a `while` loop on a tensor and "
                                                   r"used after it: give it a value"),
    (stepped_range, "stepped-range", r"range\(start, stop, step\) with a traced bound must have step 1, got step=2"),
])
def test_what_cannot_be_compiled_is_an_error_at_the_users_line(fn, marker, message):
    args = (np.ones(3, np.float32),) + ((np.array(4),) if fn is stepped_range else ())
    with pytest.raises(GraphcError, match=message) as error:
        graphc.jit(fn)(*args)
    assert str(error.value).split(": ")[0].endswith(f"test_python_control_flow.py:{line_of(marker)}")


def shape_error_in_a_branch(x):
    if x.sum() > 0:
        x = x + ops.ones((2,), graphc.float32)  # op-error
    return x


def test_an_op_error_inside_a_compiled_branch_names_its_line():
    with pytest.raises(GraphcError, match=r"add.*f32\[3\], f32\[2\]") as error:
        graphc.jit(shape_error_in_a_branch)(np.ones(3, np.float32))
    assert str(error.value).split(": ")[0].endswith(f"test_python_control_flow.py:{line_of('op-error')}")


class SetsAnAttributeInALoop(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = graphc.Parameter(np.ones(3, np.float32), name="w")

    def construct(self, x):
        while x.sum() < 10:  # attribute-in-loop
            x = x * 2
            self.w = x
        return x


class AssignsInALoop(SetsAnAttributeInALoop):
    def construct(self, x):
        while x.sum() < 10:
            x = x * 2
            ops.assign(self.w, x)  # assign-in-loop
        return x


@pytest.mark.parametrize("cell, marker, message", [
    (SetsAnAttributeInALoop, "attribute-in-loop", r"a `while` loop on a tensor has `self.w = ...` in its body: .*can "
                                                  r"neither set an attribute or a Parameter .*assign it after the "
                                                  r"statement"),
    (AssignsInALoop, "assign-in-loop", r"assign inside a loop or branch on a tensor: .*cannot assign a Parameter"),
])
def test_a_parameter_assigned_in_a_tensor_loop_is_an_error(cell, marker, message):
    with pytest.raises(GraphcError, match=message) as error:
        cell()(Tensor(np.ones(3, np.float32)))
    assert str(error.value).split(": ")[0].endswith(f"test_python_control_flow.py:{line_of(marker)}")


def test_the_gradient_of_a_for_over_a_traced_range_names_the_fix():
    def power(x, n):
        for _ in range(n):
            x = x * 1.5
        return x

    with pytest.raises(GraphcError, match=r"cannot differentiate through the while loop .*ForiLoop"):
        graphc.grad(power)(Tensor(np.ones(3, np.float32)), Tensor(np.int64(2)))


@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE])
def test_grad_converts_the_function_it_differentiates(mode):
    graphc.set_context(mode=mode)
    x = Tensor(np.array([0.5, -0.25], np.float32))
    a = x.asnumpy()
    np.testing.assert_allclose(graphc.grad(branchy)(x).asnumpy(), np.cos(a) * a + np.sin(a), rtol=1e-6)


def test_only_the_users_code_is_converted():
    """The standard library's and installed packages' functions run as they are: their source is
    not the user's to rewrite, and may not even be the code that runs."""
    import json
    assert convert(json.dumps) is json.dumps                      # the standard library
    assert convert(pytest.approx) is pytest.approx                # an installed package
    assert convert(inspect.getsource) is inspect.getsource
