"""The passes on control flow (docs/passes.md): each works inside a region as a graph of its own, CSE never
across iterations, fold takes constant branches, fusion keeps a loop opaque, the memory plan gives a loop
one buffer; every rewrite checked against the interpreter. The graphs are tests/test_control_flow.py's."""
import pytest

from graphc import interp, ops
from graphc.control_flow import scan
from graphc.ir.text import parse_graph
from graphc.jit import trace
from graphc.passes import run_pipeline
from graphc.passes.memory import element_offset

from passes_support import assert_same_results, check_rewrite, check_unchanged, ir, results, run_pass
from test_control_flow import LOOPS, arrays, replaced

SCAN_WITH_CONSTANTS = """
    graph @f {
      %0: f32[2] = input() {name='h', index=0}
      %1: f32[2] = input() {name='x', index=1}
      %2: (f32[2]) = scan(%0) {length=3, carried=1, scanned=0, reverse=False, checkpoint=False}
        graph @body {
          %0: f32[2] = input() {name='carry0', index=0}
          %1: f32[] = const() {value=array(2.0, f32)}
          %2: f32[] = const() {value=array(0.25, f32)}
          %3: f32[] = mul(%1, %2)
          %4: f32[2] = mul(%0, %3)
          %5: f32[2] = mul(%0, %3)
          %6: f32[2] = exp(%0)
          %7: f32[2] = add(%4, %5)
          return %7
        }
      %3: f32[2] = get(%2) {index=0}
      %4: f32[2] = mul(%0, %1)
      return %3, %4
    }"""


def test_fold_works_inside_a_region():
    check_rewrite("fold", SCAN_WITH_CONSTANTS, SCAN_WITH_CONSTANTS.replace(
        "%3: f32[] = mul(%1, %2)", "%3: f32[] = const() {value=array(0.5, f32)}"))


def test_cse_merges_within_one_iteration_only():
    # %5 repeats %4 inside the body; the body's mul and the graph's own %4 are in different graphs.
    check_rewrite("cse", SCAN_WITH_CONSTANTS, SCAN_WITH_CONSTANTS.replace(
        "          %5: f32[2] = mul(%0, %3)\n", "").replace("add(%4, %5)", "add(%4, %4)"))


TWO_LOOPS = """
    graph @f {
      %0: f32[2] = input() {name='h', index=0}
      %1: (f32[2]) = scan(%0) {length=3, carried=1, scanned=0, reverse=False, checkpoint=False}
        graph @body {
          %0: f32[2] = input() {name='carry0', index=0}
          %1: f32[2] = exp(%0)
          return %1
        }
      %2: f32[2] = get(%1) {index=0}
      %3: (f32[2]) = scan(%0) {length=3, carried=1, scanned=0, reverse=False, checkpoint=False}
        graph @body {
          %0: f32[2] = input() {name='carry0', index=0}
          %1: f32[2] = exp(%0)
          return %1
        }
      %4: f32[2] = get(%3) {index=0}
      %5: f32[2] = exp(%0)
      return %2, %4, %5
    }"""


def test_cse_never_merges_loops_nor_a_loops_nodes_with_the_graphs():
    check_unchanged("cse", TWO_LOOPS)


def test_dce_cleans_inside_a_region():
    check_rewrite("dce", SCAN_WITH_CONSTANTS, SCAN_WITH_CONSTANTS.replace("          %6: f32[2] = exp(%0)\n", ""))


def test_dce_drops_the_stacked_results_nothing_reads():
    # the scan's second stacked result (exp of each step's carry) is never read: its body output goes,
    # and the get of the third result is renumbered
    check_rewrite("dce", """
        graph @f {
          %0: f32[2] = input() {name='h', index=0}
          %1: (f32[2],f32[3,2],f32[3,2]) = scan(%0) {length=3, carried=1, scanned=0, reverse=False, checkpoint=False}
            graph @body {
              %0: f32[2] = input() {name='carry0', index=0}
              %1: f32[2] = exp(%0)
              %2: f32[2] = neg(%0)
              return %1, %1, %2
            }
          %2: f32[2] = get(%1) {index=0}
          %3: f32[3,2] = get(%1) {index=2}
          return %2, %3
        }""", """
        graph @f {
          %0: f32[2] = input() {name='h', index=0}
          %1: (f32[2],f32[3,2]) = scan(%0) {length=3, carried=1, scanned=0, reverse=False, checkpoint=False}
            graph @body {
              %0: f32[2] = input() {name='carry0', index=0}
              %1: f32[2] = exp(%0)
              %2: f32[2] = neg(%0)
              return %1, %2
            }
          %2: f32[2] = get(%1) {index=0}
          %3: f32[3,2] = get(%1) {index=1}
          return %2, %3
        }""")


def test_simplify_works_inside_a_region():
    before = SCAN_WITH_CONSTANTS.replace("%1: f32[] = const() {value=array(2.0, f32)}",
                                         "%1: f32[] = const() {value=array(1.0, f32)}")
    check_rewrite("simplify", before.replace("%3: f32[] = mul(%1, %2)", "%3: f32[] = mul(%2, %1)"),
                  before.replace("          %3: f32[] = mul(%1, %2)\n", "").replace("mul(%0, %3)", "mul(%0, %2)"))


COND_ON = """
    graph @f {
      %0: f32[2] = input() {name='x', index=0}
      %1: bool[] = const() {value=array(PRED, bool)}
      %2: (f32[2]) = cond(%1, %0)
        graph @then_branch {
          %0: f32[2] = input() {name='arg0', index=0}
          %1: f32[2] = exp(%0)
          return %1
        }
        graph @else_branch {
          %0: f32[2] = input() {name='arg0', index=0}
          %1: f32[2] = neg(%0)
          return %1
        }
      %3: f32[2] = get(%2) {index=0}
      return %3
    }"""


@pytest.mark.parametrize("pred, op", [("True", "exp"), ("False", "neg")])
def test_fold_takes_the_branch_of_a_constant_condition(pred, op):
    graph = parse_graph(ir(COND_ON.replace("PRED", pred)))
    reference = results(parse_graph(ir(COND_ON.replace("PRED", pred))))
    assert run_pass("fold", graph) is True
    assert [n.op for n in graph.order()] == ["input", "const", op]
    assert_same_results(reference, results(graph))


def test_fold_replaces_a_while_loop_that_never_runs_by_its_initial_carry():
    text = replaced("%3: bool[] = lt(%0, %2)", "%3: bool[] = lt(%2, %2)")
    graph = parse_graph(text)
    reference = results(parse_graph(text))
    assert run_pass("fold", graph) is True            # the condition folds to false, then the loop goes
    assert not graph.of_op("while") and graph.outputs[0] is graph.nodes[4]
    assert_same_results(reference, results(graph))


def test_fusion_treats_a_loop_as_opaque_and_fuses_inside_it():
    def fn(h, xs, w):
        def body(c, x):
            return ops.relu(c * w + x) * 2.0, c
        carry, ys = scan(body, ops.relu(h + 1.0), xs)
        return ops.relu(carry * 3.0), ys
    traced = trace(fn, tuple(arrays((3,), (4, 3), (3,))))
    reference = interp.run(traced.graph, arrays((3,), (4, 3), (3,), seed=1))
    run_pipeline(traced.graph)
    [loop] = traced.graph.of_op("scan")
    assert [n.op for n in traced.graph.order() if n.op == "fused"] == ["fused", "fused"]   # before and after it
    assert [n.op for n in loop.attrs["body"].order() if n.op not in ("input", "const")] == ["fused"]
    assert_same_results(reference, interp.run(traced.graph, arrays((3,), (4, 3), (3,), seed=1)))


def test_the_memory_plan_gives_a_loop_one_buffer_and_its_results_are_views():
    graph = parse_graph(LOOPS)
    run_pass("plan-memory", graph)
    plan = graph.memory_plan
    scan_node, while_node = graph.of_op("scan")[0], graph.of_op("while")[0]
    assert plan.offsets[scan_node.id][1] == 64 + 64             # f32[3] then f32[4,3], each 64-byte aligned
    assert plan.aliases[4] == (scan_node.id, 0) and plan.aliases[5] == (scan_node.id, 64)
    assert plan.aliases[8] == (while_node.id, element_offset(while_node.type, 1)) == (while_node.id, 64)
    assert {4, 5, 8} <= plan.views
    # the scan's buffer holds its carry until the while loop has read it, and its ys to the end
    start, size = plan.offsets[scan_node.id]
    other_start, other_size = plan.offsets[while_node.id]
    assert start + size <= other_start or other_start + other_size <= start


def test_the_default_pipeline_keeps_every_result():
    graph = parse_graph(LOOPS)
    reference = results(parse_graph(LOOPS))
    run_pipeline(graph)
    assert_same_results(reference, results(graph))


SCAN_WITH_TRANSPOSED_READS = """
    graph @f {
      %0: f32[3,3] = input() {name='h', index=0}
      %1: f32[4,3,3] = input() {name='xs', index=1}
      %2: f32[3,3] = input() {name='w', index=2}
      %3: f32[3,3] = input() {name='v', index=3}
      %4: (f32[3,3]) = scan(%0, %1, %2, %3) {length=4, carried=1, scanned=1, reverse=False, checkpoint=False}
        graph @body {
          %0: f32[3,3] = input() {name='carry0', index=0}
          %1: f32[3,3] = input() {name='x0', index=1}
          %2: f32[3,3] = input() {name='w', index=2}
          %3: f32[3,3] = input() {name='v', index=3}
          %4: f32[3,3] = matmul(%2, %0) {transpose_a=True, transpose_b=False}
          %5: f32[3,3] = matmul(%4, %1) {transpose_a=False, transpose_b=True}
          %6: f32[3,3] = matmul(%3, %5) {transpose_a=True, transpose_b=False}
          %7: f32[3,3] = matmul(%3, %6) {transpose_a=False, transpose_b=False}
          %8: f32[3,3] = matmul(%0, %0) {transpose_a=True, transpose_b=False}
          %9: f32[3,3] = add(%7, %8)
          return %9
        }
      %5: f32[3,3] = get(%4) {index=0}
      return %5
    }"""


def test_hoist_transposes_transposes_an_invariant_operand_once_before_the_loop():
    # w is read only transposed; xs is scanned, v also read as it is, the carry changes
    check_rewrite("hoist-transposes", SCAN_WITH_TRANSPOSED_READS, SCAN_WITH_TRANSPOSED_READS.replace(
        "      %4: (f32[3,3]) = scan(%0, %1, %2, %3)",
        "      %6: f32[3,3] = transpose(%2) {perm=(1, 0)}\n      %4: (f32[3,3]) = scan(%0, %1, %6, %3)").replace(
        "matmul(%2, %0) {transpose_a=True", "matmul(%2, %0) {transpose_a=False"))


def test_hoist_transposes_in_a_while_loop_whose_condition_does_not_read_the_operand():
    before = """
    graph @f {
      %0: f32[3,2] = input() {name='h', index=0}
      %1: f32[3,3] = input() {name='w', index=1}
      %2: (f32[3,2]) = while(%0, %1)
        graph @cond {
          %0: f32[3,2] = input() {name='carry0', index=0}
          %1: f32[3,3] = input() {name='w', index=1}
          %2: f32[] = reduce_sum(%0) {axis=None, keep_dims=False}
          %3: f32[] = const() {value=array(100.0, f32)}
          %4: bool[] = lt(%2, %3)
          return %4
        }
        graph @body {
          %0: f32[3,2] = input() {name='carry0', index=0}
          %1: f32[3,3] = input() {name='w', index=1}
          %2: f32[3,2] = matmul(%1, %0) {transpose_a=True, transpose_b=False}
          %3: f32[3,2] = abs(%2)
          %4: f32[] = const() {value=array(1.0, f32)}
          %5: f32[3,2] = add(%3, %4)
          return %5
        }
      %3: f32[3,2] = get(%2) {index=0}
      return %3
    }"""
    graph = parse_graph(ir(before))
    reference = results(parse_graph(ir(before)))
    assert run_pass("hoist-transposes", graph) is True
    loop = graph.of_op("while")[0]
    assert loop.inputs[1].op == "transpose" and loop.attrs["body"].of_op("matmul")[0].attrs["transpose_a"] is False
    assert_same_results(reference, results(graph))
