"""Rank MindSpore's functional API (`mindspore.ops.<function>`) by how often real code calls it.

Two steps, each a subcommand:

  list-api  (run with a MindSpore install; imports mindspore, nothing else)
      python docs/tools/rank_mindspore_api.py list-api > docs/tools/mindspore_ops_functions.txt
      The public lowercase callables of `mindspore.ops` (functions and primitive instances such as
      `ops.reduce_sum`), one per line: the API the ranking counts.

  rank      (no network, no MindSpore: reads local checkouts)
      python docs/tools/rank_mindspore_api.py rank --api docs/tools/mindspore_ops_functions.txt \
          tutorials=DOCS/tutorials/source_en mindcv=MINDCV models=MODELS [--graphc] [--status FILE] [--top 100]
      Each NAME=PATH is a corpus: its .py files, the code cells of its .ipynb notebooks and the
      ```python blocks of its .md pages. A call counts when its callee resolves, through the file's
      imports, to `mindspore.ops[.functional|.function[.<module>]].<name>` with <name> in the API
      list (`ops.mean(x)`, `F.mean(x)`, `ms.ops.mean(x)`, `mean(x)` after `from mindspore.ops
      import mean`). Prints a Markdown table: rank, name, calls per corpus, total, cumulative share,
      and with --graphc whether `graphc.ops` (run with PYTHONPATH at the checkout) has the name,
      plus the share of counted calls it covers; --status (mindspore_ops_status.txt) then says how
      a function differs, or why graphc lacks it.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import Counter
from pathlib import Path

OPS_MODULES = ("mindspore.ops", "mindspore.ops.functional", "mindspore.ops.function")
FENCED_PYTHON = re.compile(r"^```(?:python|py)\s*\n(.*?)^```", re.S | re.M)


def list_api() -> list[str]:
    import inspect

    import mindspore.ops as ops
    names = []
    for name in sorted(set(ops.__all__)):
        value = getattr(ops, name, None)
        if (name[:1].islower() and value is not None and callable(value) and not inspect.ismodule(value)
                and not inspect.isclass(value)):
            names.append(name)
    return names


def code_blocks(path: Path) -> list[str]:
    """The Python source of a file: the file itself, a notebook's code cells or a page's python blocks."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except json.JSONDecodeError:
            return []
        blocks = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                  for c in cells if c.get("cell_type") == "code"]
    elif path.suffix == ".md":
        blocks = FENCED_PYTHON.findall(text)
    else:
        blocks = [text]
    # notebook shell and magic lines are not Python
    return ["\n".join(line for line in b.splitlines() if not line.lstrip().startswith(("!", "%"))) for b in blocks]


def dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


class CallCounter(ast.NodeVisitor):
    """Counts calls of API names, resolving local names through the imports seen so far."""

    def __init__(self, api: set[str], aliases: dict[str, str]):
        self.api, self.aliases, self.calls = api, aliases, Counter()

    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.aliases[head] = head

    def visit_ImportFrom(self, node):
        if node.module and not node.level:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_Call(self, node):
        name = dotted(node.func)
        if name:
            head, _, rest = name.partition(".")
            full = self.aliases.get(head, head) + ("." + rest if rest else "")
            module, _, function = full.rpartition(".")
            if function in self.api and (module in OPS_MODULES or module.startswith("mindspore.ops.function.")):
                self.calls[function] += 1
        self.generic_visit(node)


def count_corpus(root: Path, api: set[str]) -> tuple[Counter, int, int]:
    """(calls per name, files read, files with a block that does not parse)."""
    calls, files, broken = Counter(), 0, 0
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".ipynb", ".md") and p.is_file()):
        aliases, failed = {}, False
        blocks = code_blocks(path)
        for block in blocks:
            try:
                tree = ast.parse(block)
            except (SyntaxError, ValueError):
                failed = True
                continue
            counter = CallCounter(api, aliases)
            counter.visit(tree)
            calls.update(counter.calls)
        files += bool(blocks)
        broken += failed
    return calls, files, broken


def graphc_has(name: str) -> bool:
    import graphc
    try:
        return callable(getattr(graphc.ops, name))
    except Exception:        # graphc's own error for a MindSpore API it lacks
        return False


def read_status(path: Path | None) -> dict[str, str]:
    """name -> "status: note", from `name: status: note` lines (# comments)."""
    if path is None:
        return {}
    lines = [line.split(":", 1) for line in path.read_text().splitlines() if line.strip() and line[0] != "#"]
    return {name.strip(): rest.strip() for name, rest in lines}


def rank(api_file: Path, corpora: list[str], top: int, with_graphc: bool, status: dict[str, str]) -> str:
    api = {line.strip() for line in api_file.read_text().splitlines() if line.strip()}
    names, counts, lines = [], {}, []
    for spec in corpora:
        name, _, path = spec.partition("=")
        calls, files, broken = count_corpus(Path(path), api)
        names.append(name)
        counts[name] = calls
        lines.append(f"- {name}: {files} files read, {broken} with a block that does not parse (skipped), "
                     f"{sum(calls.values())} calls of {len(calls)} functions")
    total = Counter()
    for calls in counts.values():
        total.update(calls)
    grand = sum(total.values())
    ranked = sorted(total.items(), key=lambda item: (-item[1], item[0]))
    header = ("| rank | function | " + " | ".join(names) + " | total | cumulative |"
              + (" graphc |" if with_graphc else ""))
    table = [header, "|" + " --- |" * (len(names) + 4 + with_graphc)]
    running, covered, exact = 0, 0, 0
    for position, (function, count) in enumerate(ranked, 1):
        running += count
        has = with_graphc and graphc_has(function)
        covered += count if has else 0
        exact += count if has and function not in status else 0
        if position <= top:
            default = "supported" if has else "missing"
            cells = [str(position), f"`{function}`", *(str(counts[n][function]) for n in names), str(count),
                     f"{100 * running / grand:.1f}%"] + ([status.get(function, default)] if with_graphc else [])
            table.append("| " + " | ".join(cells) + " |")
    lines.append(f"- {grand} counted calls of {len(total)} of the {len(api)} API functions")
    if with_graphc:
        lines.append(f"- graphc.ops has {sum(graphc_has(f) for f in total)} of those functions, covering "
                     f"{covered} calls ({100 * covered / grand:.1f}%); {exact} calls ({100 * exact / grand:.1f}%) "
                     "are of functions the status file lists no difference for")
    return "\n".join(lines + [""] + table)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list-api", help="print mindspore.ops's public functions (needs MindSpore)")
    ranking = sub.add_parser("rank", help="count calls over local checkouts")
    ranking.add_argument("--api", type=Path, required=True, help="the list-api output")
    ranking.add_argument("--top", type=int, default=100)
    ranking.add_argument("--graphc", action="store_true", help="mark the names graphc.ops has")
    ranking.add_argument("--status", type=Path, help="how graphc differs, per function (mindspore_ops_status.txt)")
    ranking.add_argument("corpora", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args(argv)
    if args.command == "list-api":
        print("\n".join(list_api()))
    else:
        print(rank(args.api, args.corpora, args.top, args.graphc, read_status(args.status)))


if __name__ == "__main__":
    sys.exit(main())
