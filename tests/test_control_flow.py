"""Structured control flow (docs/ir.md, "Control flow"): the IR nodes cond, while and scan, their text
form, verifier, interpreter and passes; autodiff through them (finite differences, the unrolled loop);
MindSpore's ops.WhileLoop, ops.ForiLoop and ops.Scan in both modes against values recorded on
MindSpore 2.10 (tests/oracles/control_flow_mindspore.py)."""
import logging
import re

import numpy as np
import pytest

import graphc
from graphc import Tensor, interp, nn, ops
from graphc.control_flow import cond, fori_loop, scan, while_loop
from graphc.errors import ArgumentError, GraphcError
from graphc.inspect import format_stats, graph_stats
from graphc.ir.export import from_json, to_json
from graphc.ir.text import ParseError, parse_graph, print_graph
from graphc.ir.verify import VerifyError, verify
from graphc.jit import trace
from graphc.passes import run_pipeline
from graphc.passes.autodiff import expand_gradients

from gradcheck import check_second_order, check_vjp
from test_cli import succeeds
import loop_programs as programs

programs.use(graphc)

# A scan whose body holds a cond, then a while: every kind of node, nested.
LOOPS = """\
graph @loops {
  %0: f32[3] = input() {name='h', index=0}
  %1: f32[4,3] = input() {name='xs', index=1}
  %2: f32[3] = input() {name='w', index=2}
  %3: (f32[3],f32[4,3]) = scan(%0, %1, %2) {length=4, carried=1, scanned=1, reverse=False, checkpoint=False}
    graph @body {
      %0: f32[3] = input() {name='carry0', index=0}
      %1: f32[3] = input() {name='x0', index=1}
      %2: f32[3] = input() {name='w', index=2}
      %3: f32[3] = mul(%0, %2)
      %4: f32[3] = add(%3, %1)
      %5: f32[] = reduce_sum(%4) {axis=None, keep_dims=False}
      %6: f32[] = const() {value=array(0.0, f32)}
      %7: bool[] = gt(%5, %6)
      %8: (f32[3]) = cond(%7, %4)
        graph @then_branch {
          %0: f32[3] = input() {name='arg0', index=0}
          %1: f32[3] = tanh(%0)
          return %1
        }
        graph @else_branch {
          %0: f32[3] = input() {name='arg0', index=0}
          %1: f32[3] = neg(%0)
          return %1
        }
      %9: f32[3] = get(%8) {index=0}
      return %9, %4
    }
  %4: f32[3] = get(%3) {index=0}
  %5: f32[4,3] = get(%3) {index=1}
  %6: i32[] = const() {value=array(0, i32)}
  %7: (i32[],f32[3]) = while(%6, %4)
    graph @cond {
      %0: i32[] = input() {name='carry0', index=0}
      %1: f32[3] = input() {name='carry1', index=1}
      %2: i32[] = const() {value=array(3, i32)}
      %3: bool[] = lt(%0, %2)
      return %3
    }
    graph @body {
      %0: i32[] = input() {name='carry0', index=0}
      %1: f32[3] = input() {name='carry1', index=1}
      %2: i32[] = const() {value=array(1, i32)}
      %3: i32[] = add(%0, %2)
      %4: f32[3] = mul(%1, %1)
      return %3, %4
    }
  %8: f32[3] = get(%7) {index=1}
  return %8, %5
}"""


def loops_reference(h, xs, w):
    ys = []
    for x in xs:
        pre = h * w + x
        h = np.tanh(pre) if pre.sum() > 0 else -pre
        ys.append(pre)
    for _ in range(3):
        h = h * h
    return h, np.stack(ys)


def arrays(*shapes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


# -- IR: text, verifier, interpreter ---------------------------------------------------------------------
def test_control_flow_prints_and_parses_back_exactly_and_verifies():
    graph = parse_graph(LOOPS)
    assert print_graph(graph) == LOOPS
    verify(graph)
    assert from_json(to_json(graph)).__str__() == LOOPS


def test_the_interpreter_runs_every_kind_of_node():
    h, xs, w = arrays((3,), (4, 3), (3,))
    outputs, updates = interp.run(parse_graph(LOOPS), [h, xs, w])
    for got, want in zip(outputs, loops_reference(h, xs, w)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert updates == {}


def test_a_reverse_scan_runs_from_the_last_step_and_keeps_each_steps_index():
    def running(reverse):
        return trace(lambda xs: scan(lambda c, x: (c + x, c), Tensor(np.float32(0)), xs, reverse=reverse),
                     (np.arange(4, dtype=np.float32),)).graph
    forward = interp.run(running(False), [np.arange(4, dtype=np.float32)])[0]
    backward = interp.run(running(True), [np.arange(4, dtype=np.float32)])[0]
    np.testing.assert_array_equal(forward[1], [0, 0, 1, 3])       # the carry entering each step
    np.testing.assert_array_equal(backward[1], [6, 5, 3, 0])
    assert forward[0] == backward[0] == 6


def replaced(old: str, new: str, text: str = LOOPS) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("broken, message", [
    # the scan's body returns an f32[2] carry for the f32[3] it takes
    (replaced("      return %9, %4\n    }", "      %10: f32[2] = strided_slice(%9) {begin=(0,), end=(2,), "
              "strides=(1,)}\n      return %10, %4\n    }"),
     r"body returns the carry as \(f32\[2\]\) but the carry is \(f32\[3\]\); a carried value keeps its type"),
    # the branches of the cond disagree
    (replaced("%1: f32[3] = neg(%0)\n          return %1", "%1: f32[] = reduce_sum(%0) {axis=None, keep_dims=False}\n"
              "          return %1"),
     r"else_branch returns \(f32\[\]\) but then_branch returns \(f32\[3\]\)"),
    # the while loop's body turns its i32 counter into an f32
    (replaced("%3: i32[] = add(%0, %2)\n      %4: f32[3] = mul(%1, %1)\n      return %3, %4",
              "%3: i32[] = add(%0, %2)\n      %4: f32[3] = mul(%1, %1)\n      %5: f32[] = cast(%3) {dtype=f32}\n"
              "      return %5, %4"),
     r"body returns \(f32\[\], f32\[3\]\) but the carry is \(i32\[\], f32\[3\]\)"),
    (replaced("%3: bool[] = lt(%0, %2)\n      return %3", "%3: bool[] = lt(%0, %2)\n      return %0"),
     r"cond returns \(i32\[\]\) but a condition is \(bool\[\]\)"),
    (replaced("length=4, carried=1", "length=5, carried=1"),
     r"scanned operand 0 is f32\[4,3\]; its leading axis must be the length 5"),
    (replaced("%8: f32[3] = get(%7) {index=1}", "%8: f32[3] = get(%7) {index=2}"), r"get index 2 is out of range"),
    (replaced("%8: f32[3] = get(%7) {index=1}", "%8: f32[3] = get(%7) {index=0}"),
     r"recorded type f32\[3\] but its operands and regions give i32\[\]"),
    (replaced("%6: i32[] = const() {value=array(0, i32)}", "%6: i32[] = const() {value=array(0, i32)}\n"
              "  %9: f32[3] = neg(%3)"), r"only get nodes read the results of a control-flow node"),
    (replaced("      %2: f32[3] = input() {name='w', index=2}\n      %3: f32[3] = mul(%0, %2)",
              "      %2: f32[3] = param() {name='w'}\n      %3: f32[3] = mul(%0, %2)"),
     r"holds %2 \(param\); a control-flow region is pure"),
    (replaced("  return %8, %5\n}", "  return %7\n}"), r"output %7 is a \(i32\[\],f32\[3\]\); return its elements"),
], ids=["carry-shape", "branches", "carry-dtype", "condition", "length", "get-index", "get-type", "tuple-read",
        "param-in-region", "tuple-output"])
def test_the_verifier_names_the_broken_control_flow_node(broken, message):
    with pytest.raises(VerifyError, match=message):
        verify(parse_graph(broken))


ASSIGNING_BRANCH = """\
graph @g {
  %0: f32[3] = param() {name='p'}
  %1: bool[] = const() {value=array(True, bool)}
  %2: (f32[3]) = cond(%1, %0)
    graph @then_branch {
      %0: f32[3] = input() {name='p', index=0}
      %1: f32[3] = neg(%0)
      %2: f32[3] = assign(%0, %1)
      return %2
    }
    graph @else_branch {
      %0: f32[3] = input() {name='p', index=0}
      return %0
    }
  %3: f32[3] = get(%2) {index=0}
  return %3
}"""


def test_a_region_cannot_assign_a_parameter():
    with pytest.raises(VerifyError, match=r"holds %2 \(assign\); a control-flow region is pure"):
        verify(parse_graph(ASSIGNING_BRANCH))


def test_a_control_flow_node_without_its_regions_is_a_parse_error():
    with pytest.raises(ParseError, match="expected 'graph @name {'"):
        parse_graph(replaced("    graph @cond {", "    graph-less {"))


# -- tracing ---------------------------------------------------------------------------------------------
def test_traced_loops_capture_parameters_and_outer_values_as_operands():
    w = graphc.Parameter(np.full((3,), 0.5, np.float32), name="cell.w")

    def fn(h, xs, bias):
        def body(c, x):
            return ops.tanh(c * w + x + bias), c          # w: a Parameter, bias: a value of the outer trace
        return scan(body, h, xs)
    traced = trace(fn, tuple(arrays((3,), (4, 3), (3,))))
    [node] = traced.graph.of_op("scan")
    assert [i.op for i in node.inputs] == ["input", "input", "param", "input"]
    assert [i.attrs["name"] for i in node.attrs["body"].inputs] == ["carry0", "x0", "cell.w", "captured1"]
    assert print_graph(parse_graph(str(traced.graph))) == str(traced.graph)
    verify(traced.graph)


def test_sibling_branches_share_their_captured_operands():
    def fn(p, a, b, c):
        return cond(p.sum() > 0, lambda: a * b, lambda: b + c)
    a, b, c = arrays((2,), (2,), (2,))
    traced = trace(fn, (np.ones(2, np.float32), a, b, c))
    [node] = traced.graph.of_op("cond")
    branches = [node.attrs["then_branch"], node.attrs["else_branch"]]
    assert [i.op for i in node.inputs[1:]] == ["input"] * 3                 # a and b, then c
    assert [[i.attrs["name"] for i in branch.inputs] for branch in branches] == [["captured0", "captured1",
                                                                                "captured2"]] * 2
    for p, want in ((np.ones(2, np.float32), a * b), (-np.ones(2, np.float32), b + c)):
        np.testing.assert_array_equal(interp.run(traced.graph, [p, a, b, c])[0][0], want)


def test_a_traced_value_kept_from_another_trace_is_still_an_error():
    kept = []
    trace(lambda x: kept.append(x * 2) or x, (np.ones(2, np.float32),))
    with pytest.raises(GraphcError, match="traced value from another trace"):
        trace(lambda h: scan(lambda c, x: (c + kept[0], c), h, None, length=2), (np.ones(2, np.float32),))


# -- inspect and the driver -----------------------------------------------------------------------------------
def test_inspect_counts_a_loops_flops_times_its_trip_count():
    def fn(h, xs):
        return scan(lambda c, x: (ops.tanh(c * x), c), h, xs)
    for length in (3, 30):
        stats = graph_stats(trace(fn, tuple(arrays((5,), (length, 5)))).graph)
        per_step = 5 + 5                          # mul and tanh on 5 elements (tests/test_cli.py: 1 flop each)
        assert stats.ops["scan"] == (1, length * per_step)
        assert stats.region_ops["scan"]["tanh"] == (1, length * 5)
        assert re.search(rf"@body\s+x {length}\s+{per_step}", format_stats(stats))


def test_inspect_names_while_loops_whose_trip_count_it_cannot_know():
    text = format_stats(graph_stats(parse_graph(LOOPS)))
    assert "(while loops counted for one trip: %7)" in text
    assert re.search(r"@cond\s+x \?", text) and re.search(r"@then_branch\s+branch", text)


LOOPS_TARGET = ["tests/cli_targets/loops.py:step", "--input", "h:f32[2,3]", "--input", "xs:f32[28,2,3]"]


def test_graphc_dump_and_inspect_show_loops():
    dumped = succeeds("dump", *LOOPS_TARGET)
    graph = parse_graph(dumped)
    verify(graph)
    assert print_graph(graph) + "\n" == dumped
    forward, backward = sorted(graph.of_op("scan"), key=lambda n: n.attrs["reverse"])
    assert forward.attrs["length"] == backward.attrs["length"] == 28
    report = succeeds("inspect", *LOOPS_TARGET)
    rows = re.findall(r"^  %\d+\s+scan\s+\S+\s+([\d,]+)\s.*\n    @(\w+)\s+x 28\s+([\d,]+)", report, re.MULTILINE)
    assert [name for _, name, _ in rows] == ["body", "body_vjp"]
    for total, _, per_step in rows:                 # a scan's FLOPs: 28 times its body's
        assert int(total.replace(",", "")) == 28 * int(per_step.replace(",", "")) > 0
    # the loops' bodies are kernels of the native step, named after their scan and region
    assert re.search(r"^n\d+\.body\.n\d+\.out-fusable\s+%\d+ net\s+matmul\+add\+tanh\s", report, re.MULTILINE)


def test_graph_mode_runs_control_flow_natively_without_a_warning(caplog):
    graphc.set_context(mode=graphc.GRAPH_MODE)

    @graphc.jit
    def running_sum(xs):
        return scan(lambda c, x: (c + x, c), Tensor(np.float32(0)), xs)[0]
    with caplog.at_level(logging.WARNING, logger="graphc.compiler"):
        assert float(running_sum(Tensor(np.arange(5, dtype=np.float32)))) == 10.0
    assert type(running_sum.compile(Tensor(np.arange(5, dtype=np.float32)))).__name__ == "NativeExecutable"
    assert not caplog.text


# -- autodiff ---------------------------------------------------------------------------------------------------
def rnn(h, xs, w, checkpoint=False, reverse=False):
    """A small recurrent loss: the carry goes through a matmul and tanh, the ys are squared."""
    def body(c, x):
        c = ops.tanh(ops.matmul(c, w) * 0.5 + x)
        return c, c * x
    h, ys = scan(body, h, xs, checkpoint=checkpoint, reverse=reverse)
    return (h * h).sum() + (ys * ys).sum()


RNN_ARGS = [np.random.default_rng(3).standard_normal(shape) for shape in ((2, 3), (5, 2, 3), (3, 3))]


@pytest.mark.parametrize("checkpoint", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradients_agree_with_finite_differences(checkpoint, reverse):
    check_vjp(lambda h, xs, w: rnn(h, xs, w, checkpoint, reverse), RNN_ARGS, np.random.default_rng(0))


def test_scan_gradients_equal_those_of_the_unrolled_loop():
    def unrolled(h, xs, w):
        total = 0.0
        for t in range(xs.shape[0]):
            h = ops.tanh(ops.matmul(h, w) * 0.5 + xs[t])
            total = total + ((h * xs[t]) * (h * xs[t])).sum()
        return (h * h).sum() + total

    def gradients(fn):
        traced = trace(lambda *args: graphc.grad(fn, (0, 1, 2))(*args), tuple(RNN_ARGS))
        run_pipeline(traced.graph)
        return interp.run(traced.graph, RNN_ARGS)[0]
    for rolled, flat in zip(gradients(rnn), gradients(unrolled)):
        np.testing.assert_allclose(rolled, flat, rtol=1e-12, atol=1e-12)


def test_scan_stores_residuals_unless_checkpointed_which_stores_only_carries():
    def stored(checkpoint):
        traced = trace(lambda *args: graphc.grad(lambda h, xs, w: rnn(h, xs, w, checkpoint), (0, 1, 2))(*args),
                       tuple(RNN_ARGS))
        expand_gradients(traced.graph)
        forward, backward = sorted(traced.graph.of_op("scan"), key=lambda n: n.attrs["reverse"])
        return forward.type.elements[2:], backward     # after the carry and the ys: what is kept per step
    residuals, _ = stored(False)
    carries, backward = stored(True)
    assert [str(t) for t in carries] == ["f64[5,2,3]"]                 # the carry entering each step
    # tanh's output (read by its own gradient and y's), and the carry entering the step (by w's)
    assert [str(t) for t in residuals] == ["f64[5,2,3]", "f64[5,2,3]"]
    # without stored residuals the reverse step recomputes the forward step: its matmul and tanh
    assert {"matmul", "tanh"} <= {n.op for n in backward.attrs["body"].order()}


def test_a_scan_stores_a_value_once_not_also_the_slices_its_gradient_reads():
    def gated(h, xs, w):             # an LSTM-like step: two gates sliced from one product
        def body(c, x):
            gates = ops.sigmoid(ops.matmul(c, w) + x)
            keep, new = gates[:, :3], gates[:, 3:]
            return keep * c + new, c
        h, _ = scan(body, h, xs)
        return (h * h).sum()
    args = [np.random.default_rng(4).standard_normal(shape) for shape in ((2, 3), (5, 2, 6), (3, 6))]
    traced = trace(lambda *a: graphc.grad(gated, (0, 1, 2))(*a), tuple(args))
    expand_gradients(traced.graph)
    forward = next(n for n in traced.graph.of_op("scan") if not n.attrs["reverse"])
    # the gates (read by sigmoid's gradient, and sliced again in the reverse step) and the carry
    assert sorted(str(t) for t in forward.type.elements[2:]) == ["f64[5,2,3]", "f64[5,2,6]"]
    check_vjp(gated, args, np.random.default_rng(0))


def test_cond_differentiates_branch_wise():
    def fn(a, b):
        return cond((a * b).sum() > 0, lambda a, b: ops.tanh(a * b), lambda a, b: a * a - b, a, b)
    a, b = np.random.default_rng(1).standard_normal((2, 2, 3))
    for sign in (1.0, -1.0):                     # each branch taken once
        check_vjp(fn, [a, sign * np.abs(b) * np.sign(a)], np.random.default_rng(2))


def test_nested_control_flow_differentiates():
    def fn(h, xs):
        def body(c, x):
            c = cond(x.sum() > 0, lambda c, x: ops.tanh(c + x), lambda c, x: c * x, c, x)
            return c, fori_loop(0, 2, lambda i, v: v * c, x)
        h, ys = scan(body, h, xs)
        return h.sum() + ys.sum()
    check_vjp(fn, RNN_ARGS[:2], np.random.default_rng(4))


def test_second_order_through_a_scan():
    def fn(h, xs):
        return scan(lambda c, x: (ops.tanh(c * x), c * c), h, xs)[1].sum()
    check_second_order(fn, [RNN_ARGS[0][0], RNN_ARGS[1][:3, 0]], np.random.default_rng(5))


def test_a_gradient_through_a_data_dependent_while_loop_is_an_error_naming_the_fix():
    def fn(h):
        return while_loop(lambda v: v.sum() < 100.0, lambda v: v * 2.0, h).sum()
    traced = trace(lambda h: graphc.grad(fn)(h), (np.ones(3, np.float32),))
    with pytest.raises(GraphcError, match=r"test_control_flow.py:\d+: cannot differentiate through the while loop "
                                          r"%\d+: its trip count depends on tensor values.*ops.ForiLoop.*ops.Scan"):
        expand_gradients(traced.graph)


def test_a_while_loop_the_gradient_does_not_pass_through_is_fine():
    def fn(h, n):
        count = while_loop(lambda v: v < n, lambda v: v + 1, Tensor(np.int32(0)))     # an int loop
        return (h * ops.cast(count, dtype=graphc.float32)).sum()
    traced = trace(lambda h, n: graphc.grad(fn)(h, n), (np.ones(3, np.float32), np.int32(4)))
    expand_gradients(traced.graph)
    np.testing.assert_array_equal(interp.run(traced.graph, [np.ones(3, np.float32), np.int32(4)])[0][0], [4, 4, 4])


def test_a_parameter_read_inside_a_loop_gets_its_gradient():
    class Recurrent(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = graphc.Parameter(np.eye(3) * 0.5, name="w")

        def construct(self, h, xs):
            return scan(lambda c, x: (ops.tanh(ops.matmul(c, self.w) + x), c), h, xs)[0].sum()
    graphc.set_context(backend="interp")          # float64 for finite differences: native matmul is float32 only
    net = Recurrent()
    h, xs = (Tensor(a) for a in arrays((2, 3), (4, 2, 3), dtype=np.float64))
    _, (grad_w,) = graphc.value_and_grad(net, None, net.trainable_params())(h, xs)
    eps, direction = 1e-6, np.random.default_rng(6).standard_normal((3, 3))
    values = []
    for step in (eps, -eps):
        net.w.set_data(np.eye(3) * 0.5 + step * direction)
        values.append(float(net(h, xs)))
    np.testing.assert_allclose(np.vdot(grad_w.asnumpy(), direction), (values[0] - values[1]) / (2 * eps), rtol=1e-6)


# -- MindSpore's ops.WhileLoop, ops.ForiLoop, ops.Scan ----------------------------------------------------------------
# The programs of tests/loop_programs.py, recorded on MindSpore 2.10 (CPU) by
# tests/oracles/control_flow_mindspore.py: the same in PYNATIVE_MODE and GRAPH_MODE, with unroll True and
# False, wherever MindSpore ran the case.
MS_WHILE = [5, [[-1.872065, -1.84893, -1.86141], [-1.701015, 1.877152, -1.891334]]]
MS_FORI = [[[0.1886587, 0.1681992, 0.1424169], [0.6597331, 0.7490304, 0.7174718]], [-2.072927, -2.3541, -1.740515]]
MS_FORI_GRAD = [[[0.2131937, 0.7283695, 1.505329], [0.6237215, 8.184759, 11.44396]],
                [[-5.920126, -10.34319, -27.07021], [-6.092317, -1.599718, -2.234335],
                 [-4.823493, -12.22574, -32.18653]]]
MS_SCAN = [[[0.7857368, -0.991461, 0.6711665], [0.5364367, -0.5689552, -0.4263729]],
           [[0.3845684, 0.8227453, 1.695823], [1.1355, 0.2300003, 0.009587882]],
           [[1.253474, 0.1732772, 0.06265931], [0.402794, 0.6231448, 1.938241]],
           [[-0.06730363, 0.775992, 0.7447019], [1.804655, 0.333942, 1.047031]],
           [[1.118319, 2.304553, 0.9067292], [-0.1118106, 0.6168206, 0.2318797]]]
MS_SCAN_GRAD = [[[-0.02486555, -0.01863343, -0.04424375], [-0.004326383, -0.1156455, -0.195971]],
                [[-0.1478949, -0.5953645, -1.355875], [-0.7170314, 0.7872528, -1.848165],
                 [-0.9151012, -2.095108, -1.151099]],
                [[-0.873005, -1.017706, -1.028615], [-1.03442, -0.7153872, -0.3280725]],
                [[-2.143449, 1.804684, -1.215473], [-2.336878, -2.153102, 2.241126]]]
MS_COUNTING_SCAN = [4.0, [2.0, 4.0, 6.0]]
MS_FORI_EMPTY = [[-1.397618, -1.20401, -1.302269], [-0.6226854, 1.44728, -1.601314]]


def leaves(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def assert_recorded(got, recorded):
    got = leaves(got)
    assert len(got) == len(recorded)
    for value, want in zip(got, recorded):
        np.testing.assert_allclose(np.asarray(value.asnumpy() if isinstance(value, Tensor) else value), want,
                                   rtol=2e-5, atol=1e-5)


MODES = [pytest.param(graphc.PYNATIVE_MODE, id="pynative"), pytest.param(graphc.GRAPH_MODE, id="graph")]


def in_mode(mode, fn):
    graphc.set_context(mode=mode)
    return graphc.jit(fn) if mode == graphc.GRAPH_MODE else fn


@pytest.mark.parametrize("mode", MODES)
def test_while_loop_matches_mindspore(mode):
    assert_recorded(in_mode(mode, programs.while_loop)(programs.inputs()[0]), [MS_WHILE[0]] + [MS_WHILE[1]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("unroll", [True, False])
def test_fori_loop_and_its_gradient_match_mindspore(mode, unroll):
    h, w, _ = programs.inputs()
    assert_recorded(in_mode(mode, lambda a, b: programs.fori_loop(a, b, unroll))(h, w), MS_FORI)
    grad = graphc.grad(lambda a, b: programs.fori_loss(a, b, unroll), grad_position=(0, 1))
    assert_recorded(in_mode(mode, grad)(h, w), MS_FORI_GRAD)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("unroll", [True, False])
def test_scan_and_its_gradient_match_mindspore(mode, unroll):
    h, w, xs = programs.inputs()
    carry, ys = in_mode(mode, lambda *a: programs.scan(*a, unroll))(h, w, *xs)
    assert isinstance(ys, list) and len(ys) == 4
    assert_recorded([carry, ys], MS_SCAN)
    grad = graphc.grad(lambda *a: programs.scan_loss(*a, unroll), grad_position=(0, 1, 2, 3))
    assert_recorded(in_mode(mode, grad)(h, w, *xs), MS_SCAN_GRAD)


@pytest.mark.parametrize("mode", MODES)
def test_scan_without_xs_runs_length_steps(mode):
    run = in_mode(mode, programs.counting_scan)
    carry, ys = run(Tensor(np.float32(1)))
    assert_recorded([carry, ys], [MS_COUNTING_SCAN[0]] + MS_COUNTING_SCAN[1])


@pytest.mark.parametrize("mode", MODES)
def test_fori_loop_with_lower_above_upper_returns_init_val(mode):
    h = programs.inputs()[0]
    for unroll in (True, False):
        assert_recorded(in_mode(mode, lambda v: programs.fori_empty(v, unroll))(h), [MS_FORI_EMPTY])


def test_unroll_means_what_it_means_in_mindspore():
    """unroll=True (the default) repeats the body in the graph; unroll=False keeps one loop node, whose
    size does not grow with the trip count."""
    def body(i, v):
        return ops.tanh(v * 0.5)

    def nodes(steps, unroll):
        return trace(lambda v: ops.ForiLoop()(0, steps, body, v, unroll), (np.ones(3, np.float32),)).graph
    assert nodes(7, True).of_op("tanh").__len__() == 7 and not nodes(7, True).of_op("scan")
    rolled = [print_graph(nodes(steps, False)) for steps in (7, 700)]
    assert rolled[0].replace("length=7", "length=700") == rolled[1]


def test_while_loop_with_a_traced_condition_is_one_while_node():
    graph = trace(programs.while_loop, (programs.inputs()[0].asnumpy(),)).graph
    assert len(graph.of_op("while")) == 1 and not graph.of_op("scan")


def test_fori_loop_with_a_traced_bound_is_a_while_loop():
    def fn(h, n):
        return ops.ForiLoop()(0, n, lambda i, v: v * 2.0, h)
    traced = trace(fn, (np.ones(2, np.float32), np.array(3, np.int32)))
    assert len(traced.graph.of_op("while")) == 1
    np.testing.assert_array_equal(interp.run(traced.graph, [np.ones(2, np.float32), np.int32(3)])[0][0], [8, 8])
    np.testing.assert_array_equal(interp.run(traced.graph, [np.ones(2, np.float32), np.int32(-1)])[0][0], [1, 1])


@pytest.mark.parametrize("mode", MODES)
def test_loops_carry_tuples_lists_and_dicts(mode):
    def fn(a, b):
        listed = ops.ForiLoop()(0, 3, lambda i, v: [v[0] + 1.0, v[1] * 2.0], [a, b], False)
        named = ops.WhileLoop()(lambda v: v["n"] < 2, lambda v: {"n": v["n"] + 1, "x": v["x"] * 3.0},
                                {"n": Tensor(np.int32(0)), "x": a})
        return listed, named
    listed, named = in_mode(mode, fn)(Tensor(np.float32(1)), Tensor(np.float32(1)))
    assert isinstance(listed, list) and isinstance(named, dict)
    assert [float(v) for v in listed] == [4.0, 8.0] and float(named["x"]) == 9.0


def test_a_while_loop_over_python_numbers_becomes_a_node_when_its_condition_is_traced():
    traced = trace(lambda n: ops.WhileLoop()(lambda v: v < n, lambda v: v + 1, 0), (np.array(5, np.int64),))
    assert len(traced.graph.of_op("while")) == 1
    assert int(interp.run(traced.graph, [np.array(5, np.int64)])[0][0]) == 5


def test_an_eager_scan_of_no_steps_gives_empty_ys_of_the_right_types():
    carry, (doubled, ones) = scan(lambda c, x: (c + x, (c * 2, 1.0)), Tensor(np.ones(2, np.float32)),
                                  Tensor(np.zeros((0, 2), np.float32)))
    np.testing.assert_array_equal(carry.asnumpy(), [1, 1])
    assert (doubled.type, ones.type) == (Tensor(np.zeros((0, 2), np.float32)).type, Tensor(np.zeros(0, np.float32)).type)


def test_python_numbers_loop_in_python_as_in_mindspore():
    graphc.set_context(mode=graphc.GRAPH_MODE)
    assert ops.ForiLoop()(0, 10, lambda i, v: v + i, 0, False) == 45
    traced = trace(lambda h: (h, ops.ForiLoop()(0, 10, lambda i, v: v + i, 0, False)), (np.ones(1, np.float32),))
    assert not traced.graph.of_op("scan")


# -- bad input ---------------------------------------------------------------------------------------------------
def changes_shape(i, v):
    return ops.stack([v, v])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("call, message", [
    (lambda h: ops.WhileLoop()(lambda v: v.sum() < 100, lambda v: ops.stack([v, v]), h),
     r"ops.WhileLoop: the loop function returned f32\[2,3\] but the loop value is f32\[3\]"),
    (lambda h: ops.ForiLoop()(0, 3, changes_shape, h, False),
     r"ops.ForiLoop: the loop function returned f32\[2,3\] but the loop value is f32\[3\]"),
    (lambda h: ops.ForiLoop()(0, 3, changes_shape, h),
     r"ops.ForiLoop: the loop function returned f32\[2,3\] but the loop value is f32\[3\]"),
    (lambda h: ops.ForiLoop()(0, 3, lambda i, v: v[0], (h, h), False),
     r"the loop function returned f32\[3\] but the loop value is \(f32\[3\], f32\[3\]\)"),
    (lambda h: ops.Scan()(lambda c, x: (ops.cast(c, dtype=graphc.int32), x), h, [h, h], None, False),
     r"ops.Scan: the loop function returned i32\[3\] but the loop value is f32\[3\]"),
    (lambda h: ops.Scan()(lambda c, x: (ops.cast(c, dtype=graphc.int32), x), h, [h, h]),
     r"ops.Scan: the loop function returned i32\[3\] but the loop value is f32\[3\]"),
    (lambda h: ops.Scan()(lambda c, x: c + x, h, [h, h], None, False),
     r"must return a pair \(carry, y\), got f32\[3\]"),
])
def test_a_loop_function_changing_its_values_type_is_an_error_showing_both(mode, call, message):
    with pytest.raises(GraphcError, match=message) as error:
        in_mode(mode, call)(Tensor(np.ones(3, np.float32)))
    assert "test_control_flow.py:" in str(error.value)


@pytest.mark.parametrize("bound", [0.5, True, Tensor(np.float32(2)), Tensor(np.arange(2))])
def test_fori_loop_bounds_must_be_integers(bound):
    with pytest.raises(ArgumentError, match=r"ops.ForiLoop: upper=.* is not a valid bound; expected an int or an "
                                            r"integer Tensor of one element"):
        ops.ForiLoop()(0, bound, lambda i, v: v, Tensor(np.ones(2, np.float32)))


def test_scan_steps_must_agree_as_one_loop():
    def fn(h, a, b):
        return ops.Scan()(lambda c, x: (c + x.sum(), x), h, [a, b], None, False)
    with pytest.raises(GraphcError, match=r"ops.Scan: xs\[1\] is f32\[3\] but xs\[0\] is f32\[2\]; as one loop "
                                          r"\(unroll=False\) every step of xs must have one structure, dtype"):
        trace(fn, (np.array(0, np.float32), np.ones(2, np.float32), np.ones(3, np.float32)))
    # unrolled, as in MindSpore, steps of different shapes are fine
    values = [np.array(0, np.float32), np.ones(2, np.float32), np.ones(3, np.float32)]
    traced = trace(lambda h, a, b: ops.Scan()(lambda c, x: (c + x.sum(), x), h, [a, b]), tuple(values))
    assert float(interp.run(traced.graph, values)[0][0]) == 5


def step(c, x):
    return c + 1, c * 2


@pytest.mark.parametrize("call, message", [
    (lambda h: ops.Scan()(step, h, h), r"ops.Scan: xs is a f32\[3\]; MindSpore's Scan takes xs as a list or "
                                                r"tuple"),
    (lambda h: ops.Scan()(step, h, [h, h], 3), r"ops.Scan: length=3 but xs has 2 elements"),
    (lambda h: ops.Scan()(step, h, None), r"ops.Scan: length=None is not valid; expected the number of steps"),
    (lambda h: ops.Scan()(step, h, [h], 1, "no"), r"ops.Scan: unroll='no' is not valid; expected a bool"),
    (lambda h: ops.WhileLoop()(None, step, h), r"ops.WhileLoop: cond_func=None is not valid; expected a "
                                                        r"function"),
    (lambda h: scan(step, h, None), r"scan: with no xs, give length"),
])
def test_bad_loop_arguments_are_refused_with_the_fix(call, message):
    with pytest.raises(ArgumentError, match=message):
        call(Tensor(np.ones(3, np.float32)))


@pytest.mark.parametrize("call, message", [
    (lambda h: ops.WhileLoop()(lambda v: v > 0, lambda v: v - 1.0, h),
     r"ops.WhileLoop: the condition is a bool\[3\]; it must have exactly one element"),
    (lambda h: scan(step, h, h.reshape(3, 1)[:2], length=3), r"scan: length=3 but xs has 2 steps"),
    (lambda h: scan(step, h, (h.reshape(3, 1), h[:2])), r"scan: the scanned tensors must share their leading"
                                                                 r" axis .* got f32\[3,1\], f32\[2\]"),
])
def test_loops_that_cannot_run_as_asked_are_errors_naming_the_values(call, message):
    with pytest.raises(GraphcError, match=message):
        call(Tensor(np.ones(3, np.float32)))


def test_a_cond_whose_branches_return_different_types_is_an_error_showing_both():
    with pytest.raises(GraphcError, match=r"cond: the true branch returns f32\[3\] but the false branch returns "
                                          r"\(f32\[3\], f32\[3\]\)"):
        trace(lambda x: cond(x.sum() > 0, lambda x: x, lambda x: (x, x), x), (np.ones(3, np.float32),))
