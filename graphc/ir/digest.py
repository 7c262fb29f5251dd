"""A graph's fingerprint: a hash of every node (id, op, type, operands, attributes, fused bodies) and
the outputs. It keys the native step cache and tells the ranks of a data-parallel job whether they
compiled the same step."""
from __future__ import annotations

import hashlib

import numpy as np

from .graph import Graph


def graph_digest(graph: Graph) -> str:
    digest = hashlib.sha256()
    hash_graph(graph, digest)
    return digest.hexdigest()


def hash_graph(graph: Graph, digest) -> None:
    """Every node (id, op, type, operands, attributes; fused bodies too) and the outputs. Constants
    go in as bytes: printing a million-element constant would take over a second."""
    for node in graph.order():
        digest.update(f"%{node.id}={node.op}:{node.type}({[i.id for i in node.inputs]})".encode())
        hash_attrs(node.attrs, digest, hash_graph)
    digest.update(repr([out.id for out in graph.outputs]).encode())


def hash_attrs(attrs: dict, digest, hash_body) -> None:
    """A node's attributes, a graph-valued one (a fused body) through `hash_body`."""
    for name, value in sorted(attrs.items()):
        digest.update(name.encode())
        if isinstance(value, Graph):
            hash_body(value, digest)
        elif isinstance(value, np.ndarray):
            digest.update(f"{value.dtype.str}{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
