"""float16 and bfloat16 (issue 23): types, IR text, casts, and native code against the references, which
compute on half operands in float32 and round the result (graphc.ops.core.Op.run)."""
import ml_dtypes
import numpy as np
import pytest
from llvmlite import ir

import graphc as ms
from graphc import nn, ops
from graphc.codegen.emitter import VectorEmitter
from graphc.codegen.lower import lower_graph
from graphc.codegen.machine import CodegenError, has_amx
from graphc.errors import GraphcError
from graphc.ir.text import parse_graph, print_graph
from graphc.jit import trace
from graphc.passes import run_pipeline
from graphc.types import TensorType, bfloat16, float16, float32, promote_types

HALVES = [float16, bfloat16]


def half(array, dtype):
    return ops.cast(ms.Tensor(np.asarray(array, np.float32)), dtype)


def test_names_types_and_numpy():
    assert (str(ms.float16), str(ms.bfloat16)) == ("Float16", "BFloat16")       # MindSpore's spelling
    assert ms.bfloat16.np is ml_dtypes.bfloat16 and ms.bfloat16.is_half and ms.bfloat16.is_float
    assert str(TensorType((2, 3), bfloat16)) == "bf16[2,3]" and TensorType.parse("f16[4]").dtype is float16
    assert promote_types([float16, float32]) is float32 and promote_types([bfloat16, float16]) is float32
    assert promote_types([bfloat16], [2]) is bfloat16                           # a Python float never widens
    t = half([1.0, 2.5], bfloat16)
    assert t.dtype is ms.bfloat16 and t.asnumpy().view(np.uint16).tolist() == [0x3F80, 0x4020]
    assert (t.half().dtype, t.half().bfloat16().dtype, t.float().dtype) == (float16, bfloat16, float32)


def test_ir_text_round_trip():
    traced = trace(lambda x: ops.cast(ops.relu(x) * 2.0, dtype=float32), [half(np.ones((2, 3)), bfloat16)])
    text = print_graph(traced.graph)
    assert "bf16[2,3]" in text
    assert print_graph(parse_graph(text)) == text


@pytest.mark.parametrize("dtype", HALVES, ids=str)
def test_native_casts_round_as_numpy(dtype):
    """Ties to even, overflow to inf, NaN kept, subnormals: the conversions in registers give NumPy's
    (float16) and ml_dtypes' (bfloat16) bits."""
    values = np.array([0.0, -0.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520.0, 3.4e38,
                       np.inf, -np.inf, np.nan, 1e-6, 1e-40, -2.75, 1234.567], np.float32)
    native = ms.jit(lambda x: ops.cast(x, dtype=dtype))(ms.Tensor(values)).asnumpy()
    with np.errstate(over="ignore"):
        expected = values.astype(dtype.np)
    assert native.view(np.uint16).tolist() == expected.view(np.uint16).tolist()
    back = ms.jit(lambda x: ops.cast(x, dtype=float32))(ms.Tensor(expected)).asnumpy()
    np.testing.assert_array_equal(back, expected.astype(np.float32))


@pytest.mark.parametrize("dtype", HALVES, ids=str)
def test_native_elementwise_rounds_each_op(dtype):
    rng = np.random.default_rng(0)
    x, y = (half(rng.standard_normal((4, 37)), dtype) for _ in range(2))
    f = lambda x, y: ops.relu(x * y + 1.5) - ops.exp(x)        # noqa: E731
    native = ms.jit(f)(x, y)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    expected = f(x, y)
    assert native.dtype is dtype and expected.dtype is dtype
    np.testing.assert_array_equal(native.asnumpy().view(np.uint16), expected.asnumpy().view(np.uint16))


class _HalfNet(nn.Cell):
    """conv -> relu -> matmul in bfloat16 on bfloat16 copies of float32 parameters."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 8, 3), nn.Dense(8 * 6 * 6, 5)

    def construct(self, x):
        y = ops.relu(ops.conv2d(ops.cast(x, bfloat16), ops.cast(self.conv.weight, bfloat16), pad_mode="same"))
        y = ops.matmul(ops.reshape(y, (y.shape[0], -1)), ops.cast(ops.transpose(self.fc.weight, (1, 0)), bfloat16))
        return ops.cast(y, float32)


def test_native_conv_matmul_and_gradients_match_the_references():
    ms.set_seed(0)
    net = _HalfNet()
    x = ms.Tensor(np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32))
    step = ms.value_and_grad(lambda x: net(x).sum(), None, net.trainable_params())
    native_loss, native_grads = ms.jit(step)(x)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    loss, grads = step(x)
    np.testing.assert_allclose(native_loss.asnumpy(), loss.asnumpy(), rtol=1e-6)
    for native, expected in zip(native_grads, grads):
        assert native.dtype is float32        # the gradient of a float32 parameter through its cast
        np.testing.assert_allclose(native.asnumpy(), expected.asnumpy(), rtol=1e-6, atol=1e-6)


def test_native_bfloat16_dense_layer_with_its_epilogue():
    """matmul keeps its bfloat16 operands and result (its kernel converts in registers); the bias and
    relu fused after it start from the product rounded to bfloat16, as the reference does."""
    rng = np.random.default_rng(2)
    x, w, b = (half(rng.standard_normal(shape), bfloat16) for shape in ((9, 40), (37, 40), (37,)))
    f = lambda x, w, b: ops.relu(ops.get("matmul")(x, w, transpose_b=True) + b)        # noqa: E731
    graph = trace(f, [x, w, b]).graph
    run_pipeline(graph, "widen-half")
    native = ms.jit(f)(x, w, b)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    expected = f(x, w, b).asnumpy().astype(np.float32)
    assert native.dtype is bfloat16 and [n.type.dtype for n in graph.of_op("matmul")] == [bfloat16]
    np.testing.assert_allclose(native.asnumpy().astype(np.float32), expected, rtol=2 ** -8, atol=1e-6)


def test_native_pointwise_convolution_and_its_input_gradient_stay_bfloat16():
    """A 1x1 convolution is a batched matmul, so it and its input gradient keep their bfloat16 operands;
    a 3x3 one computes in float32 between casts. Both match the references."""
    rng = np.random.default_rng(3)
    x, w1, w3 = (half(rng.standard_normal(shape), bfloat16) for shape in ((3, 8, 5, 5), (6, 8, 1, 1), (6, 8, 3, 3)))

    def f(x, w1, w3):
        pointwise = ops.conv2d(x, w1)
        return ops.cast(ops.reduce_sum(ops.relu(pointwise) * ops.conv2d(x, w3, pad_mode="same")), float32)
    step = ms.value_and_grad(f, 0)
    graph = trace(step, [x, w1, w3]).graph
    run_pipeline(graph, "autodiff,widen-half")
    kinds = {(n.op, n.inputs[1].type.shape[2:]): n.type.dtype for n in graph.order()
             if n.op in ("conv2d", "conv2d_grad_input")}
    assert kinds == {("conv2d", (1, 1)): bfloat16, ("conv2d", (3, 3)): float32,
                     ("conv2d_grad_input", (1, 1)): bfloat16, ("conv2d_grad_input", (3, 3)): float32}
    native_value, native_grad = ms.jit(step)(x, w1, w3)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    value, grad = step(x, w1, w3)
    np.testing.assert_allclose(native_value.asnumpy(), value.asnumpy(), rtol=2 ** -7)
    np.testing.assert_allclose(native_grad.asnumpy().astype(np.float32), grad.asnumpy().astype(np.float32),
                               rtol=2 ** -7, atol=2 ** -7 * np.abs(grad.asnumpy().astype(np.float32)).max())


@pytest.mark.parametrize("dtype", HALVES, ids=str)
def test_native_reductions_read_half_values_in_their_prologue(dtype):
    rng = np.random.default_rng(6)
    x, y, z = (half(rng.standard_normal((4, 6, 37)), dtype) for _ in range(3))
    f = lambda x, y, z: (ops.reduce_sum(x * y, axis=(0, 2)), ops.reduce_max(ops.exp(z), axis=1))   # noqa: E731
    native = ms.jit(f)
    got = native(x, y, z)
    labels = [call.label for call in native.compile(x, y, z).lowered.calls]
    # each reduction reads the halves in its prologue; its float32 result is rounded by a loop of its own
    assert sorted(labels) == ["cast", "cast", "cast+cast+mul+cast+cast+reduce_sum", "cast+exp+cast+cast+reduce_max"], \
        labels
    ms.set_context(mode=ms.PYNATIVE_MODE)
    for native_value, expected in zip(got, f(x, y, z)):
        assert native_value.dtype is dtype
        np.testing.assert_allclose(native_value.asnumpy().astype(np.float32), expected.asnumpy().astype(np.float32),
                                   rtol=float(np.finfo(dtype.np).eps))


CONV_FAMILIES = {   # name: (x shape, w shape, conv attrs), each picking one float32 kernel family where the CPU
    # has no AMX tiles (with tiles, all but depthwise and the strided input gradient run there)
    "direct": ((2, 3, 7, 6), (5, 3, 3, 3), {"pad_mode": "pad", "padding": (1, 0, 1, 0)}),
    "winograd": ((2, 32, 10, 10), (32, 32, 3, 3), {"pad_mode": "valid"}),
    "depthwise": ((2, 16, 6, 6), (16, 1, 3, 3), {"pad_mode": "same", "groups": 16}),
    "strided (columns input gradient)": ((2, 4, 9, 9), (6, 4, 3, 3), {"stride": 2, "pad_mode": "valid"}),
}


@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_native_convolutions_write_half_results_from_their_epilogues(family):
    """A float32 convolution between widen-half's casts stores bfloat16 from its epilogue (no float32
    temporary and second loop), forward and input gradient, unless it runs on AMX tiles with bfloat16
    operands; the numbers are the references'."""
    x_shape, w_shape, attrs = CONV_FAMILIES[family]
    rng = np.random.default_rng(5)
    x, w = half(rng.standard_normal(x_shape), bfloat16), half(rng.standard_normal(w_shape) * 0.3, bfloat16)
    step = ms.value_and_grad(lambda x, w: ops.reduce_sum(ops.cast(ops.relu(ops.conv2d(x, w, **attrs)), float32)), 0)
    native = ms.jit(step)
    native_value, native_grad = native(x, w)
    calls = [call for call in native.compile(x, w).lowered.calls if call.label.startswith("conv2d")]
    on_tiles = lambda call: call.kernel.operands[0].dtype == "bf16"     # noqa: E731
    assert calls and all(call.label.endswith("cast") or on_tiles(call) for call in calls), \
        [call.label for call in calls]
    ms.set_context(mode=ms.PYNATIVE_MODE)
    value, grad = step(x, w)
    np.testing.assert_allclose(native_value.asnumpy(), value.asnumpy(), rtol=2 ** -7)
    np.testing.assert_allclose(native_grad.asnumpy().astype(np.float32), grad.asnumpy().astype(np.float32),
                               rtol=2 ** -7, atol=2 ** -8 * np.abs(grad.asnumpy().astype(np.float32)).max())


@pytest.mark.skipif(not has_amx(), reason="this CPU (or its OS) has no AMX bfloat16 tiles")
@pytest.mark.parametrize("x_shape, attrs", [
    ((2, 8, 6, 6), {"pad_mode": "same"}),                                   # the output keeps the image's size
    ((2, 8, 8, 8), {"pad_mode": "pad", "padding": 1, "stride": 2}),         # gathered taps; dx by phases
    ((2, 8, 10, 12), {"pad_mode": "valid", "dilation": 2}),                 # gathered taps, a shrinking output
], ids=["same", "stride 2", "dilated valid"])
def test_native_convolutions_on_tiles_run_in_bfloat16(x_shape, attrs):
    """Where the CPU has AMX tiles, an ungrouped convolution and its input and filter gradients take
    bfloat16 operands themselves (no casts around a float32 kernel; the forward stores its epilogue's
    float32 result as such); the numbers are the references'."""
    rng = np.random.default_rng(6)
    x, w = half(rng.standard_normal(x_shape), bfloat16), half(rng.standard_normal((5, 8, 3, 3)) * 0.3, bfloat16)
    step = ms.value_and_grad(lambda x, w: ops.reduce_sum(ops.cast(ops.relu(ops.conv2d(x, w, **attrs)), float32)),
                             (0, 1))
    native = ms.jit(step)
    native_value, native_grads = native(x, w)
    calls = native.compile(x, w).lowered.calls
    convs = [call for call in calls if call.label.startswith("conv2d")]
    assert len(convs) == 3 and all(op.dtype == "bf16" for call in convs for op in call.kernel.operands[:2]), \
        [call.label for call in convs]
    ms.set_context(mode=ms.PYNATIVE_MODE)
    value, grads = step(x, w)
    np.testing.assert_allclose(native_value.asnumpy(), value.asnumpy(), rtol=2 ** -7)
    for native_grad, grad in zip(native_grads, grads):
        want = grad.asnumpy().astype(np.float32)
        np.testing.assert_allclose(native_grad.asnumpy().astype(np.float32), want, rtol=2 ** -7,
                                   atol=2 ** -8 * np.abs(want).max())


def test_native_half_gradients_agree_with_finite_differences():
    """Gradients through the bfloat16 dense (vdpbf16ps where the CPU has it) and pointwise-convolution
    kernels, of float32 master weights, against central differences in float64 of the same function on
    the bfloat16-rounded values (its gradient is what float32 compute on half values approximates), in
    a random direction."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 8, 3, 3)).astype(ml_dtypes.bfloat16).astype(np.float64)
    w1 = rng.standard_normal((6, 8, 1, 1)).astype(ml_dtypes.bfloat16).astype(np.float64)
    w2 = rng.standard_normal((5, 54)).astype(ml_dtypes.bfloat16).astype(np.float64)

    def reference(w1, w2):
        y = np.tanh(np.einsum("nchw,oc->nohw", x, w1[:, :, 0, 0])).reshape(4, -1)
        return np.sum(np.tanh(y @ w2.T) ** 2)

    def f(x, w1, w2):
        y = ops.tanh(ops.conv2d(ops.cast(x, bfloat16), ops.cast(w1, bfloat16)))
        z = ops.get("matmul")(ops.reshape(y, (4, -1)), ops.cast(w2, bfloat16), transpose_b=True)
        return ops.reduce_sum(ops.cast(ops.tanh(z), float32) ** 2)
    args = [ms.Tensor(a.astype(np.float32)) for a in (x, w1, w2)]
    grads = ms.jit(ms.grad(f, (1, 2)))(*args)
    for k, (grad, w) in enumerate(zip(grads, (w1, w2))):
        direction = rng.standard_normal(w.shape)
        step = 1e-4
        shifted = [[w1, w2] for _ in range(2)]
        shifted[0][k], shifted[1][k] = w + step * direction, w - step * direction
        numeric = (reference(*shifted[0]) - reference(*shifted[1])) / (2 * step)
        terms = grad.asnumpy().astype(np.float64) * direction
        # bfloat16 keeps 8 bits: a few roundings of each term, relative to the terms, not their sum
        assert abs(terms.sum() - numeric) <= 2 ** -6 * np.abs(terms).sum(), f"gradient {k}"


def test_native_code_refuses_arithmetic_on_half_values_and_holds_bfloat16_constants_as_bits():
    """Without widen-half, an op on half values would compute on the bits: lowering refuses it."""
    graph = trace(lambda x: ops.relu(x), [half([1.0, -2.0], bfloat16)]).graph
    with pytest.raises(CodegenError, match=r"relu computes on half values \(bf16\[2\]\); the widen-half pass"):
        lower_graph(graph)
    assert str(VectorEmitter(ir.IRBuilder()).constant(2.5, bfloat16)).endswith("i16 16416>")     # 0x4020


def test_an_op_without_a_half_form_names_itself():
    with pytest.raises(GraphcError, match=r"allreduce: has no float16/bfloat16 form.*ops\.cast.*bf16\[3\]"):
        ops.get("allreduce")(half([1, 2, 3], bfloat16))
