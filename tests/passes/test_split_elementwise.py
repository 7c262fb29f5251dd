import pytest

from passes_support import check_rewrite, check_unchanged

INPUTS = """
  %0: f32[2,3] = input() {name='x', index=0}
  %1: f32[2,3] = input() {name='y', index=1}
  %2: f32[4,3] = input() {name='w', index=2}"""


def graph(body: str, returns: str) -> str:
    return f"graph @f {{{INPUTS}{body}\n  return {returns}\n}}"


def test_an_elementwise_op_on_a_concat_becomes_one_per_piece_on_slices_of_its_other_operand():
    check_rewrite("split-elementwise", graph("""
  %3: f32[2,3] = neg(%0)
  %4: f32[2,3] = exp(%1)
  %5: f32[4,3] = concat(%3, %4) {axis=0}
  %6: f32[4,3] = mul(%5, %2)""", "%6"), graph("""
  %3: f32[2,3] = neg(%0)
  %4: f32[2,3] = exp(%1)
  %7: f32[2,3] = strided_slice(%2) {begin=(0,), end=(2,), strides=(1,)}
  %8: f32[2,3] = mul(%3, %7)
  %9: f32[2,3] = strided_slice(%2) {begin=(2,), end=(4,), strides=(1,)}
  %10: f32[2,3] = mul(%4, %9)
  %6: f32[4,3] = concat(%8, %10) {axis=0}""", "%6"))


def test_an_operand_broadcast_along_the_concat_axis_is_not_sliced():
    check_rewrite("split-elementwise", graph("""
  %3: f32[2,3] = neg(%0)
  %4: f32[2,3] = exp(%1)
  %5: f32[2,6] = concat(%3, %4) {axis=1}
  %6: f32[6] = const() {value=array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], f32)}
  %7: f32[2,6] = sub(%6, %5)""", "%7"), graph("""
  %3: f32[2,3] = neg(%0)
  %4: f32[2,3] = exp(%1)
  %6: f32[6] = const() {value=array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], f32)}
  %8: f32[3] = strided_slice(%6) {begin=(0,), end=(3,), strides=(1,)}
  %9: f32[2,3] = sub(%8, %3)
  %10: f32[3] = strided_slice(%6) {begin=(3,), end=(6,), strides=(1,)}
  %11: f32[2,3] = sub(%10, %4)
  %7: f32[2,6] = concat(%9, %11) {axis=1}""", "%7"))


def test_slices_of_an_elementwise_result_read_by_elementwise_ops_slice_its_operands():
    # %3's operands: %2 sliced along axis 0 only; the [1,3] constant broadcasts there and stays whole
    check_rewrite("split-elementwise", graph("""
  %3: f32[1,3] = const() {value=array([[1.0, 2.0, 3.0]], f32)}
  %4: f32[4,3] = add(%2, %3)
  %5: f32[2,3] = strided_slice(%4) {begin=(0,), end=(2,), strides=(1,)}
  %6: f32[2,3] = strided_slice(%4) {begin=(2,), end=(4,), strides=(1,)}
  %7: f32[2,3] = mul(%5, %0)
  %8: f32[2,3] = mul(%6, %1)""", "%7, %8"), graph("""
  %3: f32[1,3] = const() {value=array([[1.0, 2.0, 3.0]], f32)}
  %9: f32[2,3] = strided_slice(%2) {begin=(0,), end=(2,), strides=(1,)}
  %5: f32[2,3] = add(%9, %3)
  %7: f32[2,3] = mul(%5, %0)
  %11: f32[2,3] = strided_slice(%2) {begin=(2,), end=(4,), strides=(1,)}
  %6: f32[2,3] = add(%11, %3)
  %8: f32[2,3] = mul(%6, %1)""", "%7, %8"))


UNCHANGED = {
    "the concat is read twice": ("""
  %3: f32[2,3] = neg(%0)
  %4: f32[2,3] = exp(%1)
  %5: f32[4,3] = concat(%3, %4) {axis=0}
  %6: f32[4,3] = mul(%5, %2)""", "%6, %5"),
    "a piece is read elsewhere too": ("""
  %3: f32[2,3] = neg(%0)
  %4: f32[2,3] = exp(%1)
  %5: f32[4,3] = concat(%3, %4) {axis=0}
  %6: f32[4,3] = mul(%5, %2)""", "%6, %4"),
    "a piece is an input, with no kernel to fuse into": ("""
  %3: f32[2,3] = neg(%0)
  %4: f32[4,3] = concat(%3, %1) {axis=0}
  %5: f32[4,3] = mul(%4, %2)""", "%5"),
    "the op broadcasts the concat up": ("""
  %3: f32[1,3] = strided_slice(%0) {begin=(0,), end=(1,), strides=(1,)}
  %4: f32[1,3] = neg(%3)
  %5: f32[1,3] = exp(%3)
  %6: f32[1,6] = concat(%4, %5) {axis=1}
  %7: f32[4,6] = broadcast_to(%6) {shape=(4, 6)}
  %8: f32[4,6] = mul(%6, %7)""", "%8"),
    "a slice is read by a matmul": ("""
  %3: f32[4,3] = exp(%2)
  %4: f32[2,3] = strided_slice(%3) {begin=(0,), end=(2,), strides=(1,)}
  %5: f32[2,2] = matmul(%4, %0) {transpose_a=False, transpose_b=True}""", "%5"),
    "the sliced value is returned too": ("""
  %3: f32[4,3] = exp(%2)
  %4: f32[2,3] = strided_slice(%3) {begin=(0,), end=(2,), strides=(1,)}
  %5: f32[2,3] = neg(%4)""", "%5, %3"),
    "slices overlap": ("""
  %3: f32[4,3] = exp(%2)
  %4: f32[3,3] = strided_slice(%3) {begin=(0,), end=(3,), strides=(1,)}
  %5: f32[3,3] = strided_slice(%3) {begin=(1,), end=(4,), strides=(1,)}
  %6: f32[3,3] = neg(%4)
  %7: f32[3,3] = neg(%5)""", "%6, %7"),
    "a slice runs backwards": ("""
  %3: f32[4,3] = exp(%2)
  %4: f32[4,3] = strided_slice(%3) {begin=(-1,), end=(-5,), strides=(-1,)}
  %5: f32[4,3] = neg(%4)""", "%5"),
    "the sliced op is positional (dropout's mask follows the element index)": ("""
  %3: i64[] = const() {value=array(7, i64)}
  %4: f32[4,3] = dropout(%2, %3) {keep_prob=0.5, seed=1}
  %5: f32[2,3] = strided_slice(%4) {begin=(0,), end=(2,), strides=(1,)}
  %6: f32[2,3] = neg(%5)""", "%6"),
}


@pytest.mark.parametrize("name", UNCHANGED)
def test_leaves_alone(name):
    body, returns = UNCHANGED[name]
    check_unchanged("split-elementwise", graph(body, returns))


def test_the_lstm_backward_step_joins_the_gate_gradients_without_a_pass_over_them():
    """The four gates' gradients times the gates' slope: each piece's product in the piece's own kernel,
    which writes it straight into the trip's slot of the stacked result (no copy, no pass over the whole)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import models
    from graphc.ir.control import is_control, regions
    from graphc.codegen.lower import lower_graph
    from graphc.jit import trace
    from graphc.passes.manager import run_pipeline

    traced = trace(models.make_train_step(models.make_network("lstm")), models.batch("lstm"))
    run_pipeline(traced.graph)
    backward = [body for node in traced.graph.order() if is_control(node) and node.attrs.get("reverse")
                for body in regions(node)][0]
    concat = backward.of_op("concat")[0]
    assert [piece.op for piece in concat.inputs] == ["fused"] * 4
    assert all(backward.users(piece) == [concat] for piece in concat.inputs)
    names = [call.name for call in lower_graph(traced.graph).calls]
    assert not [name for name in names if ".concat" in name], names
