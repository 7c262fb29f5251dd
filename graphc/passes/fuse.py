"""Fusion: group nodes into regions that codegen runs as one loop nest, and outline each region
as a `fused` node whose body is the group's subgraph (the contract: docs/passes.md).

Every node has a role from its op's fusion kind: elementwise (elementwise and broadcast ops, and
assign, which stores an elementwise result), reduce, out-fusable (conv2d and its gradients, matmul,
the pooling gradients: kernels that write each output element once, finished), or none
(placeholders, injective and opaque ops, which are never fused). Groups grow by merging along
edges producer -> consumer:

- elementwise -> elementwise: loop fusion; every member has the same shape (the loop domain);
- out-fusable -> elementwise: an epilogue computed on each output element of the anchor;
- elementwise -> reduce: a prologue computed on each input element of the reduction.

Positional ops (dropout: the value depends on the element index) join plain loops only.

A merge must leave a valid region: at most one anchor (reduce or out-fusable node); members of the
anchor's domain shape; at most one member used outside the region (the region's single result;
for a reduce region, the reduction itself); no assign in a reduce region, no anchor reading a
parameter the region assigns (it would see its own writes), and no node outside reading such a
parameter after the region (it must read the value from before the step, so before the region);
and no cycle: no path from one group to the other through a third. Merging repeats until nothing merges; fusion never reorders the
arithmetic, it only changes where values live.

A control-flow node has no role: from outside it is opaque, never fused with its neighbours. Its
regions are fused as graphs of their own, so a loop's step is a few fused kernels.
"""
from __future__ import annotations

from .. import ops
from ..ir import Graph, Node
from ..ops.core import BROADCAST, ELEMENTWISE, OUT_FUSABLE, REDUCE
from .manager import PassContext, register_pass
from .rewrite import in_regions, is_impure, replace_node

_ROLES = {ELEMENTWISE: ELEMENTWISE, BROADCAST: ELEMENTWISE, REDUCE: REDUCE, OUT_FUSABLE: OUT_FUSABLE}
_INLINED_CONST_SIZE = 1   # scalar constants are copied into the bodies that use them, not passed in


def role(node: Node) -> str | None:
    if node.op == "assign":
        return ELEMENTWISE
    return _ROLES.get(ops.get(node.op).kind) if node.op in ops.REGISTRY else None


@register_pass("fuse")
def fuse(graph: Graph, ctx: PassContext) -> bool:
    groups = _Groups(graph)
    groups.grow()
    regions = groups.regions()
    for members, result in regions:
        _outline(graph, members, result)
    return in_regions(fuse, graph, ctx) or bool(regions)


class _Groups:
    """A partition of the graph's nodes; a group's members are kept in graph order."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.position = {node.id: i for i, node in enumerate(graph.order())}
        self.outputs = {out.id for out in graph.outputs}
        self.group_of = {node.id: node.id for node in graph.order()}
        self.members = {node.id: [node] for node in graph.order()}

    def regions(self) -> list[tuple[list[Node], Node]]:
        """(members, result) of each group of two or more nodes; the result is the member used
        outside the group, or the last member when none is (a region that only assigns)."""
        return [(members, (self._used_outside(members) or members)[-1])
                for members in self.members.values() if len(members) > 1]

    def grow(self) -> None:
        merged = True
        while merged:              # a merge can enable another along an edge already tried
            merged = False
            for v in self.graph.order():
                for u in v.inputs:
                    merged |= self._try_merge(u, v)

    def _try_merge(self, u: Node, v: Node) -> bool:
        a, b = self.group_of[u.id], self.group_of[v.id]
        if a == b or not _fusable_edge(u, v):
            return False
        union = sorted(self.members[a] + self.members[b], key=lambda n: self.position[n.id])
        if not self._valid(union) or self._path_through_third(a, b):
            return False
        for node in self.members.pop(b):
            self.group_of[node.id] = a
        self.members[a] = union
        return True

    def _valid(self, members: list[Node]) -> bool:
        anchors = [n for n in members if role(n) != ELEMENTWISE]
        if len(anchors) > 1:
            return False
        anchor = anchors[0] if anchors else None
        if anchor is not None and any(_positional(n) for n in members):
            return False           # its lowering needs the element index, which only a plain loop has
        if {n.type.shape for n in members if n is not anchor} != {domain(anchor or members[0])}:
            return False
        used_outside = self._used_outside(members)
        if len(used_outside) > 1:
            return False
        if anchor is not None and role(anchor) == REDUCE:
            return used_outside in ([], [anchor]) and not any(is_impure(n) for n in members)
        assigned = [n.inputs[0] for n in members if n.op == "assign"]
        if anchor is not None and any(operand in assigned for operand in anchor.inputs):
            return False
        return not assigned or not self._read_after_region(members, assigned)

    def _read_after_region(self, members: list[Node], assigned: list[Node]) -> bool:
        """Does a node outside the region read a parameter the region assigns while depending on the
        region? It must see the value from before the step, so it would have to run both before and
        after the region (neg(p) fused with assign(p, neg(p) * 2), and matmul(neg(p), p) after it)."""
        ids = {n.id for n in members}
        readers = {user.id for param in assigned for user in self.graph.users(param) if user.id not in ids}
        if not readers:
            return False
        seen, pending = set(ids), [user for n in members for user in self.graph.users(n)]
        while pending:
            node = pending.pop()
            if node.id in readers:
                return True
            if node.id not in seen:
                seen.add(node.id)
                pending.extend(self.graph.users(node))
        return False

    def _used_outside(self, members: list[Node]) -> list[Node]:
        ids = {n.id for n in members}
        return [n for n in members
                if n.id in self.outputs or any(user.id not in ids for user in self.graph.users(n))]

    def _path_through_third(self, a: int, b: int) -> bool:
        """Is there a path a -> c -> ... -> b through a third group c? (Merging would close a cycle.)"""
        seen = {a, b}
        stack = list(self._successor_groups(a) - seen)
        seen.update(stack)
        while stack:
            for successor in self._successor_groups(stack.pop()):
                if successor == b:
                    return True
                if successor not in seen:
                    seen.add(successor)
                    stack.append(successor)
        return False

    def _successor_groups(self, group: int) -> set[int]:
        return {self.group_of[user.id] for n in self.members[group] for user in self.graph.users(n)}


def _positional(node: Node) -> bool:
    return node.op in ops.REGISTRY and ops.get(node.op).positional


def domain(node: Node) -> tuple[int, ...]:
    """The loop domain of a region anchored at node: a reduction loops over its input."""
    return node.inputs[0].type.shape if role(node) == REDUCE else node.type.shape


def _fusable_edge(u: Node, v: Node) -> bool:
    ru, rv = role(u), role(v)
    if rv == ELEMENTWISE:
        return ru in (ELEMENTWISE, OUT_FUSABLE)
    return rv == REDUCE and ru == ELEMENTWISE and v.inputs[0] is u


# -- outlining -----------------------------------------------------------------------------------------
def _outline(graph: Graph, members: list[Node], result: Node) -> None:
    """Replace the members (in graph order) by one fused node standing where their result stood."""
    ids = {n.id for n in members}
    operands = _operands(members, ids)
    body = _body(f"region{result.id}", members, operands, result)
    anchors = [n for n in members if role(n) != ELEMENTWISE]
    kind = role(anchors[0]) if anchors else ELEMENTWISE
    inlined = {i.id: i for n in members for i in n.inputs if i.id not in ids and _inlined(i)}
    replace_node(graph, result, "fused", operands, {"kind": kind, "body": body})
    for node in reversed(members):
        if node is not result:
            graph.erase(node)
    for const in inlined.values():
        if not graph.users(const) and const not in graph.outputs:
            graph.erase(const)


def _inlined(node: Node) -> bool:
    return node.op == "const" and node.type.size <= _INLINED_CONST_SIZE


def _operands(members: list[Node], ids: set[int]) -> list[Node]:
    """The values the region reads from outside, in order of first use."""
    operands: dict[int, Node] = {}
    for node in members:
        for operand in node.inputs:
            if operand.id not in ids and not _inlined(operand):
                operands.setdefault(operand.id, operand)
    return list(operands.values())


def _body(name: str, members: list[Node], operands: list[Node], result: Node) -> Graph:
    """The region as a graph: input i stands for operand i (named after it when it is a parameter,
    so the body's assigns name their parameter), nodes keep their ids."""
    body = Graph(name)
    copies: dict[int, Node] = {}
    for index, operand in enumerate(operands):
        input_name = operand.attrs["name"] if operand.op == "param" else f"in{index}"
        copies[operand.id] = body.add("input", (), {"name": input_name, "index": index, "type": operand.type},
                                      operand.type, id=operand.id)
    for node in members:
        for operand in node.inputs:
            if operand.id not in copies:      # an inlined scalar constant
                copies[operand.id] = body.add("const", (), operand.attrs, operand.type, id=operand.id)
        copies[node.id] = body.add(node.op, [copies[i.id] for i in node.inputs], node.attrs, node.type,
                                   node.scope, node.loc, node.meta, id=node.id)
    body.outputs = [copies[result.id]]
    return body
