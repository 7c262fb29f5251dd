"""fold-batch-norm: inference batch norm folded into the convolution's weights; the interpreter gives
the same results before and after up to rounding (w · s is rounded before the sums, not after)."""
import numpy as np

from graphc import interp
from graphc.ir.text import parse_graph, print_graph

from passes_support import ir, run_pass

CONV = "{stride=(1, 1), pad_mode='valid', padding=(0, 0, 0, 0), dilation=(1, 1), group=2}"
BEFORE = f"""
    graph @f {{
      %0: f32[2,2,5,5] = input() {{name='x', index=0}}
      %1: f32[4,1,3,3] = param() {{name='w'}}
      %2: f32[2,4,3,3] = conv2d(%0, %1) {CONV}
      %3: f32[4] = param() {{name='bn.moving_variance'}}
      %4: f32[4] = rsqrt(%3)
      %5: f32[1,4,1,1] = reshape(%4) {{shape=(1, 4, 1, 1)}}
      %6: f32[1,4,1,1] = param() {{name='bn.beta'}}
      %7: f32[2,4,3,3] = channel_affine(%2, %5, %6)
      %8: f32[2,4,3,3] = relu(%7)
      return %8
    }}"""


def values(graph, seed=0):
    rng = np.random.default_rng(seed)
    params = {n.attrs["name"]: rng.uniform(0.5, 2.0, n.type.shape).astype(np.float32) for n in graph.params}
    return [rng.standard_normal(n.type.shape).astype(np.float32) for n in graph.inputs], params


def test_the_scale_moves_into_the_weights_and_the_shift_becomes_an_add():
    graph = parse_graph(ir(BEFORE))
    inputs, params = values(graph)
    (expected,), _ = interp.run(graph, inputs, params)
    assert run_pass("fold-batch-norm", graph) is True
    assert print_graph(graph) == ir(f"""
        graph @f {{
          %0: f32[2,2,5,5] = input() {{name='x', index=0}}
          %1: f32[4,1,3,3] = param() {{name='w'}}
          %3: f32[4] = param() {{name='bn.moving_variance'}}
          %4: f32[4] = rsqrt(%3)
          %5: f32[1,4,1,1] = reshape(%4) {{shape=(1, 4, 1, 1)}}
          %6: f32[1,4,1,1] = param() {{name='bn.beta'}}
          %9: f32[4,1,1,1] = reshape(%5) {{shape=(4, 1, 1, 1)}}
          %10: f32[4,1,3,3] = mul(%1, %9)
          %11: f32[2,4,3,3] = conv2d(%0, %10) {CONV}
          %7: f32[2,4,3,3] = add(%11, %6)
          %8: f32[2,4,3,3] = relu(%7)
          return %8
        }}""")
    assert run_pass("fold-batch-norm", graph) is False
    (got,), _ = interp.run(graph, inputs, params)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_training_statistics_and_a_shared_convolution_are_left_alone():
    # the scale computed from the convolution's own output (a batch's statistics): folding it into
    # the weights would be a cycle
    from_batch = BEFORE.replace("%4: f32[4] = rsqrt(%3)",
                                "%4: f32[4] = reduce_mean(%2) {axis=(0, 2, 3), keep_dims=False}")
    # the convolution's output read elsewhere too: it must stay as it is
    shared = BEFORE.replace("return %8", "return %8, %2")
    for text in (from_batch, shared):
        graph = parse_graph(ir(text))
        assert run_pass("fold-batch-norm", graph) is False
        assert print_graph(graph) == print_graph(parse_graph(ir(text)))
