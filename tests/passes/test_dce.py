from passes_support import check_rewrite, check_unchanged


def test_removes_what_reaches_neither_an_output_nor_an_assign():
    # %3-%4 and the parameter q feed nothing; %6-%7 feed only the assign, which stays with them;
    # the unused input y stays: inputs are the graph's signature.
    check_rewrite("dce", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[2] = input() {name='y', index=1}
          %2: f32[2] = param() {name='p'}
          %3: f32[2] = exp(%0)
          %4: f32[2] = neg(%3)
          %5: f32[2] = param() {name='q'}
          %6: f32[2] = mul(%0, %2)
          %7: f32[2] = sub(%2, %6)
          %8: f32[2] = assign(%2, %7)
          %9: f32[2] = add(%0, %0)
          return %9
        }""", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[2] = input() {name='y', index=1}
          %2: f32[2] = param() {name='p'}
          %6: f32[2] = mul(%0, %2)
          %7: f32[2] = sub(%2, %6)
          %8: f32[2] = assign(%2, %7)
          %9: f32[2] = add(%0, %0)
          return %9
        }""")


def test_a_graph_without_dead_code_is_left_alone():
    check_unchanged("dce", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[] = const() {value=array(2.0, f32)}
          %2: f32[2] = mul(%0, %1)
          return %2, %0
        }""")
