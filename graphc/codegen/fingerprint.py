"""Fingerprints of what decides generated code, so code is found again without generating it.

* `graph_fingerprint(graph, profile)`: a whole optimized graph and its memory plan -> its step
  (step_index.py).
* `kernel_fingerprint(node, variant)`: one node's kernel. A kernel's IR depends only on the node's
  op, types and attributes (a fused body with its constants), on which of its operands are the
  same value, and on the code that emits it, never on node ids or buffers. So equal convolutions,
  the eval cell's forward and the train step's, or the same layer in another network get the same
  fingerprint, and the kernel is emitted and compiled once (kernel_cache.py).

Both include a hash of graphc's sources, of the modules defining the ops' lowering rules (an op
defined outside graphc brings its own) and the toolchain (machine.toolchain()).
"""
from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

from .. import ops
from ..ir import Graph, Node
from ..ir.control import regions
from ..ir.digest import hash_attrs, hash_graph
from . import machine

_GRAPHC = Path(__file__).resolve().parents[1]


def graph_fingerprint(graph: Graph, profile: bool) -> str:
    plan = graph.memory_plan
    digest = hashlib.sha256()
    hash_graph(graph, digest)
    parts = [repr(plan.schedule), repr(sorted(plan.offsets.items())), repr(sorted(plan.aliases.items())),
             repr(sorted(plan.views)), repr(profile), *_code_hashes(_op_names(graph))]
    digest.update("\0".join(parts).encode())
    return digest.hexdigest()


def kernel_fingerprint(node: Node, variant: str) -> str:
    """What decides the IR of `node`'s kernel: `variant` names which kernel of the node it is (its
    own; a split region's anchor, epilogue loop or prologue loop; a copy, `copy.part<k>` into a
    pack and the pack's `gaps`; an `in-place` collective)."""
    digest = hashlib.sha256(variant.encode())
    first = {}
    operands = [first.setdefault(i.id, k) for k, i in enumerate(node.inputs)]   # which operands are one value
    digest.update(f"{node.op}:{node.type}({operands};{[str(i.type) for i in node.inputs]})".encode())
    hash_attrs(node.attrs, digest, _canonical_body)
    names = _op_names(node.attrs["body"]) if node.op == "fused" else {node.op}
    digest.update("\0".join(_code_hashes(names)).encode())
    return digest.hexdigest()


def _code_hashes(op_names: set[str]) -> list[str]:
    sources = sorted({_lowering_source(name) for name in op_names if name in ops.REGISTRY})
    return [_source_hash(_GRAPHC), *sources, *machine.toolchain()]


def _canonical_body(graph: Graph, digest) -> None:
    """Like ir.digest.hash_graph with nodes named by their position in the order instead of their ids,
    and inputs without their names: a body's code reads input k as operand `in<k>`, so the update of
    two parameters of one shape is one kernel."""
    position = {node.id: k for k, node in enumerate(graph.order())}
    for node in graph.order():
        digest.update(f"={node.op}:{node.type}({[position[i.id] for i in node.inputs]})".encode())
        attrs = {k: v for k, v in node.attrs.items() if k != "name"} if node.op == "input" else node.attrs
        hash_attrs(attrs, digest, _canonical_body)
    digest.update(repr([position[out.id] for out in graph.outputs]).encode())


@functools.lru_cache(maxsize=None)
def _source_hash(path: Path) -> str:
    """A hash of the Python sources at `path` (a file, or a package: graphc's own, where the
    lowering rules of its ops, the kernels and the passes live)."""
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _lowering_source(op_name: str) -> str:
    """A hash of the module defining an op's lowering rule (graphc's own are in _GRAPHC already)."""
    lower = ops.get(op_name).lower
    module = sys.modules.get(getattr(lower, "__module__", ""), None)
    path = getattr(module, "__file__", None)
    if path is None:         # no rule, or defined where there is no file (an interactive session)
        return repr(getattr(lower, "__code__", None) and lower.__code__.co_code)
    return _source_hash(Path(path).resolve())


def _op_names(graph: Graph) -> set[str]:
    """The ops a graph uses, inside fused, loop and branch regions too (an op defined outside graphc,
    with its lowering rule, makes its module part of the fingerprint)."""
    names = set()
    for node in graph.nodes.values():
        names |= set().union(*map(_op_names, regions(node))) if regions(node) else {node.op}
    return names
