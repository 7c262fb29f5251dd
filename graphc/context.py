"""Global execution settings (MindSpore's set_context) and the seeded random source."""
from __future__ import annotations

import functools
import os
from typing import Callable

import numpy as np

GRAPH_MODE = 0
PYNATIVE_MODE = 1

_DEFAULTS = {
    "mode": GRAPH_MODE,
    "backend": "llvm",
    "num_threads": None,        # None: all cores (or GRAPHC_NUM_THREADS)
    "save_graphs": False,
    "save_graphs_path": ".",
    "profile": False,
    "device_target": "CPU",
    "pipeline": None,           # None: GRAPHC_PIPELINE, else the default pipeline
}
_context = dict(_DEFAULTS)
# The settings a compiled function is built under: after set_context changes one, graphc.jit rebuilds
# the function at its next call and logs which setting changed. num_threads is not one of them:
# a native executable applies it on every call.
COMPILE_SETTINGS = ("backend", "pipeline", "save_graphs", "save_graphs_path", "profile")
_compile_generation = 0     # bumped whenever set_context changes a compile setting
_VALID = {"mode": (GRAPH_MODE, PYNATIVE_MODE), "backend": ("llvm", "interp"), "device_target": ("CPU",)}
_CHECKS: dict[str, Callable] = {}   # setting -> check(value), raising ValueError; added by the layers above


def add_setting_check(key: str, check: Callable) -> None:
    """Let a layer above this one validate a setting it interprets (the driver checks `pipeline`)."""
    _CHECKS[key] = check


def set_context(**settings) -> None:
    global _compile_generation
    for key, value in settings.items():
        if key not in _context:
            raise ValueError(f"set_context: unknown setting {key!r}; valid settings: {', '.join(sorted(_context))}")
        if key in _VALID and value not in _VALID[key]:
            raise ValueError(f"set_context: {key}={value!r} is not one of {_VALID[key]}")
        if key == "num_threads" and value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"set_context: num_threads must be a positive int or None, got {value!r}")
        if key in _CHECKS:
            try:
                _CHECKS[key](value)
            except ValueError as error:
                raise ValueError(f"set_context: {key}: {error}") from None
        if key in COMPILE_SETTINGS and _context[key] != value:
            _compile_generation += 1
        _context[key] = value


def compile_generation() -> int:
    """Changes whenever a compile setting does: a cheap test for "are my executables current?"."""
    return _compile_generation


def compile_settings(**overrides) -> dict:
    """The compile settings in force, with the non-None `overrides` (a function's own backend=...)."""
    return {key: overrides[key] if overrides.get(key) is not None else _context[key] for key in COMPILE_SETTINGS}


def get_context(key: str):
    if key not in _context:
        raise ValueError(f"get_context: unknown setting {key!r}; valid settings: {', '.join(sorted(_context))}")
    return _context[key]


def num_threads() -> int:
    """Threads for native steps: set_context(num_threads=N), else GRAPHC_NUM_THREADS, else all cores.
    Read on every native call, so it must stay cheap."""
    n = _context["num_threads"] or int(os.environ.get("GRAPHC_NUM_THREADS", "0")) or _cores()
    return max(1, n)


@functools.lru_cache(maxsize=None)
def _cores() -> int:
    """os.cpu_count() reads /sys on Linux (about 7 us): once per process is enough."""
    return os.cpu_count() or 1


_rng = np.random.default_rng(0)


def set_seed(seed: int) -> None:
    """Seed parameter initialisation (and every other graphc random source)."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng
