"""Global execution settings (MindSpore's set_context and set_auto_parallel_context) and the seeded
random source."""
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
_VALID = {"mode": (GRAPH_MODE, PYNATIVE_MODE), "backend": ("llvm", "interp"), "device_target": ("CPU",)}
_CHECKS: dict[str, Callable] = {}   # setting -> check(value), raising ValueError; added by the layers above


def add_setting_check(key: str, check: Callable) -> None:
    """Let a layer above this one validate a setting it interprets (the driver checks `pipeline`)."""
    _CHECKS[key] = check


def set_context(**settings) -> None:
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
        _context[key] = value


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


def set_seed(seed: int) -> None:
    """Seed parameter initialisation (and every other graphc random source)."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng
