import logging
import os
import re

import numpy as np
import pytest

import graphc
from graphc import ops
from graphc.compiler import compile_graph
from graphc.ir.text import parse_graph, print_graph
from graphc.jit import trace
from graphc.passes import (DEFAULT_PIPELINE, PASSES, PassError, PassRow, parse_pipeline, register_pass,
                           run_pipeline)
from graphc.passes.manager import MAX_FIXPOINT_ROUNDS
from passes_support import ir

REGISTERED = "registered passes: autodiff, cse, dce, fold, fold-batch-norm, fuse, hoist-transposes, plan-memory, simplify"
SMALL = """
    graph @f {
      %0: f32[3] = input() {name='x', index=0}
      %1: f32[] = const() {value=array(2.0, f32)}
      %2: f32[] = const() {value=array(3.0, f32)}
      %3: f32[] = mul(%1, %2)
      %4: f32[3] = mul(%0, %3)
      %5: f32[3] = exp(%4)
      return %5
    }"""


@pytest.fixture
def register():
    """Register passes for one test only."""
    names = []

    def add(name, fn):
        register_pass(name)(fn)
        names.append(name)
    yield add
    for name in names:
        del PASSES[name]


@pytest.mark.parametrize("text, steps", [
    (DEFAULT_PIPELINE, ["autodiff", "hoist-transposes", ["fold", "cse", "simplify", "split-elementwise", "dce"], "fuse", "plan-memory"]),
    ("", []),
    ("  ", []),
    (" fold , fixpoint( cse ,dce ) ", ["fold", ["cse", "dce"]]),
    ("fixpoint(fold,fixpoint(cse),dce)", [["fold", ["cse"], "dce"]]),
])
def test_parses_pipeline_text(text, steps):
    assert parse_pipeline(text) == steps


@pytest.mark.parametrize("text, where", [
    ("fold,,cse", "expected a pass name or fixpoint(...) at column 6"),
    ("fold,", "expected a pass name or fixpoint(...) at column 6"),
    ("fixpoint(fold", "expected ',' or ')' to close fixpoint( at column 14"),
    ("fixpoint()", "expected a pass name or fixpoint(...) at column 10"),
    ("fold)", "expected ',' at column 5"),
    ("fold cse", "expected ',' at column 6"),
    ("fold;cse", "expected ',' at column 5"),
])
def test_malformed_pipelines_are_rejected_with_the_place_and_the_passes(text, where):
    with pytest.raises(ValueError) as error:
        parse_pipeline(text)
    assert f"malformed pipeline {text!r}: {where}" in str(error.value)
    assert REGISTERED in str(error.value)


def test_an_unknown_pass_is_named_with_the_registered_ones():
    with pytest.raises(ValueError, match=re.escape(f"unknown pass 'inline' in pipeline 'fold,inline'; {REGISTERED}")):
        run_pipeline(parse_graph(ir(SMALL)), "fold,inline")


def test_reports_each_pass_run_and_repeats_a_fixpoint_until_nothing_changes():
    graph = parse_graph(ir(SMALL))
    stages = []
    report = run_pipeline(graph, "fold,fixpoint(cse,dce)", on_stage=lambda name, g: stages.append((name, len(g))))
    rows = [(r.name, r.nodes_before, r.nodes_after, r.changed) for r in report.rows]
    # fold makes %3 the constant 6; dce then drops the constants 2 and 3; the second round changes nothing.
    assert rows == [("fold", 6, 6, True), ("cse", 6, 6, False), ("dce", 6, 4, True),
                    ("cse", 4, 4, False), ("dce", 4, 4, False)]
    assert stages == [(name, after) for name, _, after, _ in rows]
    assert all(isinstance(r, PassRow) and r.seconds >= 0 for r in report.rows)
    assert graph.nodes[3].attrs["value"] == np.float32(6.0)
    assert report.memory_plan is None


def test_a_fixpoint_that_never_settles_stops_after_the_round_limit(register, caplog):
    register("test-restless", lambda graph, ctx: True)
    with caplog.at_level(logging.WARNING, logger="graphc.passes"):
        report = run_pipeline(parse_graph(ir(SMALL)), "fixpoint(test-restless)")
    assert len(report.rows) == MAX_FIXPOINT_ROUNDS
    assert "still changed the graph" in caplog.text


def _retype_first_mul(graph, ctx):
    node = graph.of_op("mul")[0]
    node.type = graphc.types.TensorType((4,), node.type.dtype)    # the shape rule says f32[]
    return True


def test_a_pass_that_breaks_the_graph_is_named_and_the_graph_is_saved(register):
    register("test-broken", _retype_first_mul)
    graph = parse_graph(ir(SMALL))
    with pytest.raises(PassError) as error:
        run_pipeline(graph, "cse,test-broken,dce")
    message = str(error.value)
    assert message.startswith("pass test-broken failed after [cse]: @f %3 (mul): recorded type f32[4] but "
                              "the shape rule gives f32[]")
    path = re.search(r"the graph as the pass left it: (\S+)\)", message)[1]
    with open(path) as file:
        assert "%3: f32[4] = mul(%1, %2)" in file.read()
    os.remove(path)


@pytest.mark.parametrize("each", ["0", "1"])
def test_a_compile_verifies_the_graph_after_each_pass_or_at_least_at_the_end(register, monkeypatch, each):
    register("test-broken", _retype_first_mul)
    monkeypatch.setenv("GRAPHC_VERIFY_EACH", each)
    graph = parse_graph(ir(SMALL))
    expected = PassError if each == "1" else graphc.ir.verify.VerifyError      # named, or caught at the end
    with pytest.raises(expected, match=r"%3 \(mul\): recorded type f32\[4\] but the shape rule gives f32\[\]"):
        compile_graph(graph, {}, backend="interp", pipeline="test-broken,dce")


def test_an_exception_in_a_pass_becomes_a_pass_error_with_its_cause(register):
    def crash(graph, ctx):
        raise KeyError("no such node")
    register("test-crash", crash)
    with pytest.raises(PassError, match=r"pass test-crash failed after \[fold\]: 'no such node'") as error:
        run_pipeline(parse_graph(ir(SMALL)), "fold,test-crash")
    assert isinstance(error.value.__cause__, KeyError)
    os.remove(re.search(r"left it: (\S+)\)", str(error.value))[1])


def test_prints_the_graph_after_the_passes_asked_for(capsys):
    graph = parse_graph(ir(SMALL))
    run_pipeline(graph, "fold,dce", print_after=["dce"])
    assert capsys.readouterr().err == f"// after dce\n{print_graph(graph)}\n"


def test_a_memory_plan_is_dropped_when_a_later_pass_changes_the_graph():
    graph = parse_graph(ir(SMALL))
    report = run_pipeline(graph, "plan-memory")
    assert report.memory_plan is graph.memory_plan is not None
    assert "planned arena" in str(report)
    run_pipeline(graph, "fold")
    assert graph.memory_plan is None


def _traced_step():
    w = graphc.Parameter(np.arange(3, dtype=np.float32), name="w")

    def step(x):
        loss, grad_w = graphc.value_and_grad(lambda x: ops.reduce_sum(ops.exp(x * w) * 1.0), None, [w])(x)
        ops.assign(w, w - grad_w[0] * 0.5)
        return loss
    return trace(step, (np.ones(3, np.float32),), name="step")


def test_save_graphs_writes_every_stage_in_pipeline_order(tmp_path):
    graphc.set_context(save_graphs=True, save_graphs_path=str(tmp_path))
    traced = _traced_step()
    compile_graph(traced.graph, traced.params, "interp")
    other = _traced_step()
    compile_graph(other.graph, other.params, "interp", pipeline="fold")
    first, second = sorted(os.listdir(tmp_path))
    assert (first, second) == ("step_0", "step_1")
    stages = sorted(name[:-3] for name in os.listdir(tmp_path / first) if name.endswith(".ir"))
    names = [stage.split("_", 1)[1] for stage in stages]
    assert names[:4] == ["traced", "autodiff", "hoist-transposes", "fold"] and names[-2:] == ["fuse", "plan-memory"]
    assert set(names[3:-2]) == {"fold", "cse", "simplify", "split-elementwise", "dce"}
    assert all(os.path.isfile(tmp_path / first / f"{stage}.dot") for stage in stages)
    final = (tmp_path / first / f"{stages[-1]}.ir").read_text()
    assert final == print_graph(traced.graph) + "\n"
    assert sorted(os.listdir(tmp_path / second)) == ["00_traced.dot", "00_traced.ir", "01_autodiff.dot",
                                                     "01_autodiff.ir", "02_fold.dot", "02_fold.ir"]


def test_the_environment_variable_saves_graphs_and_an_empty_pipeline_runs_only_autodiff(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_SAVE_GRAPHS", str(tmp_path / "graphs"))
    traced = _traced_step()
    run = compile_graph(traced.graph, traced.params, "interp", pipeline="")
    assert sorted(os.listdir(tmp_path / "graphs" / "step_0")) == ["00_traced.dot", "00_traced.ir",
                                                                  "01_autodiff.dot", "01_autodiff.ir"]
    assert not traced.graph.of_op("grad")
    # loss = sum(exp(x w)) at x = 1, w = [0, 1, 2]; the step sets w -= 0.5 exp(w)
    assert np.allclose(run([np.ones(3, np.float32)])[0], np.exp([0, 1, 2]).sum())
    assert np.allclose(traced.params["w"].asnumpy(), [0, 1, 2] - 0.5 * np.exp([0, 1, 2]))
