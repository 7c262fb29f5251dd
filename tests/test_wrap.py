"""Wrapper cells, and the one-graph training step.

The network is a linear regression, whose gradients are written out by hand below:
loss = mean((x W + b - y)^2) over all N*K outputs, so with d = 2 (x W + b - y) / (N K),
dL/dW = x^T d and dL/db = sum of d over the batch.
"""
import importlib
from collections import Counter

import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor, nn, ops
from graphc.passes.autodiff import expand_gradients
from graphc.ir.text import parse_graph, print_graph

JIT = importlib.import_module("graphc.jit")     # the module; graphc.jit is the decorator
RNG = np.random.default_rng(3)
W0 = RNG.standard_normal((3, 2)).astype(np.float32)
B0 = RNG.standard_normal(2).astype(np.float32)
BATCHES = [(RNG.standard_normal((4, 3)).astype(np.float32), RNG.standard_normal((4, 2)).astype(np.float32))
           for _ in range(4)]


class Linear(nn.Cell):
    def __init__(self):
        super().__init__()
        self.weight = Parameter(W0.copy(), name="weight")
        self.bias = Parameter(B0.copy(), name="bias")

    def construct(self, x):
        return ops.matmul(x, self.weight) + self.bias


class SquaredError(nn.Cell):
    def construct(self, prediction, target):
        error = prediction - target
        return ops.reduce_mean(error * error)


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def loss_and_grads(w, b, x, y):
    error = x @ w + b - y
    d = 2 * error / error.size
    return np.mean(error ** 2), x.T @ d, d.sum(0)


def momentum_training(lr, u, steps, sens=1.0):
    """(losses, W, b) after `steps` Momentum steps on BATCHES, in float64."""
    w, b = W0.astype(np.float64), B0.astype(np.float64)
    vw, vb, losses = np.zeros_like(w), np.zeros_like(b), []
    for x, y in BATCHES[:steps]:
        loss, gw, gb = loss_and_grads(w, b, x, y)
        vw, vb = u * vw + sens * gw, u * vb + sens * gb
        w, b = w - lr * vw, b - lr * vb
        losses.append(loss)
    return losses, w, b


def train_step(lr=0.1, sens=None):
    net = Linear()
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=0.9)
    return net, optimizer, nn.TrainOneStepCell(nn.WithLossCell(net, SquaredError()), optimizer, sens=sens)


def run(step, steps):
    return [float(step(Tensor(x), Tensor(y)).asnumpy()) for x, y in BATCHES[:steps]]


# -- TrainOneStepCell --------------------------------------------------------------------------------
def test_train_step_matches_closed_form_in_both_modes(mode):
    net, _, step = train_step()
    losses = run(step, 4)
    expected_losses, w, b = momentum_training(0.1, 0.9, 4)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    np.testing.assert_allclose(net.weight.asnumpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.bias.asnumpy(), b, rtol=1e-5, atol=1e-6)


def test_graph_and_pynative_give_the_same_parameters():
    results = []
    for mode in (graphc.GRAPH_MODE, graphc.PYNATIVE_MODE):
        graphc.set_context(mode=mode)
        net, optimizer, step = train_step()
        run(step, 4)
        results.append([p.asnumpy().copy() for _, p in step.parameters_and_names()])
    for graph_value, eager_value in zip(*results):
        np.testing.assert_allclose(graph_value, eager_value, rtol=1e-6, atol=1e-7)


def test_graph_mode_step_is_one_graph_compiled_once(monkeypatch):
    graphc.set_context(mode=graphc.GRAPH_MODE)
    traced = []
    real_compile = JIT.compile_graph

    def recording_compile(graph, params, *args, **kwargs):
        traced.append(parse_graph(print_graph(graph)))      # a copy, before the pass pipeline
        return real_compile(graph, params, *args, **kwargs)

    monkeypatch.setattr(JIT, "compile_graph", recording_compile)
    net, optimizer, step = train_step()
    run(step, 4)
    assert len(traced) == 1
    graph = traced[0]
    assert {n.op for n in graph.order()} >= {"matmul", "grad", "assign"}      # forward, backward, update
    expand_gradients(graph)
    assert not graph.of_op("grad")
    assert any(node.op == "matmul" and "grad_of" in node.meta for node in graph.order())
    written = Counter(node.inputs[0].attrs["name"] for node in graph.of_op("assign"))
    assert written == Counter({"weight": 1, "bias": 1, "moments.weight": 1, "moments.bias": 1, "global_step": 1})


def test_checkpointable_names_are_the_network_s_and_the_optimizer_state(mode):
    net, optimizer, step = train_step()
    assert [name for name, _ in step.parameters_and_names()] == [
        "weight", "bias", "global_step", "learning_rate", "momentum", "moments.weight", "moments.bias"]
    run(step, 2)
    assert optimizer.global_step.asnumpy().tolist() == [2]


def test_sens_seeds_the_backward_pass(mode):
    net, _, step = train_step(lr=0.1, sens=2.0)
    run(step, 3)
    _, w, b = momentum_training(0.1, 0.9, 3, sens=2.0)
    np.testing.assert_allclose(net.weight.asnumpy(), w, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="sens must not be 0"):
        train_step(sens=0.0)


def test_only_the_optimizer_s_parameters_are_trained(mode):
    net = Linear()
    optimizer = nn.Momentum([net.weight], learning_rate=0.1, momentum=0.9)
    run(nn.TrainOneStepCell(nn.WithLossCell(net, SquaredError()), optimizer), 2)
    np.testing.assert_array_equal(net.bias.asnumpy(), B0)
    assert not np.allclose(net.weight.asnumpy(), W0)


def test_optimizer_over_another_network_s_parameters_is_an_error():
    other = Linear()
    optimizer = nn.Momentum(other.trainable_params(), learning_rate=0.1, momentum=0.9)
    with pytest.raises(GraphcError, match="weight 'weight' is not a Parameter of the WithLossCell"):
        nn.TrainOneStepCell(nn.WithLossCell(Linear(), SquaredError()), optimizer)


def test_train_step_stops_before_the_learning_rate_list_runs_out(mode):
    net, _, step = train_step(lr=[0.1, 0.1])
    run(step, 2)
    with pytest.raises(GraphcError, match="step 2 has no learning rate: the list 'learning_rate' has 2 values"):
        run(step, 3)
    _, w, _ = momentum_training(0.1, 0.9, 2)
    np.testing.assert_allclose(net.weight.asnumpy(), w, rtol=1e-5, atol=1e-6)


# -- the other wrappers -------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["llvm", "interp"])
def test_a_train_step_at_batch_0_is_an_error_at_the_user_line(mode, backend):
    graphc.set_context(backend=backend)
    net, _, step = train_step()
    with pytest.raises(GraphcError, match=r"test_wrap.py:\d+: TrainOneStepCell: input 0 is an empty batch "
                                          r"\(shape \[0, 3\]\); a training step needs at least one sample"):
        step(Tensor(np.zeros((0, 3), np.float32)), Tensor(np.zeros((0, 2), np.float32)))
    np.testing.assert_array_equal(net.weight.asnumpy(), W0)


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
def test_a_loss_at_batch_0_is_nan_compiled_as_in_pynative_mode(mode):
    """The mean of no elements is NaN (NumPy's answer), not a ZeroDivisionError in the compiler."""
    loss = nn.WithLossCell(Linear(), SquaredError())
    assert np.isnan(loss(Tensor(np.zeros((0, 3), np.float32)), Tensor(np.zeros((0, 2), np.float32))).asnumpy())


def test_with_loss_cell(mode):
    backbone = Linear()
    cell = nn.WithLossCell(backbone, SquaredError())
    x, y = BATCHES[0]
    assert float(cell(Tensor(x), Tensor(y)).asnumpy()) == pytest.approx(loss_and_grads(W0, B0, x, y)[0], rel=1e-5)
    assert cell.backbone_network is backbone
    assert [name for name, _ in cell.parameters_and_names()] == ["weight", "bias"]


def test_with_eval_cell(mode):
    x, y = BATCHES[0]
    loss, outputs, label = nn.WithEvalCell(Linear(), SquaredError())(Tensor(x), Tensor(y))
    np.testing.assert_allclose(outputs.asnumpy(), x @ W0 + B0, rtol=1e-5)
    np.testing.assert_array_equal(label.asnumpy(), y)
    assert float(loss.asnumpy()) == pytest.approx(loss_and_grads(W0, B0, x, y)[0], rel=1e-5)


def test_with_eval_cell_casts_to_float32(mode):
    class Doubled(nn.Cell):
        def construct(self, x):
            return ops.cast(x * 2.0, dtype=graphc.float64)

    class Difference(nn.Cell):
        def construct(self, prediction, label):
            return ops.reduce_sum(prediction - label)

    _, outputs, label = nn.WithEvalCell(Doubled(), Difference(), add_cast_fp32=True)(
        Tensor(np.ones(2, np.float32)), Tensor(np.array([1, 3], np.int32)))
    assert outputs.dtype == graphc.float32 and label.dtype == graphc.float32
    np.testing.assert_array_equal(label.asnumpy(), [1.0, 3.0])


def test_with_grad_cell(mode):
    x, y = BATCHES[1]
    grads = nn.WithGradCell(Linear(), SquaredError(), sens=3.0)(Tensor(x), Tensor(y))
    _, gw, gb = loss_and_grads(W0, B0, x, y)
    np.testing.assert_allclose(grads[0].asnumpy(), 3.0 * gw, rtol=1e-5)
    np.testing.assert_allclose(grads[1].asnumpy(), 3.0 * gb, rtol=1e-5)


def test_forward_value_and_grad_with_a_sens_input(mode):
    """With the seed S for the output x W + b: dW = x^T S, db = sum of S, dx = S W^T."""
    x, _ = BATCHES[2]
    seed = RNG.standard_normal((4, 2)).astype(np.float32)
    net = Linear()
    value, (input_grads, weight_grads) = nn.ForwardValueAndGrad(
        net, weights=net.trainable_params(), get_all=True, get_by_list=True, sens_param=True)(Tensor(x), Tensor(seed))
    np.testing.assert_allclose(value.asnumpy(), x @ W0 + B0, rtol=1e-5)
    np.testing.assert_allclose(input_grads[0].asnumpy(), seed @ W0.T, rtol=1e-5)
    np.testing.assert_allclose(weight_grads[0].asnumpy(), x.T @ seed, rtol=1e-5)
    np.testing.assert_allclose(weight_grads[1].asnumpy(), seed.sum(0), rtol=1e-5)


def test_forward_value_and_grad_defaults_to_the_first_input(mode):
    x, y = BATCHES[0]
    value, grad = nn.ForwardValueAndGrad(nn.WithLossCell(Linear(), SquaredError()))(Tensor(x), Tensor(y))
    error = x @ W0 + B0 - y
    assert float(value.asnumpy()) == pytest.approx(np.mean(error ** 2), rel=1e-5)
    np.testing.assert_allclose(grad.asnumpy(), (2 * error / error.size) @ W0.T, rtol=1e-5)
    with pytest.raises(TypeError, match="get_by_list=True needs weights"):
        nn.ForwardValueAndGrad(Linear(), get_by_list=True)


# -- training on real data -------------------------------------------------------------------------------
def test_lenet_learns_mnist_in_200_graph_mode_steps(mnist_dir):
    """LeNet5 with Momentum(0.01, 0.9), batches of 32 real MNIST images through the users' loading code.

    The weights are redrawn with a fan-in (He) scale: mindvision's tiny init (N(0, 0.01) convs) sits
    on the log(10) plateau for about 800 steps at this rate (so does MindSpore: its tutorial's first
    epoch averages 1.18), longer than this test runs."""
    from graphc.models import lenet
    from runtime.dataset import Mnist

    batches = Mnist(mnist_dir, split="train", batch_size=32, shuffle=True).run()
    graphc.set_context(mode=graphc.GRAPH_MODE)
    net = lenet()
    for param in net.trainable_params():
        if param.ndim > 1:
            fan_in = np.prod(param.shape[1:])
            param.set_data(RNG.standard_normal(param.shape) * np.sqrt(2.0 / fan_in))
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), nn.Momentum(net.trainable_params(), 0.01, 0.9))
    losses = []
    for image, label in batches.create_tuple_iterator(output_numpy=True):
        losses.append(float(step(Tensor(image), Tensor(label)).asnumpy()))
        if len(losses) == 200:
            break
    assert np.isfinite(losses).all()
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
