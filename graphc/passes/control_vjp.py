"""Reverse mode through control flow (DESIGN.md §5b): the rules the autodiff pass calls for cond, scan
and while, in place of an op's VJP. Each takes (graph, node, cotangents, needed, vjp): the
cotangent of each result (None where no gradient reached it), the ids through which gradients flow,
and the autodiff pass's `vjp`, with which it differentiates the node's regions. Each returns one
gradient (or None) per operand.

- cond: a cond on the same predicate whose branches are the VJPs of the forward branches. Each
  recomputes its branch's forward values; nothing is stored.
- scan: a reverse scan. One step's VJP is built as a region (a copy of the body, then the gradient
  nodes); the forward values its gradient nodes read are the step's residuals. The forward scan is
  given them as extra stacked results, so the memory is linear in the trip count, and the reverse
  scan reads slice t of each at step t. With the node's `checkpoint`, only the carries entering each
  step are stored and the reverse scan recomputes the step from them (as jax.checkpoint does). The
  gradients of loop-invariant operands are summed in the reverse scan's carry; those of scanned
  operands are its stacked results.
- while: no reverse (the trip count depends on the values): an error naming ForiLoop and Scan.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..control_flow import bind_control
from ..errors import GraphcError
from ..ir import Graph, Node
from ..tracing import Tensor, Trace, symbolic, tracing
from ..types import TensorType, TupleType
from .dce import eliminate_dead_code
from .manager import PassContext
from .rewrite import replace_node


def wanted(src: Node, needed: set[int]) -> bool:
    """Does a gradient flow into this operand? (on a path to the wrt nodes, and a float value)"""
    return src.id in needed and src.type.dtype.is_float


def cond_vjp(graph: Graph, node: Node, cts: list, needed: set[int], vjp) -> list:
    if not any(wanted(src, needed) for src in node.inputs):
        return [None] * len(node.inputs)
    args = node.inputs[1:]
    results = [i for i, t in enumerate(node.type.elements) if t.dtype.is_float]
    targets = [i for i, arg in enumerate(args) if wanted(arg, needed)]
    branches = {}
    for name in ("then_branch", "else_branch"):
        region, _, _, grads = _differentiated(node.attrs[name], f"{name}_vjp", results, targets, vjp)
        region.outputs = grads
        eliminate_dead_code(region, PassContext())
        branches[name] = region
    seeds = [_or_zeros(cts[i], node.type.elements[i]) for i in results]
    gradients = bind_control("cond", [symbolic(node.inputs[0])] + [symbolic(a) for a in args] + seeds, branches)
    return _by_operand(len(node.inputs), zip([1 + i for i in targets], gradients))


def scan_vjp(graph: Graph, node: Node, cts: list, needed: set[int], vjp) -> list:
    if not any(wanted(src, needed) for src in node.inputs):
        return [None] * len(node.inputs)
    body, k, n = node.attrs["body"], node.attrs["carried"], node.attrs["scanned"]
    count = len(node.inputs)
    carried = [j for j in range(k) if body.outputs[j].type.dtype.is_float]
    # stacked results no gradient reached seed nothing (not a stack of zeros read at every step)
    ys = [j for j in range(k, len(body.outputs)) if body.outputs[j].type.dtype.is_float and cts[j] is not None]
    xs = [i for i in range(k, k + n) if wanted(node.inputs[i], needed)]
    invariants = [i for i in range(k + n, count) if wanted(node.inputs[i], needed)]
    step, whole, ct_inputs, sums = _step_vjp(body, carried, ys, xs, invariants, vjp)
    saved, residual_inputs = _read_residuals(step, body, k, node.attrs["checkpoint"])
    used = [i for i in range(k, count) if body.inputs[i].id in step.nodes and step.users(step.nodes[body.inputs[i].id])]
    scanned_here, invariant_here = [i for i in used if i < k + n], [i for i in used if i >= k + n]
    _renumber(step, ct_inputs[:len(carried)] + sums + residual_inputs
              + [step.nodes[body.inputs[i].id] for i in scanned_here] + ct_inputs[len(carried):]
              + [step.nodes[body.inputs[i].id] for i in invariant_here])
    carry = [_or_zeros(cts[j], node.type.elements[j]) for j in carried] + \
            [_or_zeros(None, node.inputs[i].type) for i in invariants]
    scanned = _store_residuals(graph, node, _forward_part(whole, body, saved), saved) + \
        [symbolic(node.inputs[i]) for i in scanned_here] + [_or_zeros(cts[j], node.type.elements[j]) for j in ys]
    results = bind_control("scan", carry + scanned + [symbolic(node.inputs[i]) for i in invariant_here],
                           {"body": step, "length": node.attrs["length"], "carried": len(carry),
                            "scanned": len(scanned), "reverse": not node.attrs["reverse"],
                            "checkpoint": node.attrs["checkpoint"]})
    return _by_operand(count, zip(carried + invariants + xs, results))


def while_vjp(graph: Graph, node: Node, cts: list, needed: set[int], vjp) -> list:
    if any(wanted(src, needed) for src in node.inputs):
        raise GraphcError(f"cannot differentiate through the while loop %{node.id}: its trip count depends on tensor "
                          "values, so reverse mode has no fixed steps to run back through. Write the loop with "
                          "ops.ForiLoop (int bounds; unroll=False keeps it one loop) or ops.Scan, whose trip counts "
                          "are static", loc=node.loc)
    return [None] * len(node.inputs)


CONTROL_VJPS = {"cond": cond_vjp, "scan": scan_vjp, "while": while_vjp}
UNNUMBERED = -1     # the index of an input added before _renumber gives the region its final order


# -- helpers --------------------------------------------------------------------------------------------
def _differentiated(region: Graph, name: str, seeds: list[int], targets: list[int], vjp):
    """A copy of region (same ids) with an input for the cotangent of each seeded output (indexed after
    the region's inputs), holding the gradient of sum <output_j, ct_j> with respect to each target
    input: (the copy, its trace for more nodes, the cotangent inputs, the gradients' nodes)."""
    step = region.copy(name)
    trace = Trace(graph=step)
    first = len(region.inputs)
    with tracing(trace):
        cts = [_input(step, f"ct{j}", first + position, region.outputs[j].type) for position, j in enumerate(seeds)]
        grads = vjp(step, [(step.nodes[region.outputs[j].id], symbolic(ct)) for j, ct in zip(seeds, cts)],
                    [step.nodes[region.inputs[i].id] for i in targets])
        return step, trace, cts, [trace.node_of(g) for g in grads]


def _step_vjp(body: Graph, carried: list[int], ys: list[int], xs: list[int], invariants: list[int], vjp):
    """One reverse step of a scan: a copy of its body then the gradients of the float carries' and ys'
    cotangents with respect to the carries, the wanted scanned slices and the wanted invariants, whose
    gradients it adds to running sums (more inputs). Returns (the region, returning the carries'
    gradients, the sums and the slices' gradients; a copy of it before dead code went, with every
    forward value; the cotangent inputs; the sum inputs). Inputs other than the body's are numbered
    later (_renumber)."""
    step, trace, ct_inputs, grads = _differentiated(body, f"{body.name}_vjp", carried + ys, carried + xs + invariants,
                                                    vjp)
    with tracing(trace):
        sums = [_input(step, f"sum{i}", UNNUMBERED, body.inputs[i].type) for i in invariants]
        summed = [trace.node_of(ops.add(symbolic(s), symbolic(g)))
                  for s, g in zip(sums, grads[len(carried) + len(xs):])]
    whole = step.copy(body.name)
    step.outputs = grads[:len(carried)] + summed + grads[len(carried):len(carried) + len(xs)]
    eliminate_dead_code(step, PassContext())
    return step, whole, ct_inputs, sums


def _read_residuals(step: Graph, body: Graph, carried: int, checkpoint: bool) -> tuple[list[int], list[Node]]:
    """Make the reverse step read its residuals (_residuals) from inputs, one each; (their ids, the inputs)."""
    saved = _residuals(step, body, carried, checkpoint)
    inputs = [_input(step, f"saved{position}", UNNUMBERED, step.nodes[r].type) for position, r in enumerate(saved)]
    for r, replacement in zip(saved, inputs):
        step.replace_all_uses(step.nodes[r], replacement)
    eliminate_dead_code(step, PassContext())
    return saved, inputs


def _input(graph: Graph, name: str, index: int, t: TensorType) -> Node:
    return graph.add("input", (), {"name": name, "index": index, "type": t}, t)


def _residuals(step: Graph, body: Graph, carried: int, checkpoint: bool) -> list[int]:
    """Ids of the forward values the reverse step reads from the forward pass: every one its gradient
    nodes read, or with checkpoint only the carries entering the step (its forward nodes are then
    recomputed). Scanned and invariant inputs and constants are read as they are."""
    carry_inputs = {inner.id for inner in body.inputs[:carried]}
    if checkpoint:
        return [i for i in sorted(carry_inputs) if i in step.nodes and step.users(step.nodes[i])]
    forward = _forward_ids(step, body)
    outputs = {out.id for out in step.outputs}
    read = [node for node in step.order()
            if node.id in forward and (node.op not in ("input", "const") or node.id in carry_inputs)
            and not isinstance(node.type, TupleType)
            and (node.id in outputs or any(user.id not in forward for user in step.users(node)))]
    return list(dict.fromkeys(_unviewed(node, forward, outputs).id for node in read))


def _unviewed(node: Node, forward: set[int], outputs: set[int]) -> Node:
    """The value to store for a residual: a view (a reshape or a slice, which cost nothing to redo) of
    another forward value is recomputed in the reverse step from that value, so an LSTM stores its
    gates once, not also each gate's slice."""
    while node.op in _VIEWS and node.id not in outputs and node.inputs[0].id in forward and \
            node.inputs[0].op not in ("input", "const"):
        node = node.inputs[0]
    return node


_VIEWS = ("reshape", "strided_slice")


def _forward_ids(step: Graph, body: Graph) -> set[int]:
    """The step's forward nodes: those copied from the body, and the `get`s of their results (a nested
    scan's residuals, which its own VJP added)."""
    forward: set[int] = set()
    for node in step.order():
        if node.id in body.nodes or (node.op == "get" and node.inputs[0].id in forward):
            forward.add(node.id)
    return forward


def _forward_part(whole: Graph, body: Graph, saved: list[int]) -> Graph:
    """The forward body returning the residuals too: the step's forward nodes (where a nested scan
    stores residuals of its own), with the body's inputs and outputs, then the saved values."""
    whole.outputs = [whole.nodes[out.id] for out in body.outputs] + [whole.nodes[r] for r in saved]
    eliminate_dead_code(whole, PassContext())
    _renumber(whole, [whole.nodes[inner.id] for inner in body.inputs])
    return whole


def _renumber(region: Graph, inputs: list[Node]) -> None:
    """Make `inputs` the region's inputs 0..n-1, in this order; drop its other (unused) inputs."""
    keep = {node.id for node in inputs}
    for node in region.inputs:
        if node.id not in keep:
            region.erase(node)
    for index, node in enumerate(inputs):
        replace_node(region, node, "input", (), {**node.attrs, "index": index})


def _store_residuals(graph: Graph, node: Node, forward: Graph, saved: list[int]) -> list[Tensor]:
    """Make the forward scan run `forward`, which returns the residuals as more stacked results (the
    node keeps its id and its other results' indices); the stacked residuals."""
    if not saved:
        return []
    length, first = node.attrs["length"], len(node.type.elements)
    stacked = [TensorType((length,) + forward.nodes[r].type.shape, forward.nodes[r].type.dtype) for r in saved]
    replaced = replace_node(graph, node, "scan", node.inputs, {**node.attrs, "body": forward},
                            type=TupleType(node.type.elements + tuple(stacked)))
    return [symbolic(graph.add("get", [replaced], {"index": first + i}, t, replaced.scope, replaced.loc))
            for i, t in enumerate(stacked)]


def _or_zeros(ct: Tensor | None, t: TensorType) -> Tensor:
    return ct if ct is not None else ops.broadcast_to(Tensor(np.zeros((), t.dtype.np)), shape=t.shape)


def _by_operand(count: int, pairs) -> list:
    grads = [None] * count
    for position, g in pairs:
        grads[position] = g
    return grads
