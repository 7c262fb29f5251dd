"""The op table the IR layer reads: op name -> its definition, filled by the op layer above.

The IR knows no particular op. It knows what every definition offers (`attrs`, `kind`, `impure`,
`check_attrs`, `infer_type`) and finds definitions here by name: graphc.ops registers each one as
it is defined, so the verifier and the parser work on any op without importing it.
"""
from __future__ import annotations

from typing import Any, Protocol

from ..types import TensorType

# Fusion kinds, as DESIGN.md §3 names them.
ELEMENTWISE, BROADCAST, INJECTIVE, REDUCE, OUT_FUSABLE, OPAQUE = (
    "elementwise", "broadcast", "injective", "reduce", "out-fusable", "opaque")


class OpDefinition(Protocol):
    name: str
    kind: str
    attrs: dict[str, Any]
    impure: bool

    def check_attrs(self, attrs: dict) -> dict: ...

    def infer_type(self, types: list[TensorType], attrs: dict) -> TensorType: ...


REGISTRY: dict[str, OpDefinition] = {}

# Node kinds that own regions (sub-graphs held in attributes) and are not registry ops: the fuse pass's
# regions and structured control flow (control.py). Each maps to the attributes holding its regions,
# in the order the text format prints them, each as a nested graph after the node's line.
REGIONS = {"fused": ("body",), "cond": ("then_branch", "else_branch"), "while": ("cond", "body"), "scan": ("body",)}


def register(op: OpDefinition) -> OpDefinition:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    return op


def get(name: str) -> OpDefinition:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; registered ops: {', '.join(sorted(REGISTRY))}") from None
