"""Mixed precision (issue 23): MindSpore's amp levels and lists, Cell.to_float, build_train_network and
Model(amp_level=...), loss scaling with the overflow check inside the native step; the compiled step
against PYNATIVE mode (the ops' references)."""
import numpy as np
import pytest

import graphc
from graphc import GraphcError, Tensor, nn, ops
from graphc.amp import DynamicLossScaleManager, FixedLossScaleManager, auto_mixed_precision, build_train_network
from graphc.jit import trace
from graphc.types import bfloat16, float16, float32
from runtime import Model
from runtime.dataset import NumpySlicesDataset

RNG = np.random.default_rng(23)
X = RNG.standard_normal((8, 1, 6, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 8).astype(np.int32)


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.relu = nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()
        self.flatten, self.fc = nn.Flatten(), nn.Dense(4 * 6 * 6, 3)

    def construct(self, x):
        y = self.relu(self.bn(self.conv(x)))
        return ops.tanh(self.fc(self.flatten(y))) * 2.0


def net():
    graphc.set_seed(1)
    return Net().set_train()


def dtypes_by_op(fn, *args):
    """{op: {dtype of its result}} and {op: {dtypes of its operands}} in the traced graph of fn."""
    graph = trace(fn, args).graph
    results, operands = {}, {}
    for node in graph.order():
        results.setdefault(node.op, set()).add(node.type.dtype)
        operands.setdefault(node.op, set()).update(i.type.dtype for i in node.inputs)
    return results, operands


def test_o2_computes_in_bfloat16_except_batch_norm_and_its_output_is_float32():
    amp_net = auto_mixed_precision(net(), "O2")
    results, operands = dtypes_by_op(amp_net, X)
    assert results["conv2d"] == results["matmul"] == results["tanh"] == {bfloat16}
    assert operands["batch_stats"] == {float32}                   # the black list stays float32
    assert results["relu"] == {bfloat16}                          # after it, the network is half again
    assert results["param"] == {float32}                          # master weights
    out = amp_net(Tensor(X))
    assert out.dtype == float32


def test_o3_puts_batch_norm_in_half_too_and_o1_only_the_white_list():
    results, operands = dtypes_by_op(auto_mixed_precision(net(), "O3"), X)
    assert operands["batch_stats"] == {bfloat16}
    results, operands = dtypes_by_op(auto_mixed_precision(net(), "O1", float16), X)
    assert results["conv2d"] == results["matmul"] == {float16}
    assert results["tanh"] == {float32} and operands["batch_stats"] == {float32}
    assert auto_mixed_precision(net(), "O1")(Tensor(X)).dtype == float32


def test_to_float_float16_returns_the_cell_whose_output_is_float16():
    dense = nn.Dense(3, 2)
    assert dense.to_float(float16) is dense
    out = dense(Tensor(RNG.standard_normal((2, 3)).astype(np.float32)))
    assert out.dtype == float16 and dense.weight.dtype == float32


class TilesNet(nn.Cell):
    """Convolutions in bfloat16 at O2 with kernels of their own where the CPU has AMX tiles: a 3x3 'same'
    one, a 3x3 one of stride 2 (gathered taps, its input gradient by phases, its filter gradient on
    paired 16-pixel images), 1x1 ones on 4x4 images (the batched GEMM and the filter gradient's sum over
    images), and 1x1 ones on 1x1 images (dense forms)."""

    def __init__(self):
        super().__init__()
        self.conv, self.conv2, self.relu = nn.Conv2d(1, 8, 3), nn.Conv2d(8, 6, 3, stride=2), nn.ReLU()
        self.expand, self.pool, self.head = nn.Conv2d(6, 40, 1), nn.AdaptiveAvgPool2d(1), nn.Conv2d(40, 3, 1)

    def construct(self, x):
        y = self.relu(self.conv2(self.relu(self.conv(x))))
        y = self.pool(self.relu(self.expand(y)))
        return ops.tanh(self.head(y).reshape(y.shape[0], 3)) * 2.0


def _train(mode, amp_level, steps_data=(X, Y), make=None, **model_args):
    graphc.set_context(mode=mode)
    graphc.set_seed(1)
    network = (make or net)().set_train()
    optimizer = nn.Momentum(network.trainable_params(), learning_rate=0.1, momentum=0.9)
    model = Model(network, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), optimizer,
                  amp_level=amp_level, **model_args)
    model.train(2, NumpySlicesDataset({"x": steps_data[0], "y": steps_data[1]}, shuffle=False).batch(4))
    return model, {p.name: p.asnumpy() for p in network.get_parameters()}


@pytest.mark.parametrize("amp_level", ["O1", "O2", "O3"])
def test_model_trains_at_each_level_natively_as_in_pynative_mode(amp_level):
    model, native = _train(graphc.GRAPH_MODE, amp_level)
    _, reference = _train(graphc.PYNATIVE_MODE, amp_level)
    _, fp32 = _train(graphc.GRAPH_MODE, "O0")
    assert isinstance(model.train_network, nn.TrainOneStepWithLossScaleCell) == (amp_level == "O2")
    for name, value in native.items():
        assert value.dtype == fp32[name].dtype                       # float32 master weights and state
        np.testing.assert_allclose(value, reference[name], rtol=2e-2, atol=2e-3, err_msg=name)
    moved = [np.abs(native[n] - fp32[n]).max() for n in native if "moving" not in n and "scale" not in n]
    assert max(moved) > 0                                         # the half precision did change the numbers


def test_convolutions_with_half_kernels_train_at_o2_natively_as_in_pynative_mode():
    images = RNG.standard_normal((8, 1, 8, 8)).astype(np.float32)
    _, native = _train(graphc.GRAPH_MODE, "O2", (images, Y), TilesNet)
    _, reference = _train(graphc.PYNATIVE_MODE, "O2", (images, Y), TilesNet)
    for name, value in native.items():
        np.testing.assert_allclose(value, reference[name], rtol=2e-2, atol=2e-3, err_msg=name)


def test_overflow_in_float16_skips_the_update_inside_the_native_step():
    """float16 tops out at 65504: the backward pass seeded with a loss scale of 2^17, then 2^16, overflows,
    so those steps keep the parameters and halve the scale (MindSpore's DynamicLossScaleUpdateCell); at
    2^15 the step updates. All of it inside the native step."""
    network = net()
    before = {p.name: p.asnumpy().copy() for p in network.trainable_params()}
    optimizer = nn.Momentum(network.trainable_params(), learning_rate=0.1, momentum=0.9)
    step = build_train_network(auto_mixed_precision(network, "O2", float16), optimizer,
                               nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                               loss_scale_manager=DynamicLossScaleManager(2 ** 17, 2, 1000))
    for scale in (2 ** 17, 2 ** 16):
        _, overflow, used = step(Tensor(X[:4]), Tensor(Y[:4]))
        assert bool(overflow.asnumpy()) and float(used.asnumpy()) == scale
        assert float(step.scale_sense.asnumpy()) == scale / 2
        for p in network.trainable_params():
            np.testing.assert_array_equal(p.asnumpy(), before[p.name])
    _, overflow, _ = step(Tensor(X[:4]), Tensor(Y[:4]))
    assert not bool(overflow.asnumpy())
    assert all(np.abs(p.asnumpy() - before[p.name]).max() > 0 for p in network.trainable_params())


def test_bad_levels_dtypes_and_loss_scales_are_refused():
    with pytest.raises(GraphcError, match="auto_mixed_precision: The amp level O4 is not supported"):
        auto_mixed_precision(net(), "O4")
    with pytest.raises(GraphcError, match="Model: The amp level O4 is not supported"):
        Model(net(), nn.MSELoss(), nn.SGD(net().trainable_params()), amp_level="O4")
    with pytest.raises(GraphcError, match="dtype must be graphc.float16 or graphc.bfloat16, got graphc.float32"):
        auto_mixed_precision(net(), "O2", float32)
    with pytest.raises(GraphcError, match="amp_level='O2' needs an optimizer"):
        Model(net(), nn.MSELoss(), amp_level="O2")
    for bad in (0, -1.0, 0.5):
        with pytest.raises(GraphcError, match=f"FixedLossScaleManager: loss_scale must be a number >= 1, got {bad}"):
            FixedLossScaleManager(bad)
        with pytest.raises(GraphcError, match=f"init_loss_scale must be a number >= 1, got {bad}"):
            DynamicLossScaleManager(init_loss_scale=bad)
