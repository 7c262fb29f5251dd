"""Structured control flow: the nodes that own regions, and `get` (docs/ir.md, "Control flow").

    cond(pred, args...)                  regions then_branch, else_branch: each takes the args and
                                         returns the results; pred (bool[]) picks the one that runs
    while(carry..., consts...)           regions cond (-> bool[]) and body (-> the new carry), both
                                         taking carry + consts; repeats body while cond is true
    scan(carry..., xs..., consts...)     {length, carried, scanned, reverse, checkpoint}: region body
                                         takes carry + one slice of each xs along its leading axis +
                                         consts, returns the new carry then the step's ys; runs
                                         `length` times; the results are the carry, then each y
                                         stacked along a new leading axis
    get(%t) {index}                      element `index` of a control-flow node's results

A region is a Graph of its own, closed like a fused body: its input i stands for the node's region
argument i, and it reads nothing else from outside (no `param` nodes: a Parameter is passed in as
an operand). Node ids are local to each graph. A control-flow node's type is a TupleType, and only
`get` nodes read it, so every other node, pass and kernel still sees one tensor per value.

The type rules below are the verifier's check that each carried value keeps its type through every
iteration and that both branches agree; their errors name both types. None of these nodes is a
registered op: the verifier, the printer and parser, the interpreter and the passes ask this module.
"""
from __future__ import annotations

from ..types import TensorType, TupleType, bool_
from .graph import Graph, Node
from .opset import REGIONS

CONTROL_OPS = ("cond", "while", "scan")
_REQUIRED = object()
_ATTRS = {"cond": {}, "while": {},
          "scan": {"length": _REQUIRED, "carried": _REQUIRED, "scanned": _REQUIRED, "reverse": False,
                   "checkpoint": False},
          "get": {"index": _REQUIRED}}
STRUCTURAL = ("fused", "get") + CONTROL_OPS      # node kinds that are not registry ops
PREDICATE = TensorType((), bool_)


class ControlFlowError(ValueError):
    pass


def is_control(node: Node) -> bool:
    return node.op in CONTROL_OPS


def regions(node: Node) -> list[Graph]:
    """The node's region graphs (a fused node's body, a control-flow node's regions), in print order."""
    return [node.attrs[name] for name in REGIONS.get(node.op, ())]


def check_attrs(op: str, attrs: dict) -> dict:
    """A control-flow or get node's attributes, defaults filled in, in schema order (regions last)."""
    schema, names = _ATTRS[op], REGIONS.get(op, ())
    unknown = set(attrs) - set(schema) - set(names)
    if unknown:
        raise ControlFlowError(f"{op}: unknown attribute(s) {', '.join(sorted(unknown))}; "
                               f"valid: {', '.join(list(schema) + list(names)) or 'none'}")
    full = {name: attrs.get(name, default) for name, default in schema.items()}
    for name, value in full.items():
        if value is _REQUIRED:
            raise ControlFlowError(f"{op}: missing required attribute {name}")
        expected = bool if isinstance(schema[name], bool) else int
        if type(value) is not expected or (expected is int and value < 0):
            what = "a bool" if expected is bool else "an int >= 0"
            raise ControlFlowError(f"{op}: attribute {name}={value!r} must be {what}")
    for name in names:
        if not isinstance(attrs.get(name), Graph):
            raise ControlFlowError(f"{op}: region {name} is missing (a graph follows the node's line)")
        full[name] = attrs[name]
    return full


def infer_type(op: str, operands: list, attrs: dict) -> TensorType | TupleType:
    """The result type of a control-flow or get node with these operand types, checking that its regions
    take and return what the node says (carried types kept, both branches alike)."""
    if op == "get":
        [tuple_type] = operands if len(operands) == 1 else [None]
        if not isinstance(tuple_type, TupleType):
            raise ControlFlowError(f"get takes one operand, the result of a control-flow node, got "
                                   f"{', '.join(map(str, operands)) or 'none'}")
        if attrs["index"] >= len(tuple_type.elements):
            raise ControlFlowError(f"get index {attrs['index']} is out of range for {tuple_type}")
        return tuple_type.elements[attrs["index"]]
    return TupleType(_RULES[op](operands, attrs))


def _cond(operands, attrs) -> list[TensorType]:
    if not operands or operands[0] != PREDICATE:
        raise ControlFlowError(f"cond's first operand is the predicate, a {PREDICATE}; got "
                               f"{operands[0] if operands else 'no operands'}")
    results = _signature(attrs["then_branch"], "then_branch", operands[1:], "argument")
    other = _signature(attrs["else_branch"], "else_branch", operands[1:], "argument")
    _same(other, results, "else_branch returns", "then_branch returns")
    return results


def _while(operands, attrs) -> list[TensorType]:
    carried = len(attrs["body"].outputs)
    if carried > len(operands):
        raise ControlFlowError(f"while: the body returns {carried} values but the node has {len(operands)} operands")
    _same(_signature(attrs["cond"], "cond", operands, "operand"), [PREDICATE], "cond returns", "a condition is")
    _same(_signature(attrs["body"], "body", operands, "operand"), operands[:carried], "body returns",
          "the carry is", _KEEP)
    return list(operands[:carried])


def _scan(operands, attrs) -> list[TensorType]:
    k, n, length = attrs["carried"], attrs["scanned"], attrs["length"]
    if k + n > len(operands):
        raise ControlFlowError(f"scan: carried={k} and scanned={n} but the node has {len(operands)} operands")
    carry, xs, consts = operands[:k], operands[k:k + n], operands[k + n:]
    for index, x in enumerate(xs):
        if not x.shape or x.shape[0] != length:
            raise ControlFlowError(f"scan: scanned operand {index} is {x}; its leading axis must be the length "
                                   f"{length}")
    slices = [TensorType(x.shape[1:], x.dtype) for x in xs]
    outputs = _signature(attrs["body"], "body", carry + slices + consts, "argument")
    if len(outputs) < k:
        raise ControlFlowError(f"scan: the body returns {len(outputs)} values, fewer than the {k} carried")
    _same(outputs[:k], carry, "body returns the carry as", "the carry is", _KEEP)
    return list(carry) + [TensorType((length,) + y.shape, y.dtype) for y in outputs[k:]]


_RULES = {"cond": _cond, "while": _while, "scan": _scan}
_KEEP = "; a carried value keeps its type (dtype and shape) through every iteration"


def _signature(region: Graph, name: str, arguments: list, what: str) -> list[TensorType]:
    """The region's output types, after checking it takes exactly `arguments` (input i has type i)."""
    inputs = region.inputs
    if [i.attrs["index"] for i in inputs] != list(range(len(arguments))):
        raise ControlFlowError(f"region {name} must have inputs indexed 0..{len(arguments) - 1}, one per "
                               f"{what}, got indices {[i.attrs['index'] for i in inputs]}")
    _same([i.type for i in inputs], arguments, f"region {name} takes", f"the {what}s are")
    return [out.type for out in region.outputs]


def _same(got: list, expected: list, got_label: str, expected_label: str, hint: str = "") -> None:
    if list(got) != list(expected):
        raise ControlFlowError(f"{got_label} ({', '.join(map(str, got))}) but {expected_label} "
                               f"({', '.join(map(str, expected))}){hint}")
