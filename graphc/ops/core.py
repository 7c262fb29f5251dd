"""The op contract (DESIGN.md §3): one `Op` object holds everything about an op.

An Op is callable: `ops.add(x, y)` hands the call to the active binder, which either runs the
NumPy reference (PYNATIVE) or records a node (tracing). The binder is installed by
graphc.tracing, the layer above, so this module never imports the frontend. `register` puts an
op in the IR's op table (graphc/ir/opset.py), where the verifier and the parser find it by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..ir.opset import BROADCAST, ELEMENTWISE, INJECTIVE, OPAQUE, OUT_FUSABLE, REDUCE, REGISTRY, get, register
from ..types import TensorType, bfloat16, float16

__all__ = ["BROADCAST", "ELEMENTWISE", "INJECTIVE", "OPAQUE", "OUT_FUSABLE", "REDUCE", "REGISTRY", "REQUIRED", "Op",
           "OpError", "get", "later", "no_flops", "register", "set_binder", "tracing"]

REQUIRED = object()   # attribute default meaning "the caller must give it"
_HALF_ARRAYS = {np.dtype(float16.np), np.dtype(bfloat16.np)}


def no_flops(out_type, *operand_types, **attrs) -> int:
    """The flops of an op that only moves or reinterprets data (or binds a value)."""
    return 0


class OpError(ValueError):
    """Raised by a shape rule; the binder adds the user's line, the op and the input types."""


@dataclass(eq=False)
class Op:
    name: str
    operands: tuple[str, ...]
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
    # the result depends on each element's position (random masks): an elementwise lowering reads
    # e.element_index(), so the op fuses only into plain loops, never into an epilogue or prologue
    positional: bool = False
    commutative: bool = False
    # operand positions whose dtypes the binder promotes to one before the op sees them (MindSpore's
    # implicit type promotion, graphc.types.promote_types); with promote_float, to at least float32
    # (true division and the float-only functions: int32 / int32 is float32, as in MindSpore)
    promote: tuple[int, ...] = ()
    promote_float: bool = False
    samples: Callable[[np.random.Generator], list] | None = None   # [(arrays, attrs), ...]
    doc: str = ""
    variadic: bool = False    # one operand name standing for one or more operands (concat's tensors)
    half: bool = True         # takes float16/bfloat16 operands (computed in float32); False: refused
    # half_kernel(*operand types, out, **attrs): whether its lowering takes operands and result of one
    # half type (converting in registers) there, so that the widen-half pass leaves it alone
    half_kernel: Callable[..., bool] | None = None

    def __call__(self, *operands, **attrs):
        return _binder(self, operands, attrs)

    @property
    def pointwise(self) -> bool:
        """An elementwise op whose value at a point depends only on its operands there: not positional
        (a random mask follows the element index) and without effects, so it may be computed in any
        loop over its elements (passes/split_elementwise.py, codegen/loop_merge.py)."""
        return self.kind == ELEMENTWISE and not self.positional and not self.impure

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

    def infer_type(self, types: list[TensorType], attrs: dict) -> TensorType:
        if self.variadic:
            if not types:
                raise OpError(f"takes one or more operands ({self.operands[0]}), got none")
        elif len(types) != len(self.operands):
            raise OpError(f"takes {len(self.operands)} operand(s) ({', '.join(self.operands)}), got {len(types)}")
        if not self.half and any(isinstance(t, TensorType) and t.dtype.is_half for t in types):
            raise OpError("has no float16/bfloat16 form: cast its operands to float32 (ops.cast), or keep the "
                          "cell that calls it in float32 (amp's lists, Cell.to_float(float32))")
        return self.infer(*types, **attrs)

    def run(self, arrays: list[np.ndarray], attrs: dict, out_type: TensorType) -> np.ndarray:
        """The reference, with its result coerced to the inferred type (NumPy may widen). Half
        operands are computed on in float32 and the result rounded to its type, as graphc's
        kernels do (passes/widen_half.py). IEEE results (1 / 0 = inf, 0 / 0 = NaN) come without NumPy's
        warnings, as from the native kernels."""
        arrays = [a.astype(np.float32) if a.dtype in _HALF_ARRAYS else a for a in map(np.asarray, arrays)]
        with np.errstate(all="ignore"):
            result = np.asarray(self.ref(*arrays, **attrs))
        return result.astype(out_type.dtype.np, copy=False).reshape(out_type.shape)


def later(name: str) -> Callable:
    """The op `name`, defined in a module that imports this one, for use in gradient rules: rules
    run only after every op is registered, so the lookup waits until the call. This keeps the op
    modules' imports one-directional (elementwise rules need reductions and reduction rules need
    elementwise ops) without splitting an op's rules away from its definition."""
    def call(*operands, **attrs):
        return REGISTRY[name](*operands, **attrs)
    call.__name__ = call.__qualname__ = name
    return call


def _no_binder(op, operands, attrs):
    raise RuntimeError("graphc.tracing is not imported; import graphc first")


def _never() -> bool:
    return False


_binder, _tracing = _no_binder, _never


def set_binder(binder: Callable, is_tracing: Callable[[], bool]) -> None:
    """Installs the frontend's binder and its answer to "is a function being traced now?"."""
    global _binder, _tracing
    _binder, _tracing = binder, is_tracing


def tracing() -> bool:
    """True while a function is being traced into a graph (GRAPH_MODE or graphc.jit), when an op call
    records a node instead of computing: what a value drawn once here would become (a constant
    repeated at every call) is then not what the call means."""
    return _tracing()
