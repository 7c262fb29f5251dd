"""The `graphc` command: print a network's IR at any pipeline stage, or its statistics.

A TARGET is `path/to/file.py:object` (a Cell, a Cell class, a zero-argument factory returning a
Cell, a @graphc.jit function or a plain function), traced on zero tensors of the `--input` types;
or a saved IR file `*.ir`. User mistakes are reported in one line with exit status 2.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import tempfile
import time
from inspect import Parameter as Argument, signature
from pathlib import Path

import numpy as np

from .errors import GraphcError, user_location
from .inspect import StatsError, format_stats, graph_stats, table
from .ir import Graph
from .ir.export import from_json, to_dot, to_json
from .ir.text import ParseError, parse_graph, print_graph
from .ir.verify import VerifyError, verify
from .jit import JitFunction, trace
from .nn.cell import Cell
from .compiler import chosen_pipeline, pass_context, with_required_passes
from .passes import parse_pipeline, run_pipeline
from .types import DTYPES, TensorType

EXAMPLES = """examples:
  graphc dump lenet.py:lenet --input x:f32[32,1,32,32]
  graphc dump train.py:step --input x:f32[32,1,32,32] --input labels:i32[32] --stage autodiff
  graphc dump train.py:step --input x:f32[32,1,32,32] --input labels:i32[32] --pipeline fold,cse,dce
  graphc dump lenet.py:lenet --input x:f32[32,1,32,32] --format dot -o lenet.dot
  graphc dump saved.ir --print-after all
  graphc dump lenet.py:lenet --input x:f32[32,1,32,32] --emit asm
  graphc inspect lenet.py:lenet --input x:f32[32,1,32,32]
  graphc export lenet.py:lenet --input x:f32[1,1,32,32] --format onnx -o lenet.onnx
  graphc inspect lenet.onnx
  graphc profile lenet.py:train_step --input x:f32[32,1,32,32] --input labels:i32[32] --steps 10 -o trace.json
"""
EXAMPLE_TYPE = "f32[32,1,32,32]"
RENDERERS = {"text": print_graph, "dot": to_dot, "json": to_json}
FORMATS = {"onnx": "ONNX", "mindir": "MINDIR", "so": "SO"}     # graphc export --format -> file_format
EXPORTED = (".onnx", ".mindir")                                  # files graphc inspect summarizes


class CliError(Exception):
    """A mistake in the command line or in what it names."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (CliError, GraphcError, ParseError, VerifyError, StatsError) as error:
        print(f"graphc: error: {error}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphc", description=__doc__.split("\n\n")[0], epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(metavar="COMMAND", required=True)

    dumping = commands.add_parser("dump", help="print the IR of TARGET at a pipeline stage")
    _add_target_arguments(dumping)
    when = dumping.add_mutually_exclusive_group()
    when.add_argument("--stage", default="optimized",
                      help="traced, a pass of the pipeline, or optimized (the default: after the whole pipeline)")
    when.add_argument("--print-after", metavar="PASS[,PASS...]|all",
                      help="print the IR after each named pass (all: after every pass), each under a "
                           "'// after PASS' line")
    dumping.add_argument("--format", choices=sorted(RENDERERS), default="text", help="IR text (default), "
                      "Graphviz DOT or JSON")
    dumping.add_argument("--emit", choices=("llvm", "asm"), help="print the native step instead of the graph: its "
                         "LLVM IR after optimization, or its host assembly (exactly what the llvm backend runs)")
    dumping.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    dumping.set_defaults(run=_dump)

    inspecting = commands.add_parser("inspect", help="print the op histogram, parameters, FLOPs, and every node's "
                                     "type, FLOPs and scope; or summarize an exported FILE.onnx or FILE.mindir")
    _add_target_arguments(inspecting)
    inspecting.add_argument("--stage", default="optimized", help="the stage to inspect (default: optimized)")
    inspecting.set_defaults(run=_inspect)

    profiling = commands.add_parser("profile", help="run TARGET's native step and write its timeline (Trace Event "
                                    "Format, for Perfetto or chrome://tracing) and its per-kernel table (CSV)")
    _add_target_arguments(profiling)
    profiling.add_argument("--steps", type=int, default=10, help="steps to run and record (default 10)")
    profiling.add_argument("-o", "--output", metavar="FILE", default="trace.json",
                           help="the trace file (default trace.json); the table goes beside it as FILE.csv")
    profiling.set_defaults(run=_profile)

    exporting = commands.add_parser("export", help="write TARGET (a Cell) in inference mode as an ONNX model, a "
                                    "MindIR file or a shared library (graphc.export; docs/export.md)")
    _add_target_arguments(exporting, pipeline=False)
    exporting.add_argument("--format", required=True, choices=sorted(FORMATS), help="the file format")
    exporting.add_argument("-o", "--output", required=True, metavar="FILE",
                           help="the file to write; the format's suffix is added unless FILE ends with it")
    exporting.add_argument("--target", dest="target_cpu", metavar="TRIPLE[:CPU]",
                           help="for --format so: the CPU to compile for (default: this machine's; docs/deploy.md)")
    exporting.set_defaults(run=_export)

    caching = commands.add_parser("cache", help="show or clear the on-disk cache of compiled code")
    caching.add_argument("action", choices=("info", "clear"))
    caching.set_defaults(run=_cache)
    return parser


def _add_target_arguments(command: argparse.ArgumentParser, pipeline: bool = True) -> None:
    command.add_argument("target", metavar="TARGET", help="file.py:object or file.ir"
                         + (" (inspect: or an exported FILE.onnx or FILE.mindir)" if pipeline else ""))
    command.add_argument("--input", action="append", default=[], metavar="NAME:TYPE",
                         help=f"a positional input of TARGET, in order, e.g. x:{EXAMPLE_TYPE} or labels:i32[32] "
                              f"(dtypes: {' '.join(d.short for d in DTYPES)})")
    if not pipeline:
        return
    command.add_argument("--pipeline", metavar="TEXT", help="the passes to run, e.g. fold,cse,dce (default: "
                         "$GRAPHC_PIPELINE, else the compiler's default); autodiff runs first where gradients are "
                         "asked for")


# -- commands ---------------------------------------------------------------------------------------
def _dump(args) -> None:
    render = RENDERERS[args.format]
    pipeline = _pipeline(args.pipeline)
    graph = load_graph(args.target, args.input)
    if args.emit:
        _write(_native_step(_stage_graphs(graph, {"optimized"}, pipeline)[0][0][1], args.emit), args.output)
        return
    if args.print_after is None:
        views, _ = _stage_graphs(graph, {args.stage}, pipeline)
        _write(render(views[-1][1]), args.output)
        return
    if args.format == "json":
        raise CliError("--print-after prints several graphs, which one JSON document cannot hold; "
                       "use --format text or dot, or --stage PASS --format json for one of them")
    names = args.print_after.split(",")
    views, _ = _stage_graphs(graph, None if "all" in names else set(names), pipeline)
    _write("".join(f"// after {stage}\n{render(g).rstrip()}\n" for stage, g in views), args.output)


def _native_step(graph: Graph, emit: str) -> str:
    """The optimized graph's step as the llvm backend compiles it, optimized IR or assembly: the
    step's module, then each of its kernels' modules."""
    from .codegen import CodegenError, emit_assembly, lower_graph, optimized_ir
    from .codegen.kernel_cache import KernelSet
    from .compiler import profiling
    try:
        lowered = lower_graph(graph, profile=profiling(), kernels=KernelSet(None, share=False))
        render = optimized_ir if emit == "llvm" else emit_assembly
        return "\n".join(render(module) for module in [lowered.module, *lowered.kernels.texts])
    except CodegenError as error:
        raise CliError(str(error)) from None


def _pipeline(text: str | None) -> str:
    """The pipeline to run: --pipeline, else the one compiled functions get; an error is a CliError."""
    try:
        if text is None:
            return chosen_pipeline()
        parse_pipeline(text)
        return text
    except ValueError as error:
        raise CliError(str(error)) from None


def _inspect(args) -> None:
    if args.target.endswith(EXPORTED):
        _inspect_exported(args)
        return
    pipeline = _pipeline(args.pipeline)
    start = time.perf_counter()
    graph = load_graph(args.target, args.input)
    seconds = {"trace": time.perf_counter() - start}
    start = time.perf_counter()
    views, report = _stage_graphs(graph, {args.stage}, pipeline)
    seconds["passes"] = time.perf_counter() - start
    sections = [f"stage {args.stage}", format_stats(graph_stats(views[-1][1]))]
    if report is not None:
        sections.append(f"pipeline\n{report}")
    if args.stage == "optimized":
        sections.append(_native_kernels(views[-1][1], seconds))
    _write("\n\n".join(sections), None)


def _inspect_exported(args) -> None:
    """The inputs, outputs, node count and parameter bytes an exported file declares (read, never run)."""
    if args.input:
        raise CliError(f"--input is for Python targets; {args.target} declares its own inputs")
    if not os.path.isfile(args.target):
        raise CliError(f"{args.target}: no such file")
    try:
        if args.target.endswith(".onnx"):
            from .export.onnx_model import summarize_onnx as summarize
        else:
            from .export.mindir import summarize_mindir as summarize
    except ImportError as error:
        raise CliError(f"{args.target} cannot be read here: {error}"
                       + (" (pip install 'graphc[onnx]')" if args.target.endswith(".onnx") else "")) from None
    summary = summarize(args.target)
    rows = [[kind, name, dtype, "[" + ",".join(map(str, shape)) + "]"]
            for kind in ("inputs", "outputs") for name, dtype, shape in summary[kind]]
    _write(f"{args.target}: {summary['format']}\n\n{table(['tensor', 'name', 'dtype', 'shape'], rows)}\n\n"
           f"nodes            {summary['nodes']}\nparameter bytes  {summary['parameter_bytes']}", None)


def _export(args) -> None:
    """Trace the Cell TARGET names on zero inputs and write it through graphc.export."""
    from .export import export
    path, _, name = args.target.rpartition(":")
    if not path.endswith(".py") or not name:
        raise CliError(f"graphc export writes a Python target, file.py:object (a Cell); got {args.target!r}")
    fn, _ = _traceable(_load_object(path, name), args.target)
    if not isinstance(fn, Cell):
        raise CliError(f"{args.target} is a function; graphc export writes a Cell (a network with parameters), "
                       "as graphc.export does")
    inputs = [_parse_input(spec) for spec in args.input]
    _check_inputs(args.target, fn, [input_name for input_name, _ in inputs])
    if args.target_cpu is not None and args.format != "so":
        raise CliError(f"--target chooses the CPU of a shared library (--format so), not of --format {args.format}")
    kwargs = {"target": args.target_cpu} if args.format == "so" else {}
    try:
        written = export(fn, *[np.zeros(t.shape, t.dtype.np) for _, t in inputs], file_name=args.output,
                         file_format=FORMATS[args.format], **kwargs)
    except ImportError as error:
        raise CliError(f"--format {args.format} cannot be written here: {error}"
                       + (" (pip install 'graphc[onnx]')" if args.format == "onnx" else "")) from None
    print(f"wrote {getattr(written, 'library', written)}")


def _native_kernels(graph: Graph, seconds: dict[str, float]) -> str:
    """The native step's kernels and where its compile time went (it is compiled, through the cache)."""
    from .codegen import CodegenError, format_kernel_list
    from .codegen.executable import compile_step
    from .codegen.profile import kernel_rows
    from .compiler import profiling
    try:
        lowered, _, report = compile_step(graph, profiling(), seconds)
    except CodegenError as error:
        return f"native kernels: none ({error})"
    return f"native kernels\n{format_kernel_list(kernel_rows(lowered.calls))}\n\ncompile\n{report.line()}"


def _profile(args) -> None:
    """Run TARGET on seeded inputs (normal floats; integers 0, a valid class label) under a Profiler:
    compiled first, then --steps recorded steps."""
    from . import context
    from .profiler import Profiler
    if args.steps < 1:
        raise CliError(f"--steps must be at least 1, got {args.steps}")
    path, _, name = args.target.rpartition(":")
    if not path.endswith(".py") or not name:
        raise CliError(f"graphc profile runs a Python target, file.py:object; got {args.target!r}")
    fn, graph_name = _traceable(_load_object(path, name), args.target)
    inputs = [_parse_input(spec) for spec in args.input]
    _check_inputs(args.target, fn, [input_name for input_name, _ in inputs])
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(t.shape).astype(t.dtype.np) if t.dtype.is_float else np.zeros(t.shape, t.dtype.np)
              for _, t in inputs]
    context.set_context(mode=context.GRAPH_MODE)
    step = fn if isinstance(fn, Cell) else JitFunction(fn, graph_name, pipeline=_pipeline(args.pipeline))
    profiler = Profiler(os.path.dirname(os.path.abspath(args.output)))
    try:
        step.compile(*arrays)
        for _ in range(args.steps):
            step(*arrays)
    finally:
        profiler.stop()
    table = os.path.splitext(args.output)[0] + ".csv"
    profiler.write_trace(args.output)
    profiler.write_kernels(table)
    print(f"{args.steps} steps of {graph_name}: timeline {args.output}, kernels {table}")


def _cache(args) -> None:
    from .codegen import machine
    if args.action == "clear":
        removed = machine.cache_clear()
        if removed["unsafe"]:
            raise CliError(f"left {removed['dir']} alone: {removed['unsafe']}")
        print(f"removed {removed['entries']} entries ({removed['bytes']} bytes) and {removed['leftovers']} "
              f"leftover files ({removed['leftover_bytes']} bytes) from {removed['dir']}")
        return
    info = machine.cache_info()
    print(f"directory {info['dir']}\nentries   {info['entries']}\nbytes     {info['bytes']}\n"
          f"leftovers {info['leftovers']} ({info['leftover_bytes']} bytes: interrupted writes, failed-compile dumps)\n"
          f"bound     {info['max_bytes']} bytes (GRAPHC_CACHE_MAX_BYTES), least recently used evicted first")
    if info["unsafe"]:
        print(f"not used: {info['unsafe']}")


def _write(text: str, path: str | None) -> None:
    """To standard output, or atomically to path (never a half-written file)."""
    text = text if text.endswith("\n") else text + "\n"
    if path is None:
        sys.stdout.write(text)
        return
    try:
        with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp",
                                         delete=False) as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror}") from None


# -- stages -------------------------------------------------------------------------------------------
def _stage_graphs(graph: Graph, wanted: set[str] | None, pipeline: str):
    """([(stage, graph then)] for each wanted stage in `pipeline`'s order, the pipeline's report or None).

    Stages are `traced`, one per pass the pipeline reports (a pass run several times gives one
    each run), and `optimized`; wanted=None wants every pass. The pipeline runs only if a stage
    after `traced` is wanted."""
    stages, views, report = [], [], None

    def visit(stage: str, current: Graph) -> None:
        stages.append(stage)
        if stage not in ("traced", "optimized") if wanted is None else stage in wanted:
            # passes mutate the graph in place, so earlier stages are copies; the last one keeps its
            # memory plan (graph.memory_plan), which the copy would lose
            views.append((stage, current if stage == "optimized" else from_json(to_json(current))))

    visit("traced", graph)
    if wanted is None or wanted - {"traced"}:
        report = run_pipeline(graph, with_required_passes(pipeline, graph), on_stage=visit,
                              ctx=pass_context("llvm", graph))
        visit("optimized", graph)
    unknown = sorted((wanted or set()) - set(stages))
    if unknown:
        raise CliError(f"unknown stage {unknown[0]!r}; the stages are: {', '.join(dict.fromkeys(stages))}")
    return views, report


# -- targets -------------------------------------------------------------------------------------------
def load_graph(target: str, input_specs: list[str]) -> Graph:
    """The graph TARGET names: read from an .ir file, or traced on zero tensors of the input types."""
    if target.endswith(".ir"):
        if input_specs:
            raise CliError(f"--input is for Python targets; {target} declares its own inputs")
        return _read_ir(target)
    path, colon, name = target.rpartition(":")
    if not colon or not path.endswith(".py") or not name:
        raise CliError(f"TARGET must be file.py:object or file.ir, got {target!r}")
    fn, graph_name = _traceable(_load_object(path, name), target)
    inputs = [_parse_input(spec) for spec in input_specs]
    _check_inputs(target, fn, [input_name for input_name, _ in inputs])
    traced = trace(fn, tuple(np.zeros(t.shape, t.dtype.np) for _, t in inputs), name=graph_name)
    for node, (input_name, _) in zip(traced.graph.inputs, inputs):
        node.attrs["name"] = input_name
    _forget_launcher_location(traced.graph)
    return traced.graph


def _forget_launcher_location(graph: Graph) -> None:
    """Nodes built by graphc's own code (a zoo model's layers) have no user line: the nearest frame
    outside graphc is then the script that launched this command, which tells the reader nothing."""
    launcher = user_location()
    for node in graph.nodes.values():
        if node.loc == launcher:
            node.loc = ""


def _read_ir(path: str) -> Graph:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    try:
        graph = parse_graph(text)
        verify(graph)
    except (ParseError, VerifyError) as error:
        raise CliError(f"{path}: {error}") from None
    return graph


def _load_object(path: str, name: str):
    """Run the file as a module (its directory importable while it loads) and fetch `name`."""
    if not os.path.isfile(path):
        raise CliError(f"{path}: no such file")
    module_name = Path(path).stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(directory)
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            candidates = ", ".join(_candidates(module)) or "nothing traceable"
            raise CliError(f"{path} has no object {name!r}; it defines: {candidates}")
        obj = getattr(obj, part)
    return obj


def _candidates(module) -> list[str]:
    """The module's names a TARGET could point at."""
    def fits(value):
        defined_here = getattr(value, "__module__", None) == module.__name__
        return isinstance(value, (Cell, JitFunction)) or (callable(value) and defined_here)
    return sorted(name for name, value in vars(module).items() if not name.startswith("_") and fits(value))


def _traceable(obj, target: str):
    """(function to trace, graph name) for what TARGET names."""
    if _is_factory(obj):
        obj = _build(obj, target)
    if isinstance(obj, Cell):
        return obj, type(obj).__name__
    if isinstance(obj, JitFunction):
        return obj.fn, obj.name
    if callable(obj) and not isinstance(obj, type):
        return obj, getattr(obj, "__name__", type(obj).__name__)
    raise CliError(f"{target} is an object of type {type(obj).__name__}; expected a Cell, a Cell class, "
                   "a factory returning a Cell, a @graphc.jit function or a function")


def _is_factory(obj) -> bool:
    """A Cell class, or a function that takes no arguments (it can have no inputs to trace)."""
    if isinstance(obj, type):
        return issubclass(obj, Cell)
    return callable(obj) and not isinstance(obj, (Cell, JitFunction)) and _takes_nothing(obj)


def _takes_nothing(fn) -> bool:
    try:
        return all(p.default is not p.empty or p.kind == p.VAR_KEYWORD for p in signature(fn).parameters.values())
    except (TypeError, ValueError):      # no signature to read (some builtins): not a factory
        return False


def _build(factory, target: str):
    if not _takes_nothing(factory):
        raise CliError(f"{target} needs arguments to be built; point TARGET at an instance or a "
                       "zero-argument factory instead")
    built = factory()
    if not isinstance(built, (Cell, JitFunction)):
        raise CliError(f"{target} takes no arguments, so it is taken for a factory, but it returned an object "
                       f"of type {type(built).__name__}, not a Cell")
    return built


_INPUT = re.compile(r"^(?P<name>[A-Za-z_]\w*):(?P<dtype>\w+)\[(?P<dims>\d+(?:,\d+)*)?\]$")


def _parse_input(spec: str) -> tuple[str, TensorType]:
    match = _INPUT.match(spec)
    dtypes = {d.short: d for d in DTYPES}
    if not match or match["dtype"] not in dtypes:
        raise CliError(f"bad --input {spec!r}: expected NAME:DTYPE[DIMS] with DTYPE one of {' '.join(dtypes)}, "
                       f"e.g. x:{EXAMPLE_TYPE}, labels:i32[32] or a scalar lr:f32[]")
    dims = tuple(int(d) for d in match["dims"].split(",")) if match["dims"] else ()
    return match["name"], TensorType(dims, dtypes[match["dtype"]])


def _check_inputs(target: str, fn, names: list[str]) -> None:
    """The --input names must be the positional parameters of the construct/function, in order."""
    parameters = signature(fn.construct if isinstance(fn, Cell) else fn).parameters.values()
    positional = [p for p in parameters if p.kind in (Argument.POSITIONAL_ONLY, Argument.POSITIONAL_OR_KEYWORD)]
    variadic = next((p.name for p in parameters if p.kind == Argument.VAR_POSITIONAL), None)
    takes = ", ".join([p.name for p in positional] + ([f"*{variadic}"] if variadic else [])) or "no inputs"
    required = [p.name for p in positional if p.default is p.empty] or ([variadic] if variadic else [])
    if len(names) < len(required):
        missing = required[len(names)]
        raise CliError(f"{target} takes inputs ({takes}) but {len(names)} --input flag(s) were given; "
                       f"give each input's name and type, e.g. --input {missing}:{EXAMPLE_TYPE}")
    if len(names) > len(positional) and not variadic:
        raise CliError(f"{target} takes {len(positional)} input(s) ({takes}) but {len(names)} --input flags were given")
    for position, (given, parameter) in enumerate(zip(names, positional)):
        if given != parameter.name:
            raise CliError(f"--input {position + 1} is named {given!r} but {target} takes ({takes}); "
                           f"inputs are given in order, so it should be {parameter.name!r}")
