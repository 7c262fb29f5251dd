"""Exporting a network's inference graph: `graphc.export(net, *inputs, file_name, file_format)`, as
MindSpore's `mindspore.export` (docs/export.md).

Each format lives in its own module, imported when it is asked for, so `import graphc` loads none
of them (nor the optional `onnx` package): MINDIR (mindir.py), ONNX (onnx_model.py), SO
(shared_library.py, docs/deploy.md). All start from export/inference.py's inference graph.
"""
from __future__ import annotations

import os

from ..errors import ArgumentError

SUFFIXES = {"MINDIR": ".mindir", "ONNX": ".onnx", "SO": ".so"}


def export(net, *inputs, file_name, file_format: str = "MINDIR", **kwargs):
    """Trace `net` on `inputs` (Tensors or float32 arrays fixing the shapes) in inference mode and
    write it as `file_format` to `file_name` plus the format's suffix, unless it ends with it
    (file_name='lenet' writes lenet.onnx). Keywords: `target=` for 'SO' (an LLVM triple[:cpu]).
    Returns what the format's writer returns: the file's Path (MINDIR, ONNX), or the library's
    `Exported` record (SO)."""
    if file_format not in SUFFIXES:
        raise ArgumentError(f"file_format {file_format!r} is not one graphc writes; choose one of "
                            f"{', '.join(map(repr, SUFFIXES))}")
    allowed = {"target"} if file_format == "SO" else set()
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ArgumentError(f"export got an unknown keyword {unknown[0]!r} for file_format={file_format!r}; the "
                            "only keyword is target=, for file_format='SO'")
    if not inputs:
        raise ArgumentError("export needs sample inputs fixing the shapes, one per construct argument, e.g. "
                            "export(net, Tensor(np.zeros((1, 1, 32, 32), np.float32)), file_name='lenet', "
                            f"file_format={file_format!r})")
    name = os.fspath(file_name)
    suffix = SUFFIXES[file_format]
    path = name if name.endswith(suffix) else name + suffix
    if file_format == "SO":
        from .shared_library import export_shared_library
        return export_shared_library(net, list(inputs), path, **kwargs)
    if file_format == "ONNX":
        from .onnx_model import export_onnx
        return export_onnx(net, list(inputs), path)
    from .mindir import export_mindir
    return export_mindir(net, list(inputs), path)


__all__ = ["SUFFIXES", "export"]
