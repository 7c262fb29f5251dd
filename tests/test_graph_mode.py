"""Graph mode: @graphc.jit on functions and on Cell.construct, the compile cache and its recompile
log, Python control flow, containers of tensors, and GRAPH_MODE agreeing with PYNATIVE_MODE."""
import gc
import logging
import re
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.models import lenet

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path(__file__).read_text().splitlines()


def line_of(marker: str) -> int:
    """The line of this file that ends with `# <marker>`."""
    [line] = [i + 1 for i, text in enumerate(SOURCE) if text.rstrip().endswith(f"# {marker}")]
    return line


def f32(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


class CountingTraces:
    """A function to jit that counts how often it is traced (Python code runs only while tracing)."""

    def __init__(self):
        self.traces = 0

    def __call__(self, x, scale=2.0):
        self.traces += 1
        return ops.relu(x) * scale


# -- the compile cache ----------------------------------------------------------------------------------
def test_jit_function_computes_and_traces_once_per_signature():
    body = CountingTraces()
    fn = graphc.jit(body)
    x = f32(2, 3)
    np.testing.assert_allclose(fn(x).asnumpy(), np.maximum(x.asnumpy(), 0) * 2.0)
    fn(f32(2, 3, seed=1))
    fn(x)
    assert body.traces == 1


def test_jit_takes_mindspore_2_s_function_keyword():
    body = CountingTraces()
    fn = graphc.jit(function=body)          # MindSpore 2.x: jit(function=None, ...)
    x = f32(2, 3)
    np.testing.assert_allclose(fn(x).asnumpy(), np.maximum(x.asnumpy(), 0) * 2.0)
    fn(x)
    assert body.traces == 1


def test_new_shape_recompiles_and_logs_what_changed(caplog):
    body = CountingTraces()
    fn = graphc.jit(body)
    fn(f32(2, 3))
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        fn(f32(4, 3))
    assert body.traces == 2
    assert "input 0: f32[2,3] -> f32[4,3]" in caplog.text


def test_new_dtype_recompiles_and_logs_it(caplog):
    fn = graphc.jit(CountingTraces())
    fn(f32(2, 3))
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        out = fn(Tensor(np.ones((2, 3))))
    assert out.dtype == graphc.float64
    assert "input 0: f32[2,3] -> f64[2,3]" in caplog.text


def test_static_arguments_are_part_of_the_key(caplog):
    body = CountingTraces()
    fn = graphc.jit(body)
    x = f32(2, 3)
    fn(x, 2.0)
    fn(x, 2.0)
    assert body.traces == 1
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        out = fn(x, 3.0)
    assert body.traces == 2 and "static argument 1 changed: 2.0 -> 3.0" in caplog.text
    np.testing.assert_allclose(out.asnumpy(), np.maximum(x.asnumpy(), 0) * 3.0)


def test_cell_in_graph_mode_compiles_once_per_signature():
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(3, 2)
            self.traces = 0

        def construct(self, x):
            self.traces += 1
            return self.fc(x)

    net = Net()
    net(f32(4, 3))
    net(f32(4, 3, seed=1))
    assert net.traces == 1
    net(f32(5, 3))
    assert net.traces == 2


# -- @graphc.jit on construct ---------------------------------------------------------------------------------
class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(4, 8, activation="relu")
        self.fc2 = nn.Dense(8, 3)
        self.traces = 0

    def construct(self, x):
        self.traces += 1
        return self.fc2(self.fc1(x))


class JitMLP(MLP):
    @graphc.jit
    def construct(self, x):
        self.traces += 1
        return self.fc2(self.fc1(x))


def test_jit_on_construct_compiles_even_in_pynative_mode():
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    graphc.set_seed(5)
    eager = MLP()
    graphc.set_seed(5)
    jitted = JitMLP()
    x = f32(6, 4)
    expected = eager(x).asnumpy()
    np.testing.assert_allclose(jitted(x).asnumpy(), expected, rtol=1e-6, atol=1e-7)   # float32 sums, two orders
    jitted(x)
    assert jitted.traces == 1 and eager.traces == 1
    hidden = np.maximum(x.asnumpy() @ eager.fc1.weight.asnumpy().T + eager.fc1.bias.asnumpy(), 0)
    np.testing.assert_allclose(expected, hidden @ eager.fc2.weight.asnumpy().T + eager.fc2.bias.asnumpy(),
                               rtol=1e-5, atol=1e-7)


def test_jit_on_construct_in_graph_mode_traces_once():
    net = JitMLP()
    net(f32(2, 4))
    net(f32(2, 4, seed=1))
    assert net.traces == 1


# -- Python control flow (tests/test_python_control_flow.py has the rest) -------------------------------------
def test_a_return_under_an_if_on_a_traced_value_names_the_line_and_the_fix():
    @graphc.jit
    def relu_or_negate(x):
        if x.sum() > 0:  # control-flow-if
            return x
        return -x

    with pytest.raises(graphc.GraphcError) as error:
        relu_or_negate(f32(3))
    message = str(error.value)
    assert message.split(": ")[0].endswith(f"test_graph_mode.py:{line_of('control-flow-if')}")
    assert "a `return` in its body" in message and "return it after the statement" in message


def test_select_is_the_graph_mode_way_to_branch():
    @graphc.jit
    def abs_by_select(x):
        return ops.select(x > 0, x, -x)

    x = f32(5)
    np.testing.assert_allclose(abs_by_select(x).asnumpy(), np.abs(x.asnumpy()))


def test_loops_over_static_range_unroll():
    def double_n_times(x, n):
        for _ in range(n):
            x = x * 2.0
        return x

    fn = graphc.jit(double_n_times)
    x = f32(2, 2)
    np.testing.assert_allclose(fn(x, 3).asnumpy(), x.asnumpy() * 8)
    assert len(fn.lower(x, 3).graph.of_op("mul")) == 3


def test_loops_over_the_rows_of_a_tensor_unroll():
    @graphc.jit
    def sum_rows(x):
        total = 0.0
        for row in x:
            total = total + row
        return total

    x = f32(3, 4)
    np.testing.assert_allclose(sum_rows(x).asnumpy(), x.asnumpy().sum(axis=0), rtol=1e-6)


# -- containers of tensors ---------------------------------------------------------------------------------------
def test_tuples_lists_and_dicts_of_tensors_go_in_and_out():
    @graphc.jit
    def combine(pair, named):
        a, b = pair
        return {"sum": a + named["c"], "parts": [a * b, (b - named["c"],)]}

    a, b, c = f32(2, 2), f32(2, 2, seed=1), f32(2, 2, seed=2)
    out = combine((a, b), {"c": c})
    assert set(out) == {"sum", "parts"} and isinstance(out["parts"], list) and isinstance(out["parts"][1], tuple)
    np.testing.assert_allclose(out["sum"].asnumpy(), a.asnumpy() + c.asnumpy())
    np.testing.assert_allclose(out["parts"][0].asnumpy(), a.asnumpy() * b.asnumpy())
    np.testing.assert_allclose(out["parts"][1][0].asnumpy(), b.asnumpy() - c.asnumpy())


# -- LeNet: GRAPH_MODE, PYNATIVE_MODE and NumPy agree -------------------------------------------------------------
def lenet_reference(net, x):
    """LeNet-5 forward in NumPy (float64) from the network's parameters."""
    p = {name: param.asnumpy().astype(np.float64) for name, param in net.parameters_and_names()}

    def conv_valid(x, w):
        windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))   # n c h w kh kw
        return np.einsum("nchwij,ocij->nohw", windows, w)

    def pool(x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    def dense(x, name):
        return x @ p[f"backbone.{name}.weight"].T + p[f"backbone.{name}.bias"]

    x = pool(np.maximum(conv_valid(x, p["backbone.conv1.weight"]), 0))
    x = pool(np.maximum(conv_valid(x, p["backbone.conv2.weight"]), 0)).reshape(len(x), -1)
    return dense(np.maximum(dense(np.maximum(dense(x, "fc1"), 0), "fc2"), 0), "fc3")


def test_lenet_forward_is_the_same_in_graph_and_pynative_mode():
    x = f32(32, 1, 32, 32)
    graphc.set_seed(11)
    graph_logits = lenet()(x).asnumpy()
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    graphc.set_seed(11)
    net = lenet()
    eager_logits = net(x).asnumpy()
    assert graph_logits.shape == (32, 10)
    np.testing.assert_allclose(graph_logits, eager_logits, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(eager_logits, lenet_reference(net, x.asnumpy().astype(np.float64)),
                               rtol=1e-4, atol=1e-7)


# -- the example -------------------------------------------------------------------------------------------------
def test_jit_basics_example():
    run = subprocess.run([sys.executable, str(REPO / "examples" / "jit_basics.py")], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "graph @scaled_relu {" in run.stdout
    assert "recompiling scaled_relu: input 0: f32[2,4] -> f32[3,4]" in run.stderr
    for label in ("GRAPH_MODE vs PYNATIVE_MODE", "jitted construct vs PYNATIVE_MODE"):
        difference = float(re.search(f"{label} max difference: (\\S+)", run.stdout).group(1))
        assert difference < 1e-6, label     # native code sums dot products in another order than NumPy


def test_changing_the_backend_rebuilds_the_executable(caplog):
    fn = graphc.jit(CountingTraces())
    x = f32(2, 3)
    graphc.set_context(backend="interp")
    expected = fn(x).asnumpy()
    graphc.set_context(backend="llvm")
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        np.testing.assert_array_equal(fn(x).asnumpy(), expected)
    assert "set_context changed backend 'interp' -> 'llvm'" in caplog.text
    (executable, _), = fn._cache.values()
    assert type(executable).__name__ == "NativeExecutable"


def test_a_function_keeps_the_executables_of_its_most_recently_used_signatures(caplog):
    graphc.set_context(executable_cache_size=3)
    body = CountingTraces()
    fn = graphc.jit(body)
    inputs = {rows: f32(rows, 3, seed=rows) for rows in (1, 2, 3, 4)}
    built = {rows: weakref.ref(fn.compile(inputs[rows])) for rows in (1, 2, 3)}
    fn(inputs[1])                                # 2 is now the least recently used
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        fn(inputs[4])
    assert "keeps the executables of its 3 most recently used input signatures" in caplog.text
    gc.collect()
    assert built[2]() is None and built[1]() is not None and built[3]() is not None   # 2's arena is freed
    assert len(fn._cache) == 3 and body.traces == 4
    for rows in (1, 3, 4):
        fn(inputs[rows])
    assert body.traces == 4
    out = fn(inputs[2])                          # built again, and right
    assert body.traces == 5 and len(fn._cache) == 3
    np.testing.assert_allclose(out.asnumpy(), np.maximum(inputs[2].asnumpy(), 0) * 2.0)


def test_an_eval_at_many_batch_sizes_keeps_eight_executables():
    net = lenet(num_classes=10)
    net.set_train(False)
    reference = graphc.jit(net.construct, backend="interp")

    def evaluate(batch):
        x = f32(batch, 1, 32, 32, seed=batch)
        np.testing.assert_allclose(net(x).asnumpy(), reference(x).asnumpy(), rtol=1e-4, atol=1e-5)
        return net.compile(x)

    built = [weakref.ref(evaluate(batch)) for batch in range(1, 11)]
    gc.collect()
    assert [ref() is not None for ref in built] == [False, False] + [True] * 8      # the default size
    evaluate(1)                                  # dropped, built again
    assert len(net._jit._cache) == 8
