"""grad / value_and_grad with MindSpore's signatures, the autodiff pass, and LeNet's gradients
against an independent NumPy implementation of its forward and backward passes."""
import importlib

import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor, nn, ops
from graphc.passes.autodiff import expand_gradients
from graphc.ir.text import format_node, parse_graph, print_graph

JIT = importlib.import_module("graphc.jit")     # the module; graphc.jit is the decorator
RNG = np.random.default_rng(11)
X = RNG.uniform(0.5, 1.5, (2, 3)).astype(np.float32)
Y = RNG.standard_normal((2, 3)).astype(np.float32)


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def f(x, y):
    """sum(x * x * y): df/dx = 2 x y, df/dy = x * x."""
    return ops.reduce_sum(x * x * y)


class Scaled(nn.Cell):
    """sum(w * x * x): df/dw = x * x, df/dx = 2 w x."""

    def __init__(self):
        super().__init__()
        self.w = Parameter(RNG.standard_normal((2, 3)).astype(np.float32), name="w")

    def construct(self, x):
        return ops.reduce_sum(self.w * x * x)


def close(actual, expected):
    np.testing.assert_allclose(actual.asnumpy(), expected, rtol=1e-5, atol=1e-6)


# -- signatures ---------------------------------------------------------------------------------------
def test_grad_position(mode):
    x, y = Tensor(X), Tensor(Y)
    close(graphc.grad(f)(x, y), 2 * X * Y)                       # default: position 0, a single Tensor
    close(graphc.grad(f, grad_position=1)(x, y), X * X)
    dx, dy = graphc.grad(f, grad_position=(0, 1))(x, y)          # a tuple position gives a tuple
    close(dx, 2 * X * Y)
    close(dy, X * X)
    (only,) = graphc.grad(f, grad_position=(1,))(x, y)
    close(only, X * X)


def test_weights(mode):
    net = Scaled()
    w = net.w.asnumpy()
    (dw,) = graphc.grad(net, grad_position=None, weights=net.trainable_params())(Tensor(X))
    close(dw, X * X)
    dx, (dw,) = graphc.grad(net, grad_position=0, weights=net.trainable_params())(Tensor(X))
    close(dx, 2 * w * X)
    close(dw, X * X)


def test_value_and_grad_and_has_aux(mode):
    def with_aux(x):
        return ops.reduce_sum(x * x), x * 3.0

    (value, aux), dx = graphc.value_and_grad(with_aux, has_aux=True)(Tensor(X))
    assert float(value.asnumpy()) == pytest.approx(float(np.sum(X * X)), rel=1e-6)
    close(aux, 3 * X)
    close(dx, 2 * X)
    dx, (aux,) = graphc.grad(with_aux, has_aux=True)(Tensor(X))   # the aux output is not differentiated
    close(dx, 2 * X)
    close(aux, 3 * X)


def test_graph_and_pynative_agree():
    results = []
    for mode in (graphc.GRAPH_MODE, graphc.PYNATIVE_MODE):
        graphc.set_context(mode=mode)
        net = Scaled()
        net.w.set_data(np.full((2, 3), 0.7, np.float32))
        value, (dx, (dw,)) = graphc.value_and_grad(net, 0, net.trainable_params())(Tensor(X))
        results.append([value.asnumpy(), dx.asnumpy(), dw.asnumpy()])
    for graph_value, eager_value in zip(*results):
        np.testing.assert_allclose(graph_value, eager_value, rtol=1e-6)


@pytest.mark.parametrize("function, second_derivative", [
    (lambda x: x * ops.exp(x), lambda x: (2 + x) * np.exp(x)),
    (lambda x: ops.tanh(x), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: x * x * x, lambda x: 6 * x),
])
def test_grad_of_grad_is_the_second_derivative(mode, function, second_derivative):
    for x in (-0.7, 0.3, 1.2):
        actual = graphc.grad(graphc.grad(function))(Tensor(np.float32(x)))
        assert float(actual.asnumpy()) == pytest.approx(second_derivative(x), rel=1e-5)


def test_unused_inputs_get_zero_gradients(mode):
    """Documented behaviour (as MindSpore): an input the output does not depend on gets zeros."""
    dx, dy = graphc.grad(lambda x, y: ops.reduce_sum(x * x), grad_position=(0, 1))(Tensor(X), Tensor(Y))
    close(dx, 2 * X)
    np.testing.assert_array_equal(dy.asnumpy(), np.zeros_like(Y))


def test_repeated_calls_compile_once(monkeypatch):
    graphc.set_context(mode=graphc.GRAPH_MODE)
    calls = []
    real_compile = JIT.compile_graph
    monkeypatch.setattr(JIT, "compile_graph", lambda *args, **kwargs: calls.append(1) or real_compile(*args, **kwargs))
    gradient = graphc.grad(f)
    for scale in (1.0, 2.0, 3.0):
        close(gradient(Tensor(X * scale), Tensor(Y)), 2 * (X * scale) * Y)
    assert len(calls) == 1


class DroppedSquare(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(p=0.5)

    def construct(self, x):
        return (self.dropout(x) * x).sum()


def test_grad_of_a_cell_follows_its_training_mode(mode):
    net, x = DroppedSquare(), Tensor(np.ones(64, np.float32))
    gradient = graphc.grad(net)
    net.set_train(True)
    assert (gradient(x).asnumpy() != 2).any()            # dropout: 0 or 4 (1 + 1 / keep_prob) per element
    net.set_train(False)                                 # eval: no dropout, d/dx x·x = 2x
    np.testing.assert_array_equal(gradient(x).asnumpy(), 2)


# -- return_ids and sens_param (MindSpore 2.10's structures and values) ----------------------------------
def test_return_ids_pairs_each_gradient_with_its_position_or_name(mode):
    net = Scaled()
    w = net.w.asnumpy()
    x, y = Tensor(X), Tensor(Y)
    (p0, dx), (p1, dy) = graphc.grad(f, (0, 1), return_ids=True)(x, y)
    assert (p0, p1) == (0, 1)
    close(dx, 2 * X * Y)
    close(dy, X * X)
    position, dy = graphc.grad(f, 1, return_ids=True)(x, y)        # an int position: one pair, not a tuple
    assert position == 1
    close(dy, X * X)
    ((name, dw),) = graphc.grad(net, None, net.trainable_params(), return_ids=True)(x)
    assert name == "w"
    close(dw, X * X)
    value, ((position, dx), ((name, dw),)) = graphc.value_and_grad(net, 0, net.trainable_params(),
                                                                   return_ids=True)(x)
    assert (position, name) == (0, "w")
    close(value, np.sum(w * X * X))
    close(dx, 2 * w * X)


def product(x, y):
    return x * y


def test_sens_param_seeds_the_backward_pass(mode):
    x, y, sens = Tensor(X), Tensor(Y), Tensor(X + 1)
    close(graphc.grad(product, 0, sens_param=True)(x, y, sens), (X + 1) * Y)      # d<x*y, sens>/dx
    close(graphc.grad(product, 0, sens_param=True)(x, y, sens=sens), (X + 1) * Y)   # MindSpore's keyword
    value, dy = graphc.value_and_grad(product, 1, sens_param=True)(x, y, sens)
    close(value, X * Y)
    close(dy, (X + 1) * X)
    dx, (aux,) = graphc.grad(lambda a, b: (a * b, a + b), 0, has_aux=True, sens_param=True)(x, y, sens)
    close(dx, (X + 1) * Y)          # has_aux: only the first output is seeded
    close(aux, X + Y)


def test_a_sens_for_each_output_of_a_tuple(mode):
    s1, s2 = X + 1, Y - 1
    dx = graphc.grad(lambda a, b: (a * b, a + b), 0, sens_param=True)(Tensor(X), Tensor(Y), (Tensor(s1), Tensor(s2)))
    close(dx, s1 * Y + s2)


def test_sens_shapes_mindspore_accepts(mode):
    """MindSpore 2.10 measured: a scalar output takes a sens of any shape and uses its sum
    (PYNATIVE_MODE: a [2,3] sens of 2s gives 12 times the gradient); a 0-d sens is broadcast to
    the output (GRAPH_MODE). graphc does both in both modes."""
    sens = np.full((2, 3), 2.0, np.float32)
    close(graphc.grad(f, 0, sens_param=True)(Tensor(X), Tensor(Y), Tensor(sens)), 12 * 2 * X * Y)
    close(graphc.grad(product, 0, sens_param=True)(Tensor(X), Tensor(Y), Tensor(np.float32(3))), 3 * Y)


def test_sens_that_fits_no_output_is_refused(mode):
    x, y = Tensor(X), Tensor(Y)
    with pytest.raises(GraphcError, match=r"sens \(the gradient of the output\) is f32\[3,2\] but the output is "
                                          r"f32\[2,3\]; pass a Tensor of the output's shape and dtype"):
        graphc.grad(product, 0, sens_param=True)(x, y, Tensor(X.T.copy()))
    with pytest.raises(GraphcError, match=r"sens .* is f64\[2,3\] but the output is f32\[2,3\]"):
        graphc.grad(product, 0, sens_param=True)(x, y, Tensor(X.astype(np.float64)))
    with pytest.raises(GraphcError, match="returns 2 outputs, so sens must be a tuple of 2 gradients.*got f32"):
        graphc.grad(lambda a, b: (a * b, a + b), 0, sens_param=True)(x, y, x)
    with pytest.raises(GraphcError, match="grad_position 2 is out of range: the function was called with 2"):
        graphc.grad(product, 2, sens_param=True)(x, y, x)       # the sens is not an input
    with pytest.raises(GraphcError, match="keyword.* sens.*set sens_param=True"):
        graphc.grad(product)(x, y, sens=x)


class SecondOrder(nn.Cell):
    """MindSpore's higher-order tutorial: GradOperation(get_all=True, sens_param=True) over a
    first-order gradient network, with one sens per first-order output picking a row of the Hessian."""

    def __init__(self, first_order):
        super().__init__()
        self.grad = ops.GradOperation(get_all=True, sens_param=True)
        self.first_order = first_order
        self.one, self.zero = Tensor(np.ones(2, np.float32)), Tensor(np.zeros(2, np.float32))

    def construct(self, x, y):
        dxdx, dxdy = self.grad(self.first_order)(x, y, (self.one, self.zero))
        dydx, dydy = self.grad(self.first_order)(x, y, (self.zero, self.one))
        return dxdx, dxdy, dydx, dydy


class FirstOrder(nn.Cell):
    def __init__(self):
        super().__init__()
        self.grad = ops.GradOperation(get_all=True)

    def construct(self, x, y):
        return self.grad(lambda a, b: a * a * b)(x, y)      # (2xy, x²)


def test_second_order_gradient_with_a_tuple_sens(mode):
    x, y = np.array([4.0, -1.5], np.float32), np.array([5.0, 2.0], np.float32)
    dxdx, dxdy, dydx, dydy = SecondOrder(FirstOrder())(Tensor(x), Tensor(y))
    close(dxdx, 2 * y)      # d(2xy)/dx; MindSpore's tutorial prints 10, 8, 8, 0 at x=4, y=5
    close(dxdy, 2 * x)      # d(2xy)/dy
    close(dydx, 2 * x)      # d(x²)/dx
    close(dydy, 0 * x)      # d(x²)/dy


# -- the autodiff pass ---------------------------------------------------------------------------------
def test_expand_gradients_annotates_gradient_nodes():
    traced = JIT.trace(graphc.grad(f), (Tensor(X), Tensor(Y)))
    graph = traced.graph
    assert " = grad(" in print_graph(graph)
    forward = {node.id: node.op for node in graph.order()}
    assert expand_gradients(graph) is True
    text = print_graph(graph)
    assert " = grad(" not in text
    gradient_lines = [format_node(node) for node in graph.order() if node.id not in forward]
    differentiated = {int(line.split("grad_of=%")[1].split()[0]) for line in gradient_lines}
    # each new node names the node of f it differentiates, and every op of f was differentiated
    assert {forward[i] for i in differentiated} == {"input", "mul", "reduce_sum"}
    assert differentiated >= {i for i, op in forward.items() if op in ("mul", "reduce_sum")}
    assert print_graph(parse_graph(text)) == text             # the annotation survives the text format
    assert expand_gradients(graph) is False



@pytest.mark.parametrize("used", [3, 2], ids=["pieces tile x", "the last piece unused"])
def test_the_gradient_of_slices_that_tile_a_value_is_their_concat_not_a_sum_of_zero_filled_copies(used):
    def weighted_pieces(x):                # pieces 1, 2 and 1 rows of x, times 2, 3, 4 (the first `used` of them)
        pieces = ops.split(x, [1, 2, 1], axis=0)[:used]
        return ops.reduce_sum(ops.concat([p * float(k + 2) for k, p in enumerate(pieces)], axis=0))
    x = Tensor(RNG.standard_normal((4, 3)).astype(np.float32))
    traced = JIT.trace(graphc.grad(weighted_pieces), (x,))
    expand_gradients(traced.graph)
    gradient_ops = [node.op for node in traced.graph.order() if "grad_of" in node.meta]
    assert ("concat" in gradient_ops) == (used == 3)          # a gap leaves the sum of zero-filled copies
    want = np.repeat(np.array([2, 3, 3, 4], np.float32)[:, None], 3, axis=1)
    want[1 + used:] = 0
    graphc.set_context(mode=graphc.GRAPH_MODE)
    np.testing.assert_array_equal(graphc.grad(weighted_pieces)(x).asnumpy(), want)

# -- bad input ---------------------------------------------------------------------------------------
def test_weights_must_be_parameters_of_the_network():
    net = Scaled()
    with pytest.raises(GraphcError, match="weights must be Parameters"):
        graphc.grad(net, None, weights=[Tensor(X)])
    with pytest.raises(GraphcError, match="weight 'w' is not a Parameter of the Scaled"):
        graphc.grad(net, None, weights=Scaled().trainable_params())


def test_grad_position_out_of_range(mode):
    with pytest.raises(GraphcError, match="grad_position 2 is out of range: the function was called with 2"):
        graphc.grad(f, grad_position=(0, 2))(Tensor(X), Tensor(Y))
    with pytest.raises(GraphcError, match="nothing to differentiate"):
        graphc.grad(f, grad_position=None)


# -- LeNet against NumPy ---------------------------------------------------------------------------------
def conv(x, w):
    """Valid convolution, stride 1, no bias: a sum over the kernel offsets."""
    k = w.shape[2]
    h, v = x.shape[2] - k + 1, x.shape[3] - k + 1
    return sum(np.einsum("nchw,oc->nohw", x[:, :, i:i + h, j:j + v], w[:, :, i, j])
               for i in range(k) for j in range(k))


def conv_backward(x, w, dout):
    k = w.shape[2]
    h, v = dout.shape[2], dout.shape[3]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(k):
        for j in range(k):
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dout, x[:, :, i:i + h, j:j + v])
            dx[:, :, i:i + h, j:j + v] += np.einsum("nohw,oc->nchw", dout, w[:, :, i, j])
    return dx, dw


def windows(x):
    """2x2 stride-2 windows: [N, C, H/2, W/2, 4]."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)


def max_pool_backward(x, dout):
    """The gradient goes to the first maximum of each window."""
    n, c, h, w = x.shape
    routed = np.eye(4)[windows(x).argmax(-1)] * dout[..., None]
    return routed.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)


def lenet_loss_and_grads(p, x, labels):
    """LeNet5's sparse softmax cross-entropy (mean) and its gradients, in float64."""
    z1 = conv(x, p["conv1.weight"])
    a1 = np.maximum(z1, 0)
    s1 = windows(a1).max(-1)
    z2 = conv(s1, p["conv2.weight"])
    a2 = np.maximum(z2, 0)
    s2 = windows(a2).max(-1)
    f0 = s2.reshape(len(x), -1)
    h1 = np.maximum(f0 @ p["fc1.weight"].T + p["fc1.bias"], 0)
    h2 = np.maximum(h1 @ p["fc2.weight"].T + p["fc2.bias"], 0)
    logits = h2 @ p["fc3.weight"].T + p["fc3.bias"]
    shifted = logits - logits.max(1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
    loss = -np.mean(np.log(probabilities[np.arange(len(x)), labels]))

    grads = {}
    d_logits = (probabilities - np.eye(10)[labels]) / len(x)
    grads["fc3.weight"], grads["fc3.bias"] = d_logits.T @ h2, d_logits.sum(0)
    d_h2 = (d_logits @ p["fc3.weight"]) * (h2 > 0)
    grads["fc2.weight"], grads["fc2.bias"] = d_h2.T @ h1, d_h2.sum(0)
    d_h1 = (d_h2 @ p["fc2.weight"]) * (h1 > 0)
    grads["fc1.weight"], grads["fc1.bias"] = d_h1.T @ f0, d_h1.sum(0)
    d_a2 = max_pool_backward(a2, (d_h1 @ p["fc1.weight"]).reshape(s2.shape)) * (z2 > 0)
    d_s1, grads["conv2.weight"] = conv_backward(s1, p["conv2.weight"], d_a2)
    d_a1 = max_pool_backward(a1, d_s1) * (z1 > 0)
    _, grads["conv1.weight"] = conv_backward(x, p["conv1.weight"], d_a1)
    return loss, grads


def test_lenet_value_and_grad_matches_numpy(mode):
    from graphc.models import lenet
    net = lenet()
    values = {}
    for name, param in net.parameters_and_names():      # O(1) activations, unlike the tiny default init
        fan_in = np.prod(param.shape[1:]) if param.ndim > 1 else 10
        values[name.removeprefix("backbone.")] = RNG.standard_normal(param.shape) / np.sqrt(fan_in)
        param.set_data(values[name.removeprefix("backbone.")].astype(np.float32))
    x = RNG.standard_normal((4, 1, 32, 32)).astype(np.float32)
    labels = np.array([3, 0, 7, 7], np.int32)

    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    weights = net.trainable_params()
    loss, grads = graphc.value_and_grad(nn.WithLossCell(net, loss_fn), None, weights)(Tensor(x), Tensor(labels))

    expected_loss, expected = lenet_loss_and_grads(
        {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}, x.astype(np.float64), labels)
    assert float(loss.asnumpy()) == pytest.approx(expected_loss, rel=1e-4)
    for weight, grad in zip(weights, grads):
        want = expected[weight.name.removeprefix("backbone.")]
        np.testing.assert_allclose(grad.asnumpy(), want, rtol=1e-4, atol=1e-4 * np.abs(want).max(),
                                   err_msg=weight.name)
