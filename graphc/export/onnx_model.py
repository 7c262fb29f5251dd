"""file_format='ONNX': the inference graph as an ONNX model at opset OPSET (docs/export.md).

Which stage of the pipeline is written: the optimized graph before fusion (PIPELINE: batch norm
folded into its convolution, then folding, CSE, simplification and dead-code removal, with the
parameters frozen into constants, so the file holds the folded weights). Fused regions
and the memory plan are decisions about graphc's own kernels (which loops share a body, where each
buffer lives); ONNX Runtime makes its own, so expanding regions back into ops would only undo work
that nothing reads. Before fusion every node is one registered op, so one converter per op
(onnx_ops.py) is the whole mapping. Constants become initializers, named after the parameter they
were (MindSpore's names) or `const<id>` for computed ones (folded weights).

`summarize_onnx(path)` reads a file back (parsing only: nothing in it runs) for `graphc inspect`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic_file import atomic_write_bytes
from ..errors import GraphcError
from .inference import NOT_PORTABLE, cannot_express, inference_graph
from .onnx_ops import CONVERTERS, Builder, onnx_dtype

OPSET = 17      # ONNX Runtime 1.12 and later run it; Gelu (20) is expanded, the rest is in 17
OLDEST_READ = 7  # graphc inspect reads models from opset 7 on (ONNX 1.2)
PIPELINE = "fold-batch-norm,fixpoint(fold,cse,simplify,dce)"

# why an op without a converter has none, where there is more to say than "not converted"
_WHY = {
    **NOT_PORTABLE,
    "assign": "an ONNX model is a pure function, and this network updates a Parameter when it infers",
    "while": "a data-dependent loop has no ONNX converter in graphc (ONNX's Loop is not generated)",
    "scan": "loops have no ONNX converter in graphc (ONNX's Loop and Scan are not generated)",
    "cond": "branches have no ONNX converter in graphc (ONNX's If is not generated)",
}


def export_onnx(net, inputs: Sequence, file_name) -> Path:
    """Write `net` on arrays shaped as `inputs` to `file_name` (given its suffix by graphc.export)."""
    import onnx
    graph, _ = inference_graph(net, inputs, "ONNX", PIPELINE, frozen=True)
    model = to_onnx(graph)
    onnx.checker.check_model(model, full_check=True)
    path = Path(os.fspath(file_name))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, model.SerializeToString())    # never a half-written model under the real name
    return path


def to_onnx(graph):
    """The ModelProto computing `graph`, whose parameters are frozen (constants)."""
    from onnx import helper
    for node in graph.order():
        # a parameter stays one only beside the assign that updates it, refused here first
        if node.op not in CONVERTERS and node.op not in ("input", "const", "param"):
            raise cannot_express(node, "ONNX", _WHY.get(node.op, "graphc has no ONNX converter for it "
                                                     "(graphc/export/onnx_ops.py lists the ops it converts)"))
    builder = Builder()
    names = {node.id: node.attrs["name"] for node in graph.inputs}
    for node in graph.order():
        if node.op == "const":
            value = np.asarray(node.attrs["value"])
            names[node.id] = builder.constant(value, node.meta.get("param", f"const{node.id}"))
        elif node.op != "input":
            names[node.id] = CONVERTERS[node.op](builder, node, *[names[i.id] for i in node.inputs])
    outputs = []
    for k, out in enumerate(graph.outputs):
        builder.nodes.append(helper.make_node("Identity", [names[out.id]], [f"output{k}"], name=f"output{k}"))
        outputs.append(_value_info(f"output{k}", out.type))
    inputs = [_value_info(node.attrs["name"], node.type) for node in graph.inputs]
    body = helper.make_graph(builder.nodes, graph.name, inputs, outputs, builder.initializers)
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="graphc")
    model.ir_version = min(model.ir_version, 8)      # opset 17's IR version: older runtimes read it
    return model


def _value_info(name: str, tensor_type):
    from onnx import helper
    return helper.make_tensor_value_info(name, onnx_dtype(tensor_type.dtype), list(tensor_type.shape))


def summarize_onnx(path) -> dict:
    """{"format", "inputs"/"outputs": [(name, dtype, shape)], "nodes", "parameter_bytes"} of an ONNX file,
    checked (onnx.checker) and at an opset graphc reads; a GraphcError naming the file otherwise."""
    import onnx
    from google.protobuf.message import DecodeError
    try:
        model = onnx.load_model(os.fspath(path), load_external_data=False)
    except OSError as error:
        raise GraphcError(f"cannot read {path}: {error.strerror}", loc="") from None
    except (DecodeError, ValueError, RuntimeError) as error:
        raise GraphcError(f"{path} is not an ONNX model (corrupt or truncated: {error})", loc="") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    newest = onnx.defs.onnx_opset_version()
    if opset is None or not OLDEST_READ <= opset <= newest:
        raise GraphcError(f"{path} is an ONNX model at opset {opset}, which graphc does not read (it reads "
                          f"opsets {OLDEST_READ} to {newest}, onnx {onnx.__version__}); re-export it at one of them",
                          loc="")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:
        first = str(error).strip().splitlines()[0]
        raise GraphcError(f"{path} is not a valid ONNX model (corrupt or truncated?): {first}", loc="") from None
    initialized = {t.name for t in model.graph.initializer}
    return {"format": "ONNX",
            "inputs": [_describe(v) for v in model.graph.input if v.name not in initialized],
            "outputs": [_describe(v) for v in model.graph.output],
            "nodes": len(model.graph.node),
            "parameter_bytes": sum(_tensor_bytes(t) for t in model.graph.initializer)}


def _describe(value) -> tuple[str, str, tuple]:
    from onnx import helper
    tensor = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim)
    return value.name, np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name, dims


def _tensor_bytes(tensor) -> int:
    from onnx import helper
    itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    return int(np.prod(tensor.dims, dtype=np.int64)) * itemsize
