"""A warm start without lowering: the optimized graph's fingerprint -> its step's object and layout.

Lowering LeNet's training step emits about 2 MB of IR (0.5 s of Python) only to hash it for the
object cache. The index maps a fingerprint of everything that decides that IR (the optimized graph,
its memory plan, the profile flag, graphc's sources and those of its ops' lowering rules, the
toolchain) to the object's cache key and the layout the executable needs: kernel calls with their operands and
buffers, barriers, constants, outputs. Entries are JSON in the object cache directory, checked
like objects (disk_cache.STEP_INDEX); a damaged or stale one, or one naming anything but a valid
object key, is rebuilt.
"""
from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path

from .. import ops
from ..ir import Graph
from ..ir.digest import hash_graph
from . import disk_cache, machine
from .kernels.contract import Kernel, Operand, Scratch
from .lower import Buffer, KernelCall, LoweredGraph, Output


def fingerprint(graph: Graph, profile: bool) -> str:
    plan = graph.memory_plan
    digest = hashlib.sha256()
    hash_graph(graph, digest)
    sources = sorted({_lowering_source(name) for name in _op_names(graph) if name in ops.REGISTRY})
    parts = [repr(plan.schedule), repr(sorted(plan.offsets.items())), repr(sorted(plan.aliases.items())),
             repr(sorted(plan.views)),
             repr(profile), _source_hash(_GRAPHC), *sources, *machine.toolchain()]
    digest.update("\0".join(parts).encode())
    return digest.hexdigest()


_GRAPHC = Path(__file__).resolve().parents[1]


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
    """The ops a graph uses, inside fused regions too (an op defined outside graphc, with its
    lowering rule, makes its module part of the fingerprint)."""
    names = set()
    for node in graph.nodes.values():
        names |= _op_names(node.attrs["body"]) if node.op == "fused" else {node.op}
    return names


def store(key: str, object_key: str, lowered: LoweredGraph) -> None:
    record = {
        "object": object_key,
        "calls": [_encode_call(call) for call in lowered.calls],
        "barriers": lowered.barriers,
        "arena_bytes": lowered.arena_bytes,
        "constants": [[offset, node_id] for node_id, (offset, _) in lowered.constants.items()],
        "constant_bytes": lowered.constant_bytes,
        "outputs": [[_encode_buffer(out.buffer), out.before_step] for out in lowered.outputs],
    }
    disk_cache.write_entry(key, json.dumps(record).encode(), disk_cache.STEP_INDEX)


def load(key: str, graph: Graph, profile: bool) -> tuple[str, LoweredGraph] | None:
    """(object key, layout without a module) recorded for this fingerprint, or None."""
    payload = disk_cache.read_entry(key, disk_cache.STEP_INDEX)
    if payload is None:
        return None
    try:
        record = json.loads(payload)
        return disk_cache.check_key(record["object"]), _decode(record, graph, profile)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _encode_call(call: KernelCall) -> dict:
    kernel = call.kernel
    return {"name": kernel.name, "operands": [[o.name, list(o.shape), o.role, o.dtype] for o in kernel.operands],
            "scratch": [kernel.scratch.shared, kernel.scratch.per_thread], "kernel_flops": kernel.flops,
            "buffers": [_encode_buffer(b) for b in call.buffers], "node": call.node.id, "label": call.label,
            "flops": call.flops}


def _encode_buffer(buffer: Buffer) -> list:
    return [buffer.space, buffer.key, buffer.offset, buffer.nbytes]


def _decode(record: dict, graph: Graph, profile: bool) -> LoweredGraph:
    calls = [KernelCall(Kernel(c["name"], (), tuple(Operand(n, tuple(shape), role, dtype)
                                                     for n, shape, role, dtype in c["operands"]),
                               Scratch(*c["scratch"]), c["kernel_flops"]),
                        tuple(Buffer(*b) for b in c["buffers"]), graph.nodes[c["node"]], c["label"], c["flops"])
             for c in record["calls"]]
    constants = {node_id: (offset, graph.nodes[node_id].attrs["value"]) for offset, node_id in record["constants"]}
    outputs = [Output(Buffer(*buffer), node.type, before) for (buffer, before), node
               in zip(record["outputs"], graph.outputs, strict=True)]
    return LoweredGraph(None, calls, record["barriers"], [n.type for n in graph.inputs],
                        [n.attrs["name"] for n in graph.params], record["arena_bytes"], constants,
                        record["constant_bytes"], outputs, profile)
