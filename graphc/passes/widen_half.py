"""Half types compute in float32: a node that computes on float16 or bfloat16 values becomes

    y = op(cast(x, f32), ...)           (the op on float32 operands)
    out = cast(y, bf16)                 (its result rounded to the half type)

which is what the ops' references do (graphc.ops.core.Op.run) and what graphc's kernels do with
half types: a half is a storage type, converted to float32 in registers where it is loaded and
rounded (to nearest even) where it is stored. After fusion the casts between two elementwise ops
are in the same loop, so a chain of them reads and writes half values and converts in registers;
a conv or a matmul reads its operands through a conversion loop (docs/codegen.md, "Half types").

Ops that only move values (reshape, transpose, slices, concat, pad), casts, assigns and control-flow
nodes keep their half operands, and so do ops whose kernels take one half type throughout
(`Op.half_kernel`: matmul, and pointwise convolutions, which run as matmuls), converting in registers. `simplify` removes the float32 -> half -> float32 round trips
that are exact (half -> float32 -> half).
"""
from __future__ import annotations

from .. import ops
from ..ir import Graph, Node
from ..ir.control import is_control, regions
from ..ops.core import INJECTIVE
from ..types import TensorType, TupleType, float32
from .manager import PassContext, register_pass
from .rewrite import in_regions

_KEEPS_HALF = {"cast", "assign", "input", "param", "const", "get", "grad", "fused"}


def uses_half(graph: Graph) -> bool:
    """Whether a value of the graph, or of its control-flow regions, is float16 or bfloat16."""
    for node in graph.order():
        types = node.type.elements if isinstance(node.type, TupleType) else (node.type,)
        if any(t.dtype.is_half for t in types) or any(uses_half(r) for r in regions(node)):
            return True
    return False


@register_pass("widen-half")
def widen_half(graph: Graph, ctx: PassContext) -> bool:
    changed = in_regions(widen_half, graph, ctx)
    for node in list(graph.order()):
        if _computes_on_half(node, ctx):
            _widen(graph, node)
            changed = True
    return changed


def _computes_on_half(node: Node, ctx: PassContext) -> bool:
    if node.op in _KEEPS_HALF or is_control(node) or ops.get(node.op).kind == INJECTIVE:
        return False
    types = [node.type] + [i.type for i in node.inputs]
    halves = {t.dtype for t in types if isinstance(t, TensorType) and t.dtype.is_half}
    one_half_type = len(halves) == 1 and all(t.dtype in halves for t in types)
    rule = ops.get(node.op).half_kernel
    native = rule is not None and rule(*(i.type for i in node.inputs), node.type, **node.attrs) or \
        ctx.native_half is not None and ctx.native_half(node)
    return bool(halves) and not (one_half_type and native)


def _widen(graph: Graph, node: Node) -> None:
    def add(op, inputs, attrs, type):
        return graph.add(op, inputs, attrs, type, node.scope, node.loc, node.meta)

    operands = [add("cast", [x], {"dtype": float32}, TensorType(x.type.shape, float32)) if x.type.dtype.is_half
                else x for x in node.inputs]
    wide = add(node.op, operands, dict(node.attrs),
               ops.get(node.op).infer_type([x.type for x in operands], dict(node.attrs)))
    result = wide if wide.type == node.type else add("cast", [wide], {"dtype": node.type.dtype}, node.type)
    graph.replace_all_uses(node, result)
    graph.erase(node)
