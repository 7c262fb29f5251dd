"""The verifier: structural and type invariants every pass must keep."""
from __future__ import annotations

import networkx as nx

from ..types import TupleType
from . import control
from .graph import Graph
from .opset import ELEMENTWISE, OPAQUE, OUT_FUSABLE, REDUCE, REGISTRY, get


class VerifyError(ValueError):
    pass


def verify(graph: Graph, assign_target: str = "param") -> None:
    """Raise VerifyError naming the first broken node; return None if the graph is sound.

    In a fused region's body, assigns target the body's `input` nodes (see _verify_region)."""
    if not nx.is_directed_acyclic_graph(graph.nx):
        cycle = nx.find_cycle(graph.nx)
        raise VerifyError(f"@{graph.name}: cycle through " + " -> ".join(f"%{u}" for u, *_ in cycle))
    if set(graph.nx.nodes) != set(graph.nodes):
        raise VerifyError(f"@{graph.name}: networkx nodes and graph nodes disagree")
    for node in graph.order():
        _verify_node(graph, node, assign_target)
    for out in graph.outputs:
        if graph.nodes.get(out.id) is not out:
            raise VerifyError(f"@{graph.name}: output %{out.id} is not a node of the graph")
        if isinstance(out.type, TupleType):
            raise VerifyError(f"@{graph.name}: output %{out.id} is a {out.type}; return its elements (get nodes)")
    names = [n.attrs["name"] for n in graph.params]
    if len(names) != len(set(names)):
        raise VerifyError(f"@{graph.name}: a parameter name is bound by more than one param node")


def _verify_node(graph: Graph, node, assign_target: str) -> None:
    where = f"@{graph.name} %{node.id} ({node.op})"
    edges = sorted((key, src) for src, _, key in graph.nx.in_edges(node.id, keys=True))
    if edges != [(i, src.id) for i, src in enumerate(node.inputs)]:
        raise VerifyError(f"{where}: operand list and networkx edges disagree")
    for src in node.inputs:
        if graph.nodes.get(src.id) is not src:
            raise VerifyError(f"{where}: operand %{src.id} is not in the graph")
    if any(isinstance(src.type, TupleType) for src in node.inputs) and node.op != "get":
        raise VerifyError(f"{where}: only get nodes read the results of a control-flow node")
    if node.op == "fused":
        return _verify_region(node, where)
    if node.op in control.STRUCTURAL:
        return _verify_control(node, where)
    try:
        op = get(node.op)
        expected = op.infer_type([i.type for i in node.inputs], node.attrs)
    except (KeyError, ValueError) as error:
        raise VerifyError(f"{where}: {error}") from None
    if expected != node.type:
        raise VerifyError(f"{where}: recorded type {node.type} but the shape rule gives {expected}")
    if op.impure and node.inputs[0].op != assign_target:
        raise VerifyError(f"{where}: the target of {node.op} must be a {assign_target} node, "
                          f"got {node.inputs[0].op}")


def _verify_control(node, where: str) -> None:
    """A control-flow (or get) node: pure regions without param nodes, canonical attributes, regions
    that take and return what the node says (control.infer_type), each region a sound graph."""
    for region in control.regions(node):
        for inner in region.order():
            if inner.op == "param" or (inner.op in REGISTRY and get(inner.op).impure):
                raise VerifyError(f"{where}: region @{region.name} holds %{inner.id} ({inner.op}); a control-flow "
                                  "region is pure and reads parameters through the node's operands")
    try:
        if control.check_attrs(node.op, node.attrs) != node.attrs:
            raise control.ControlFlowError("attributes are not canonical (every attribute of the schema, defaults "
                                           "filled in)")
        expected = control.infer_type(node.op, [i.type for i in node.inputs], node.attrs)
    except control.ControlFlowError as error:
        raise VerifyError(f"{where}: {error}") from None
    if expected != node.type:
        raise VerifyError(f"{where}: recorded type {node.type} but its operands and regions give {expected}")
    for region in control.regions(node):
        verify(region)


REGION_KINDS = (ELEMENTWISE, REDUCE, OUT_FUSABLE)


def _verify_region(node, where: str) -> None:
    """The fused-node contract (docs/passes.md): body input i stands for operand i (same type; named
    after the parameter when the operand is one); the body's one output is the node's value;
    assigns in the body target inputs bound to parameters; inside, only the body's inputs, constants
    and fusable or impure ops (no parameters, nested regions, or opaque ops such as placeholders)."""
    body, kind = node.attrs.get("body"), node.attrs.get("kind")
    if kind not in REGION_KINDS or not isinstance(body, Graph) or set(node.attrs) != {"kind", "body"}:
        raise VerifyError(f"{where}: a fused node has exactly the attributes kind (one of "
                          f"{', '.join(REGION_KINDS)}) and body (a Graph)")
    verify(body, assign_target="input")
    inputs = body.inputs
    if [i.attrs["index"] for i in inputs] != list(range(len(node.inputs))):
        raise VerifyError(f"{where}: body inputs must be indexed 0..{len(node.inputs) - 1}, one per operand")
    for inner, operand in zip(inputs, node.inputs):
        if inner.type != operand.type:
            raise VerifyError(f"{where}: body input {inner.attrs['index']} is {inner.type} but operand "
                              f"%{operand.id} is {operand.type}")
        if operand.op == "param" and inner.attrs["name"] != operand.attrs["name"]:
            raise VerifyError(f"{where}: body input {inner.attrs['index']} must be named after parameter "
                              f"{operand.attrs['name']!r}")
    if len(body.outputs) != 1 or body.outputs[0].type != node.type:
        raise VerifyError(f"{where}: the body must return one value of the node's type {node.type}")
    for inner in body.order():
        if inner.op not in ("input", "const") and (inner.op in control.STRUCTURAL or not _fusable(get(inner.op))):
            raise VerifyError(f"{where}: a region body may not hold {inner.op} nodes")
        if get(inner.op).impure and node.inputs[inner.inputs[0].attrs["index"]].op != "param":
            raise VerifyError(f"{where}: %{inner.id} assigns to body input {inner.inputs[0].attrs['index']}, "
                              f"which is not bound to a parameter")


def _fusable(op) -> bool:
    return op.kind != OPAQUE or op.impure
