"""DOT and JSON export (graphc/ir/export.py)."""
import json
import re

import numpy as np
import pytest

from graphc.passes.autodiff import expand_gradients
from graphc.ir import Graph
from graphc.ir.export import from_json, to_dot, to_json
from graphc.ir.text import parse_graph, print_graph
from graphc.jit import trace
from graphc.models import lenet
from graphc.types import TensorType, float32, int32

from test_ir_text import HAND_WRITTEN, mlp_train_graph

F2 = TensorType((2,), float32)


def fused_graph() -> Graph:
    """x, c -> fused{relu(a + b)} -> neg: a region whose body graph is held in the `body` attribute."""
    body = Graph("region")
    a = body.add("input", (), {"name": "a", "index": 0, "type": F2}, F2)
    b = body.add("input", (), {"name": "b", "index": 1, "type": F2}, F2)
    body.outputs = [body.add("relu", (body.add("add", (a, b), {}, F2),), {}, F2)]
    graph = Graph("g")
    x = graph.add("input", (), {"name": "x", "index": 0, "type": F2}, F2)
    c = graph.add("const", (), {"value": np.array([np.inf, -0.0], np.float32)}, F2)
    fused = graph.add("fused", (x, c), {"body": body}, F2, scope="net")
    graph.outputs = [graph.add("neg", (fused,), {}, F2)]
    return graph


# -- JSON ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: parse_graph(HAND_WRITTEN), mlp_train_graph],
                         ids=["hand-written", "traced"])
def test_json_round_trips_a_graph_exactly(make):
    graph = make()
    text = to_json(graph)
    back = from_json(text)
    assert print_graph(back) == print_graph(graph)
    assert to_json(back) == text
    assert [n.id for n in back.order()] == [n.id for n in graph.order()]


def test_json_keeps_every_note_of_a_differentiated_graph():
    graph = mlp_train_graph()
    expand_gradients(graph)
    back = from_json(to_json(graph))
    for node in graph.order():
        copy = back.nodes[node.id]
        assert (copy.scope, copy.loc, copy.meta, copy.type) == (node.scope, node.loc, node.meta, node.type)


def test_json_is_standard_json_even_for_inf_nan_and_negative_zero():
    graph = Graph("specials")
    value = np.array([[np.nan, np.inf], [-np.inf, -0.0]], np.float64)
    graph.outputs = [graph.add("const", (), {"value": value}, TensorType((2, 2), float32))]

    def reject(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    doc = json.loads(to_json(graph), parse_constant=reject)
    assert doc["nodes"][0]["attrs"]["value"] == {
        "dtype": "f64", "shape": [2, 2], "data": [[{"float": "nan"}, {"float": "inf"}], [{"float": "-inf"}, -0.0]]}
    back = from_json(to_json(graph)).nodes[0].attrs["value"]
    assert np.array_equal(back, value, equal_nan=True) and np.signbit(back[1, 1])


def test_json_layout_is_documented():
    graph = Graph("tiny")
    x = graph.add("input", (), {"name": "x", "index": 0, "type": TensorType((3,), int32)}, TensorType((3,), int32))
    graph.outputs = [graph.add("reshape", (x,), {"shape": (3, 1)}, TensorType((3, 1), int32), scope="s", loc="f.py:1")]
    assert json.loads(to_json(graph)) == {
        "graph": "tiny",
        "nodes": [
            {"id": 0, "op": "input", "operands": [], "attrs": {"name": "x", "index": 0, "type": {"type": "i32[3]"}},
             "type": "i32[3]", "scope": "", "loc": "", "meta": {}},
            {"id": 1, "op": "reshape", "operands": [0], "attrs": {"shape": [3, 1]}, "type": "i32[3,1]",
             "scope": "s", "loc": "f.py:1", "meta": {}},
        ],
        "outputs": [1],
    }
    node_lines = [line for line in to_json(graph).splitlines() if '"op": ' in line]
    assert [json.loads(line.rstrip(","))["id"] for line in node_lines] == [0, 1]     # one line per node


def test_json_round_trips_a_fused_region():
    graph = fused_graph()
    back = from_json(to_json(graph))
    body = back.nodes[2].attrs["body"]
    assert [n.op for n in body.order()] == ["input", "input", "add", "relu"]
    assert [o.id for o in body.outputs] == [3]
    assert to_json(back) == to_json(graph)


def test_json_names_a_value_used_before_it_is_defined():
    doc = json.loads(to_json(parse_graph(HAND_WRITTEN)))
    doc["nodes"].reverse()
    with pytest.raises(ValueError, match=r"uses %\d+ before it is defined"):
        from_json(json.dumps(doc))


def test_exports_are_deterministic():
    first, second = (trace(lenet(), (np.zeros((2, 1, 32, 32), np.float32),)).graph for _ in range(2))
    assert to_json(first) == to_json(second)
    assert to_dot(first) == to_dot(second)


# -- DOT ------------------------------------------------------------------------------------------------
_NODE_STATEMENT = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
_EDGE_STATEMENT = re.compile(r"^\s*(\w+) -> (\w+)( \[label=(\d+)\])?;$")


def parse_dot(text: str):
    """(nodes {id: (label, style)}, edges [(src, dst)], cluster names) of our DOT, checking its shape."""
    lines = text.strip().splitlines()
    assert re.match(r'^digraph "(?:[^"\\]|\\.)*" \{$', lines[0]) and lines[-1] == "}"
    nodes, edges, clusters, depth = {}, [], [], 0
    for line in lines[1:-1]:
        if node := _NODE_STATEMENT.match(line):
            assert node[1] not in nodes, f"node {node[1]} declared twice"
            nodes[node[1]] = (node[2], node[3])
        elif edge := _EDGE_STATEMENT.match(line):
            edges.append((edge[1], edge[2]))
        elif cluster := re.match(r"^\s*subgraph (cluster_\w+) \{$", line):
            clusters.append(cluster[1])
            depth += 1
        elif line.strip() == "}":
            depth -= 1
        else:
            assert re.match(r"^\s*(node|edge) \[.*\];$|^\s*label=\".*\"; style=dashed;$", line), line
        assert depth >= 0
    assert depth == 0
    assert all(src in nodes and dst in nodes for src, dst in edges)
    return nodes, edges, clusters


def test_dot_declares_every_node_once_and_draws_every_operand():
    graph = mlp_train_graph()
    nodes, edges, clusters = parse_dot(to_dot(graph))
    assert len(nodes) == len(graph)
    assert sorted(edges) == sorted((f"n{src.id}", f"n{n.id}") for n in graph.order() for src in n.inputs)
    assert clusters == []


def test_dot_labels_show_op_type_and_scope_and_style_placeholders():
    graph = parse_graph(HAND_WRITTEN)
    nodes, _, _ = parse_dot(to_dot(graph))
    assert nodes["n3"][0] == r"%3 matmul\nf32[4,2]\nnet.fc"
    assert nodes["n0"][0] == r"%0 input x\nf32[4,3]"
    assert nodes["n2"][0].startswith("%2 param fc.weight")
    styles = {nodes[f"n{i}"][1] for i in (0, 2, 7, 12, 3)}           # input, param, const, assign, matmul
    assert len(styles) == 5
    assert nodes["n3"][1] == ""                                       # computation is drawn plainly
    assert "peripheries=2" in nodes["n6"][1] and "peripheries=2" not in nodes["n5"][1]   # outputs stand out


def test_dot_escapes_quotes_in_labels():
    graph = Graph('say "hi"')
    graph.outputs = [graph.add("input", (), {"name": 'a"b\\c', "index": 0, "type": F2}, F2)]
    text = to_dot(graph)
    assert text.startswith('digraph "say \\"hi\\"" {')
    assert r'label="%0 input a\"b\\c\nf32[2]"' in text
    parse_dot(text)


def test_dot_draws_a_fused_region_as_a_cluster():
    nodes, edges, clusters = parse_dot(to_dot(fused_graph()))
    assert clusters == ["cluster_n2"]
    assert {"n2_0", "n2_1", "n2_2", "n2_3"} <= set(nodes) and "n2" not in nodes
    # operands enter the body's inputs by position; users read the body's output
    assert {("n0", "n2_0"), ("n1", "n2_1"), ("n2_3", "n3")} <= set(edges)
