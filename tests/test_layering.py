"""The import structure is the one docs/architecture.md draws: every module of graphc and runtime
belongs to a row of its layer table and imports only from its own row or the rows above, and no
group of modules imports itself in a circle. Imports inside functions count like any other: a
late import hides a cycle from Python, not from a reader."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("graphc", "runtime")


def layer_table(doc: Path) -> list[tuple[str, list[str]]]:
    """(layer name, path patterns) per row of the table under '## Layers', top row first."""
    text = doc.read_text()
    section = text[text.index("## Layers"):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("layer", "") or set(cells[0]) <= set("- "):
            continue
        rows.append((cells[0], re.findall(r"`([\w/.]+)`", cells[1])))
    return rows


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages."""
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imported_modules(name: str, path: Path, modules: set[str]) -> set[str]:
    """Modules of the packages that `name` imports anywhere in its file (module level or not)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import submodule` imports the submodule; `from module import name` the module
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return {_owning_module(m, modules) for m in found if m.split(".")[0] in PACKAGES} - {name, None}


def _owning_module(dotted: str, modules: set[str]) -> str | None:
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def layer_of(path: Path, table) -> int | None:
    """The row whose most specific pattern matches the file (a directory pattern ends with '/')."""
    relative = path.relative_to(ROOT).as_posix()
    best = None
    for row, (_, patterns) in enumerate(table):
        for pattern in patterns:
            hit = relative.startswith(pattern) if pattern.endswith("/") else relative == pattern
            if hit and (best is None or len(pattern) > best[1]):
                best = (row, len(pattern))
    return best[0] if best else None


def import_graph() -> tuple[nx.DiGraph, dict[str, Path]]:
    files = module_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        graph.add_edges_from((name, target) for target in imported_modules(name, path, set(files)))
    return graph, files


TABLE = layer_table(ROOT / "docs" / "architecture.md")


def test_the_layer_table_is_found():
    names = [name for name, _ in TABLE]
    assert names[0] == "types" and names[-2:] == ["runtime", "faces"] and "IR" in names and "ops" in names, names


def test_every_module_belongs_to_a_layer():
    _, files = import_graph()
    missing = [name for name, path in files.items() if layer_of(path, TABLE) is None]
    assert not missing, f"modules in no row of the layer table in docs/architecture.md: {missing}"


def test_imports_go_only_up_the_layer_table():
    graph, files = import_graph()
    wrong = []
    for source, target in sorted(graph.edges):
        low, high = layer_of(files[source], TABLE), layer_of(files[target], TABLE)
        if low is not None and high is not None and high > low:
            wrong.append(f"{source} ({TABLE[low][0]}) imports {target} ({TABLE[high][0]})")
    assert not wrong, "imports against the layer table:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph, _ = import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("source, expected", [
    ("from .. import ops\nfrom ..ir.graph import Graph\n", {"graphc.ops", "graphc.ir.graph"}),
    ("def f():\n    from .graph import Graph\n", {"graphc.ir.graph"}),
    ("import graphc.ops.core as core\nimport numpy\n", {"graphc.ops.core"}),
    ("from ..ops.core import Op, register\n", {"graphc.ops.core"}),
])
def test_imports_are_read_at_every_level(tmp_path, source, expected):
    path = tmp_path / "text.py"
    path.write_text(source)
    modules = {"graphc", "graphc.ops", "graphc.ops.core", "graphc.ir", "graphc.ir.graph", "graphc.ir.text"}
    assert imported_modules("graphc.ir.text", path, modules) == expected


def faces() -> dict[str, Path]:
    _, files = import_graph()
    row = [name for name, _ in TABLE].index("faces")
    return {name: path for name, path in files.items() if layer_of(path, TABLE) == row}


def test_faces_only_re_export():
    """A face holds a docstring, imports, an optional __all__ and the one `face(...)` or `lookup(...)`
    assignment that makes its __getattr__ (and __dir__): no function, class or other statement."""
    found, wrong = faces(), []
    assert found, "no row named faces in docs/architecture.md"
    for name, path in found.items():
        for statement in ast.parse(path.read_text()).body:
            docstring = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            targets = [t.id for node in getattr(statement, "targets", []) for t in ast.walk(node)
                       if isinstance(t, ast.Name)]
            hook = (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
                    and getattr(statement.value.func, "id", "") in ("face", "lookup")
                    and set(targets) <= {"__getattr__", "__dir__"})
            listed = (isinstance(statement, ast.Assign) and targets == ["__all__"]
                      and isinstance(statement.value, ast.List))
            if not (docstring or hook or listed or isinstance(statement, (ast.Import, ast.ImportFrom))):
                wrong.append(f"{name}:{statement.lineno}: {ast.unparse(statement).splitlines()[0]}")
    assert not wrong, "faces with statements of their own:\n" + "\n".join(wrong)


def test_the_compiler_core_loads_no_runtime_module():
    """Every graphc module above the faces imports cleanly without loading `runtime` (faces are reached
    by name only, which the import graph above cannot see)."""
    _, files = import_graph()
    runtime_row = [name for name, _ in TABLE].index("runtime")
    core = sorted(name for name, path in files.items()
                  if name.startswith("graphc") and layer_of(path, TABLE) < runtime_row and name != "graphc.__main__")
    code = ("import importlib, sys\n"
            f"for name in {core!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'runtime' or m.startswith('runtime.')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", f"importing graphc's core loaded {run.stdout.strip()}"
