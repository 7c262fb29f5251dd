from passes_support import check_rewrite, check_unchanged


def test_merges_repeated_expressions_with_commutative_operands_in_any_order():
    # %3 is %2 with the operands of a commutative add swapped; then %5 repeats %4 once %3 is %2.
    check_rewrite("cse", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = input() {name='y', index=1}
          %2: f32[3] = add(%0, %1)
          %3: f32[3] = add(%1, %0)
          %4: f32[3] = exp(%2)
          %5: f32[3] = exp(%3)
          %6: f32[3] = sub(%4, %5)
          return %6, %5
        }""", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = input() {name='y', index=1}
          %2: f32[3] = add(%0, %1)
          %4: f32[3] = exp(%2)
          %6: f32[3] = sub(%4, %4)
          return %6, %4
        }""")


def test_operand_order_matters_for_ops_that_are_not_commutative():
    # maximum is not commutative bit for bit: maximum(-0.0, +0.0) is +0.0, maximum(+0.0, -0.0) is -0.0.
    check_unchanged("cse", """
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = input() {name='y', index=1}
          %2: f32[3] = sub(%0, %1)
          %3: f32[3] = sub(%1, %0)
          %4: f32[3] = maximum(%0, %1)
          %5: f32[3] = maximum(%1, %0)
          return %2, %3, %4, %5
        }""")


def test_constants_merge_by_dtype_shape_and_bytes_so_signed_zeros_stay_apart():
    check_rewrite("cse", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[] = const() {value=array(0.0, f32)}
          %2: f32[] = const() {value=array(-0.0, f32)}
          %3: f32[] = const() {value=array(0.0, f32)}
          %4: f64[] = const() {value=array(0.0, f64)}
          %5: f32[1] = const() {value=array([0.0], f32)}
          %6: f32[2] = add(%0, %1)
          %7: f32[2] = add(%0, %2)
          %8: f32[2] = add(%0, %3)
          %9: f32[2] = add(%0, %5)
          return %6, %7, %8, %9, %4
        }""", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[] = const() {value=array(0.0, f32)}
          %2: f32[] = const() {value=array(-0.0, f32)}
          %4: f64[] = const() {value=array(0.0, f64)}
          %5: f32[1] = const() {value=array([0.0], f32)}
          %6: f32[2] = add(%0, %1)
          %7: f32[2] = add(%0, %2)
          %9: f32[2] = add(%0, %5)
          return %6, %7, %6, %9, %4
        }""")


def test_attributes_are_part_of_the_expression():
    check_unchanged("cse", """
        graph @f {
          %0: f32[2,3] = input() {name='x', index=0}
          %1: f32[3] = reduce_sum(%0) {axis=0, keep_dims=False}
          %2: f32[2] = reduce_sum(%0) {axis=1, keep_dims=False}
          %3: f32[3,2] = transpose(%0) {perm=(1, 0)}
          %4: f32[3,2] = reshape(%0) {shape=(3, 2)}
          return %1, %2, %3, %4
        }""")


def test_impure_nodes_are_never_merged():
    check_unchanged("cse", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[2] = param() {name='p'}
          %2: f32[2] = assign(%1, %0)
          %3: f32[2] = assign(%1, %0)
          return %0
        }""")
