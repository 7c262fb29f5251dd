"""file_format='SO': the inference graph as a shared library and a C header (docs/deploy.md).

`export_shared_library(net, inputs, file_name, target=None)` takes `net`'s inference graph
(inference.py: traced as Model.predict runs it, optimized with the pipeline predict compiles with),
lowers it to graphc's step and kernels, compiles them position-independent for the host CPU or
`target` (codegen/shared_objects.py), and links them with the C runner (c_source.py) and the weights
into `<file_name>.so`, beside `<file_name>.h`. The library needs libc, libm and libpthread only.
`SharedLibrary` loads one through ctypes (tests, benchmarks/inference.py).
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ArgumentError, GraphcError
from ..inspect import graph_stats
from ..passes.memory import ALIGNMENT
from .inference import NOT_PORTABLE, cannot_express, inference_graph


@dataclass(frozen=True)
class Exported:
    """What export_shared_library wrote: the library, its header, its C name and tensor shapes."""
    library: Path
    header: Path
    name: str
    inputs: list[tuple[int, ...]]
    outputs: list[tuple[int, ...]]


def export_shared_library(net, inputs: Sequence, file_name: str, target: str | None = None) -> Exported:
    """Write `<file_name>.so` and `<file_name>.h` (a trailing .so in file_name is dropped) for `net`
    called on arrays of `inputs`' shapes; the C functions are named after the file (`lenet_run`)."""
    from ..codegen.kernel_cache import KernelSet
    from ..codegen.kernels.contract import round_up
    from ..codegen.lower import lower_graph
    from ..codegen.shared_objects import parse_target, relocatable_objects
    from . import c_source

    path = Path(os.fspath(file_name))
    path = path.with_suffix("") if path.suffix == ".so" else path
    name = _c_name(path)
    compiler = shutil.which("cc")
    if compiler is None:
        raise GraphcError("file_format='SO' links the library with the system C compiler, and no `cc` is on PATH; "
                          "install one (e.g. gcc or clang)")
    chosen = parse_target(target)
    graph, params = inference_graph(net, inputs, "SO")
    for node in graph.order():
        if node.op in NOT_PORTABLE:
            raise cannot_express(node, "SO", NOT_PORTABLE[node.op])
    kernels = KernelSet(None, share=False)           # keeps every kernel's IR, to compile it for the library
    lowered = lower_graph(graph, False, kernels, prepared=True)    # the weights are constants
    _check_lowered(lowered, graph)
    if target is not None and any("@llvm.x86.tdpbf16ps" in text for text in kernels.texts):
        raise ArgumentError(f"target={target!r}: the network's bfloat16 1x1 convolutions were lowered for this "
                            "machine's AMX tiles, which another CPU may not have; export for this machine "
                            "(target=None), or in float32")
    objects = relocatable_objects(lowered, kernels, chosen)
    blob, param_offsets = _weights(lowered, params)
    layout = c_source.Layout(
        name, [tuple(t.shape) for t in lowered.inputs], [tuple(out.type.shape) for out in lowered.outputs],
        [_place(out.buffer, lowered, param_offsets) for out in lowered.outputs], param_offsets,
        lowered.arena_bytes, lowered.region_bytes,
        sum(round_up(call.kernel.scratch.shared) for call in lowered.calls),
        sum(round_up(call.kernel.scratch.per_thread) for call in lowered.calls), graph_stats(graph).total_flops)
    header = c_source.header(layout, f"{type(net).__name__} on {chosen.describe()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".graphc-so-", dir=path.parent) as work:
        work = Path(work)
        _link(compiler, work, name, objects, blob, header, c_source.runner(layout, str(work / "weights.bin")))
        os.replace(work / f"{name}.h", path.with_suffix(".h"))
        os.replace(work / f"{name}.so", path.with_suffix(".so"))   # last: a library is never without its header
    return Exported(path.with_suffix(".so"), path.with_suffix(".h"), name, layout.inputs, layout.outputs)


def _c_name(path: Path) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", path.name):
        raise ArgumentError(f"file_name {str(path)!r}: the library's C functions are named after the file "
                            f"({path.name}_run), so its name must be a C identifier (letters, digits and '_', not "
                            "starting with a digit); e.g. file_name='lenet'")
    return path.name


def _check_lowered(lowered, graph) -> None:
    """Inference only reads the weights, which the library keeps read-only."""
    for call in lowered.calls:
        written = [b.key for b in call.writes if b.space == "param"]
        if written:
            raise GraphcError(f"{graph.name} updates parameter {written[0]!r} when it infers "
                              f"(node {call.name}); a library's weights are constants, so export a network that only "
                              "reads its parameters", loc=call.node.loc)


def _weights(lowered, params) -> tuple[bytes, list[int]]:
    """The constant block, then every parameter 64-byte aligned; each parameter's offset."""
    from ..codegen.executable import constant_block
    parts, offsets = [constant_block(lowered).tobytes()], []
    end = len(parts[0])
    for name in lowered.params:
        data = np.ascontiguousarray(params[name].asnumpy()).tobytes()
        offsets.append(end)
        parts.append(data + bytes(-len(data) % ALIGNMENT))
        end += len(parts[-1])
    return b"".join(parts), offsets


def _place(buffer, lowered, param_offsets: list[int]) -> tuple[str, int]:
    """Where an output's bytes are in the library: (arena | weights | input<k>, byte offset)."""
    if buffer.space == "arena":
        return "arena", buffer.offset
    if buffer.space == "constants":
        return "weights", buffer.offset
    if buffer.space == "param":
        return "weights", param_offsets[lowered.params.index(buffer.key)] + buffer.offset
    if buffer.space == "input":
        return f"input{buffer.key}", buffer.offset
    raise GraphcError(f"an output in the {buffer.space} block cannot be exported")


def _link(compiler: str, work: Path, name: str, objects: list[bytes], blob: bytes, header: str, runner: str) -> None:
    (work / "weights.bin").write_bytes(blob)
    (work / f"{name}.h").write_text(header)
    (work / "runner.c").write_text(runner)
    (work / "exports.map").write_text(
        "{ global: " + " ".join(f"{name}_{f};" for f in ("create", "run", "run_checked", "destroy", "error_string"))
        + " local: *; };\n")
    names = []
    for k, obj in enumerate(objects):
        names.append(f"part{k}.o")
        (work / names[-1]).write_bytes(obj)
    command = [compiler, "-shared", "-fPIC", "-O2", "-o", f"{name}.so", "runner.c", *names,
               "-Wl,--version-script=exports.map", "-Wl,--no-undefined", "-Wl,-z,noexecstack", "-lm", "-lpthread"]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise GraphcError(f"linking {name}.so failed ({' '.join(command)}, in {work}):\n{done.stderr.strip()}")


class SharedLibrary:
    """An exported library loaded with ctypes: `library(*arrays)` -> output arrays (float32)."""

    def __init__(self, exported: Exported, num_threads: int = 1):
        self.exported = exported
        self._lib = ctypes.CDLL(str(exported.library), use_errno=True)
        prefix = exported.name
        self._create = getattr(self._lib, f"{prefix}_create")
        self._create.restype, self._create.argtypes = ctypes.c_void_p, [ctypes.c_int]
        self._destroy = getattr(self._lib, f"{prefix}_destroy")
        self._destroy.argtypes = [ctypes.c_void_p]
        self.run_checked = getattr(self._lib, f"{prefix}_run_checked")
        self.run_checked.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        self._run = getattr(self._lib, f"{prefix}_run")
        self._run.argtypes = [ctypes.c_void_p] * (1 + len(exported.inputs) + len(exported.outputs))
        self.handle = self._create(num_threads)
        if not self.handle:
            raise OSError(ctypes.get_errno(), f"{prefix}_create({num_threads}) failed")
        self._outputs = [np.empty(shape, np.float32) for shape in exported.outputs]
        self._output_addresses = [out.ctypes.data for out in self._outputs]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != len(self.exported.inputs):
            raise ArgumentError(f"{self.exported.name} takes {len(self.exported.inputs)} inputs, got {len(inputs)}")
        arrays = [np.ascontiguousarray(x, np.float32) for x in inputs]
        for array, shape in zip(arrays, self.exported.inputs):
            if array.shape != shape:
                raise ArgumentError(f"{self.exported.name}: an input of shape {list(array.shape)} where the library "
                                    f"takes {list(shape)}")
        code = self._run(self.handle, *[a.ctypes.data for a in arrays], *self._output_addresses)
        if code:
            raise GraphcError(f"{self.exported.name}_run returned {code}")
        return [out.copy() for out in self._outputs]

    def close(self) -> None:
        if self.handle:
            self._destroy(self.handle)
            self.handle = None

    def __del__(self):
        self.close()
