"""The pass pipeline a user chooses: graphc.jit(pipeline=), set_context(pipeline=), GRAPHC_PIPELINE."""
import numpy as np
import pytest

import graphc
from graphc import ops

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def relu_chain(x):
    return ops.relu(x * 2.0 + 1.0)


def compiled_graph(fn, *args):
    """The optimized graph of fn's compiled executable for these arguments."""
    return fn.compile(*args).graph


def ops_in(graph):
    return {node.op for node in graph.order()}


@pytest.mark.parametrize("backend", ["llvm", "interp"])
def test_jit_pipeline_argument_is_the_pipeline_that_runs(backend):
    graphc.set_context(backend=backend)
    default, unfused = graphc.jit(relu_chain), graphc.jit(relu_chain, pipeline="fold,cse,dce")
    assert "fused" in ops_in(compiled_graph(default, X))
    assert "fused" not in ops_in(compiled_graph(unfused, X)) >= {"mul", "add", "relu"}
    np.testing.assert_array_equal(unfused(X).asnumpy(), default(X).asnumpy())


def test_set_context_pipeline_and_none_restores_the_default():
    graphc.set_context(pipeline="fold,dce")
    assert graphc.get_context("pipeline") == "fold,dce"
    assert "fused" not in ops_in(compiled_graph(graphc.jit(relu_chain), X))
    graphc.set_context(pipeline=None)
    assert "fused" in ops_in(compiled_graph(graphc.jit(relu_chain), X))


def test_environment_sets_the_default_and_the_context_overrides_it(monkeypatch):
    monkeypatch.setenv("GRAPHC_PIPELINE", "cse,dce")
    assert "fused" not in ops_in(compiled_graph(graphc.jit(relu_chain), X))
    graphc.set_context(pipeline="fuse")
    assert "fused" in ops_in(compiled_graph(graphc.jit(relu_chain), X))
    graphc.set_context(pipeline=None)
    monkeypatch.setenv("GRAPHC_PIPELINE", "cse,nosuchpass")
    with pytest.raises(ValueError, match="GRAPHC_PIPELINE='cse,nosuchpass' is not valid: unknown pass 'nosuchpass'.*registered passes: .*fold"):
        graphc.jit(relu_chain)(X)


def test_autodiff_still_runs_first_where_gradients_are_needed():
    grad_fn = graphc.jit(graphc.grad(lambda x: ops.reduce_sum(relu_chain(x))), pipeline="dce")
    graph = compiled_graph(grad_fn, X)
    assert "grad" not in ops_in(graph) and "fused" not in ops_in(graph)
    np.testing.assert_array_equal(grad_fn(X).asnumpy(), np.full_like(X, 2.0))


@pytest.mark.parametrize("choose", [
    lambda text: graphc.jit(relu_chain, pipeline=text),
    lambda text: graphc.set_context(pipeline=text),
])
@pytest.mark.parametrize("text, message", [
    ("fold,nosuchpass", r"unknown pass 'nosuchpass' in pipeline 'fold,nosuchpass'; registered passes: .*cse.*fuse"),
    ("fold,,dce", r"malformed pipeline 'fold,,dce': expected a pass name or fixpoint\(\.\.\.\) at column 6"),
    ("fixpoint(fold", r"expected ',' or '\)' to close fixpoint\("),
])
def test_unknown_pass_or_malformed_pipeline_is_a_clear_error(choose, text, message):
    with pytest.raises(ValueError, match=message):
        choose(text)
    assert graphc.get_context("pipeline") is None       # nothing was changed


def test_a_cell_compiles_with_the_context_pipeline():
    graphc.set_context(mode=graphc.GRAPH_MODE, pipeline="fold,cse,dce")
    net = graphc.models.lenet(num_classes=10)
    graph = net.compile(np.zeros((2, 1, 32, 32), np.float32)).graph
    assert "fused" not in ops_in(graph) and "conv2d" in ops_in(graph)
