"""Cell: the unit of a network, as MindSpore's nn.Cell.

Sub-cells and Parameters assigned as attributes are registered in definition order. With
auto_prefix (the default) a child's parameters are renamed `<attr>.<name>` when it is attached,
so a LeNet inside a classifier has `backbone.conv1.weight`. In GRAPH_MODE the outermost call
traces `construct` into a graph and runs the compiled graph; inner calls are inlined.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from .. import context
from ..autograph import convert
from ..errors import ArgumentError
from ..tracing import Precision, computed_in, current_scope, current_trace, float32_outputs, graph_function, scope
from ..types import DType, bfloat16, float16, float32
from . import hooks
from .parameter import Parameter


class Cell:
    _modes_version = 0      # bumped by every set_train, so compiled functions re-read training modes
    _precision = None       # a tracing.Precision once to_float (or amp) chose one

    def __init__(self, auto_prefix: bool = True):
        object.__setattr__(self, "_cells", OrderedDict())
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_name_prefix", "")    # what this cell's parameter names start with
        object.__setattr__(self, "_forward_pre_hooks", {})   # hook id -> fn (hooks.py)
        object.__setattr__(self, "_forward_hooks", {})
        self._auto_prefix = auto_prefix
        self.training = False
        self.phase = "train"       # MindSpore's name for the mode set_train last chose ("train" before any)
        self._scope_name = ""
        self._jit = None

    def construct(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define construct()")

    # -- registration ---------------------------------------------------------------------------
    def __setattr__(self, name: str, value):
        if "_cells" not in self.__dict__ and isinstance(value, (Cell, Parameter)):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        cells, params = self.__dict__.get("_cells"), self.__dict__.get("_params")
        if cells is not None:
            cells.pop(name, None)
            params.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = name
            params[name] = value
        elif isinstance(value, Cell):
            # this cell's own prefix too, so a child attached late (CellList.append) is named like the rest
            value._prefix_parameter_names(self._name_prefix + (f"{name}." if self._auto_prefix else ""))
            cells[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str):
        self._cells.pop(name, None)
        self._params.pop(name, None)
        object.__delattr__(self, name)

    def _prefix_parameter_names(self, prefix: str) -> None:
        """Prepend prefix (e.g. 'backbone.') to the names of every parameter and cell below this one."""
        for _, param in self.parameters_and_names():
            param.name = prefix + param.name
        for _, cell in self.cells_and_names():
            cell._name_prefix = prefix + cell._name_prefix

    def _rename_parameters(self, old: str, new: str) -> None:
        """Replace the prefix `old` (this cell's position, e.g. 'layers.1.') by `new` in the names of every
        parameter and cell below this one: a container moved this cell."""
        for _, param in self.parameters_and_names():
            param.name = new + param.name[len(old):] if param.name.startswith(old) else param.name
        for _, cell in self.cells_and_names():
            if cell._name_prefix.startswith(old):
                cell._name_prefix = new + cell._name_prefix[len(old):]

    def insert_param_to_cell(self, name: str, param: Parameter) -> None:
        setattr(self, name, param)

    # -- traversal ---------------------------------------------------------------------------------
    def cells_and_names(self, cells=None, name_prefix: str = "") -> Iterator[tuple[str, "Cell"]]:
        """(dotted attribute path, cell) for this cell and every descendant, each once."""
        seen = cells if cells is not None else set()
        if id(self) in seen:
            return
        seen.add(id(self))
        yield name_prefix, self
        for name, cell in self._cells.items():
            yield from cell.cells_and_names(seen, f"{name_prefix}.{name}" if name_prefix else name)

    def cells(self):
        return list(self._cells.values())

    def name_cells(self):
        return OrderedDict(self._cells)

    def parameters_and_names(self, name_prefix: str = "", expand: bool = True):
        """(parameter name, Parameter) in definition order, each Parameter once."""
        seen = set()
        cells = self.cells_and_names() if expand else [("", self)]
        for _, cell in cells:
            for param in cell._params.values():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{name_prefix}.{param.name}" if name_prefix else param.name), param

    def get_parameters(self, expand: bool = True):
        return (param for _, param in self.parameters_and_names(expand=expand))

    def trainable_params(self, recurse: bool = True) -> list[Parameter]:
        return [p for p in self.get_parameters(recurse) if p.requires_grad]

    def untrainable_params(self, recurse: bool = True) -> list[Parameter]:
        return [p for p in self.get_parameters(recurse) if not p.requires_grad]

    def parameters_dict(self) -> OrderedDict:
        return OrderedDict(self.parameters_and_names())

    def set_train(self, mode: bool = True) -> "Cell":
        for _, cell in self.cells_and_names():
            cell.training, cell.phase = mode, "train" if mode else "predict"
        Cell._modes_changed()
        return self

    def training_modes(self) -> tuple:
        """The training flag and the forward hooks of this cell and of each descendant: a compiled
        call depends on them."""
        return tuple((cell.training, tuple(cell._forward_pre_hooks), tuple(cell._forward_hooks))
                     for _, cell in self.cells_and_names())

    def register_forward_pre_hook(self, hook_fn, with_kwargs: bool = False) -> hooks.HookHandle:
        return hooks.register("register_forward_pre_hook", self._forward_pre_hooks, hook_fn, with_kwargs,
                              Cell._modes_changed)

    def register_forward_hook(self, hook_fn, with_kwargs: bool = False) -> hooks.HookHandle:
        return hooks.register("register_forward_hook", self._forward_hooks, hook_fn, with_kwargs, Cell._modes_changed)

    @staticmethod
    def _modes_changed() -> None:
        Cell._modes_version += 1

    @staticmethod
    def modes_version() -> int:
        return Cell._modes_version

    def set_grad(self, requires_grad: bool = True) -> "Cell":
        self.requires_grad = requires_grad
        return self

    # -- flags and precision -------------------------------------------------------------------------
    def add_flags(self, **flags) -> "Cell":
        """Set each flag as an attribute of this cell and record it (get_flags), as MindSpore does."""
        self.__dict__.setdefault("_flags", {}).update(flags)
        self.__dict__.update(flags)
        return self

    def add_flags_recursive(self, **flags) -> "Cell":
        for _, cell in self.cells_and_names():
            cell.add_flags(**flags)
        return self

    def get_flags(self) -> dict:
        return dict(self.__dict__.get("_flags", {}))

    def to_float(self, dst_type) -> "Cell":
        """Compute this cell and the cells inside it in dst_type (float32, float16 or bfloat16), as
        MindSpore's: every op called inside casts its float operands to dst_type, Parameters
        included (they stay float32; the cast is in the graph). Returns the cell; its output is
        dst_type. A cell inside given its own to_float afterwards keeps that one."""
        if not isinstance(dst_type, DType) or dst_type not in (float32, float16, bfloat16):
            raise ArgumentError(f"{type(self).__name__}.to_float: dst_type must be float32, float16 or bfloat16 "
                                f"(graphc.float32, ...), got {dst_type!r}")
        flags = {"fp32": dst_type == float32, "fp16": dst_type == float16, "bf16": dst_type == bfloat16}
        for _, cell in self.cells_and_names():
            object.__setattr__(cell, "_precision", Precision(dst_type))
        return self.add_flags_recursive(**flags)

    def init_parameters_data(self, auto_parallel_mode: bool = False) -> dict:
        """Fill every lazy Parameter; returns {parameter: parameter} (MindSpore's {original: replacement}:
        graphc fills a Parameter in place, so each maps to itself)."""
        return {param: param.init_data() for param in self.get_parameters()}

    # -- calling ---------------------------------------------------------------------------------
    def __call__(self, *inputs, **kwargs):
        if current_trace() is None and context.get_context("mode") == context.GRAPH_MODE:
            return self._compiled()(*inputs, **kwargs)
        return self._construct_in_scope(*inputs, **kwargs)

    def _construct_in_scope(self, *inputs, **kwargs):
        if not current_scope():          # the outermost call names every cell below it
            self._name_scopes()
        # traced, construct's Python control flow over tensors becomes graph control flow (autograph.py)
        construct = self.construct if current_trace() is None else convert(self.construct)
        with scope(self._scope_name), computed_in(self._precision):
            inputs = hooks.pre_hooked(self, self._forward_pre_hooks, inputs)
            out = hooks.post_hooked(self, self._forward_hooks, inputs, construct(*inputs, **kwargs))
        return float32_outputs(out) if self._precision and self._precision.float32_output else out

    def compile(self, *inputs, **kwargs):
        """Trace and compile construct for these inputs without running it (GRAPH_MODE)."""
        return self._compiled().compile(*inputs, **kwargs)

    def _compiled(self):
        if self._jit is None:
            # traced through _construct_in_scope, so graph nodes and errors carry the cell scopes
            self._jit = graph_function(self._construct_in_scope, name=type(self).__name__, owner=self)
        return self._jit

    def _name_scopes(self) -> None:
        """Scope names follow parameter names: wrapper cells without auto_prefix add nothing."""
        def visit(cell, path):
            cell._scope_name = path or type(cell).__name__
            for name, child in cell._cells.items():
                visit(child, f"{path}.{name}".lstrip(".") if cell._auto_prefix else path)
        visit(self, "")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}<" + self.extend_repr() + ">" if self.extend_repr() else type(self).__name__]
        for name, cell in self._cells.items():
            lines.append("  (" + name + "): " + repr(cell).replace("\n", "\n  "))
        return "\n".join(lines)

    def extend_repr(self) -> str:
        return ""
