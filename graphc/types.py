"""Element types and tensor types: the vocabulary every layer above shares."""
from __future__ import annotations

import re
from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class DType:
    """An element type. `short` is the IR spelling (f32), `name` the API one (float32)."""
    name: str
    short: str
    np: type

    def __repr__(self) -> str:
        return f"graphc.{self.name}"

    def __str__(self) -> str:
        """MindSpore's spelling, which programs print: Float32, Int64, Bool."""
        return self.name.capitalize().rstrip("_").replace("Bf", "BF")

    @property
    def is_float(self) -> bool:
        return self.is_half or np.issubdtype(self.np, np.floating)

    @property
    def is_half(self) -> bool:
        """float16 or bfloat16: storage types whose arithmetic is done in float32 (docs/ir.md)."""
        return self.short in ("f16", "bf16")

    @property
    def itemsize(self) -> int:
        return np.dtype(self.np).itemsize


float32 = DType("float32", "f32", np.float32)
float64 = DType("float64", "f64", np.float64)
int32 = DType("int32", "i32", np.int32)
int64 = DType("int64", "i64", np.int64)
bool_ = DType("bool_", "bool", np.bool_)
# NumPy has no bfloat16: arrays of it are ml_dtypes.bfloat16 (a NumPy dtype whose ufuncs compute in
# float32 and round); `array.view(np.uint16)` shows the bits MindSpore's checkpoints store.
float16 = DType("float16", "f16", np.float16)
bfloat16 = DType("bfloat16", "bf16", ml_dtypes.bfloat16)

DTYPES = (float32, float64, int32, int64, bool_, float16, bfloat16)
_BY_SHORT = {d.short: d for d in DTYPES}
_BY_NUMPY = {np.dtype(d.np): d for d in DTYPES}


def dtype_of(x) -> DType:
    """The graphc dtype of a DType, a short name ('f32'), or anything numpy understands."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str) and x in _BY_SHORT:
        return _BY_SHORT[x]
    try:
        return _BY_NUMPY[np.dtype(x)]
    except (KeyError, TypeError):
        names = ", ".join(d.name for d in DTYPES)
        raise TypeError(f"unsupported dtype {x!r}; graphc supports {names}") from None


@dataclass(frozen=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: DType

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __str__(self) -> str:
        return f"{self.dtype.short}[{','.join(map(str, self.shape))}]"

    @staticmethod
    def parse(text: str) -> "TensorType":
        """Inverse of str(): 'f32[32,1,32,32]' or 'f32[]'."""
        short, _, rest = text.strip().partition("[")
        if not rest.endswith("]"):
            raise ValueError(f"bad tensor type {text!r}; expected e.g. f32[32,1,32,32]")
        dims = rest[:-1].strip()
        return TensorType(tuple(int(d) for d in dims.split(",")) if dims else (), dtype_of(short))


@dataclass(frozen=True)
class TupleType:
    """The type of a node with several results (a control-flow node, docs/ir.md): only `get` nodes
    read such a value, each taking one element."""
    elements: tuple[TensorType, ...]

    def __post_init__(self):
        object.__setattr__(self, "elements", tuple(self.elements))

    def __str__(self) -> str:
        return "(" + ",".join(map(str, self.elements)) + ")"


def parse_type(text: str) -> TensorType | TupleType:
    """Inverse of str() for both kinds: 'f32[3]' or '(f32[3],i32[])'."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return TensorType.parse(text)
    inner = text[1:-1].strip()
    return TupleType(tuple(TensorType.parse(part) for part in re.split(r"(?<=\]),", inner)) if inner else ())


# -- implicit type promotion (MindSpore 2.x, measured on 2.10) ----------------------------------------
_KIND = {bool_: 0, int32: 1, int64: 1, float16: 2, bfloat16: 2, float32: 2, float64: 2}    # bool < int < float
_DEFAULT_OF_KIND = {0: bool_, 1: int64, 2: float32}                # a Python bool, int, float alone


def scalar_kind(value) -> int:
    """The kind of a Python (or NumPy) scalar: 0 bool, 1 int, 2 float."""
    if isinstance(value, (bool, np.bool_)):
        return 0
    return 1 if isinstance(value, (int, np.integer)) else 2


def promote_types(dtypes, scalar_kinds=()) -> DType:
    """The dtype MindSpore computes `a op b` in: among tensors the higher kind (bool < int < float)
    and, within a kind, the wider; a Python scalar only lifts the kind (int32 tensor * 2.5 is
    float32, bool tensor + 1 is int64) and never widens (float32 tensor * 2.5 stays float32)."""
    dtypes = list(dtypes)
    common = max(dtypes, key=lambda d: (_KIND[d], d.itemsize)) if dtypes else None
    if {float16, bfloat16} <= set(dtypes) and common.is_half:      # neither holds the other: float32
        common = float32
    kind = max(scalar_kinds, default=-1)
    if common is None or kind > _KIND[common]:
        return _DEFAULT_OF_KIND[max(kind, 0)]
    return common


def type_of(array: np.ndarray) -> TensorType:
    return TensorType(array.shape, dtype_of(array.dtype))
