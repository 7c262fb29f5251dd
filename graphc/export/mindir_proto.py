"""MindSpore's MindIR messages (mind_ir.proto) over graphc/protowire.py: field numbers, tensors and
attribute values, both ways. Which nodes and primitives a graph holds is mindir_ops.py's business.

The field numbers are mind_ir.proto's (MindSpore 2.10); the layout of what MindSpore writes in them
(REF:: primitives, Constant nodes, TENSORS-typed shapes) was read from files MindSpore 2.10 exported
(tests/mindspore_reference/record_mindir.py).
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphcError
from ..protowire import Message, Writer

# ModelProto
MODEL_IR_VERSION, MODEL_PRODUCER, MODEL_PRODUCER_VERSION, MODEL_VERSION, MODEL_GRAPH = 1, 2, 3, 5, 7
MODEL_LITTLE_ENDIAN, MODEL_PRIMITIVES, MODEL_MIND_IR_VERSION = 10, 12, 13
# GraphProto
GRAPH_NODE, GRAPH_NAME, GRAPH_PARAMETER, GRAPH_INPUT, GRAPH_OUTPUT = 1, 2, 3, 5, 6
# NodeProto
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 1, 2, 3, 4, 5, 7
# PrimitiveProto
PRIM_NAME, PRIM_OP_TYPE, PRIM_ATTRIBUTE, PRIM_INSTANCE_NAME, PRIM_TYPE = 1, 2, 3, 4, 5
PRIMITIVE, PRIMITIVE_FUNCTION = 1, 2      # PrimType: attributes on the primitive, or every argument an input
# ValueInfoProto
VALUE_NAME, VALUE_TENSOR = 1, 2
# TensorProto
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_FLOAT_DATA, TENSOR_INT32_DATA, TENSOR_INT64_DATA = 1, 2, 3, 4, 6
TENSOR_NAME, TENSOR_RAW_DATA, TENSOR_DOUBLE_DATA, TENSOR_EXTERNAL, TENSOR_REF_KEY, TENSOR_COMPRESSION = 7, 9, 10, 12, 13, 16
# AttributeProto
ATTR_NAME, ATTR_F, ATTR_I, ATTR_D, ATTR_S, ATTR_TENSORS, ATTR_TYPE, ATTR_VALUES = 1, 2, 3, 4, 5, 12, 16, 17
ATTR_FLOATS, ATTR_DOUBLES, ATTR_INTS, ATTR_STRINGS = 8, 9, 10, 11     # what a tuple's elements hold their value in

IR_VERSION = "1.1"           # what MindSpore 2.10 writes in ir_version
MIND_IR_VERSION = 3          # IR_VERSION_WITH_SCALAR_GRAPH_HOLDER, MindSpore 2.10's

# AttributeProto.AttributeType values graphc reads and writes
FLOAT, INT8, INT16, INT32, INT64, STRING, BOOL, DOUBLE, UINT8, UINT16, UINT32, UINT64 = 1, 3, 5, 6, 7, 8, 9, 11, 2, 4, 12, 13
TENSORS, TUPLE, LIST, UMONAD, IOMONAD, NONE = 19, 20, 21, 23, 24, 25
_ATTR_TYPE_NAMES = {10: "FLOAT16", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16", 17: "TENSOR", 18: "GRAPH",
                    22: "DICT", 26: "PRIMITIVECLOSURE", 27: "FUNCGRAPHCLOSURE", 28: "PARTIALCLOSURE",
                    29: "UNIONFUNCCLOSURE", 30: "CSR_TENSOR", 31: "COO_TENSOR", 32: "ROW_TENSOR", 33: "CLASS_TYPE",
                    34: "NAME_SPACE", 35: "SYMBOL", 36: "TYPE_NULL", 37: "MAP_TENSOR", 38: "FUNCTOR", 39: "SCALAR",
                    40: "SCALAR_GRAPH_HOLDER"}

# TensorProto.DataType <-> NumPy (bfloat16 is ml_dtypes', as graphc's)
_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
           10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16", 17: "float64"}
_CODES = {name: code for code, name in _DTYPES.items() if code != 17}
DTYPE_NAMES = {1: "Float32", 2: "UInt8", 3: "Int8", 4: "UInt16", 5: "Int16", 6: "Int32", 7: "Int64", 9: "Bool",
               10: "Float16", 11: "Float64", 12: "UInt32", 13: "UInt64", 16: "BFloat16", 17: "Float64"}


class Monad:
    """MindSpore's UMonad/IOMonad: orders side effects; an inference graph reads past it."""

    def __repr__(self) -> str:
        return "U"


MONAD = Monad()


def np_dtype(code: int, where: str) -> np.dtype:
    if code not in _DTYPES:
        raise GraphcError(f"{where}: tensor data type {code} is not supported (graphc reads "
                          f"{', '.join(sorted(set(DTYPE_NAMES.values())))})")
    if _DTYPES[code] == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(_DTYPES[code])


def dtype_code(dtype) -> int:
    return _CODES[np.dtype(dtype).name]


# -- reading -----------------------------------------------------------------------------------
def read_tensor(t: Message, where: str) -> np.ndarray:
    """A TensorProto's value (dims, data_type, raw_data or the typed lists)."""
    dims = tuple(t.ints(TENSOR_DIMS))
    dtype = np_dtype(t.int(TENSOR_DATA_TYPE), where)
    if t.all(TENSOR_EXTERNAL):
        raise GraphcError(f"{where}: the tensor's data is in an external file (MindSpore writes large models so); "
                          "graphc reads MindIR files that hold their weights; export the network smaller or "
                          "as one file")
    if t.int(TENSOR_COMPRESSION):
        raise GraphcError(f"{where}: the tensor is compressed (compression_type {t.int(TENSOR_COMPRESSION)}); "
                          "graphc reads uncompressed MindIR weights; export without compression")
    if t.all(TENSOR_RAW_DATA):
        data = np.frombuffer(t.bytes(TENSOR_RAW_DATA), dtype.newbyteorder("<"))
    elif t.all(TENSOR_FLOAT_DATA):
        data = np.frombuffer(b"".join(f.value for f in t.all(TENSOR_FLOAT_DATA)), "<f4").astype(dtype)
    elif t.all(TENSOR_DOUBLE_DATA):
        data = np.frombuffer(b"".join(f.value for f in t.all(TENSOR_DOUBLE_DATA)), "<f8").astype(dtype)
    else:
        data = np.array(t.ints(TENSOR_INT32_DATA) + t.ints(TENSOR_INT64_DATA), dtype)
    size = int(np.prod(dims, dtype=np.int64))
    if data.size != size:
        raise GraphcError(f"{where}: the tensor has {data.size} values where its shape {list(dims)} needs {size}; "
                          "the file is damaged")
    return data.astype(dtype).reshape(dims)


def tensor_type(t: Message) -> tuple[int, tuple[int, ...]]:
    """A TensorProto that only describes a value: (data type code, shape)."""
    return t.int(TENSOR_DATA_TYPE), tuple(t.ints(TENSOR_DIMS))


def read_attribute(a: Message, where: str):
    """An AttributeProto's value as Python: int, float, bool, str, tuple, ndarray, None or MONAD."""
    kind = a.int(ATTR_TYPE)
    if kind == FLOAT:
        return a.float(ATTR_F) if a.all(ATTR_F) else a.float(ATTR_FLOATS)
    if kind == DOUBLE:
        return a.double(ATTR_D) if a.all(ATTR_D) else a.double(ATTR_DOUBLES)
    if kind in (INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, BOOL):
        value = a.int(ATTR_I) if a.all(ATTR_I) else (a.ints(ATTR_INTS) or [0])[-1]
        return bool(value) if kind == BOOL else value
    if kind == STRING:
        return (a.bytes(ATTR_S) if a.all(ATTR_S) else a.bytes(ATTR_STRINGS)).decode(errors="replace")
    if kind == TENSORS:
        tensors = [read_tensor(t, where) for t in a.messages(ATTR_TENSORS)]
        return tensors[0] if len(tensors) == 1 else tuple(tensors)
    if kind in (TUPLE, LIST):
        return tuple(read_attribute(v, where) for v in a.messages(ATTR_VALUES))
    if kind in (UMONAD, IOMONAD):
        return MONAD
    if kind == NONE:
        return None
    raise GraphcError(f"{where}: attribute {a.string(ATTR_NAME)!r} is of MindIR type "
                      f"{_ATTR_TYPE_NAMES.get(kind, kind)}, which graphc does not read (a newer MindSpore, or a "
                      "graph with closures or sparse tensors); export the network without it")


def attributes(messages: list[Message], where: str, skip=("shape",)) -> dict:
    """Named attributes; `shape` (the abstract value MindSpore records per node) is not an argument."""
    return {a.string(ATTR_NAME): read_attribute(a, where) for a in messages if a.string(ATTR_NAME) not in skip}


# -- writing -----------------------------------------------------------------------------------
def tensor(array: np.ndarray | None = None, *, dtype=None, shape=(), name: str = "", ref_key: str = "") -> Writer:
    """A TensorProto: with `array`, its value; otherwise only a type (dtype, shape)."""
    w = Writer()
    dims = array.shape if array is not None else shape
    for d in dims:
        w.varint(TENSOR_DIMS, int(d))
    w.varint(TENSOR_DATA_TYPE, dtype_code(array.dtype if array is not None else dtype))
    if name:
        w.string(TENSOR_NAME, name)
    if array is not None:
        w.bytes(TENSOR_RAW_DATA, np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes())
    if ref_key:
        w.string(TENSOR_REF_KEY, ref_key)
    return w


def attribute(name: str, value, element: bool = False) -> Writer:
    """An AttributeProto holding a Python value, typed as MindSpore types it; a tuple's elements
    (`element`) hold theirs in the repeated fields, as MindSpore writes them."""
    w = Writer()
    if name:
        w.string(ATTR_NAME, name)
    f, i, s = (ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS) if element else (ATTR_F, ATTR_I, ATTR_S)
    if value is MONAD:
        return w.varint(ATTR_TYPE, UMONAD)
    if isinstance(value, (bool, np.bool_)):
        return w.varint(i, int(value)).varint(ATTR_TYPE, BOOL)
    if isinstance(value, (int, np.integer)):
        return w.varint(i, int(value)).varint(ATTR_TYPE, INT64)
    if isinstance(value, (float, np.floating)):
        return w.float(f, float(value)).varint(ATTR_TYPE, FLOAT)
    if isinstance(value, str):
        return w.string(s, value).varint(ATTR_TYPE, STRING)
    if isinstance(value, np.ndarray):
        return w.message(ATTR_TENSORS, tensor(value, name="value0")).varint(ATTR_TYPE, TENSORS)
    if isinstance(value, tuple):
        w.varint(ATTR_TYPE, TUPLE)
        for item in value:
            w.message(ATTR_VALUES, attribute("", item, element=True))
        return w
    raise TypeError(f"no MindIR attribute for {value!r}")


def abstract(dtype, shape) -> Writer:
    """The `shape` attribute MindSpore puts on every node: the type of its value."""
    return Writer().string(ATTR_NAME, "shape").message(ATTR_TENSORS, tensor(dtype=dtype, shape=shape)) \
        .varint(ATTR_TYPE, TENSORS)
