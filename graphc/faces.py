"""MindSpore's module layout over graphc's, so that renaming `mindspore` to `graphc` is the whole port.

`lookup(module_name, *sources)` is a module's `__getattr__`: a name the module lacks is its submodule
(imported on first use: `import graphc as ms; ms.dataset` works, and `import graphc` stays free of
the runtime), else the same name in one of `sources` (modules, or names of modules imported on first
use), else an error that names MindSpore's API. `face(module_name, *targets)` does the same for a
face, a module that only re-exports `targets` (docs/architecture.md), and also gives it `__dir__` and
the `__all__` that `from face import *` reads.
"""
from __future__ import annotations

import difflib
import dis
import importlib
import importlib.util
import sys
from types import FrameType, ModuleType

from .errors import GraphcError

__all__ = ["MissingApiError", "MissingApiImportError", "face", "lookup"]

RENAMES = (("graphc.mindvision", "mindvision"), ("graphc", "mindspore"))   # graphc's module -> the original's


class MissingApiError(GraphcError, AttributeError):
    """A MindSpore API that graphc does not have. An AttributeError, so hasattr() and
    getattr(module, name, default) work as they do on any module."""


class MissingApiImportError(GraphcError, ImportError):
    """The same error from `from module import name`, where Python would replace an AttributeError by
    its own "cannot import name", which does not say whose API it is (`except ImportError` catches it)."""


def lookup(module_name: str, *sources, exports: bool = False):
    """With `exports`, `__all__` is the sources' public names (a face's, for `from face import *`)."""
    def __getattr__(name: str):
        if name == "__all__" and exports:
            return sorted(_public(sources))
        if name.startswith("_"):      # dunders and private names: what libraries probe with hasattr
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        if hasattr(sys.modules[module_name], "__path__") and importlib.util.find_spec(f"{module_name}.{name}"):
            return importlib.import_module(f"{module_name}.{name}")
        for source in sources:
            module = importlib.import_module(source) if isinstance(source, str) else source
            if hasattr(module, name):
                return getattr(module, name)
        raise _missing(module_name, name, importing=_runs_from_import(sys._getframe(1)))
    return __getattr__


def face(module_name: str, *targets: ModuleType):
    """(__getattr__, __dir__) of a face over `targets`."""
    def __dir__():
        return sorted(set(vars(sys.modules[module_name])) | set(_public(targets)))
    return lookup(module_name, *targets, exports=True), __dir__


def _public(modules) -> set[str]:
    """The names `from module import *` gives, over all of `modules`."""
    names = set()
    for module in modules:
        listed = getattr(module, "__all__", None)
        names.update(listed if listed is not None else (n for n, value in vars(module).items()
                                                         if not n.startswith("_") and not isinstance(value, ModuleType)))
    return names


def _missing(module_name: str, name: str, importing: bool) -> GraphcError:
    graphc_prefix, original_prefix = next(r for r in RENAMES if (module_name + ".").startswith(r[0] + "."))
    original = original_prefix + module_name[len(graphc_prefix):]
    owner = "MindSpore's" if original_prefix == "mindspore" else f"{original_prefix}'s"
    close = difflib.get_close_matches(name, [n for n in dir(sys.modules[module_name]) if not n.startswith("_")], n=3)
    hint = f" (did you mean {' or '.join(f'{module_name}.{c}' for c in close)}?)" if close else ""
    error = MissingApiImportError if importing else MissingApiError
    return error(f"{module_name}.{name}: graphc does not have {owner} {original}.{name}{hint}; "
                 "docs/mindspore.md lists what graphc supports and what to use instead")


def _runs_from_import(caller: FrameType) -> bool:
    """Did `from module import name` ask (rather than an attribute access, hasattr or another lookup)?"""
    return caller.f_code.co_code[caller.f_lasti] == dis.opmap["IMPORT_FROM"]
