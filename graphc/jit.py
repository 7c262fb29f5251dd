"""Graph mode: trace a function (or a Cell's construct) once per input signature, compile, run.

The cache key is (argument structure and static values, input types). Each recompile is logged
with the part of the key that changed, so silent retracing never happens. A function keeps the
executables of its `set_context(executable_cache_size=...)` most recently used signatures (8 by
default); an older one is dropped with its arena and built again if it comes back (traced and
optimized again; its kernels' object code comes from the caches that still hold it).
"""
from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np

from . import context
from .autograph import convert
from .compiler import check_pipeline, compile_graph
from .errors import ArgumentError, GraphcError
from .ir import Graph
from .ir.control import is_control, regions
from .lru import LRU
from .ops import summary  # the module: graphc.ops exports no op of that name
from .pytree import flatten, unflatten
from .tracing import Tensor, Trace, current_trace, set_graph_function, symbolic, tracing, wrap_array
from .types import TensorType, type_of

log = logging.getLogger("graphc.jit")


def _is_array(x) -> bool:
    return isinstance(x, (Tensor, np.ndarray))


@dataclass
class Traced:
    graph: Graph
    params: dict          # param name -> Parameter
    out_treedef: object


@dataclass(frozen=True)
class Outputs:
    """What a compiled graph's outputs are: the function's results (their structure), then the
    values of its summaries, (kind, name) each."""
    treedef: object
    summaries: list


def trace(fn, args: tuple, kwargs: dict | None = None, name: str = "main") -> Traced:
    """Trace fn on the tensors in (args, kwargs); each one becomes an `input` node."""
    leaves, treedef = flatten((tuple(args), dict(kwargs or {})), _is_array)
    return trace_flat(fn, treedef, [_type(x) for x in leaves], name)


def trace_flat(fn, treedef, types: list[TensorType], name: str) -> Traced:
    """Trace fn, its Python control flow over tensors made graph control flow (autograph.py)."""
    fn = convert(fn)
    t = Trace(name)
    with tracing(t):
        inputs = [symbolic(t.graph.add("input", (), {"name": f"arg{i}", "index": i, "type": ty}, ty))
                  for i, ty in enumerate(types)]
        args, kwargs = unflatten(treedef, inputs)
        result = fn(*args, **kwargs)
        outputs, out_treedef = flatten(result, lambda x: isinstance(x, Tensor))
        t.graph.outputs = [t.node_of(out) for out in outputs]
    return Traced(t.graph, t.params, out_treedef)


def summaries_as_outputs(graph: Graph) -> list[tuple[str, str]]:
    """Make the summary nodes the graph's last outputs (so the step leaves their values where the
    caller reads outputs); their (kind, name)s."""
    _refuse_summaries_in_regions(graph)
    summaries = [node for node in graph.order() if node.op == "summary"]
    graph.outputs = graph.outputs + summaries
    return [(node.attrs["kind"], node.attrs["name"]) for node in summaries]


def _refuse_summaries_in_regions(graph: Graph) -> None:
    """A loop or branch body's values never leave it, so a summary there could not be recorded."""
    for node in graph.order():
        for region in regions(node) if is_control(node) else ():
            inner = next((n for n in region.order() if n.op == "summary"), None)
            if inner is not None:
                raise GraphcError(f"summary {inner.attrs['name']!r} is inside a loop or branch on a tensor "
                                  f"({node.op}), whose values stay inside it; record the value after the "
                                  "loop or branch, carried out as one of its results", loc=inner.loc)
            _refuse_summaries_in_regions(region)


def _type(x) -> TensorType:
    return x.type if isinstance(x, Tensor) else type_of(np.asarray(x))


def _array(x) -> np.ndarray:
    if isinstance(x, Tensor):
        if x.is_symbolic:
            raise GraphcError("a traced tensor was passed to a compiled function from outside its trace")
        x = x.asnumpy()
    return np.asarray(x, order="C")     # not ascontiguousarray: it turns a 0-d array into shape [1]


def _positional_arrays(args: tuple) -> tuple[tuple | None, list | None]:
    """For calls whose arguments are all concrete Tensors or arrays: ((shape, dtype) per argument,
    the arrays), a cheaper cache key than flattening; (None, None) for any other call."""
    arrays = []
    for x in args:
        array = x if type(x) is np.ndarray else x._data if isinstance(x, Tensor) and x._node is None else None
        if array is None:
            return None, None
        arrays.append(array)
    return tuple((a.shape, a.dtype) for a in arrays), arrays


def _describe_change(old, new) -> str:
    (old_tree, old_types, old_modes), (new_tree, new_types, new_modes) = old, new
    if old_modes != new_modes:
        return "set_train changed the training mode of its cells"
    if old_tree != new_tree:
        return _tree_change(old_tree[1][0], new_tree[1][0], "argument") or \
            _tree_change(old_tree[1][1], new_tree[1][1], "keyword") or "argument structure changed"
    changes = [f"input {i}: {a} -> {b}" for i, (a, b) in enumerate(zip(old_types, new_types)) if a != b]
    return "; ".join(changes) or "input count changed"


def _tree_change(old, new, where: str) -> str | None:
    """The first difference between two treedefs (see pytree.flatten), named by its path."""
    if old == new:
        return None
    if old[0] != new[0] or old[0] == "*":
        what = {"*": "a tensor", "static": "a static value", "dict": "a dict"}
        return f"{where} changed from {what.get(old[0], 'a ' + old[0])} to {what.get(new[0], 'a ' + new[0])}"
    if old[0] == "static":
        return f"static {where} changed: {old[1]!r} -> {new[1]!r}"
    keys = (old[1], new[1]) if old[0] == "dict" else (range(len(old[1])), range(len(new[1])))
    children = (old[2], new[2]) if old[0] == "dict" else (old[1], new[1])
    if list(keys[0]) != list(keys[1]):
        return f"{where} changed its {'keys' if old[0] == 'dict' else 'length'}: " \
               f"{list(keys[0]) if old[0] == 'dict' else len(children[0])} -> " \
               f"{list(keys[1]) if old[0] == 'dict' else len(children[1])}"
    for key, a, b in zip(keys[0], *children):
        label = f"{where} {key!r}" if isinstance(key, str) else f"{where} {key}"
        found = _tree_change(a, b, label if where in ("argument", "keyword") else f"{where}[{key!r}]")
        if found:
            return found
    return None


def _check_backend(backend: str | None) -> None:
    """None (the context's backend) or one set_context accepts."""
    problem = None if backend is None else context.SETTINGS["backend"].check(backend)
    if problem:
        raise ArgumentError(f"jit: backend={backend!r} is not valid: {problem} (or None: the context's backend)")


class JitFunction:
    def __init__(self, fn, name: str | None = None, owner=None, backend: str | None = None,
                 pipeline: str | None = None):
        check_pipeline(pipeline)
        _check_backend(backend)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "fn")
        self.owner = owner
        self.backend = backend
        self.pipeline = pipeline      # None: the context's choice (compiler.chosen_pipeline)
        # Executables by signature number (a number, not the key, since it is looked up on every call
        # and a key's TensorTypes hash in Python): number -> (executable, Outputs).
        self._cache = LRU(lambda: context.get_context("executable_cache_size"))
        self._numbers: dict = {}      # key -> number
        self._by_arrays: dict = {}    # the common case, positional arrays only: ((shape, dtype)s, modes) -> number
        self._count = itertools.count()
        self._last_key = None
        self._built_under = None      # the compile settings (context.py) the cached executables were built under
        self._generation = None       # context.compile_generation() when they were last checked
        self._modes = (None, None)    # (Cell mode version, owner's training modes) when last read

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        bound = instance.__dict__.get(f"_jit_{self.name}")
        if bound is None:
            bound = JitFunction(self.fn.__get__(instance, cls), self.name, instance, self.backend, self.pipeline)
            instance.__dict__[f"_jit_{self.name}"] = bound
        return bound

    def __call__(self, *args, **kwargs):
        if current_trace() is not None:          # inside another trace: inline
            return convert(self.fn)(*args, **kwargs)
        if self._generation != context.compile_generation():
            self._check_settings()
        key, arrays = _positional_arrays(args) if not kwargs else (None, None)
        modes = self._training_modes()
        entry = self._cache.get(self._by_arrays.get((key, modes)))
        if entry is None:
            number, entry, arrays = self._entry(args, kwargs)
            if key is not None:
                self._by_arrays[(key, modes)] = number
        outputs, named = entry[0](arrays), entry[1]
        if named.summaries:                       # the summaries' values come last
            summary.deliver(named.summaries, outputs[-len(named.summaries):])
            outputs = outputs[:-len(named.summaries)]
        return unflatten(named.treedef, [wrap_array(out) for out in outputs])

    def compile(self, *args, **kwargs):
        """Trace and compile for these arguments without running (MindSpore's Cell.compile); return
        the executable, whose `graph` is the optimized graph."""
        self._check_settings()
        return self._entry(args, kwargs)[1][0]

    def _check_settings(self) -> None:
        """Executables are built under the compile settings (backend, pipeline, save_graphs, ...):
        after set_context changes one of them, they are rebuilt, and the log says which changed."""
        self._generation = context.compile_generation()
        settings = context.compile_settings(backend=self.backend, pipeline=self.pipeline)
        if settings != self._built_under:
            if self._built_under is not None and self._cache:
                changes = "; ".join(f"{key} {self._built_under[key]!r} -> {value!r}" for key, value in settings.items()
                                    if value != self._built_under[key])
                log.info("recompiling %s: set_context changed %s", self.name, changes)
            self._cache.clear()
            self._numbers.clear()
            self._by_arrays.clear()
            self._last_key, self._built_under = None, settings

    def _entry(self, args, kwargs):
        leaves, treedef = flatten((args, kwargs), _is_array)
        arrays = [_array(x) for x in leaves]
        key = (treedef, tuple(type_of(a) for a in arrays), self._training_modes())
        entry = self._cache.get(self._numbers.get(key))
        if entry is None:
            entry = self._compile(key, treedef)
        return self._numbers[key], entry, arrays

    def _compile(self, key, treedef):
        if self._last_key is not None:
            log.info("recompiling %s: %s", self.name, _describe_change(self._last_key, key))
        start = time.perf_counter()
        traced = trace_flat(self.fn, treedef, list(key[1]), self.name)
        named = Outputs(traced.out_treedef, summaries_as_outputs(traced.graph))
        entry = (compile_graph(traced.graph, traced.params, self.backend, self.pipeline,
                               trace_seconds=time.perf_counter() - start), named)
        limit = context.get_context("executable_cache_size")
        if len(self._cache) >= limit:
            log.info("%s keeps the executables of its %d most recently used input signatures "
                     "(set_context(executable_cache_size=...)): dropping the oldest", self.name, limit)
        self._numbers[key] = number = next(self._count)
        self._cache[number] = entry
        self._numbers = {key: number for key, number in self._numbers.items() if number in self._cache}
        self._by_arrays = {alias: number for alias, number in self._by_arrays.items() if number in self._cache}
        self._last_key = key
        return entry

    def _training_modes(self) -> tuple | None:
        """The owner Cell's training flags (set_train changes what batch norm and dropout trace to),
        re-read only after some set_train call."""
        if self.owner is None or not hasattr(self.owner, "training_modes"):
            return None
        version = self.owner.modes_version()
        if self._modes[0] != version:
            self._modes = (version, self.owner.training_modes())
        return self._modes[1]

    def lower(self, *args, **kwargs) -> Traced:
        """The traced graph for these arguments (for inspection), without compiling it."""
        return trace(self.fn, args, kwargs, self.name)


def jit(function=None, *, backend: str | None = None, pipeline: str | None = None):
    """Compile a function into a graph on first call per input signature (also as @jit on construct).
    `function` is MindSpore 2.x's name for it: jit(fn), jit(function=fn) and @jit are the same.

    `pipeline` is the pass pipeline as text (e.g. "fold,cse,dce"); None takes the context's choice.
    Autodiff runs first wherever gradients are asked for, whatever the pipeline."""
    if function is None:
        return lambda f: JitFunction(f, backend=backend, pipeline=pipeline)
    return JitFunction(function, backend=backend, pipeline=pipeline)


set_graph_function(JitFunction)
