"""nn.RNN, nn.LSTM, nn.GRU and their cells: values and gradients against MindSpore 2.10's
(tests/mindspore_reference/rnn.json, from record_rnn.py), in PYNATIVE_MODE and in GRAPH_MODE; one
scan per layer and direction whatever the sequence length; gradients against finite differences;
training in both modes; the errors on bad input."""
import re
import subprocess
import sys

import numpy as np
import pytest

import graphc
from graphc import Parameter, Tensor, nn
from graphc.errors import GraphcError
from graphc.jit import trace
from graphc.nn.layers import rnn
from ms_reference import in_mode, recorded
from conftest import REPO

RECORDED = recorded("rnn")
MODES = [graphc.PYNATIVE_MODE, graphc.GRAPH_MODE]


def flat(out) -> list:
    """The output Tensors in order: (output, h_n), (output, (h_n, c_n)), h', (h', c')."""
    return [t for item in (out if isinstance(out, tuple) else (out,))
            for t in (item if isinstance(item, tuple) else (item,))]


def build(case, dtype=np.float32):
    """The layer of a recorded case with MindSpore's parameters, and its call's arguments after x."""
    cell = getattr(nn, case["cls"])(4, 3, **case["kwargs"])
    not_loaded = graphc.load_param_into_net(cell, {name: Parameter(np.array(v, dtype), name=name)
                                                   for name, v in case["params"].items()})
    assert not_loaded == ([], [])
    states = [Tensor(np.array(h, dtype)) for h in case["hx_values"] or []]
    hx = (tuple(states) if "LSTM" in case["cls"] else states[0]) if states else None
    if "seq_length" not in case:            # a cell
        return cell, (hx,)
    return cell, (hx, Tensor(np.array(case["seq_length"], np.int32)) if case["seq_length"] else None)


CASES = RECORDED["layers"] + RECORDED["cells"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_outputs_and_gradients_equal_mindspores(case, mode):
    cell, extra = build(case)
    x = Tensor(np.array(case["x"], np.float32))
    out = flat(in_mode(mode, lambda x: cell(x, *extra), x))
    assert len(out) == len(case["output"])
    for got, want in zip(out, case["output"]):
        np.testing.assert_allclose(got.asnumpy(), np.array(want), rtol=1e-5, atol=1e-5)

    def loss(x):
        return sum(o.sum() for o in flat(cell(x, *extra)))
    params = cell.trainable_params()
    grad_x, grad_params = in_mode(mode, graphc.grad(loss, grad_position=0, weights=params), x)
    np.testing.assert_allclose(grad_x.asnumpy(), np.array(case["grad_x"]), rtol=1e-5, atol=1e-5)
    for param, grad in zip(params, grad_params):
        np.testing.assert_allclose(grad.asnumpy(), np.array(case["grad_params"][param.name]), rtol=1e-5, atol=1e-5,
                                   err_msg=param.name)


def test_parameter_names_and_order_are_mindspores():
    for case in CASES:
        cell = getattr(nn, case["cls"])(4, 3, **case["kwargs"])
        assert [p.name for p in cell.trainable_params()] == list(case["params"]), case["name"]


def test_default_init_is_uniform_within_one_over_sqrt_hidden():
    bound = 1 / np.sqrt(64)
    for param in nn.LSTM(10, 64, num_layers=2, bidirectional=True).trainable_params():
        value = param.asnumpy()
        assert np.abs(value).max() <= bound and np.abs(value).max() > 0.95 * bound, param.name
        assert abs(value.mean()) < 0.1 * bound and abs(value.std() - bound / np.sqrt(3)) < 0.1 * bound, param.name


def lstm_graph(steps: int, **kwargs):
    layer = nn.LSTM(8, 16, **kwargs)
    return trace(lambda x: layer(x)[0], (np.zeros((steps, 2, 8), np.float32),)).graph


def test_one_scan_per_layer_and_direction_and_a_graph_independent_of_the_length():
    short, long = lstm_graph(28, num_layers=2, bidirectional=True), lstm_graph(784, num_layers=2, bidirectional=True)
    assert len(short.of_op("scan")) == 4
    assert len(short.nodes) == len(long.nodes)
    for node in short.of_op("scan"):
        body = node.attrs["body"]
        assert len(body.of_op("matmul")) == 1           # W_hh·h; W_ih·x of every step is one conv2d before it
        assert len(body.nodes) < 30
    assert len(short.of_op("conv2d")) == 4              # the four input projections, outside the loops


def float64_copy(layer):
    for name, param in list(layer.parameters_and_names()):
        setattr(layer, name, Parameter(param.asnumpy().astype(np.float64), name=name))
    return layer


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_gradients_agree_with_finite_differences(cls, mode):
    layer = float64_copy(getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True))
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((5, 2, 3)))
    lengths = Tensor(np.array([5, 3], np.int32))
    weights = rng.standard_normal((5, 2, 8))

    def loss(x):
        output, state = layer(x, None, lengths)
        return (output * Tensor(weights)).sum() + flat(state)[-1].sum()
    params = layer.trainable_params()
    graphc.set_context(backend="interp")       # float64: native matmuls are float32 only
    grad_x, grad_params = in_mode(mode, graphc.grad(loss, grad_position=0, weights=params), x)
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    eps = 1e-6
    for target, grad in [(x, grad_x)] + list(zip(params, grad_params)):
        direction = rng.standard_normal(target.shape)
        base = target.asnumpy().copy()
        values = []
        for step in (eps, -eps):
            if isinstance(target, Parameter):
                target.set_data(base + step * direction)
                values.append(float(loss(x).asnumpy()))
            else:
                values.append(float(loss(Tensor(base + step * direction)).asnumpy()))
        if isinstance(target, Parameter):
            target.set_data(base)
        np.testing.assert_allclose(np.vdot(grad.asnumpy(), direction), (values[0] - values[1]) / (2 * eps),
                                   rtol=1e-6, atol=1e-8)


class SequenceClassifier(nn.Cell):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.dense = nn.Dense(8, 3)

    def construct(self, x):
        _, (h, _) = self.lstm(x)
        return self.dense(h[0])


def train(mode, batch, steps=5):
    """The parameters after `steps` Momentum steps of the LSTM classifier in `mode`."""
    graphc.set_context(mode=mode)
    graphc.set_seed(5)
    net = SequenceClassifier()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Momentum(net.trainable_params(), 0.1, 0.9))
    step.set_train(True)
    rng = np.random.default_rng(8)
    x = Tensor(rng.standard_normal((batch, 7, 6)).astype(np.float32))
    labels = Tensor(rng.integers(0, 3, batch).astype(np.int32))
    losses = [float(step(x, labels).asnumpy()) for _ in range(steps)]
    return losses, {p.name: p.asnumpy() for p in net.trainable_params()}


@pytest.mark.parametrize("batch", [4, 64])       # 64: two blocks of the batch, each on half of the threads
def test_training_an_lstm_gives_the_same_steps_in_graph_mode_and_pynative_mode(batch):
    """GRAPH_MODE's native step against the eager reference over 5 steps."""
    eager_losses, eager = train(graphc.PYNATIVE_MODE, batch)
    graph_losses, graph = train(graphc.GRAPH_MODE, batch)
    assert eager_losses[-1] < eager_losses[0]
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-5, atol=1e-6)
    for name in eager:
        np.testing.assert_allclose(graph[name], eager[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_batch_in_two_blocks_trains_to_the_same_bits_on_any_number_of_threads():
    """The two blocks run at once on halves of the threads (lower.two_groups), on one thread one after
    the other; 3 threads split 1 and 2."""
    results = []
    for threads in (1, 2, 3):
        graphc.set_context(num_threads=threads)
        results.append(train(graphc.GRAPH_MODE, 64, steps=3))
    for losses, params in results[1:]:
        assert losses == results[0][0]
        for name, value in params.items():
            np.testing.assert_array_equal(value, results[0][1][name], err_msg=name)


BLOCKED = [("LSTM", {}), ("GRU", {"num_layers": 2, "bidirectional": True}), ("RNN", {"batch_first": True}),
           ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True})]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls, kwargs", BLOCKED, ids=[f"{cls}-{'-'.join(kwargs)}" for cls, kwargs in BLOCKED])
def test_a_batch_in_two_blocks_gives_what_one_block_gives(cls, kwargs, mode, monkeypatch):
    """A batch of 64 runs as two blocks of 32, each with its own copy of W_hh in the loop: the outputs,
    final states and gradients are those of the whole batch as one block (which the tests above check
    against MindSpore's), padded sequences included."""
    graphc.set_seed(2)
    layer = getattr(nn, cls)(5, 6, **kwargs)
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((64, 7, 5) if kwargs.get("batch_first") else (7, 64, 5)).astype(np.float32))
    lengths = Tensor(rng.integers(1, 8, 64).astype(np.int32))
    params = layer.trainable_params()

    def loss(x):
        output, state = layer(x, None, lengths)
        return (output * output).sum() + flat(state)[-1].sum()

    def results() -> list[np.ndarray]:
        values = flat(in_mode(mode, lambda x: layer(x, None, lengths), x))
        grad_x, grad_params = in_mode(mode, graphc.grad(loss, grad_position=0, weights=params), x)
        return [t.asnumpy() for t in values + [grad_x] + list(grad_params)]
    assert rnn._batch_blocks(64) == 2
    blocked = results()
    monkeypatch.setattr(rnn, "BLOCK_WIDTH", 64)
    assert rnn._batch_blocks(64) == 1
    for got, want in zip(blocked, results(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dropout_acts_between_layers_in_training_only():
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = Tensor(np.random.default_rng(1).standard_normal((5, 2, 3)).astype(np.float32))
    evaluated = layer.set_train(False)(x)[0].asnumpy()
    np.testing.assert_array_equal(layer(x)[0].asnumpy(), evaluated)
    assert not np.allclose(layer.set_train(True)(x)[0].asnumpy(), evaluated)


# -- bad input --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs, x, extra, message", [
    ({}, (5, 2, 7), {}, r"LSTM: expected input \[seq_len, batch, input_size\] with input_size=4 \(batch_first=False\), "
                        r"got f32\[5,2,7\]; the layer was built with input_size=4 but gets 7 features per step"),
    ({}, (5, 4), {}, r"LSTM: expected input .*got f32\[5,4\]; give a 3-D input"),
    ({}, (2, 5, 4), {"hx": (2, 3)},
     r"LSTM: expected hx \[num_layers·directions=1, batch=5, hidden_size=3\] for x f32\[2,5,4\], got f32\[1,2,3\]; "
     r"x's batch axis \(1 with batch_first=False\) has 5; if x is laid out the other way, build the layer with "
     r"batch_first=True"),
    ({"batch_first": True}, (5, 2, 4), {"seq_length": 2},
     r"LSTM: expected seq_length int32/int64 \[batch=5\] for x f32\[5,2,4\], got i32\[2\]; .*batch_first=False"),
])
def test_bad_input_is_a_clear_error(kwargs, x, extra, message, mode):
    layer = nn.LSTM(4, 3, **kwargs)
    args = [None, None]
    if "hx" in extra:
        state = Tensor(np.zeros((1, *extra["hx"]), np.float32))
        args[0] = (state, state)
    if "seq_length" in extra:
        args[1] = Tensor(np.ones(extra["seq_length"], np.int32))
    with pytest.raises(GraphcError, match=message):
        in_mode(mode, lambda x: layer(x, *args), Tensor(np.zeros(x, np.float32)))


def test_a_cell_names_its_expected_shapes():
    with pytest.raises(GraphcError, match=r"GRUCell: expected input \[batch, 4\], got f32\[2,5\]"):
        nn.GRUCell(4, 3)(Tensor(np.zeros((2, 5), np.float32)), Tensor(np.zeros((2, 3), np.float32)))
    with pytest.raises(GraphcError, match=r"LSTMCell: expected hx \[2, 3\] .*got f32\[3,3\]"):
        state = Tensor(np.zeros((3, 3), np.float32))
        nn.LSTMCell(4, 3)(Tensor(np.zeros((2, 4), np.float32)), (state, state))
    with pytest.raises(GraphcError, match=r"LSTM: hx must be a pair \(h, c\) of Tensors, got Tensor"):
        nn.LSTM(4, 3)(Tensor(np.zeros((5, 2, 4), np.float32)), Tensor(np.zeros((1, 2, 3), np.float32)))


def test_bad_arguments_are_refused():
    for kwargs, message in [({"num_layers": 0}, "num_layers must be an int >= 1"),
                            ({"dropout": 1.0}, r"dropout .* must be a number in \[0, 1\)"),
                            ({"batch_first": 1}, "batch_first must be a bool")]:
        with pytest.raises(graphc.errors.ArgumentError, match=message):
            nn.LSTM(4, 3, **kwargs)
    with pytest.raises(graphc.errors.ArgumentError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(4, 3, nonlinearity="sigmoid")


# -- the example ----------------------------------------------------------------------------------------------
def test_the_row_by_row_mnist_example_learns_and_prints_epoch_time_and_accuracy(mnist_dir):
    """A short run (60 steps, 5 test batches): the loss falls and the output has the promised lines.
    The full run's accuracy is in docs/models.md."""
    run = subprocess.run([sys.executable, str(REPO / "examples" / "train_lstm_mnist.py"), "--epochs", "1",
                          "--steps", "60", "--test-batches", "5", "--data", str(mnist_dir)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert re.search(r"epoch time: [\d.]+ ms, per step time: [\d.]+ ms", run.stdout)
    accuracy = float(re.search(r"epoch 1: test accuracy ([\d.]+)", run.stdout).group(1))
    assert accuracy > 0.3       # chance is 0.1; 60 Adam steps of batch 128 are well past it
