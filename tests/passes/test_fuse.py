import pytest

from graphc.ir.text import parse_graph, print_graph
from graphc.ir.verify import VerifyError, verify
from graphc.passes.rewrite import is_impure
from passes_support import check_rewrite, check_unchanged, ir

ELEMENTWISE_CHAIN = """
    graph @f {
      %0: f32[4,3] = input() {name='x', index=0}
      %1: f32[3] = input() {name='b', index=1}
      %6: f32[4,3] = fused(%0, %1) {kind='elementwise'}
        graph @region6 {
          %0: f32[4,3] = input() {name='in0', index=0}
          %1: f32[3] = input() {name='in1', index=1}
          %2: f32[4,3] = exp(%0)
          %3: f32[4,3] = add(%2, %1)
          %4: f32[] = const() {value=array(0.5, f32)}
          %5: f32[4,3] = mul(%3, %4)
          %6: f32[4,3] = relu(%5)
          return %6
        }
      return %6
    }"""


def test_fuses_a_chain_of_elementwise_ops_with_its_scalar_constants():
    check_rewrite("fuse", """
        graph @f {
          %0: f32[4,3] = input() {name='x', index=0}
          %1: f32[3] = input() {name='b', index=1}
          %2: f32[4,3] = exp(%0)
          %3: f32[4,3] = add(%2, %1)
          %4: f32[] = const() {value=array(0.5, f32)}
          %5: f32[4,3] = mul(%3, %4)
          %6: f32[4,3] = relu(%5)
          return %6
        }""", ELEMENTWISE_CHAIN)


def test_fuses_bias_add_and_relu_into_the_matmul_but_not_the_reduction_after_it():
    check_rewrite("fuse", """
        graph @f {
          %0: f32[8,4] = input() {name='x', index=0}
          %1: f32[3,4] = param() {name='w'}
          %2: f32[3] = param() {name='b'}
          %3: f32[8,3] = matmul(%0, %1) {transpose_a=False, transpose_b=True}
          %4: f32[8,3] = add(%3, %2)
          %5: f32[8,3] = relu(%4)
          %6: f32[3] = reduce_sum(%5) {axis=0, keep_dims=False}
          return %6
        }""", """
        graph @f {
          %0: f32[8,4] = input() {name='x', index=0}
          %1: f32[3,4] = param() {name='w'}
          %2: f32[3] = param() {name='b'}
          %5: f32[8,3] = fused(%0, %1, %2) {kind='out-fusable'}
            graph @region5 {
              %0: f32[8,4] = input() {name='in0', index=0}
              %1: f32[3,4] = input() {name='w', index=1}
              %2: f32[3] = input() {name='b', index=2}
              %3: f32[8,3] = matmul(%0, %1) {transpose_a=False, transpose_b=True}
              %4: f32[8,3] = add(%3, %2)
              %5: f32[8,3] = relu(%4)
              return %5
            }
          %6: f32[3] = reduce_sum(%5) {axis=0, keep_dims=False}
          return %6
        }""")


def test_fuses_an_elementwise_prologue_into_a_reduction_but_no_epilogue():
    check_rewrite("fuse", """
        graph @f {
          %0: f32[4,3] = input() {name='x', index=0}
          %1: f32[4,3] = mul(%0, %0)
          %2: f32[4] = reduce_sum(%1) {axis=1, keep_dims=False}
          %3: f32[4] = sqrt(%2)
          return %3
        }""", """
        graph @f {
          %0: f32[4,3] = input() {name='x', index=0}
          %2: f32[4] = fused(%0) {kind='reduce'}
            graph @region2 {
              %0: f32[4,3] = input() {name='in0', index=0}
              %1: f32[4,3] = mul(%0, %0)
              %2: f32[4] = reduce_sum(%1) {axis=1, keep_dims=False}
              return %2
            }
          %3: f32[4] = sqrt(%2)
          return %3
        }""")


def test_a_value_used_by_several_members_joins_once_they_are_all_in_the_region():
    check_rewrite("fuse", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = exp(%0)
          %2: f32[3] = neg(%1)
          %3: f32[3] = abs(%1)
          %4: f32[3] = add(%2, %3)
          return %4
        }""", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %4: f32[3] = fused(%0) {kind='elementwise'}
            graph @region4 {
              %0: f32[3] = input() {name='in0', index=0}
              %1: f32[3] = exp(%0)
              %2: f32[3] = neg(%1)
              %3: f32[3] = abs(%1)
              %4: f32[3] = add(%2, %3)
              return %4
            }
          return %4
        }""")


def test_fuses_the_relu_mask_into_the_max_pool_gradient_but_not_the_scaling_of_its_dy():
    # The backward pass of relu -> max_pool2d: dx = relu_grad(max_pool2d_grad(...), relu output).
    # A pooling gradient is out-fusable: elementwise consumers join it, producers (%3) do not.
    pool = "{kernel_size=(2, 2), stride=(2, 2), pad_mode='valid'}"
    check_rewrite("fuse", f"""
        graph @f {{
          %0: f32[1,2,4,4] = input() {{name='r', index=0}}
          %1: f32[1,2,2,2] = input() {{name='dy', index=1}}
          %2: f32[1,2,2,2] = max_pool2d(%0) {pool}
          %3: f32[1,2,2,2] = add(%1, %1)
          %4: f32[1,2,4,4] = max_pool2d_grad(%0, %2, %3) {pool}
          %5: f32[1,2,4,4] = relu_grad(%4, %0)
          return %5
        }}""", f"""
        graph @f {{
          %0: f32[1,2,4,4] = input() {{name='r', index=0}}
          %1: f32[1,2,2,2] = input() {{name='dy', index=1}}
          %2: f32[1,2,2,2] = max_pool2d(%0) {pool}
          %3: f32[1,2,2,2] = add(%1, %1)
          %5: f32[1,2,4,4] = fused(%0, %2, %3) {{kind='out-fusable'}}
            graph @region5 {{
              %0: f32[1,2,4,4] = input() {{name='in0', index=0}}
              %2: f32[1,2,2,2] = input() {{name='in1', index=1}}
              %3: f32[1,2,2,2] = input() {{name='in2', index=2}}
              %4: f32[1,2,4,4] = max_pool2d_grad(%0, %2, %3) {pool}
              %5: f32[1,2,4,4] = relu_grad(%4, %0)
              return %5
            }}
          return %5
        }}""")


def test_fuses_an_optimizer_update_with_its_assigns_into_the_gradient_matmul():
    # m = 0.5 m + dW; w = w - 0.25 m, with dW = dyᵀ x. The forward matmul reads w, and stays out.
    check_rewrite("fuse", """
        graph @step {
          %0: f32[8,4] = input() {name='x', index=0}
          %1: f32[8,3] = input() {name='dy', index=1}
          %2: f32[3,4] = param() {name='w'}
          %3: f32[3,4] = param() {name='m'}
          %4: f32[3,4] = matmul(%1, %0) {transpose_a=True, transpose_b=False}
          %5: f32[] = const() {value=array(0.5, f32)}
          %6: f32[3,4] = mul(%3, %5)
          %7: f32[3,4] = add(%6, %4)
          %8: f32[3,4] = assign(%3, %7)
          %9: f32[] = const() {value=array(0.25, f32)}
          %10: f32[3,4] = mul(%7, %9)
          %11: f32[3,4] = sub(%2, %10)
          %12: f32[3,4] = assign(%2, %11)
          %13: f32[8,3] = matmul(%0, %2) {transpose_a=False, transpose_b=True}
          return %13
        }""", """
        graph @step {
          %0: f32[8,4] = input() {name='x', index=0}
          %1: f32[8,3] = input() {name='dy', index=1}
          %2: f32[3,4] = param() {name='w'}
          %3: f32[3,4] = param() {name='m'}
          %12: f32[3,4] = fused(%1, %0, %3, %2) {kind='out-fusable'}
            graph @region12 {
              %0: f32[8,4] = input() {name='in1', index=1}
              %1: f32[8,3] = input() {name='in0', index=0}
              %2: f32[3,4] = input() {name='w', index=3}
              %3: f32[3,4] = input() {name='m', index=2}
              %4: f32[3,4] = matmul(%1, %0) {transpose_a=True, transpose_b=False}
              %5: f32[] = const() {value=array(0.5, f32)}
              %6: f32[3,4] = mul(%3, %5)
              %7: f32[3,4] = add(%6, %4)
              %8: f32[3,4] = assign(%3, %7)
              %9: f32[] = const() {value=array(0.25, f32)}
              %10: f32[3,4] = mul(%7, %9)
              %11: f32[3,4] = sub(%2, %10)
              %12: f32[3,4] = assign(%2, %11)
              return %12
            }
          %13: f32[8,3] = matmul(%0, %2) {transpose_a=False, transpose_b=True}
          return %13
        }""")


def test_never_fuses_across_a_path_that_leaves_and_reenters_the_region():
    # Fusing exp (%2) with the add and assign after it would make the region both feed the
    # transpose and consume it: a cycle.
    check_rewrite("fuse", """
        graph @f {
          %0: f32[3,3] = input() {name='x', index=0}
          %1: f32[3,3] = param() {name='p'}
          %2: f32[3,3] = exp(%0)
          %3: f32[3,3] = transpose(%2) {perm=(1, 0)}
          %4: f32[3,3] = add(%2, %3)
          %5: f32[3,3] = assign(%1, %4)
          return %2
        }""", """
        graph @f {
          %0: f32[3,3] = input() {name='x', index=0}
          %1: f32[3,3] = param() {name='p'}
          %2: f32[3,3] = exp(%0)
          %3: f32[3,3] = transpose(%2) {perm=(1, 0)}
          %5: f32[3,3] = fused(%2, %3, %1) {kind='elementwise'}
            graph @region5 {
              %1: f32[3,3] = input() {name='p', index=2}
              %2: f32[3,3] = input() {name='in0', index=0}
              %3: f32[3,3] = input() {name='in1', index=1}
              %4: f32[3,3] = add(%2, %3)
              %5: f32[3,3] = assign(%1, %4)
              return %5
            }
          return %2
        }""")


def test_a_region_has_one_result_so_two_values_used_outside_stay_apart():
    check_unchanged("fuse", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = exp(%0)
          %2: f32[3] = neg(%1)
          return %1, %2
        }""")


def test_ops_of_different_shapes_stay_apart():
    check_unchanged("fuse", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[2,3] = input() {name='y', index=1}
          %2: f32[3] = exp(%0)
          %3: f32[2,3] = add(%1, %2)
          return %3
        }""")


def test_a_region_assigning_a_parameter_its_matmul_reads_is_not_formed():
    # In place, the matmul would read elements of w the epilogue has already written.
    check_unchanged("fuse", """
        graph @f {
          %0: f32[3,3] = input() {name='x', index=0}
          %1: f32[3,3] = param() {name='w'}
          %2: f32[3,3] = matmul(%0, %1) {transpose_a=False, transpose_b=False}
          %3: f32[3,3] = assign(%1, %2)
          return %0
        }""")


def test_a_value_read_with_the_parameter_after_the_region_keeps_the_read_before_the_assign():
    # neg(p) joining assign(p, neg(p) * 2) would put the matmul, which reads p from before the step,
    # after the region that assigns it: neg stays outside, the mul and the assign fuse
    check_rewrite("fuse", """
        graph @f {
          %0: f32[3,3] = param() {name='p'}
          %1: f32[3,3] = neg(%0)
          %2: f32[] = const() {value=array(2.0, f32)}
          %3: f32[3,3] = mul(%1, %2)
          %4: f32[3,3] = assign(%0, %3)
          %5: f32[3,3] = matmul(%1, %0) {transpose_a=False, transpose_b=False}
          return %5
        }""", """
        graph @f {
          %0: f32[3,3] = param() {name='p'}
          %1: f32[3,3] = neg(%0)
          %4: f32[3,3] = fused(%1, %0) {kind='elementwise'}
            graph @region4 {
              %0: f32[3,3] = input() {name='p', index=1}
              %1: f32[3,3] = input() {name='in0', index=0}
              %2: f32[] = const() {value=array(2.0, f32)}
              %3: f32[3,3] = mul(%1, %2)
              %4: f32[3,3] = assign(%0, %3)
              return %4
            }
          %5: f32[3,3] = matmul(%1, %0) {transpose_a=False, transpose_b=False}
          return %5
        }""")


def test_fused_regions_print_and_parse_back():
    graph = parse_graph(ir(ELEMENTWISE_CHAIN))
    verify(graph)
    assert print_graph(graph) == ir(ELEMENTWISE_CHAIN)
    assert not is_impure(graph.nodes[6])


BROKEN_REGIONS = {
    "an operand of another type": ("%1: f32[3] = input() {name='in1', index=1}",
                                   "%1: f32[1] = input() {name='in1', index=1}", "body input 1 is f32"),
    "a missing body input": ("%1: f32[3] = input() {name='in1', index=1}",
                             "%1: f32[3] = const() {value=array([1.0, 2.0, 3.0], f32)}", "indexed 0..1"),
    "an unknown kind": ("kind='elementwise'", "kind='loop'", "exactly the attributes kind"),
    "a result of another type": ("%6: f32[4,3] = fused(", "%6: f64[4,3] = fused(", "return one value"),
}


@pytest.mark.parametrize("name", BROKEN_REGIONS)
def test_the_verifier_checks_the_fused_node_contract(name):
    old, new, message = BROKEN_REGIONS[name]
    with pytest.raises(VerifyError, match=message):
        verify(parse_graph(ir(ELEMENTWISE_CHAIN).replace(old, new, 1)))


def test_the_verifier_requires_assigns_in_a_region_to_target_a_parameter_operand():
    text = ir("""
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = input() {name='y', index=1}
          %3: f32[3] = fused(%0, %1) {kind='elementwise'}
            graph @region3 {
              %0: f32[3] = input() {name='in0', index=0}
              %1: f32[3] = input() {name='in1', index=1}
              %2: f32[3] = neg(%1)
              %3: f32[3] = assign(%0, %2)
              return %3
            }
          return %0
        }""")
    with pytest.raises(VerifyError, match="not bound to a parameter"):
        verify(parse_graph(text))
    graph = parse_graph(text.replace("input() {name='x', index=0}", "param() {name='x'}", 1)
                        .replace("{name='in0', index=0}", "{name='x', index=0}"))
    verify(graph)
    assert is_impure(graph.nodes[3])
