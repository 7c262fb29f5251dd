"""widen-half: a node computing on float16/bfloat16 computes in float32 between casts; moves, casts
and assigns keep their half operands (results bit for bit the interpreter's, which computes the same)."""
from passes_support import check_rewrite, check_unchanged


def test_a_half_computation_is_done_in_float32_and_rounded():
    check_rewrite("widen-half", """
        graph @f {
          %0: bf16[2,3] = input() {name='x', index=0}
          %1: f16[3] = input() {name='y', index=1}
          %2: bf16[2,3] = relu(%0)
          %3: bool[2,3] = gt(%2, %0)
          %4: f16[3] = exp(%1)
          return %3, %4
        }""", """
        graph @f {
          %0: bf16[2,3] = input() {name='x', index=0}
          %1: f16[3] = input() {name='y', index=1}
          %5: f32[2,3] = cast(%0) {dtype=f32}
          %6: f32[2,3] = relu(%5)
          %7: bf16[2,3] = cast(%6) {dtype=bf16}
          %8: f32[2,3] = cast(%7) {dtype=f32}
          %9: f32[2,3] = cast(%0) {dtype=f32}
          %10: bool[2,3] = gt(%8, %9)
          %11: f32[3] = cast(%1) {dtype=f32}
          %12: f32[3] = exp(%11)
          %13: f16[3] = cast(%12) {dtype=f16}
          return %10, %13
        }""")


def test_moves_casts_and_float32_nodes_are_left_alone():
    check_unchanged("widen-half", """
        graph @f {
          %0: bf16[2,3] = input() {name='x', index=0}
          %1: bf16[3,2] = transpose(%0) {perm=(1, 0)}
          %2: f32[3,2] = cast(%1) {dtype=f32}
          %3: f32[3,2] = relu(%2)
          return %3
        }""")
