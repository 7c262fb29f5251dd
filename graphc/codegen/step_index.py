"""A warm start without lowering: the optimized graph's fingerprint -> its step's objects and layout.

Lowering LeNet's training step emits about 2 MB of IR (0.5 s of Python) only to hash it for the
object cache. The index maps a fingerprint of everything that decides that IR (fingerprint.py:
the optimized graph, its memory plan, the profile flag, graphc's sources and those of its ops'
lowering rules, the toolchain) to the step module's object key and the layout the executable
needs: kernel calls with their kernels (their objects' keys and index bounds) and buffers, barriers,
constants, outputs, the REGIONS block's size. A node inside a loop's or branch's region (a call's, a
constant's) is named by its path: (control node id, region name, ..., node id). Entries are JSON in the object cache directory, checked like objects
(disk_cache.STEP_INDEX); a damaged or stale one, or one naming anything but a valid object key, is
rebuilt.
"""
from __future__ import annotations

import json

from ..ir import Graph, Node
from . import disk_cache
from .fingerprint import graph_fingerprint as fingerprint
from .kernel_cache import KernelRef
from .lower import Buffer, KernelCall, LoweredGraph, Output

__all__ = ["fingerprint", "load", "store"]


def store(key: str, object_key: str, lowered: LoweredGraph) -> None:
    """Record the layout of `lowered`, whose step module's object is cached under `object_key`."""
    record = {
        "object": object_key,
        "calls": [_encode_call(call) for call in lowered.calls],
        "barriers": lowered.barriers,
        "arena_bytes": lowered.arena_bytes,
        "constants": [[offset, list(path)] for path, (offset, _) in lowered.constants.items()],
        "constant_bytes": lowered.constant_bytes,
        "region_bytes": lowered.region_bytes,
        "outputs": [_encode_buffer(out.buffer) for out in lowered.outputs],
    }
    disk_cache.write_entry(key, json.dumps(record).encode(), disk_cache.STEP_INDEX)


def load(key: str, graph: Graph, profile: bool) -> tuple[str, LoweredGraph] | None:
    """(the step module's object key, layout without modules) recorded for this fingerprint, or None."""
    payload = disk_cache.read_entry(key, disk_cache.STEP_INDEX)
    if payload is None:
        return None
    try:
        record = json.loads(payload)
        return disk_cache.check_key(record["object"]), _decode(record, graph, profile)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _encode_call(call: KernelCall) -> dict:
    return {"kernel": call.kernel.encode(), "buffers": [_encode_buffer(b) for b in call.buffers],
            "node": list(call.path), "name": call.name, "label": call.label, "flops": call.flops}


def _encode_buffer(buffer: Buffer) -> list:
    return [buffer.space, buffer.key, buffer.offset, buffer.nbytes, [list(step) for step in buffer.steps]]


def _buffer(record: list) -> Buffer:
    space, key, offset, nbytes, steps = record
    return Buffer(space, key, offset, nbytes, tuple(tuple(step) for step in steps))


def _node(graph: Graph, path: list) -> Node:
    """The node at `path`: its id, after the (control node id, region name) pairs leading to it."""
    for node_id, region in zip(path[:-1:2], path[1::2]):
        graph = graph.nodes[node_id].attrs[region]
    return graph.nodes[path[-1]]


def _decode(record: dict, graph: Graph, profile: bool) -> LoweredGraph:
    calls = [KernelCall(KernelRef.decode(c["kernel"]), tuple(map(_buffer, c["buffers"])), _node(graph, c["node"]),
                        c["name"], c["label"], c["flops"], tuple(c["node"])) for c in record["calls"]]
    constants = {tuple(path): (offset, _node(graph, path).attrs["value"]) for offset, path in record["constants"]}
    outputs = [Output(_buffer(buffer), node.type) for buffer, node in zip(record["outputs"], graph.outputs, strict=True)]
    return LoweredGraph(None, calls, record["barriers"], [n.type for n in graph.inputs],
                        [n.attrs["name"] for n in graph.params], record["arena_bytes"], constants,
                        record["constant_bytes"], outputs, profile, record["region_bytes"])
