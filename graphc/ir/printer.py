"""Printing the IR text format (docs/ir.md; graphc/ir/text.py parses it back): one line per node,
types on definitions, a node's regions (a fused body, a loop's body) indented under it. Needs no
Graph class, so Graph's str() can use it."""
from __future__ import annotations

import json
import math
import re

import numpy as np

from ..types import DType, TensorType, dtype_of
from .opset import REGIONS

PLACEHOLDER_TYPE = "type"     # input/param carry their type as an attribute; printed once, on the definition


def format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return ("-inf" if value < 0 else "inf") if math.isinf(value) else "nan" if math.isnan(value) else repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, DType):
        return value.short
    if isinstance(value, TensorType):
        return f"type({str(value)!r})"
    if isinstance(value, np.ndarray):
        # Nested lists lose the shape of an empty array ([] could be [0,3]), so it is spelled out.
        shape = f", {format_value(value.shape)}" if value.size == 0 else ""
        return f"array({_format_nested(value)}, {dtype_of(value.dtype).short}{shape})"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"cannot print attribute value {value!r} of type {type(value).__name__}")


def _format_nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        return format_value(array.item())
    return "[" + ", ".join(_format_nested(sub) for sub in array) + "]"


def _word(text: str) -> str:
    return json.dumps(text) if not text or re.search(r'[\s"\'#]', text) else text


def format_node(node) -> str:
    attrs = {k: v for k, v in node.attrs.items()
             if not (k == PLACEHOLDER_TYPE and node.op in ("input", "param")) and k not in REGIONS.get(node.op, ())}
    attr_text = " {" + ", ".join(f"{k}={format_value(v)}" for k, v in attrs.items()) + "}" if attrs else ""
    operands = ", ".join(f"%{i.id}" for i in node.inputs)
    notes = [f"scope={_word(node.scope)}"] if node.scope else []
    notes += [f"loc={_word(node.loc)}"] if node.loc else []
    notes += [f"grad_of=%{node.meta['grad_of']}"] if "grad_of" in node.meta else []
    comment = "  # " + " ".join(notes) if notes else ""
    return f"%{node.id}: {node.type} = {node.op}({operands}){attr_text}{comment}"


def print_graph(graph, indent: str = "") -> str:
    lines = [f"{indent}graph @{graph.name} {{"]
    for node in graph.order():
        lines.append(f"{indent}  {format_node(node)}")
        for region in REGIONS.get(node.op, ()):      # each region's graph follows, indented
            lines.append(print_graph(node.attrs[region], indent + "    "))
    lines.append(f"{indent}  return" + (" " + ", ".join(f"%{o.id}" for o in graph.outputs) if graph.outputs else ""))
    lines.append(f"{indent}}}")
    return "\n".join(lines)
