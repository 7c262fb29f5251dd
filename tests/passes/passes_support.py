"""Helpers for the pass tests: run one pass on IR text, and compare interpreter results bit for bit."""
from __future__ import annotations

import textwrap

import numpy as np

from graphc import interp
from graphc.ir.text import parse_graph, print_graph
from graphc.ir.verify import verify
from graphc.passes import PASSES, PassContext


def ir(text: str) -> str:
    return textwrap.dedent(text).strip()


def run_pass(name: str, graph) -> bool:
    changed = PASSES[name](graph, PassContext())
    verify(graph)
    return changed


def check_rewrite(name: str, before: str, expected: str) -> None:
    """The pass turns `before` into `expected` (both IR text), says it changed the graph, finds
    nothing more to do on a second run, and leaves every result bit for bit the same."""
    graph = parse_graph(ir(before))
    reference = results(parse_graph(ir(before)))
    assert run_pass(name, graph) is True
    assert print_graph(graph) == ir(expected)
    assert run_pass(name, graph) is False
    assert_same_results(reference, results(graph))


def check_unchanged(name: str, text: str) -> None:
    graph = parse_graph(ir(text))
    assert run_pass(name, graph) is False
    assert print_graph(graph) == ir(text)


def sample_values(graph, seed: int = 0) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Inputs and parameter values for graph, with signed zeros, infinities and NaN among them."""
    rng = np.random.default_rng(seed)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0], np.float64)

    def draw(node):
        values = np.where(rng.random(node.type.shape) < 0.3, rng.choice(specials, node.type.shape),
                          rng.standard_normal(node.type.shape) * 3)
        return np.asarray(values).astype(node.type.dtype.np)
    return [draw(n) for n in graph.inputs], {n.attrs["name"]: draw(n) for n in graph.params}


def results(graph, seed: int = 0) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    inputs, params = sample_values(graph, seed)
    with np.errstate(all="ignore"):
        return interp.run(graph, inputs, params)


def assert_same_results(expected, actual) -> None:
    (expected_outputs, expected_updates), (actual_outputs, actual_updates) = expected, actual
    assert len(expected_outputs) == len(actual_outputs)
    for want, got in zip(expected_outputs, actual_outputs):
        assert_bitwise_equal(want, got)
    assert sorted(expected_updates) == sorted(actual_updates)
    for name in expected_updates:
        assert_bitwise_equal(expected_updates[name], actual_updates[name])


def assert_bitwise_equal(want: np.ndarray, got: np.ndarray) -> None:
    """Equal values, NaN where NaN, and the same sign on every zero (a NaN's sign bit is not a
    value: the hardware picks it from either operand)."""
    want, got = np.asarray(want), np.asarray(got)
    assert want.dtype == got.dtype and want.shape == got.shape
    assert np.array_equal(want, got, equal_nan=want.dtype.kind == "f")
    if want.dtype.kind == "f":
        zeros = want == 0
        assert np.array_equal(np.signbit(want[zeros]), np.signbit(got[zeros])), "a zero changed sign"
