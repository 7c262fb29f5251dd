"""The IR text format (docs/ir.md): one line per node, types on definitions; parses back exactly.
Printing lives in printer.py (re-exported here); this module parses.

    graph @lenet {
      %0: f32[32,1,32,32] = input() {name='x', index=0}
      %1: f32[6,1,5,5] = param() {name='backbone.conv1.weight'}
      %2: f32[32,6,28,28] = conv2d(%0, %1) {stride=(1, 1), ...}  # scope=backbone.conv1 loc=lenet.py:40
      return %2
    }
"""
from __future__ import annotations

import ast
import io
import json
import math
import re
import tokenize

import numpy as np

from ..types import DTYPES, TensorType, parse_type
from . import control
from .graph import Graph
from .opset import REGIONS, get
from .printer import PLACEHOLDER_TYPE, format_node, format_value, print_graph

__all__ = ["ParseError", "format_node", "format_value", "parse_attrs", "parse_graph", "print_graph"]


# -- parsing ---------------------------------------------------------------------------------------------
class ParseError(ValueError):
    def __init__(self, message: str, line_no: int, line: str):
        super().__init__(f"line {line_no}: {message}\n    {line.strip()}")


_NODE = re.compile(r"^%(?P<id>\d+): (?P<type>\S+) = (?P<op>[\w.]+)\((?P<operands>[^)]*)\)(?P<rest>.*)$")
_VALUE = re.compile(r"^%(\d+)$")
_NOTE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
_NAMES = {"inf": math.inf, "nan": math.nan, "True": True, "False": False, "None": None,
          **{d.short: d for d in DTYPES}}


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _NAMES:
            return _NAMES[node.id]
        raise ValueError(f"unknown name {node.id!r} in attributes: bare names are {', '.join(_NAMES)}; "
                         "quote strings")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_literal(a) for a in node.args]
        if node.func.id == "array":
            array = np.array(_lists(args[0]), dtype=args[1].np)
            return array.reshape(args[2]) if len(args) > 2 else array
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
    """(attributes, notes): the notes start at the first '#' outside a string literal."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(rest).readline):
            if token.type == tokenize.COMMENT:
                return rest[:token.start[1]], token.string[1:].strip()
    except tokenize.TokenError:
        raise ValueError("unbalanced brackets or quotes in the attributes") from None
    return rest, ""


def _parse_notes(comment: str) -> dict[str, str]:
    """The `key=value` words of a node's trailing comment; quoted values are JSON strings."""
    notes = {key: json.loads(value) if value.startswith('"') else value for key, value in _NOTE.findall(comment)}
    if _NOTE.sub("", comment).strip():
        raise ValueError(f"notes must be key=value words, got {comment!r}")
    unknown = set(notes) - {"scope", "loc", "grad_of"}
    if unknown:
        raise ValueError(f"unknown note(s) {', '.join(sorted(unknown))}; notes are scope, loc and grad_of")
    if "grad_of" in notes and not _VALUE.match(notes["grad_of"]):
        raise ValueError(f"grad_of must name a value %N, got {notes['grad_of']!r}")
    return notes


def parse_graph(text: str) -> Graph:
    """Inverse of print_graph."""
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.strip().startswith("//")]
    graph, end = _parse_block(lines, 0)
    if end < len(lines):
        raise ParseError("unexpected text after the closing '}' (one graph per file)", *lines[end])
    return graph


def _parse_block(lines, start: int) -> tuple[Graph, int]:
    """The graph whose header is lines[start], and the index of the line after its closing '}'."""
    if start >= len(lines) or not re.match(r"^graph @\S+ \{$", lines[start][1].strip()):
        raise ParseError("expected 'graph @name {'", *(lines[min(start, len(lines) - 1)] if lines else (1, "")))
    graph = Graph(lines[start][1].strip()[len("graph @"):-2])
    i = start + 1
    while i < len(lines):
        line_no, line = lines[i]
        stripped = line.strip()
        i += 1
        if stripped == "}":
            return graph, i
        if stripped == "return" or stripped.startswith("return "):
            graph.outputs = [_operand(graph, tok, line_no, line) for tok in stripped[6:].split(",") if tok.strip()]
            continue
        match = _NODE.match(stripped)
        if not match:
            raise ParseError("expected '%N: type = op(operands) {attrs}  # notes'", line_no, line)
        regions = {}
        for name in REGIONS.get(match["op"], ()):    # each region's graph follows the node's line
            regions[name], i = _parse_block(lines, i)
        try:
            _add_node(graph, match, line_no, line, regions)
        except ParseError:
            raise
        except (ValueError, KeyError, SyntaxError, TypeError) as error:
            raise ParseError(str(error), line_no, line) from None
    raise ParseError("missing closing '}'", *lines[-1])


def _operand(graph, token, line_no, line):
    match = _VALUE.match(token.strip())
    if not match or int(match[1]) not in graph.nodes:
        raise ParseError(f"unknown value {token.strip()!r} (values are %N, defined before use)", line_no, line)
    return graph.nodes[int(match[1])]


def _add_node(graph, match, line_no, line, regions):
    head, comment = _split_comment(match["rest"])
    head = head.strip()
    if head and not (head.startswith("{") and head.endswith("}")):
        raise ValueError(f"unexpected text after operands: {head!r}")
    attrs = parse_attrs(head[1:-1]) if head else {}
    type_ = parse_type(match["type"])
    if match["op"] == "fused":             # made by the fuse pass, which the verifier checks
        attrs.update(regions)
    elif match["op"] in control.STRUCTURAL:
        attrs = control.check_attrs(match["op"], {**attrs, **regions})
    else:
        op = get(match["op"])
        if PLACEHOLDER_TYPE in op.attrs:
            attrs[PLACEHOLDER_TYPE] = type_
        attrs = op.check_attrs(attrs)
    operands = [_operand(graph, tok, line_no, line) for tok in match["operands"].split(",") if tok.strip()]
    notes = _parse_notes(comment)
    meta = {"grad_of": int(notes["grad_of"][1:])} if "grad_of" in notes else {}
    graph.add(match["op"], operands, attrs, type_, scope=notes.get("scope", ""), loc=notes.get("loc", ""),
              meta=meta, id=int(match["id"]))
