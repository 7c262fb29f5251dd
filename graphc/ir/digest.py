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
        for name, value in sorted(node.attrs.items()):
            digest.update(name.encode())
            if isinstance(value, Graph):
                hash_graph(value, digest)
            elif isinstance(value, np.ndarray):
                digest.update(f"{value.dtype.str}{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
            else:
                digest.update(repr(value).encode())
    digest.update(repr([out.id for out in graph.outputs]).encode())
