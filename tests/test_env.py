"""graphc/env.py: every GRAPHC_* variable is declared and parsed in one place; a bad value is an error
naming the variable, the value and what is accepted, raised at first use, at the user's line."""
import re
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import context, env
from graphc.compiler import profiling
from graphc.errors import ArgumentError
from runtime.dataset import pipeline

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*REPO.glob("graphc/**/*.py"), *REPO.glob("runtime/**/*.py")])
X = np.arange(6, dtype=np.float32).reshape(2, 3)


def double(x):
    return x * 2.0


def test_only_env_py_reads_the_environment():
    readers = [str(path.relative_to(REPO)) for path in SOURCES
               if re.search(r"\benviron\b|\bgetenv\b", path.read_text()) and path.name != "env.py"]
    assert readers == []


def test_every_variable_the_code_names_is_declared_and_in_the_docs_table():
    named = {name for path in SOURCES for name in re.findall(r"GRAPHC_[A-Z0-9_]*[A-Z0-9*]", path.read_text())}
    for name in named - {"GRAPHC_*"}:            # env.py's docstring speaks of them all as GRAPHC_*
        env.declared(name)                       # KeyError for an undeclared one
    table = (REPO / "docs" / "architecture.md").read_text()
    documented = set(re.findall(r"^\| `(GRAPHC_[A-Z0-9_*]+)` \|", table, re.M))
    assert documented == set(env.VARIABLES)


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5"])
def test_a_bad_thread_count_names_the_variable_the_value_and_what_is_accepted(monkeypatch, value):
    monkeypatch.setenv("GRAPHC_NUM_THREADS", value)
    function = graphc.jit(double)                 # nothing reads the variable before the first step
    with pytest.raises(ArgumentError) as error:
        function(X)
    assert str(error.value).endswith(f"environment variable GRAPHC_NUM_THREADS='{value}' is not valid: "
                                     "expected an integer >= 1")
    assert Path(error.value.loc.split(":")[0]).name == "test_env.py"        # the user's line


@pytest.mark.parametrize("source", ["environment", "set_context"])
def test_more_threads_than_cores_are_capped_with_a_warning_unless_allowed(monkeypatch, source):
    monkeypatch.delenv("GRAPHC_ALLOW_OVERSUBSCRIBE", raising=False)
    monkeypatch.setattr(context, "_capped", set())
    if source == "environment":
        monkeypatch.setenv("GRAPHC_NUM_THREADS", "1000")
    else:
        graphc.set_context(num_threads=1000)
    with pytest.warns(RuntimeWarning, match=rf"1000 threads asked for by .*using {context.cores()}.*"
                                            "GRAPHC_ALLOW_OVERSUBSCRIBE=1"):
        executable = graphc.jit(double).compile(X)
    assert executable.nthreads == context.num_threads() == context.cores()
    monkeypatch.setenv("GRAPHC_ALLOW_OVERSUBSCRIBE", "1")
    assert context.num_threads() == 1000


@pytest.mark.parametrize("value, on", [("1", True), ("TRUE", True), ("Yes", True), ("on", True),
                                       ("0", False), ("false", False), ("NO", False), ("off", False)])
def test_booleans_take_the_usual_words(monkeypatch, value, on):
    monkeypatch.setenv("GRAPHC_PROFILE", value)
    assert profiling() is on


def test_a_boolean_refuses_other_words(monkeypatch):
    monkeypatch.setenv("GRAPHC_PROFILE", "enabled")
    with pytest.raises(ArgumentError, match="GRAPHC_PROFILE='enabled' is not valid: expected 1, true, yes, on or "
                                            r"0, false, no, off \(any case\)"):
        profiling()


def test_print_after_all_prints_after_every_pass(monkeypatch, capsys):
    monkeypatch.setenv("GRAPHC_PRINT_AFTER", "all")
    graphc.jit(double)(X)
    printed = re.findall(r"^// after (\S+)$", capsys.readouterr().err, re.M)
    assert {"autodiff", "fold", "cse", "simplify", "dce", "fuse", "plan-memory"} <= set(printed)


def test_print_after_refuses_an_unknown_pass(monkeypatch):
    monkeypatch.setenv("GRAPHC_PRINT_AFTER", "fold,fusion")
    with pytest.raises(ArgumentError, match=r"GRAPHC_PRINT_AFTER='fold,fusion' is not valid: no pass is named "
                                            r"'fusion'; expected pass names separated by commas \(.*fuse.*\), or all"):
        graphc.jit(double)(X)


def test_a_bad_map_cache_bound_is_an_error(monkeypatch):
    monkeypatch.setenv("GRAPHC_MAP_CACHE_BYTES", "512M")
    with pytest.raises(ArgumentError, match=r"GRAPHC_MAP_CACHE_BYTES='512M' is not valid: expected an integer >= 0"):
        pipeline.map_cache_bytes()


def test_every_dataset_mirror_variable_matches_one_declaration(monkeypatch):
    monkeypatch.setenv("GRAPHC_SOME_DATA_MIRRORS", "file:///a, https://b/c")
    assert env.get("GRAPHC_SOME_DATA_MIRRORS") == ("file:///a", "https://b/c")
    with pytest.raises(KeyError, match="GRAPHC_NO_SUCH is not declared"):
        env.get("GRAPHC_NO_SUCH")
