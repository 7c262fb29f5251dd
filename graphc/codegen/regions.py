"""Elementwise code from graph nodes: loop bodies, conv/matmul epilogues, reduction prologues.

A `Region` is a list of elementwise member nodes (ops, assigns, scalar constants) computed at one
point of a loop domain from `sources`, the nodes whose values are read from buffers. Each member
is lowered through its op's `lower` expression (emitter.py). An assign stores its value into its
target parameter at the same point, after every source has been loaded, so in-place updates read
the parameter's old value (docs/passes.md: the fused-node contract).

Operand names: source i is `in<i>`; the result is `out`, or the anchor kernel's own output; a loop's
further results (`Region.more`, loop_merge.py) are out1, out2, ...
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from .. import ops
from ..ir import Node
from .emitter import VectorEmitter, Weak, dtype_of, from_storage, storage_element, to_storage
from .kernels.contract import Kernel, Operand
from .kernels.elementwise import Tensor, emit_elementwise
from .kernels.epilogue import Epilogue, LanePosition, load_at, store_at
from .machine import CodegenError


@dataclass
class Region:
    domain: tuple[int, ...]
    sources: list[Node]          # values read from buffers, operand order
    members: list[Node]          # computed in order at each point of the domain
    result: Node                 # the value the region produces (an assign: its parameter's content)
    more: tuple[Node, ...] = ()  # further results a loop stores, as out1, out2, ... (merged loops)

    @property
    def assigns(self) -> list[Node]:
        return [n for n in self.members if n.op == "assign"]

    def source_name(self, node: Node) -> str:
        return f"in{self.sources.index(node)}"


def evaluate(e: VectorEmitter, members: list[Node], values: dict[int, ir.Value],
             positions: dict[int, ir.Value] | None = None) -> None:
    """Compute each member's vector into values (keyed by node id), in order; positions[node id]
    is the element index of a positional member (a random op)."""
    for node in members:
        e.index = (positions or {}).get(node.id)
        if node.op == "const":
            values[node.id] = e.constant(node.attrs["value"].item(), node.type.dtype)
        elif node.op == "assign":
            values[node.id] = values[node.inputs[1].id]
        else:
            values[node.id] = _lowered(e, node, [values[i.id] for i in node.inputs])


def _lowered(e: VectorEmitter, node: Node, operands: list) -> ir.Value:
    op = ops.get(node.op)
    if op.lower is None:
        raise CodegenError(f"op '{node.op}' has no lowering (node %{node.id}: {node.type} from "
                           f"{', '.join(str(i.type) for i in node.inputs) or 'no operands'})")
    if node.op != "cast" and any(not isinstance(v, Weak) and dtype_of(v).is_half for v in operands):
        raise CodegenError(f"%{node.id} = {node.op} computes on half values ({node.type}); the widen-half pass, "
                           "which the driver runs on graphs with half types, puts it in float32 between casts")
    e.dtype = node.type.dtype
    (value,) = e.typed(op.lower(e, *operands, **node.attrs))
    return value


# -- a loop over the domain ------------------------------------------------------------------------
def emit_loop(module: ir.Module, name: str, region: Region) -> Kernel:
    """The region as an elementwise kernel: operands in<i> (assign targets updated in place), then
    `out` unless the result is an assign."""
    inputs = [Tensor(region.source_name(n), n.type.shape, n.type.dtype.short) for n in region.sources]
    positional = [n for n in region.members if n.op in ops.REGISTRY and ops.get(n.op).positional]
    inputs += [Tensor(f"index{n.id}", n.type.shape, "i64", position=True) for n in positional]
    targets = [region.source_name(a.inputs[0]) for a in region.assigns]
    stored = region.assigns + ([region.result] if region.result.op != "assign" else []) + list(region.more)
    outputs = [Tensor(f"{t}.new", region.domain, a.type.dtype.short) for t, a in zip(targets, region.assigns)]
    outputs += [Tensor(f"out{k or ''}", region.domain, n.type.dtype.short) for k, n in enumerate(stored[len(targets):])]

    def expr(b: ir.IRBuilder, loaded: list) -> list:
        values = {n.id: from_storage(b, v, n.type.dtype) for n, v in zip(region.sources, loaded)}
        positions = {n.id: index for n, index in zip(positional, loaded[len(region.sources):])}
        evaluate(VectorEmitter(b), region.members, values, positions)
        return [to_storage(b, values[n.id]) for n in stored]

    return emit_elementwise(module, name, region.domain, inputs, outputs, expr,
                            inplace={f"{target}.new": target for target in targets})


# -- an epilogue after a conv/matmul anchor -------------------------------------------------------------
def epilogue(region: Region, anchor: Node, output: str) -> Epilogue:
    """The region's members on each output vector of `anchor`'s kernel, whose result operand is
    `output`. When the result assigns a parameter, the kernel's output is that parameter, so the
    parameter is read through `output` too (one pointer per buffer keeps `noalias` true)."""
    written = region.result.inputs[0] if region.result.op == "assign" else None
    used = {i.id for member in region.members for i in member.inputs}
    loaded = [n for n in region.sources if n.id in used]       # not the anchor's own operands
    names = {n.id: output if n is written else region.source_name(n) for n in loaded}
    operands = tuple(Operand(names[n.id], n.type.shape, "inout" if _assigned(region, n) else "in",
                             n.type.dtype.short) for n in loaded if n is not written)

    def apply(b: ir.IRBuilder, acc: ir.Value, position: LanePosition, args: dict) -> ir.Value:
        values = {anchor.id: VectorEmitter(b).cast(acc, anchor.type.dtype)}     # rounded if a half type
        for n in loaded:
            element = storage_element(n.type.dtype)
            vector = load_at(b, args[names[n.id]], n.type.shape, region.domain, position, element)
            values[n.id] = from_storage(b, vector, n.type.dtype)
        evaluate(VectorEmitter(b), region.members, values)
        for assign in region.assigns:
            if assign is not region.result:
                target = args[names[assign.inputs[0].id]]
                store_at(b, to_storage(b, values[assign.id]), target, region.domain, position)
        return to_storage(b, values[region.result.id])

    return Epilogue(apply, operands, region.result.type.dtype.short)


def _assigned(region: Region, node: Node) -> bool:
    return any(a.inputs[0] is node for a in region.assigns)


# -- a prologue before a reduction ------------------------------------------------------------------
@dataclass(frozen=True)
class Prologue:
    inputs: tuple[str, ...]                                   # operand names, one per source
    apply: Callable[[ir.IRBuilder, list], ir.Value]
    dtypes: tuple[str, ...] = ()                              # their dtypes (a half source is read as such)


def prologue(region: Region, reduced: Node) -> Prologue:
    """The members computing `reduced` (the reduction's operand) from the loaded sources."""
    def apply(b: ir.IRBuilder, loaded: list) -> ir.Value:
        values = {n.id: v for n, v in zip(region.sources, loaded)}
        evaluate(VectorEmitter(b), region.members, values)
        return values[reduced.id]

    return Prologue(tuple(region.source_name(n) for n in region.sources), apply,
                    tuple(n.type.dtype.short for n in region.sources))
