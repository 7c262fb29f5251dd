"""Lowering's loop fusion: elementwise loops over one domain, adjacent in the schedule, run as one loop.

The fuse pass ends a region at a value read by more than one consumer, so an LSTM step's cell state c,
tanh(c) (which the backward pass keeps) and h = o·tanh(c) are three loops, each reading what the one
before wrote, with a barrier between each. Lowering runs such a run of loops as one kernel: at each point
of the domain it computes the members in order, an earlier member's value reaching a later one in a
register, and stores each member's result that something outside the run reads. Every point is computed
by the same arithmetic as before, and the merged loop splits the domain among threads as each loop did,
so no barrier is needed between members.

A member is a fused elementwise region or a single elementwise op whose result has the run's domain
shape, holding no assign and no positional op (dropout). Lowering (lower.py) lets a loop join a run only
when nothing the merged loop writes shares a byte with a buffer it loads: the memory plan may give a
later member's result the bytes of an operand that is dead once an earlier member has run, and one loop
would overwrite them before the earlier member read them at a later point.
"""
from __future__ import annotations

from typing import Callable

from .. import ops
from ..ir import Graph, Node
from .regions import Region


def loop_member(node: Node) -> bool:
    """Whether node's kernel is a plain elementwise loop that may join a run."""
    if node.op == "fused":
        return node.attrs["kind"] == "elementwise" and all(
            n.op in ("input", "const") or ops.get(n.op).pointwise for n in node.attrs["body"].nodes.values())
    return node.op in ops.REGISTRY and ops.get(node.op).pointwise


def independent_parts(run: list[Node]) -> list[list[Node]]:
    """The run in parts that share no value but constants, each in run order: one loop over loops that
    share nothing saves no load and no barrier, and apart they may run at once on halves of the threads
    (lower.two_groups), as a recurrent layer's batch blocks do."""
    position = {member.id: k for k, member in enumerate(run)}
    parts: list[tuple[set[int], list[Node]]] = []
    for member in run:
        values = {member.id} | {x.id for x in member.inputs if x.op != "const"}
        joined = [part for part in parts if part[0] & values]
        parts = [part for part in parts if not part[0] & values]
        members = [member] + [m for _, part in joined for m in part]
        parts.append((values.union(*(part[0] for part in joined)), sorted(members, key=lambda m: position[m.id])))
    return sorted((part for _, part in parts), key=lambda part: position[part[0].id])


def operands(run: list[Node]) -> list[Node]:
    """The nodes the run reads that it does not compute, in first-read order."""
    computed = {member.id for member in run}
    return list(dict.fromkeys(x for member in run for x in member.inputs if x.id not in computed))


def merged(run: list[Node], read_outside: Callable[[Node], bool]) -> tuple[Node, list[Node], Region, list[Node]]:
    """One loop for the run: a fused node standing for it (its body every member's computation, which is
    what the kernel cache knows it by), the outer nodes it loads (source k is operand in<k>), its region,
    and the members whose results it stores (out, out1, ...: those `read_outside`)."""
    body, sources, value = Graph("merged"), operands(run), {}
    for k, outer in enumerate(sources):
        value[outer.id] = body.add("input", (), {"name": f"in{k}", "index": k}, outer.type)
    for member in run:
        if member.op != "fused":
            value[member.id] = body.add(member.op, [value[x.id] for x in member.inputs], member.attrs, member.type,
                                        member.scope, member.loc, member.meta)
            continue
        inner, local = member.attrs["body"], {}
        for n in inner.order():
            local[n.id] = value[member.inputs[n.attrs["index"]].id] if n.op == "input" else \
                body.add(n.op, [local[x.id] for x in n.inputs], n.attrs, n.type, n.scope, n.loc, n.meta)
        value[member.id] = local[inner.outputs[0].id]
    stored = [member for member in run if read_outside(member)]
    body.outputs = [value[member.id] for member in stored]
    inputs = [value[outer.id] for outer in sources]
    region = Region(run[0].type.shape, inputs, [n for n in body.order() if n.op != "input"], body.outputs[0],
                    tuple(body.outputs[1:]))
    stand_in = Node(run[0].id, "fused", tuple(sources), {"kind": "elementwise", "body": body}, run[-1].type)
    return stand_in, sources, region, stored
