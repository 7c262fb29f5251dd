"""file_format='MINDIR': MindSpore's model file, written and read by graphc (docs/export.md, MINDIR).

`export_mindir(net, inputs, file_name)` traces `net` in inference mode (batch norm on its moving
statistics, dropout off) before any fusion, so every node is one graphc op, and writes each op as the
MindSpore 2.10 primitive(s) mindir_ops.py maps it to, the weights as the graph's parameters, named as
the Cell names them. `load_mindir(path)` reads a MindIR file (MindSpore's or graphc's) into graphc
ops (what `graphc.load` returns, run by `nn.GraphCell`); `summarize_mindir` describes one for
`graphc inspect`. Reading never executes anything from the file: every primitive is looked up in a
fixed table, and an unknown one is an error naming the file, the node and the primitive.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import ops
from ..atomic_file import atomic_write_bytes
from ..errors import GraphcError
from ..ir import Graph, Node
from ..nn.graph_cell import LoadedGraph
from ..ops.core import OpError
from ..protowire import Message, Writer
from ..types import TensorType, dtype_of
from . import mindir_proto as p
from .inference import inference_graph
from .mindir_ops import EXPORTS, IMPORTS

SUFFIX = ".mindir"
# MindSpore's structural primitives: side-effect ordering (monads) and tuples, which an inference
# graph reads through
_STRUCTURAL = {"Load": lambda args: args[0], "Depend": lambda args: args[0], "UpdateState": lambda args: p.MONAD,
               "MakeTuple": tuple, "TupleGetItem": lambda args: args[0][args[1]]}


def mindir_path(file_name) -> Path:
    """`<file_name>.mindir`; a file_name already ending in .mindir is kept."""
    path = Path(os.fspath(file_name))
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


# -- export ------------------------------------------------------------------------------------
def export_mindir(net, inputs: list, file_name) -> Path:
    """Write `net`'s inference graph on sample `inputs` to `<file_name>.mindir`; returns its path."""
    path = mindir_path(file_name)
    graph, params = inference_graph(net, inputs, "MINDIR", pipeline="dce")   # graph ops, before fusion
    data = _Emitter(type(net).__name__, params).model(graph)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return path


class _Emitter:
    """Writes a graphc graph as MindSpore writes its: REF::<primitive> nodes, Constant nodes, parameters."""

    def __init__(self, name: str, params: dict):
        self.name, self.params = name, params
        self.nodes: list[Writer] = []
        self.primitives: list[Writer] = []
        self.constants: dict[tuple, str] = {}
        self.node: Node | None = None

    def model(self, graph: Graph) -> bytes:
        names: dict[int, str] = {}
        for node in _live(graph):
            self.node = node
            operands = [names[i.id] for i in node.inputs]
            if node.op == "input":
                names[node.id] = self._scoped(f"x{node.attrs['index']}" if node.attrs["index"] else "x")
            elif node.op == "param":
                names[node.id] = self._scoped(node.attrs["name"])
            elif node.op == "const":
                names[node.id] = self.constant(np.asarray(node.attrs["value"]))
            elif node.op in EXPORTS:
                names[node.id] = EXPORTS[node.op](self, node, *operands)
            else:
                raise GraphcError(f"op {node.op} ({node.type}) has no MindSpore MINDIR primitive graphc can write"
                                  f"{_why(node.op)}; export to file_format='MINDIR' a network without it "
                                  f"(MINDIR writes: {', '.join(sorted(EXPORTS))})", loc=node.loc)
        outputs = [names[out.id] for out in graph.outputs]
        out_type = graph.outputs[0].type if len(outputs) == 1 else tuple(o.type for o in graph.outputs)
        if len(outputs) > 1:                 # MindSpore returns several values as one tuple
            outputs = [self.call("MakeTuple", outputs, primitive=True, type=out_type)]
        g = Writer()
        for n in self.nodes:
            g.message(p.GRAPH_NODE, n)
        g.string(p.GRAPH_NAME, self.name)
        for node in graph.params:
            key = node.attrs["name"]
            array = np.asarray(self.params[key].asnumpy() if hasattr(self.params[key], "asnumpy") else self.params[key])
            g.message(p.GRAPH_PARAMETER, p.tensor(array, name=self._scoped(key), ref_key=key))
        for node in graph.inputs:
            g.message(p.GRAPH_INPUT, _value_info(names[node.id], node.type))
        g.message(p.GRAPH_OUTPUT, _value_info(outputs[0], out_type))
        m = Writer().string(p.MODEL_IR_VERSION, p.IR_VERSION).string(p.MODEL_PRODUCER, "graphc") \
            .string(p.MODEL_VERSION, "2.10.0").message(p.MODEL_GRAPH, g).varint(p.MODEL_LITTLE_ENDIAN, 1)
        for prim in self.primitives:
            m.message(p.MODEL_PRIMITIVES, prim)
        return m.varint(p.MODEL_MIND_IR_VERSION, p.MIND_IR_VERSION).getvalue()

    def call(self, op_type: str, inputs: list[str], attrs: dict | None = None, primitive: bool = False,
             type=None) -> str:
        """One REF::<op_type> node on `inputs` (value names); `type` defaults to the node being written's."""
        key = f"{op_type}:{len(self.primitives) + 1}"
        prim = Writer().string(p.PRIM_NAME, key).string(p.PRIM_OP_TYPE, op_type)
        for name, value in (attrs or {}).items():
            prim.message(p.PRIM_ATTRIBUTE, p.attribute(name, value))
        self.primitives.append(prim.varint(p.PRIM_TYPE, p.PRIMITIVE if primitive else p.PRIMITIVE_FUNCTION))
        out = self._scoped(f"{op_type}_{len(self.nodes)}")
        node = Writer()
        for name in inputs:
            node.string(p.NODE_INPUT, name)
        node.string(p.NODE_OUTPUT, out).string(p.NODE_NAME, out).string(p.NODE_OP_TYPE, "REF::" + key)
        node.message(p.NODE_ATTRIBUTE, _abstract(type if type is not None else self.node.type))
        self.nodes.append(node)
        return out

    def constant(self, value) -> str:
        """A Constant node holding a scalar, a tuple or a tensor (written once per distinct value)."""
        key = (repr(value), str(value.dtype)) if isinstance(value, np.ndarray) else (repr(value), type(value).__name__)
        if key not in self.constants:
            name = f"ValueNode_{len(self.constants)}"
            self.constants[key] = name
            self.nodes.append(Writer().string(p.NODE_OUTPUT, name).string(p.NODE_NAME, name)
                              .string(p.NODE_OP_TYPE, "Constant").message(p.NODE_ATTRIBUTE, p.attribute("value", value)))
        return self.constants[key]

    def _scoped(self, name: str) -> str:
        return f"{self.name}:{name}"


def _live(graph: Graph) -> list[Node]:
    """The nodes the outputs depend on, in order; an inference graph writes no parameter."""
    needed, stack = set(), list(graph.outputs)
    while stack:
        node = stack.pop()
        if node.id not in needed:
            needed.add(node.id)
            stack.extend(node.inputs)
    return [n for n in graph.order() if n.id in needed or n.op == "input"]


def _why(op: str) -> str:
    return {"allreduce": " (a collective needs the process group of a distributed job)",
            "assign": " (an exported graph infers and writes no Parameter)"}.get(op, "")


def _abstract(type_) -> Writer:
    if isinstance(type_, tuple):
        w = Writer().string(p.ATTR_NAME, "shape").varint(p.ATTR_TYPE, p.TUPLE)
        for t in type_:
            w.message(p.ATTR_VALUES, _abstract(t))
        return w
    return p.abstract(type_.dtype.np, type_.shape)


def _value_info(name: str, type_) -> Writer:
    w = Writer().string(p.VALUE_NAME, name)
    if isinstance(type_, tuple):
        return w.string(4, "Tuple").message(5, _abstract(type_))      # denotation, attr_info
    return w.message(p.VALUE_TENSOR, p.tensor(dtype=type_.dtype.np, shape=type_.shape))


# -- load --------------------------------------------------------------------------------------
def load_mindir(path) -> LoadedGraph:
    """A MindIR file's graph as graphc ops and its weights (what graphc.load returns)."""
    path = Path(os.fspath(path))
    if path.suffix.lower() == ".onnx":
        raise GraphcError(f"{path}: graphc.load reads MINDIR files, and this is an ONNX model; run it with "
                          "onnxruntime, or summarize it with `graphc inspect`")
    model, graph_msg = _read_model(path)
    where = str(path)
    prims = {prim.string(p.PRIM_NAME): prim for prim in model.messages(p.MODEL_PRIMITIVES)}
    builder = _Builder(Graph(graph_msg.string(p.GRAPH_NAME) or path.stem), where)
    values: dict[str, object] = {}
    params: dict[str, np.ndarray] = {}
    for t in graph_msg.messages(p.GRAPH_PARAMETER):
        name = t.string(p.TENSOR_NAME)
        key = t.string(p.TENSOR_REF_KEY) or name.rsplit(":", 1)[-1]
        params[key] = p.read_tensor(t, f"{where}: parameter {key}")
        values[name] = builder.graph.add("param", [], {"name": key, "type": _type(params[key])}, _type(params[key]))
    for index, info in enumerate(graph_msg.messages(p.GRAPH_INPUT)):
        name = info.string(p.VALUE_NAME)
        code, shape = p.tensor_type(info.message(p.VALUE_TENSOR) or Message(b"", where))
        t = TensorType(shape, dtype_of(p.np_dtype(code, f"{where}: input {name}")))
        values[name] = builder.graph.add("input", [], {"name": name.rsplit(":", 1)[-1], "index": index, "type": t}, t)
    for node in graph_msg.messages(p.GRAPH_NODE):
        _load_node(node, prims, values, builder)
    outputs = []
    for info in graph_msg.messages(p.GRAPH_OUTPUT):
        outputs += _flat(_value(values, info.string(p.VALUE_NAME), where, "the graph's output"), builder)
    if not outputs:
        raise GraphcError(f"{where}: the graph has no output; the file is damaged")
    builder.graph.outputs = outputs
    return LoadedGraph(builder.graph, params, where)


def _read_model(path: Path) -> tuple[Message, Message]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise GraphcError(f"cannot read MindIR file {path}: {error.strerror}") from None
    model = Message(data, str(path))
    graph = model.message(p.MODEL_GRAPH)
    if graph is None:
        raise GraphcError(f"{path}: not a MindIR file (no graph in it); load a file written by mindspore.export "
                          "or graphc.export with file_format='MINDIR'")
    return model, graph


def _load_node(node: Message, prims: dict, values: dict, builder: "_Builder") -> None:
    where = builder.where
    name, op_type = node.string(p.NODE_NAME), node.string(p.NODE_OP_TYPE)
    outputs = node.strings(p.NODE_OUTPUT) or [name]
    if op_type == "Constant":
        values[outputs[0]] = p.attributes(node.messages(p.NODE_ATTRIBUTE), f"{where}: node {name}")["value"]
        return
    if op_type.startswith("REF::"):
        prim = prims.get(op_type[5:])
        if prim is None:
            raise GraphcError(f"{where}: node {name} refers to primitive {op_type[5:]!r}, which the file does not "
                              "define; the file is damaged")
        primitive = prim.string(p.PRIM_OP_TYPE)
        attrs = p.attributes(prim.messages(p.PRIM_ATTRIBUTE), f"{where}: node {name}",
                             skip=("input_names", "output_names"))
    else:                                # older MindIR: the primitive's attributes are on the node
        primitive = op_type
        attrs = p.attributes(node.messages(p.NODE_ATTRIBUTE), f"{where}: node {name}")
    args = [_value(values, i, where, f"node {name}") for i in node.strings(p.NODE_INPUT)]
    if primitive in _STRUCTURAL:
        values[outputs[0]] = _STRUCTURAL[primitive](args)
        return
    if primitive not in IMPORTS:
        raise GraphcError(f"{where}: node {name} uses MindSpore primitive {primitive}, which graphc cannot run "
                          f"(graphc reads {', '.join(sorted(IMPORTS))}); export the network without it, or from "
                          "a MindSpore version whose primitives graphc knows (2.10)")
    arg_names, build = IMPORTS[primitive]
    named = dict(zip(arg_names, [a for a in args if a is not p.MONAD]))
    named.update({k: v for k, v in attrs.items() if k not in named})
    try:
        values[outputs[0]] = build(builder, named)
    except KeyError as error:
        raise GraphcError(f"{where}: node {name} ({primitive}) lacks its argument {error}; the file is damaged or "
                          "from a MindSpore whose primitive takes other arguments") from None
    except (GraphcError, OpError, TypeError, ValueError) as error:
        raise GraphcError(f"{where}: node {name} ({primitive}): {error}") from None


def _value(values: dict, name: str, where: str, user: str):
    if name not in values:
        raise GraphcError(f"{where}: {user} reads {name!r}, which no earlier node, parameter or input defines; "
                          "the file is damaged")
    return values[name]


def _flat(value, builder: "_Builder") -> list[Node]:
    if isinstance(value, tuple):
        return [n for item in value for n in _flat(item, builder)]
    return [builder.tensor(value)]


def _type(array: np.ndarray) -> TensorType:
    return TensorType(array.shape, dtype_of(array.dtype))


class _Builder:
    """Adds graphc op nodes, their types from the ops' shape rules (mindir_ops.py builds with it)."""

    def __init__(self, graph: Graph, where: str):
        self.graph, self.where = graph, where

    def op(self, name: str, operands: list, **attrs) -> Node:
        op = ops.get(name)
        nodes = [self.tensor(x) for x in operands]
        attrs = op.check_attrs(attrs)
        return self.graph.add(name, nodes, attrs, op.infer_type([n.type for n in nodes], attrs))

    def const(self, value) -> Node:
        attrs = ops.get("const").check_attrs({"value": value})
        return self.graph.add("const", [], attrs, _type(attrs["value"]))

    def tensor(self, value) -> Node:
        return value if isinstance(value, Node) else self.const(value)


# -- inspect -----------------------------------------------------------------------------------
def summarize_mindir(path) -> dict:
    """What `graphc inspect FILE.mindir` prints: inputs and outputs as (name, dtype, shape), the number
    of operation nodes (Constant nodes not counted) and the bytes of the weights."""
    path = Path(os.fspath(path))
    _, graph = _read_model(path)
    nodes = [n for n in graph.messages(p.GRAPH_NODE) if n.string(p.NODE_OP_TYPE) != "Constant"]
    return {"format": "MINDIR",
            "inputs": [_described(info, str(path)) for info in graph.messages(p.GRAPH_INPUT)],
            "outputs": [_described(info, str(path)) for info in graph.messages(p.GRAPH_OUTPUT)],
            "nodes": len(nodes),
            "parameter_bytes": sum(len(t.bytes(p.TENSOR_RAW_DATA)) for t in graph.messages(p.GRAPH_PARAMETER))}


def _described(info: Message, where: str) -> tuple[str, str, tuple[int, ...]]:
    name = info.string(p.VALUE_NAME)
    tensor = info.message(p.VALUE_TENSOR)
    if tensor is None:
        return name, "tuple", ()
    code, shape = p.tensor_type(tensor)
    return name, p.np_dtype(code, f"{where}: {name}").name, shape
