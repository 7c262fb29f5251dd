"""The IR text format (docs/ir.md): one line per node, types on definitions; parses back exactly.

    graph @lenet {
      %0: f32[32,1,32,32] = input() {name='x', index=0}
      %1: f32[6,1,5,5] = param() {name='backbone.conv1.weight'}
      %2: f32[32,6,28,28] = conv2d(%0, %1) {stride=(1, 1), ...}  # scope=backbone.conv1 loc=lenet.py:40
      return %2
    }
"""
from __future__ import annotations

import ast
import json
import math
import re
import shlex

import numpy as np

from ..types import DType, TensorType, dtype_of
from .graph import Graph

_PLACEHOLDER_TYPE = "type"     # input/param carry their type as an attribute; printed once, on the definition


# -- printing -----------------------------------------------------------------------------------------
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
        return f"array({_format_nested(value)}, {dtype_of(value.dtype).short})"
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
    attrs = {k: v for k, v in node.attrs.items() if not (k == _PLACEHOLDER_TYPE and node.op in ("input", "param"))}
    attr_text = " {" + ", ".join(f"{k}={format_value(v)}" for k, v in attrs.items()) + "}" if attrs else ""
    operands = ", ".join(f"%{i.id}" for i in node.inputs)
    notes = [f"scope={_word(node.scope)}"] if node.scope else []
    notes += [f"loc={_word(node.loc)}"] if node.loc else []
    notes += [f"grad_of=%{node.meta['grad_of']}"] if "grad_of" in node.meta else []
    comment = "  # " + " ".join(notes) if notes else ""
    return f"%{node.id}: {node.type} = {node.op}({operands}){attr_text}{comment}"


def print_graph(graph: Graph, indent: str = "") -> str:
    lines = [f"{indent}graph @{graph.name} {{"]
    lines += [f"{indent}  {format_node(node)}" for node in graph.order()]
    lines.append(f"{indent}  return" + (" " + ", ".join(f"%{o.id}" for o in graph.outputs) if graph.outputs else ""))
    lines.append(f"{indent}}}")
    return "\n".join(lines)


# -- parsing ---------------------------------------------------------------------------------------------
class ParseError(ValueError):
    def __init__(self, message: str, line_no: int, line: str):
        super().__init__(f"line {line_no}: {message}\n    {line.strip()}")


_NODE = re.compile(r"^%(?P<id>\d+): (?P<type>\S+) = (?P<op>[\w.]+)\((?P<operands>[^)]*)\)(?P<rest>.*)$")
_NAMES = {"inf": math.inf, "nan": math.nan, "True": True, "False": False, "None": None}


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _NAMES:
            return _NAMES[node.id]
        return dtype_of(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_literal(a) for a in node.args]
        if node.func.id == "array":
            return np.array(_lists(args[0]), dtype=args[1].np)
        if node.func.id == "type":
            return TensorType.parse(args[0])
    raise ValueError(f"unexpected attribute syntax: {ast.unparse(node)}")


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


def parse_attrs(text: str) -> dict:
    text = text.strip()
    if not text:
        return {}
    call = ast.parse(f"f({text})", mode="eval").body
    return {kw.arg: _literal(kw.value) for kw in call.keywords}


def _split_comment(rest: str) -> tuple[str, str]:
    head, sep, comment = rest.rpartition("  # ")
    return (head, comment) if sep else (rest, "")


def parse_graph(text: str) -> Graph:
    """Inverse of print_graph."""
    from .. import ops
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.strip().startswith("//")]
    if not lines or not re.match(r"^graph @\S+ \{$", lines[0][1].strip()):
        raise ParseError("expected 'graph @name {'", *(lines[0] if lines else (1, "")))
    graph = Graph(lines[0][1].strip()[len("graph @"):-2])
    for line_no, line in lines[1:]:
        stripped = line.strip()
        if stripped == "}":
            return graph
        if stripped == "return" or stripped.startswith("return "):
            graph.outputs = [_operand(graph, tok, line_no, line) for tok in stripped[6:].split(",") if tok.strip()]
            continue
        match = _NODE.match(stripped)
        if not match:
            raise ParseError("expected '%N: type = op(operands) {attrs}  # notes'", line_no, line)
        try:
            _add_node(graph, match, line_no, line, ops)
        except (ValueError, KeyError, SyntaxError) as error:
            raise ParseError(str(error), line_no, line) from None
    raise ParseError("missing closing '}'", *lines[-1])


def _operand(graph, token, line_no, line):
    token = token.strip()
    if not token.startswith("%") or int(token[1:]) not in graph.nodes:
        raise ParseError(f"unknown value {token} (values must be defined before use)", line_no, line)
    return graph.nodes[int(token[1:])]


def _add_node(graph, match, line_no, line, ops):
    head, comment = _split_comment(match["rest"])
    head = head.strip()
    if head and not (head.startswith("{") and head.endswith("}")):
        raise ValueError(f"unexpected text after operands: {head!r}")
    attrs = parse_attrs(head[1:-1]) if head else {}
    type_ = TensorType.parse(match["type"])
    op = ops.get(match["op"])
    if _PLACEHOLDER_TYPE in op.attrs:
        attrs[_PLACEHOLDER_TYPE] = type_
    attrs = op.check_attrs(attrs)
    operands = [_operand(graph, tok, line_no, line) for tok in match["operands"].split(",") if tok.strip()]
    notes = dict(word.split("=", 1) for word in shlex.split(comment)) if comment else {}
    meta = {"grad_of": int(notes["grad_of"][1:])} if "grad_of" in notes else {}
    graph.add(op.name, operands, attrs, type_, scope=notes.get("scope", ""), loc=notes.get("loc", ""),
              meta=meta, id=int(match["id"]))
