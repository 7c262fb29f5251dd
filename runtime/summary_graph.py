"""An optimized graphc Graph as the GraphDef TensorBoard's graph tab draws.

Each node is named `<scope path>/<op>_<id>`, its Cell scope (`backbone.conv1`, `Gradients/...`)
turned into name scopes so that TensorBoard folds a layer into one box; a fused node is named
after the ops it computes. Its type goes in as attributes (`shape`, `dtype`, and `_output_shapes`,
which TensorBoard writes on the edges); parameters and constants are nodes of their own.
"""
from __future__ import annotations

from graphc.ir import Graph, Node
from graphc.types import TensorType


def graph_def(graph: Graph):
    from tensorboardX.proto.graph_pb2 import GraphDef
    from tensorboardX.proto.node_def_pb2 import NodeDef
    names = {node.id: node_name(node) for node in graph.order()}
    nodes = [NodeDef(name=names[node.id], op=_op(node), input=[names[i.id] for i in node.inputs],
                     attr=_attributes(node)) for node in graph.order()]
    return GraphDef(node=nodes)


def node_name(node: Node) -> str:
    if node.op in ("input", "param"):          # a parameter folds into its layer: fc.weight -> fc/weight
        return node.attrs["name"].replace(".", "/")
    scope = node.scope.replace(".", "/")
    return f"{scope}/{_op(node)}_{node.id}" if scope else f"{_op(node)}_{node.id}"


def _op(node: Node) -> str:
    if node.op == "fused":
        return "+".join(n.op for n in node.attrs["body"].order() if n.op not in ("input", "const"))
    return node.op


def _attributes(node: Node) -> dict:
    from tensorboardX.proto.attr_value_pb2 import AttrValue
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
    types = node.type.elements if not isinstance(node.type, TensorType) else (node.type,)
    shapes = [TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in t.shape]) for t in types]
    return {"shape": AttrValue(s=" ".join(str(list(t.shape)) for t in types).encode()),
            "dtype": AttrValue(s=" ".join(t.dtype.name for t in types).encode()),
            "_output_shapes": AttrValue(list=AttrValue.ListValue(shape=shapes))}
