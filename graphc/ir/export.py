"""Graph export for other tools: Graphviz DOT (to look at) and JSON (to process; round-trips).

Both are deterministic: nodes in the graph's topological order, attributes in their schema order.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..types import DType, TensorType, dtype_of, parse_type
from .graph import Graph, Node
from .opset import REGIONS

# -- DOT ------------------------------------------------------------------------------------------------
_STYLES = {   # placeholders stand out from computation; the impure assign stands out most
    "input": 'shape=invhouse, style=filled, fillcolor="#cde4ff"',
    "param": 'shape=box, style="rounded,filled", fillcolor="#d8f0d0"',
    "const": 'shape=box, style="rounded,filled", fillcolor="#eeeeee"',
    "assign": 'shape=box, style=filled, fillcolor="#ffd9c0", penwidth=2',
}


def to_dot(graph: Graph) -> str:
    lines = [f"digraph {_quote(graph.name)} {{",
             '  node [shape=box, fontname="monospace", fontsize=10];',
             '  edge [fontname="monospace", fontsize=8];']
    lines += _dot_body(graph, prefix="n", indent="  ")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_body(graph: Graph, prefix: str, indent: str) -> list[str]:
    """Node and edge statements; a fused node becomes a cluster holding its body graph; a control-flow
    node is a box beside one cluster per region (edges enter and leave the box)."""
    lines = []
    for node in graph.order():
        if node.op == "fused":
            lines += _dot_cluster(node, prefix, indent)
        else:
            label = _quote(_dot_label(node))
            lines.append(f"{indent}{_dot_id(node, prefix)} [label={label}{_dot_style(graph, node)}];")
            for name in REGIONS.get(node.op, ()):
                lines += _dot_cluster(node, prefix, indent, name)
        lines += [f"{indent}{_dot_id(src, prefix)} -> {_dot_entry(node, index, prefix)}"
                  f"{f' [label={index}]' if len(node.inputs) > 1 else ''};"
                  for index, src in enumerate(node.inputs)]
    return lines


def _dot_cluster(node: Node, prefix: str, indent: str, region: str = "body") -> list[str]:
    """A dashed cluster holding one of node's regions (a fused node's body, labelled with the node)."""
    label = f"%{node.id} {node.op}: {node.type}" if node.op == "fused" else f"%{node.id} {node.op} @{region}"
    inner = f"{prefix}{node.id}_" + ("" if node.op == "fused" else f"{region}_")
    return ([f"{indent}subgraph cluster_{inner.rstrip('_')} {{", f"{indent}  label={_quote(label)}; style=dashed;"]
            + _dot_body(node.attrs[region], inner, indent + "  ")
            + [f"{indent}}}"])


def _dot_id(node: Node, prefix: str) -> str:
    """The DOT node standing for node's value: for a fused node, its body's output."""
    if node.op == "fused":
        return _dot_id(node.attrs["body"].outputs[0], f"{prefix}{node.id}_")
    return f"{prefix}{node.id}"


def _dot_entry(node: Node, index: int, prefix: str) -> str:
    """Where operand `index` of node enters: for a fused node, its body's input of that index."""
    if node.op == "fused":
        return _dot_id(node.attrs["body"].inputs[index], f"{prefix}{node.id}_")
    return f"{prefix}{node.id}"


def _dot_label(node: Node) -> str:
    name = f" {node.attrs['name']}" if node.op in ("input", "param") else ""
    lines = [f"%{node.id} {node.op}{name}", str(node.type)]
    return "\n".join(lines + ([node.scope] if node.scope else []))


def _dot_style(graph: Graph, node: Node) -> str:
    style = _STYLES.get(node.op, "")
    output = ", peripheries=2" if any(out is node for out in graph.outputs) else ""
    return (f", {style}" if style else "") + output


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# -- JSON -----------------------------------------------------------------------------------------------
def to_json(graph: Graph) -> str:
    """One node per line, so that diffs of two dumps are readable."""
    doc = _graph_doc(graph)
    nodes = ",\n".join("    " + json.dumps(node, allow_nan=False) for node in doc["nodes"])
    return (f'{{\n  "graph": {json.dumps(doc["graph"])},\n  "nodes": [\n{nodes}\n  ],\n'
            f'  "outputs": {json.dumps(doc["outputs"])}\n}}\n')


def _graph_doc(graph: Graph) -> dict:
    return {"graph": graph.name, "nodes": [_node_doc(n) for n in graph.order()],
            "outputs": [o.id for o in graph.outputs]}


def _node_doc(node: Node) -> dict:
    return {"id": node.id, "op": node.op, "operands": [i.id for i in node.inputs],
            "attrs": {k: _encode(v) for k, v in node.attrs.items()}, "type": str(node.type),
            "scope": node.scope, "loc": node.loc, "meta": {k: _encode(v) for k, v in node.meta.items()}}


def _encode(value):
    """An attribute value as JSON. Objects are tagged by their keys; JSON arrays are tuples."""
    if isinstance(value, np.ndarray):
        return {"dtype": dtype_of(value.dtype).short, "shape": list(value.shape), "data": _encode(value.tolist())}
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return {"float": "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"}
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, DType):
        return {"dtype": value.short}
    if isinstance(value, TensorType):
        return {"type": str(value)}
    if isinstance(value, Graph):
        return {"graph": _graph_doc(value)}
    if isinstance(value, dict):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot export attribute value {value!r} of type {type(value).__name__} to JSON")


def from_json(text: str) -> Graph:
    """Inverse of to_json."""
    return _graph_from(json.loads(text))


def _graph_from(doc: dict) -> Graph:
    graph = Graph(doc["graph"])
    for entry in doc["nodes"]:
        missing = [i for i in entry["operands"] if i not in graph.nodes]
        if missing:
            raise ValueError(f"node %{entry['id']} uses %{missing[0]} before it is defined")
        graph.add(entry["op"], [graph.nodes[i] for i in entry["operands"]],
                  {k: _decode(v) for k, v in entry["attrs"].items()}, parse_type(entry["type"]),
                  scope=entry["scope"], loc=entry["loc"], meta={k: _decode(v) for k, v in entry["meta"].items()},
                  id=entry["id"])
    graph.outputs = [graph.nodes[i] for i in doc["outputs"]]
    return graph


def _decode(value):
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if set(value) == {"dtype", "shape", "data"}:
        return np.array(_decode(value["data"]), dtype=dtype_of(value["dtype"]).np).reshape(value["shape"])
    if set(value) == {"float"}:
        return float(value["float"])
    if set(value) == {"dtype"}:
        return dtype_of(value["dtype"])
    if set(value) == {"type"}:
        return TensorType.parse(value["type"])
    if set(value) == {"graph"}:
        return _graph_from(value["graph"])
    if set(value) == {"dict"}:
        return {k: _decode(v) for k, v in value["dict"].items()}
    raise ValueError(f"unknown tagged value {json.dumps(value)}")
