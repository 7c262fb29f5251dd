"""The dataflow graph: nodes in a networkx.MultiDiGraph, edge key = operand index.

The Graph is the only mutator of its nodes, so `node.inputs` (kept for fast reads) and the
networkx edges (used by passes for graph questions) never disagree; the verifier checks it.
Inputs, parameters and constants are nodes too (ops `input`, `param`, `const`), so a graph is
just its nodes plus an ordered list of outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import networkx as nx

from ..types import TensorType, TupleType
from .printer import print_graph


@dataclass(eq=False)
class Node:
    id: int
    op: str
    inputs: tuple["Node", ...]
    attrs: dict[str, Any]
    type: TensorType | TupleType      # a tuple only for a control-flow node (ir/control.py)
    scope: str = ""
    loc: str = ""
    meta: dict[str, Any] = field(default_factory=dict)   # e.g. grad_of: forward node id

    def __repr__(self) -> str:
        return f"%{self.id}:{self.type}={self.op}"


class Graph:
    def __init__(self, name: str = "main"):
        self.name = name
        self.nx = nx.MultiDiGraph()
        self.nodes: dict[int, Node] = {}
        self.outputs: list[Node] = []
        self._next_id = 0
        self._order: list[Node] | None = None

    # -- building ---------------------------------------------------------------------------
    def add(self, op: str, inputs: Iterable[Node], attrs: dict | None, type: TensorType | TupleType,
            scope: str = "", loc: str = "", meta: dict | None = None, id: int | None = None) -> Node:
        node_id = self._next_id if id is None else id
        if node_id in self.nodes:
            raise ValueError(f"node id %{node_id} already exists in graph @{self.name}")
        self._next_id = max(self._next_id, node_id + 1)
        node = Node(node_id, op, tuple(inputs), dict(attrs or {}), type, scope, loc, dict(meta or {}))
        self.nodes[node_id] = node
        self.nx.add_node(node_id)
        for index, src in enumerate(node.inputs):
            self.nx.add_edge(src.id, node_id, key=index)
        self._order = None
        return node

    def set_input(self, node: Node, index: int, new: Node) -> None:
        self.nx.remove_edge(node.inputs[index].id, node.id, key=index)
        node.inputs = node.inputs[:index] + (new,) + node.inputs[index + 1:]
        self.nx.add_edge(new.id, node.id, key=index)
        self._order = None

    def replace_all_uses(self, old: Node, new: Node) -> None:
        for user, index in self.uses(old):
            self.set_input(user, index, new)
        self.outputs = [new if out is old else out for out in self.outputs]

    def erase(self, node: Node) -> None:
        if self.nx.out_degree(node.id) or any(out is node for out in self.outputs):
            raise ValueError(f"cannot erase %{node.id} ({node.op}): it still has uses")
        self.nx.remove_node(node.id)
        del self.nodes[node.id]
        self._order = None

    def copy(self, name: str | None = None) -> "Graph":
        """A graph of copies of these nodes (same ids, attributes, notes), regions held in attributes
        copied too, so that changing one graph never changes the other."""
        copy = Graph(self.name if name is None else name)
        copies: dict[int, Node] = {}
        for node in self.order():
            attrs = {k: v.copy() if isinstance(v, Graph) else v for k, v in node.attrs.items()}
            copies[node.id] = copy.add(node.op, [copies[i.id] for i in node.inputs], attrs, node.type, node.scope,
                                       node.loc, node.meta, id=node.id)
        copy.outputs = [copies[out.id] for out in self.outputs]
        return copy

    # -- queries ----------------------------------------------------------------------------
    def uses(self, node: Node) -> list[tuple[Node, int]]:
        """(user, operand index) pairs, in a deterministic order."""
        return sorted(((self.nodes[dst], key) for _, dst, key in self.nx.out_edges(node.id, keys=True)),
                      key=lambda use: (use[0].id, use[1]))

    def users(self, node: Node) -> list[Node]:
        return [self.nodes[i] for i in sorted(set(self.nx.successors(node.id)))]

    def order(self) -> list[Node]:
        """Deterministic topological order: among ready nodes, the smallest id first."""
        if self._order is None:
            ids = nx.lexicographical_topological_sort(self.nx)
            self._order = [self.nodes[i] for i in ids]
        return self._order

    def __iter__(self):
        return iter(self.order())

    def __len__(self) -> int:
        return len(self.nodes)

    def of_op(self, op: str) -> list[Node]:
        return [n for n in self.order() if n.op == op]

    @property
    def inputs(self) -> list[Node]:
        return sorted(self.of_op("input"), key=lambda n: n.attrs["index"])

    @property
    def params(self) -> list[Node]:
        return self.of_op("param")

    def __str__(self) -> str:
        return print_graph(self)
