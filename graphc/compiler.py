"""The driver: a traced graph goes through the pass pipeline and becomes an Executable.

An Executable runs one call of the graph on NumPy arrays and writes the parameters it assigns
back into their Parameters (in place, so their storage never moves): natively (backend 'llvm',
the default: graphc.codegen) or on the reference interpreter (backend 'interp'). Loops and
branches run natively too (docs/codegen.md, "Loops and branches").
"""
from __future__ import annotations

import atexit
import logging
import re
import sys
import time
from typing import Mapping, Sequence

import numpy as np

from . import communication, context, env, interp
from .ir import Graph
from .nn.parameter import ParameterSet
from .ir.digest import graph_digest
from .ir.verify import verify as verify_graph
from .ops import collective
from .passes import DEFAULT_PIPELINE, PASSES, PassContext, parse_pipeline, run_pipeline
from .passes.save import StageWriter
from .passes.widen_half import uses_half

log = logging.getLogger("graphc.compiler")


class InterpExecutable:
    """Runs the graph on the reference interpreter."""

    def __init__(self, graph: Graph, params: Mapping[str, object]):
        self.graph, self.params = graph, dict(params)
        self._parameter_set = ParameterSet.of(self.params.values())

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        with self._parameter_set.locked():
            # copies: an output that is a parameter means its value from before the step, which the
            # in-place update below would otherwise change under the caller's feet
            values = {name: p.asnumpy().copy() for name, p in self.params.items()}
            outputs, updates = interp.run(self.graph, inputs, values)
            for name, value in updates.items():
                self.params[name].set_data(value)
            return outputs


def compile_graph(graph: Graph, params: Mapping[str, object], backend: str | None = None,
                  pipeline: str | None = None, trace_seconds: float = 0.0):
    """Optimise `graph` with `pipeline` (default: chosen_pipeline(); autodiff always runs, first
    unless the text places it, and widen-half after it on a graph with half types) and build an
    executable for it on `backend` (default: the context's).
    GRAPHC_PRINT_AFTER=pass,... (or all) prints the IR after those passes to stderr. `trace_seconds`:
    how long tracing took, for the compile report."""
    backend = backend or context.get_context("backend")
    save_root = _save_graphs_root()
    start = time.perf_counter()
    # The graph is verified once, after the pipeline; GRAPHC_VERIFY_EACH=1 (on in the test suite)
    # verifies it after every pass that changed it, naming the pass that broke it. Verifying each
    # pass took 60-180 ms of ResNet-20's 0.2-0.3 s of passes.
    each = env.get("GRAPHC_VERIFY_EACH")
    print_after = env.get("GRAPHC_PRINT_AFTER")
    run_pipeline(graph, with_required_passes(chosen_pipeline() if pipeline is None else pipeline, graph),
                 verify=each, print_after=PASSES if "all" in print_after else print_after,
                 on_stage=StageWriter(save_root, graph) if save_root else None, ctx=pass_context(backend, graph))
    if not each:
        verify_graph(graph)
    seconds = {"trace": trace_seconds, "passes": time.perf_counter() - start}
    _check_ranks_agree(graph)
    if backend == "interp":
        return InterpExecutable(graph, params)
    from .codegen import executable       # on the first native compile: loading LLVM takes ~70 ms
    built = executable.build(graph, params, profile=profiling(), seconds=seconds)
    if built.lowered.profile and env.get("GRAPHC_PROFILE"):   # asked for from outside: print at exit
        atexit.register(_print_profile, built)
    return built


def _check_ranks_agree(graph: Graph) -> None:
    """A step with collectives runs only if every rank compiled the same one: different models or
    batch sizes are an error on every rank here, not a hang or a silent mix inside the allreduce."""
    collectives = [node for node in graph.order() if node.op == "allreduce" and node.attrs["ranks"] > 1]
    if collectives:
        description = (f"{graph.name}({', '.join(str(n.type) for n in graph.inputs)}) allreducing "
                       f"{', '.join(str(n.type) for n in collectives)}")
        transport = collective.transport(collectives[0].attrs["ranks"])
        communication.check_same(transport, "compiled step", graph_digest(graph), description)


def _print_profile(built) -> None:
    """At exit, a profiled step's compile phases and per-kernel table go to stderr."""
    from .codegen import profile_table
    print(f"\ngraphc profile of {built.graph.name}:\n{built.report.line()}\n{profile_table(built)}",
          file=sys.stderr)


def profiling() -> bool:
    """GRAPHC_PROFILE=1 or set_context(profile=True): time each kernel inside the native step."""
    return bool(context.get_context("profile")) or env.get("GRAPHC_PROFILE")


def chosen_pipeline() -> str:
    """The pipeline the user chose: set_context(pipeline=...), else $GRAPHC_PIPELINE, else the default."""
    chosen = context.get_context("pipeline")
    if chosen is not None:
        return chosen
    return env.get("GRAPHC_PIPELINE") or DEFAULT_PIPELINE


def check_pipeline(text: str | None) -> None:
    """A pipeline setting is None (the default) or text that parses; ValueError names what is wrong."""
    if text is not None:
        if not isinstance(text, str):
            raise ValueError(f"a pipeline is text such as {DEFAULT_PIPELINE!r} or None, got {text!r}")
        parse_pipeline(text)


def _check_print_after(names: tuple[str, ...]) -> None:
    """GRAPHC_PRINT_AFTER names registered passes, or all."""
    unknown = [name for name in names if name != "all" and name not in PASSES]
    if unknown:
        raise ValueError(f"no pass is named {unknown[0]!r}; expected pass names separated by commas "
                         f"({', '.join(sorted(PASSES))}), or all")


context.add_setting_check("pipeline", check_pipeline)
env.add_check("GRAPHC_PIPELINE", parse_pipeline)
env.add_check("GRAPHC_PRINT_AFTER", _check_print_after)


def pass_context(backend: str, graph: Graph) -> PassContext:
    """What the passes may consult: for native code on a graph with half types, which of its ops the
    kernels take in halves beyond their ops' rules (codegen.library.native_half: this machine's AMX)."""
    if backend == "interp" or not uses_half(graph):
        return PassContext()
    from .codegen.library import native_half
    return PassContext(native_half=native_half)


def with_required_passes(pipeline: str, graph: Graph | None = None) -> str:
    """Graphs with grad placeholders cannot run, nor can kernels compute on half types: a pipeline
    without autodiff gets it first, and one without widen-half gets it right after autodiff when
    `graph` holds a float16 or bfloat16 value."""
    if not _names("autodiff", pipeline):
        pipeline = ",".join(filter(None, ["autodiff", pipeline.strip()]))
    if graph is not None and uses_half(graph) and not _names("widen-half", pipeline):
        pipeline = re.sub(r"(^|[(,\s])autodiff(?=$|[),\s])", r"\1autodiff,widen-half", pipeline, count=1)
    return pipeline


def _names(name: str, pipeline: str) -> bool:
    return re.search(rf"(^|[(,\s]){name}($|[),\s])", pipeline) is not None


def _save_graphs_root() -> str | None:
    """Where save_graphs writes: GRAPHC_SAVE_GRAPHS, else save_graphs_path when save_graphs is on."""
    root = env.get("GRAPHC_SAVE_GRAPHS")
    if root is not None:
        return str(root)
    return context.get_context("save_graphs_path") if context.get_context("save_graphs") else None
