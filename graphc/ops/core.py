"""The op contract (DESIGN.md §3): one `Op` object holds everything about an op.

An Op is callable: `ops.add(x, y)` hands the call to the active binder, which either runs the
NumPy reference (PYNATIVE) or records a node (tracing). The binder is installed by
graphc.tracing, the layer above, so this module never imports the frontend.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..types import TensorType

# Fusion kinds, as DESIGN.md §3 names them.
ELEMENTWISE, BROADCAST, INJECTIVE, REDUCE, OUT_FUSABLE, OPAQUE = (
    "elementwise", "broadcast", "injective", "reduce", "out-fusable", "opaque")

REQUIRED = object()   # attribute default meaning "the caller must give it"


def no_flops(out_type, *operand_types, **attrs) -> int:
    """The flops of an op that only moves or reinterprets data (or binds a value)."""
    return 0


class OpError(ValueError):
    """Raised by a shape rule; the binder adds the user's line, the op and the input types."""


@dataclass(eq=False)
class Op:
    name: str
    operands: tuple[str, ...]                 # a single "*name": one or more operands (concat)
    infer: Callable[..., TensorType]          # infer(*operand types, **attrs) -> output type
    ref: Callable[..., np.ndarray]            # ref(*arrays, **attrs): the op's meaning
    kind: str = OPAQUE
    attrs: dict[str, Any] = field(default_factory=dict)   # name -> default (or REQUIRED)
    canon: Callable[[dict], dict] | None = None           # normalises user attrs (int -> pair...)
    vjp: Callable | None = None               # vjp(ct, *operands, out=, **attrs) -> per-operand grads
    # elementwise/broadcast: lower(emitter, *values, **attrs) -> a scalar expression;
    # others: lower(kernels, *operand types, out=result type, **attrs) -> a kernel spec
    lower: Callable | None = None
    flops: Callable[..., int] | None = None   # flops(out_type, *operand types, **attrs), for inspect
    impure: bool = False
    commutative: bool = False
    samples: Callable[[np.random.Generator], list] | None = None   # [(arrays, attrs), ...]
    doc: str = ""

    def __call__(self, *operands, **attrs):
        return _binder(self, operands, attrs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    def check_attrs(self, attrs: dict) -> dict:
        """Fill defaults, reject unknown names, canonicalise values."""
        unknown = set(attrs) - set(self.attrs)
        if unknown:
            valid = ", ".join(self.attrs) or "none"
            raise OpError(f"unknown attribute(s) {', '.join(sorted(unknown))}; valid: {valid}")
        full = {name: attrs.get(name, default) for name, default in self.attrs.items()}
        missing = [name for name, value in full.items() if value is REQUIRED]
        if missing:
            raise OpError(f"missing required attribute(s) {', '.join(missing)}")
        return self.canon(full) if self.canon else full

    @property
    def variadic(self) -> bool:
        return len(self.operands) == 1 and self.operands[0].startswith("*")

    def infer_type(self, types: list[TensorType], attrs: dict) -> TensorType:
        if self.variadic:
            if not types:
                raise OpError(f"takes one or more operands ({self.operands[0][1:]}), got none")
        elif len(types) != len(self.operands):
            raise OpError(f"takes {len(self.operands)} operand(s) ({', '.join(self.operands)}), got {len(types)}")
        return self.infer(*types, **attrs)

    def run(self, arrays: list[np.ndarray], attrs: dict, out_type: TensorType) -> np.ndarray:
        """The reference, with its result coerced to the inferred type (NumPy may widen)."""
        result = np.asarray(self.ref(*arrays, **attrs))
        return result.astype(out_type.dtype.np, copy=False).reshape(out_type.shape)


REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    return op


def get(name: str) -> Op:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; registered ops: {', '.join(sorted(REGISTRY))}") from None


def _no_binder(op, operands, attrs):
    raise RuntimeError("graphc.tracing is not imported; import graphc first")


_binder = _no_binder


def set_binder(binder: Callable) -> None:
    global _binder
    _binder = binder
