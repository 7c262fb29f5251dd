"""set_context after a function was compiled takes effect: a compile setting (context.COMPILE_SETTINGS)
rebuilds the function at its next call, with the recompile log naming the setting; num_threads is
applied by the executable without rebuilding."""
import logging
import os

import numpy as np
import pytest

import graphc
from graphc import Tensor, context, ops


def traced_calls():
    calls = []

    def fn(x):
        calls.append(1)
        return ops.relu(x) * 2.0
    return graphc.jit(fn), calls


X = Tensor(np.arange(-3, 3, dtype=np.float32))


def test_save_graphs_turned_on_after_the_first_call_writes_the_graphs(tmp_path, caplog):
    fn, calls = traced_calls()
    graphc.set_context(save_graphs_path=str(tmp_path))
    fn(X)
    assert os.listdir(tmp_path) == []
    graphc.set_context(save_graphs=True)
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        fn(X)
    assert "recompiling fn: set_context changed save_graphs False -> True" in caplog.text
    assert os.listdir(tmp_path) == ["fn_0"] and len(calls) == 2
    graphc.set_context(save_graphs=False)          # and back: the next build writes nothing
    fn(X)
    assert os.listdir(tmp_path) == ["fn_0"] and len(calls) == 3


def test_profile_turned_on_and_off_rebuilds_with_and_without_counters():
    fn, _ = traced_calls()
    assert not fn.compile(X).lowered.profile
    graphc.set_context(profile=True)
    assert fn.compile(X).lowered.profile
    graphc.set_context(profile=False)
    assert not fn.compile(X).lowered.profile


def test_pipeline_change_rebuilds(caplog):
    fn, calls = traced_calls()
    assert fn.compile(X).graph.of_op("fused")
    with caplog.at_level(logging.INFO, logger="graphc.jit"):
        graphc.set_context(pipeline="dce")
        assert not fn.compile(X).graph.of_op("fused")
    assert "set_context changed pipeline None -> 'dce'" in caplog.text


def test_a_function_s_own_backend_wins_over_the_context():
    fn = graphc.jit(lambda x: ops.relu(x), backend="interp")
    fn(X)
    graphc.set_context(backend="llvm")
    assert type(fn.compile(X)).__name__ == "InterpExecutable"


def test_an_unchanged_setting_and_num_threads_rebuild_nothing():
    fn, calls = traced_calls()
    fn(X)
    graphc.set_context(save_graphs=False, num_threads=1)
    fn(X)
    executable = fn.compile(X)
    assert executable.nthreads == 1 and len(calls) == 1
    graphc.set_context(num_threads=2)
    fn(X)
    assert executable.nthreads == 2 and len(calls) == 1


@pytest.mark.parametrize("key", context.COMPILE_SETTINGS)
def test_every_compile_setting_is_watched(key):
    before = context.compile_generation()
    value = {"backend": "interp", "pipeline": "dce", "save_graphs": True, "save_graphs_path": "/tmp/x",
             "profile": True}[key]
    graphc.set_context(**{key: value})
    assert context.compile_generation() != before
