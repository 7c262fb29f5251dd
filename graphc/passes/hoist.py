"""hoist-transposes: a loop-invariant operand that the loop's body reads only as a transposed matmul operand
is transposed once before the loop instead, and the matmuls read it as it is.

The matmul kernel reads a transposed left operand a few values per cache line per k, a row-major one
whole lines: in the reverse scan of a recurrent layer, W_hh.T @ dgates at every step (measured alone,
2 threads, [512,128].T @ [512,128]: 58.0 µs transposed, 53.0 µs from a row-major copy). A scanned operand
stays: transposing its whole stack before the loop costs as much as the slices' copies in the loop
(the LSTM's h for dgates @ h.T: 98 µs for the stack, 30-50 µs saved in the loop).
"""
from __future__ import annotations

from ..ir import Graph, Node
from ..ir.control import regions
from ..types import TensorType
from .manager import PassContext, register_pass
from .rewrite import in_regions, replace_node

_FLAGS = ("transpose_a", "transpose_b")       # by matmul operand index


@register_pass("hoist-transposes")
def hoist_transposes(graph: Graph, ctx: PassContext) -> bool:
    changed = in_regions(hoist_transposes, graph, ctx)
    for loop in list(graph.order()):
        if loop.op in ("scan", "while"):
            changed |= _hoist(graph, loop)
    return changed


def _first_invariant(loop: Node) -> int:
    """The index of the loop's first operand that every iteration reads whole and unchanged."""
    if loop.op == "scan":
        return loop.attrs["carried"] + loop.attrs["scanned"]
    return len(loop.attrs["body"].outputs)


def _hoist(graph: Graph, loop: Node) -> bool:
    changed = False
    for index in range(_first_invariant(loop), len(loop.inputs)):
        reads = {id(region): _transposed_reads(region, index) for region in regions(loop)}
        if None in reads.values() or not any(reads.values()):
            continue
        outer = loop.inputs[index]
        t = TensorType(outer.type.shape[::-1], outer.type.dtype)
        graph.set_input(loop, index, graph.add("transpose", (outer,), {"perm": (1, 0)}, t, loop.scope, loop.loc))
        for region in regions(loop):          # each region takes all of the loop's operands
            node = next(n for n in region.inputs if n.attrs["index"] == index)
            replace_node(region, node, "input", (), {**node.attrs, "type": t}, t)
            for user, flags in reads[id(region)].items():
                replace_node(region, user, "matmul", user.inputs, {**user.attrs, **{flag: False for flag in flags}})
        changed = True
    return changed


def _transposed_reads(region: Graph, index: int) -> dict[Node, set[str]] | None:
    """The matmuls reading the region's input `index` and the flags they read it with, when every use of
    it is a matmul operand read transposed; else None."""
    node = next(n for n in region.inputs if n.attrs["index"] == index)
    reads: dict[Node, set[str]] = {}
    for user, operand in region.uses(node):
        if user.op != "matmul" or not user.attrs[_FLAGS[operand]]:
            return None
        reads.setdefault(user, set()).add(_FLAGS[operand])
    return reads
