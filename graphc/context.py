"""Global execution settings (MindSpore's set_context and set_auto_parallel_context) and the seeded
random source."""
from __future__ import annotations

import functools
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import env
from .errors import ArgumentError
from .faces import lookup as _lookup

GRAPH_MODE = 0
PYNATIVE_MODE = 1

log = logging.getLogger("graphc.context")
__getattr__ = _lookup(__name__)      # mindspore.context's APIs that graphc lacks are named as such


@dataclass(frozen=True)
class Setting:
    """One set_context key: its default, its check (None when a value is valid, else what is wrong
    with it), and, for keys graphc accepts but does not act on, why."""
    default: Any
    check: Callable[[Any], str | None]
    ignored: str = ""


def _one_of(*choices) -> Callable[[Any], str | None]:
    return lambda value: None if any(value == c and type(value) is type(c) for c in choices) else \
        f"expected one of {', '.join(map(repr, choices))}"


def _int_at_least(minimum: int, none_ok: bool = False) -> Callable[[Any], str | None]:
    def check(value):
        if (value is None and none_ok) or (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
            return None
        return f"expected an int >= {minimum}" + (" or None" if none_ok else "")
    return check


def _instance(*types) -> Callable[[Any], str | None]:
    return lambda value: None if isinstance(value, types) else "expected a " + " or ".join(t.__name__ for t in types)


def _device_target(value) -> str | None:
    if value == "CPU":
        return None
    if value in ("GPU", "Ascend"):
        return f"graphc compiles for the CPU it runs on, and has no {value} backend; remove device_target or " \
               "set it to 'CPU'"
    return "expected 'CPU'"


def _save_graphs(value) -> str | None:
    return None if isinstance(value, bool) or value in (0, 1, 2, 3) else \
        "expected a bool or an int 0-3 (MindSpore 2.x levels)"


SETTINGS: dict[str, Setting] = {
    "mode": Setting(GRAPH_MODE, _one_of(GRAPH_MODE, PYNATIVE_MODE)),
    "backend": Setting("llvm", _one_of("llvm", "interp")),
    "num_threads": Setting(None, _int_at_least(1, none_ok=True)),   # None: GRAPHC_NUM_THREADS, else all cores
    "save_graphs": Setting(False, _save_graphs),
    "save_graphs_path": Setting(".", _instance(str)),
    "profile": Setting(False, _instance(bool)),
    # how much compiled code stays in memory (docs/codegen.md §2):
    "executable_cache_size": Setting(8, _int_at_least(1)),     # executables (input signatures) per function or Cell
    "kernel_cache_bytes": Setting(64 << 20, _int_at_least(0)),   # object code of the process's kernels and steps
    "device_target": Setting("CPU", _device_target),
    # MindSpore keys a CPU script passes, accepted (and validated) so it runs unchanged:
    "device_id": Setting(0, _int_at_least(0), "graphc uses the host CPU; there is one device"),
    "max_call_depth": Setting(1000, _int_at_least(1), "tracing inlines every call, so no call depth limit applies"),
    "enable_graph_kernel": Setting(False, _instance(bool), "graphc always fuses kernels (the fuse pass)"),
    "enable_compile_cache": Setting(False, _instance(bool),
                                    "graphc always caches compiled code (on disk under GRAPHC_CACHE_DIR)"),
    "compile_cache_path": Setting(".", _instance(str), "the compile cache lives under GRAPHC_CACHE_DIR"),
    "reserve_class_name_in_scope": Setting(True, _instance(bool), "scopes are attribute paths (backbone.conv1)"),
    "pynative_synchronize": Setting(False, _instance(bool), "PYNATIVE_MODE always runs synchronously"),
    "enable_reduce_precision": Setting(True, _instance(bool), "graphc computes in the dtypes it is given"),
    "memory_optimize_level": Setting("O0", _one_of("O0", "O1"), "the memory plan always reuses buffers"),
    # checked by the driver, which interprets it (add_setting_check):
    "pipeline": Setting(None, lambda value: None),   # None: GRAPHC_PIPELINE, else the default pipeline
}
_context = {key: setting.default for key, setting in SETTINGS.items()}
# The settings a compiled function is built under: after set_context changes one, graphc.jit rebuilds
# the function at its next call and logs which setting changed. num_threads is not one of them:
# a native executable applies it on every call.
COMPILE_SETTINGS = ("backend", "pipeline", "save_graphs", "save_graphs_path", "profile")
_compile_generation = 0     # bumped whenever set_context changes a compile setting


def add_setting_check(key: str, check: Callable[[Any], None]) -> None:
    """Let a layer above this one validate a setting it interprets (the driver checks `pipeline`):
    check(value) raises ValueError saying what is wrong."""
    def problem(value) -> str | None:
        try:
            check(value)
        except ValueError as error:
            return str(error)
        return None
    SETTINGS[key] = Setting(SETTINGS[key].default, problem, SETTINGS[key].ignored)


def set_context(**settings) -> None:
    """Set execution settings. Every argument is checked before any is applied, so an error
    leaves the context unchanged. Keys whose Setting has `ignored` are accepted for MindSpore
    scripts and have no effect (docs/mindspore.md lists them and why)."""
    global _compile_generation
    for key, value in settings.items():
        setting = SETTINGS.get(key)
        if setting is None:
            raise ArgumentError(f"set_context: unknown setting {key!r}; valid settings: {', '.join(sorted(SETTINGS))}")
        problem = setting.check(value)
        if problem is not None:
            raise ArgumentError(f"set_context: {key}={value!r} is not valid: {problem}")
    for key in settings:
        if SETTINGS[key].ignored:
            log.info("set_context: %s is accepted and has no effect: %s", key, SETTINGS[key].ignored)
    if any(key in COMPILE_SETTINGS and _context[key] != value for key, value in settings.items()):
        _compile_generation += 1
    _context.update(settings)


def compile_generation() -> int:
    """Changes whenever a compile setting does: a cheap test for "are my executables current?"."""
    return _compile_generation


def compile_settings(**overrides) -> dict:
    """The compile settings in force, with the non-None `overrides` (a function's own backend=...)."""
    return {key: overrides[key] if overrides.get(key) is not None else _context[key] for key in COMPILE_SETTINGS}


def get_context(key: str):
    if key not in _context:
        raise ArgumentError(f"get_context: unknown setting {key!r}; valid settings: {', '.join(sorted(_context))}")
    return _context[key]


def num_threads() -> int:
    """Threads for native steps: set_context(num_threads=N), else GRAPHC_NUM_THREADS, else every core.
    More threads than cores are capped at the cores (threads with no core stall every barrier of
    the step), with a warning, unless GRAPHC_ALLOW_OVERSUBSCRIBE is on. Read on every native call,
    so it must stay cheap."""
    asked = _context["num_threads"] or env.get("GRAPHC_NUM_THREADS")
    if asked is None:
        return cores()
    if asked <= cores() or env.get("GRAPHC_ALLOW_OVERSUBSCRIBE"):
        return asked
    if asked not in _capped:
        _capped.add(asked)
        source = "set_context(num_threads=...)" if _context["num_threads"] else "GRAPHC_NUM_THREADS"
        warnings.warn(f"graphc: {asked} threads asked for by {source}, but this process may use {cores()} cores; "
                      f"using {cores()}, since threads beyond the cores wait for one another at every barrier of a "
                      f"step. Set GRAPHC_ALLOW_OVERSUBSCRIBE=1 to run {asked} anyway", RuntimeWarning, stacklevel=2)
    return cores()


_capped: set[int] = set()     # thread counts already warned about


@functools.lru_cache(maxsize=None)
def cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or taskset may narrow),
    looked up once per process: num_threads() asks on every native call."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ParallelMode:
    """MindSpore's parallel modes; graphc trains stand-alone or data-parallel."""
    STAND_ALONE = "stand_alone"
    DATA_PARALLEL = "data_parallel"
    SEMI_AUTO_PARALLEL = "semi_auto_parallel"
    AUTO_PARALLEL = "auto_parallel"
    HYBRID_PARALLEL = "hybrid_parallel"


_PARALLEL_DEFAULTS = {
    "parallel_mode": ParallelMode.STAND_ALONE,
    "gradients_mean": False,        # MindSpore's default: sum; the tutorials set True (average)
    "device_num": None,             # None: the process group's size (graphc.communication)
    "global_rank": None,            # None: this process's rank in it
}
_parallel = dict(_PARALLEL_DEFAULTS)


def set_auto_parallel_context(**settings) -> None:
    """MindSpore's set_auto_parallel_context: parallel_mode (ParallelMode.STAND_ALONE or DATA_PARALLEL),
    gradients_mean (average the gradients across ranks rather than sum them), device_num and
    global_rank (checked against the process group; they default to it)."""
    for key, value in settings.items():
        if key not in _parallel:
            raise ValueError(f"set_auto_parallel_context: unknown setting {key!r}; valid settings: "
                             f"{', '.join(sorted(_parallel))}")
        if key == "parallel_mode" and value not in (ParallelMode.STAND_ALONE, ParallelMode.DATA_PARALLEL):
            raise ValueError(f"set_auto_parallel_context: parallel_mode={value!r} is not supported; graphc trains "
                             "ParallelMode.STAND_ALONE or ParallelMode.DATA_PARALLEL")
        if key == "gradients_mean" and not isinstance(value, bool):
            raise ValueError(f"set_auto_parallel_context: gradients_mean must be True or False, got {value!r}")
        if key in ("device_num", "global_rank") and value is not None and \
                (not isinstance(value, int) or isinstance(value, bool) or value < (key == "device_num")):
            raise ValueError(f"set_auto_parallel_context: {key} must be a{' positive' if key == 'device_num' else ''} "
                             f"int or None, got {value!r}")
    _parallel.update(settings)


def get_auto_parallel_context(key: str):
    if key not in _parallel:
        raise ValueError(f"get_auto_parallel_context: unknown setting {key!r}; valid settings: "
                         f"{', '.join(sorted(_parallel))}")
    return _parallel[key]


def reset_auto_parallel_context() -> None:
    _parallel.clear()
    _parallel.update(_PARALLEL_DEFAULTS)


_rng = np.random.default_rng(0)
_seed = None


def set_seed(seed: int) -> None:
    """Seed parameter initialisation, every other graphc random source, and, as MindSpore does, NumPy's
    global generator (model-zoo code draws initial weights with np.random)."""
    global _rng, _seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"set_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ArgumentError(f"set_seed: seed must be >= 0, got {seed}")
    _rng, _seed = np.random.default_rng(seed), seed
    np.random.seed(seed)


def get_seed() -> int | None:
    """The seed of the last set_seed call (None before any), as MindSpore's get_seed."""
    return _seed


def rng() -> np.random.Generator:
    return _rng
