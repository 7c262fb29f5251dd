"""The pass manager: a registry of named passes and a runner for pipelines written as text.

A pass is `fn(graph, ctx) -> changed`, mutating the Graph in place. A pipeline is a comma
separated list of pass names; `fixpoint(a,b,...)` repeats its list until no pass in it changes
the graph (at most MAX_FIXPOINT_ROUNDS times). The runner times every pass, verifies the graph
after each pass that changed it, and turns a failure into a PassError naming the pass, the
passes before it, and a file holding the graph as it was left.
"""
from __future__ import annotations

import logging
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import GraphcError
from ..ir import Graph, Node
from ..ir.text import format_node, print_graph
from ..ir.verify import verify as verify_graph

log = logging.getLogger("graphc.passes")

PASSES: dict[str, Callable[[Graph, "PassContext"], bool]] = {}
DEFAULT_PIPELINE = "autodiff,hoist-transposes,fixpoint(fold,cse,simplify,split-elementwise,dce),fuse,plan-memory"
MAX_FIXPOINT_ROUNDS = 10


def register_pass(name: str):
    """Decorator: make fn(graph, ctx) -> changed available to pipelines as `name`."""
    def decorate(fn):
        if name in PASSES:
            raise ValueError(f"pass {name!r} registered twice")
        PASSES[name] = fn
        return fn
    return decorate


@dataclass
class PassContext:
    """What a pass may consult besides the graph. `native_half(node)`: the backend's kernels take the
    node's half operands although its op's `half_kernel` rule does not say so (a convolution on this
    machine's AMX tiles; widen-half leaves it alone), given by the driver for the native backend."""
    max_fold_elements: int = 1024   # fold: see fold.py for the rule
    native_half: Callable[[Node], bool] | None = None


class PassError(RuntimeError):
    pass


# -- pipeline text ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(fixpoint\s*\(|[A-Za-z_][\w-]*|,|\)|\S)")
_NAME = re.compile(r"[A-Za-z_][\w-]*")


def parse_pipeline(text: str) -> list:
    """'a,fixpoint(b,c)' -> ['a', ['b', 'c']]: a pass is its name, a fixpoint group a list."""
    tokens = [(m[1], m.start(1)) for m in _TOKEN.finditer(text)] + [("", len(text))]
    if len(tokens) == 1:
        return []
    steps, i = _parse_list(tokens, 0, text)
    if tokens[i][0]:
        raise _syntax_error(text, tokens[i][1], "expected ','")
    return steps


def _parse_list(tokens: list, i: int, text: str) -> tuple[list, int]:
    """Parse `step (, step)*` from tokens[i]; return the steps and the index after them."""
    steps = []
    while True:
        token, pos = tokens[i]
        if token.endswith("("):
            group, i = _parse_list(tokens, i + 1, text)
            if tokens[i][0] != ")":
                raise _syntax_error(text, tokens[i][1], "expected ',' or ')' to close fixpoint(")
            steps.append(group)
        elif _NAME.fullmatch(token):
            steps.append(_known_pass(token, text))
        else:
            raise _syntax_error(text, pos, "expected a pass name or fixpoint(...)")
        i += 1
        if tokens[i][0] != ",":
            return steps, i
        i += 1


def _known_pass(name: str, text: str) -> str:
    if name not in PASSES:
        raise ValueError(f"unknown pass {name!r} in pipeline {text!r}; registered passes: {_registered()}")
    return name


def _syntax_error(text: str, pos: int, what: str) -> ValueError:
    return ValueError(f"malformed pipeline {text!r}: {what} at column {pos + 1}; a pipeline is a comma separated "
                      f"list of passes and fixpoint(...) groups, e.g. {DEFAULT_PIPELINE!r}; "
                      f"registered passes: {_registered()}")


def _registered() -> str:
    return ", ".join(sorted(PASSES))


# -- running ------------------------------------------------------------------------------------------
@dataclass
class PassRow:
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int
    changed: bool


@dataclass
class PipelineReport:
    rows: list[PassRow] = field(default_factory=list)
    memory_plan: object | None = None     # the graph's MemoryPlan when the pipeline planned memory

    def __str__(self) -> str:
        lines = [f"{'pass':<14} {'ms':>9} {'nodes':>13}  changed"]
        lines += [f"{r.name:<14} {r.seconds * 1e3:9.2f} {r.nodes_before:>6}->{r.nodes_after:<6}  {r.changed}"
                  for r in self.rows]
        if self.memory_plan is not None:
            lines.append(self.memory_plan.summary())
        return "\n".join(lines)


def run_pipeline(graph: Graph, pipeline: str = DEFAULT_PIPELINE, *, verify: bool = True,
                 print_after=(), on_stage: Callable[[str, Graph], None] | None = None,
                 ctx: PassContext | None = None) -> PipelineReport:
    """Run the passes of `pipeline` over graph in place; see the module docstring."""
    runner = _Runner(graph, verify, set(print_after), on_stage, ctx or PassContext())
    runner.run_steps(parse_pipeline(pipeline))
    return PipelineReport(runner.rows, getattr(graph, "memory_plan", None))


class _Runner:
    def __init__(self, graph, verify, print_after, on_stage, ctx):
        self.graph, self.verify, self.print_after, self.on_stage = graph, verify, print_after, on_stage
        self.ctx = ctx
        self.rows: list[PassRow] = []

    def run_steps(self, steps: list) -> bool:
        changed = False
        for step in steps:
            changed |= self.run_fixpoint(step) if isinstance(step, list) else self.run_pass(step)
        return changed

    def run_fixpoint(self, steps: list) -> bool:
        changed = False
        for _ in range(MAX_FIXPOINT_ROUNDS):
            if not self.run_steps(steps):
                return changed
            changed = True
        log.warning("fixpoint(%s) still changed the graph after %d rounds; going on", ",".join(map(str, steps)),
                    MAX_FIXPOINT_ROUNDS)
        return changed

    def run_pass(self, name: str) -> bool:
        graph, before = self.graph, len(self.graph)
        plan = getattr(graph, "memory_plan", None)
        start = time.perf_counter()
        try:
            changed = bool(PASSES[name](graph, self.ctx))
            seconds = time.perf_counter() - start
            if changed and self.verify:
                verify_graph(graph)
        except GraphcError:
            raise                        # the user's error, already located at the user's line
        except Exception as error:
            done = ", ".join(row.name for row in self.rows)
            raise PassError(f"pass {name} failed after [{done}]: {error}\n"
                            f"(the graph as the pass left it: {_dump(graph, name)})") from error
        if changed and getattr(graph, "memory_plan", None) is plan:
            graph.memory_plan = None     # the graph changed under the plan, which is now stale
        self.rows.append(PassRow(name, seconds, before, len(graph), changed))
        if name in self.print_after:
            print(f"// after {name}\n{print_graph(graph)}", file=sys.stderr)
        if self.on_stage is not None:
            self.on_stage(name, graph)
        return changed


def _dump(graph: Graph, pass_name: str) -> str:
    with tempfile.NamedTemporaryFile("w", prefix=f"graphc-{graph.name}-after-{pass_name}-", suffix=".ir",
                                     delete=False) as file:
        file.write(_graph_text(graph))
    return file.name


def _graph_text(graph: Graph) -> str:
    """The graph's text; one node per line in id order when a broken graph cannot be printed."""
    try:
        return print_graph(graph) + "\n"
    except Exception:
        return "".join(f"{format_node(node)}\n" for node in sorted(graph.nodes.values(), key=lambda n: n.id))
