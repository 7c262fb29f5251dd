"""MindSpore 2.10's recorded answers (tests/mindspore_reference/), and calls in both graphc modes."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

import graphc
from graphc import Tensor

REFERENCE = Path(__file__).resolve().parent / "mindspore_reference"


@cache
def recorded(name: str) -> dict:
    """The facts tests/mindspore_reference/record_<name>.py wrote into <name>.json."""
    return json.loads((REFERENCE / f"{name}.json").read_text())


def graphc_dtype(mindspore_name: str):
    """graphc's dtype for MindSpore's printed name ('Float32', 'Bool')."""
    return graphc.bool_ if mindspore_name == "Bool" else getattr(graphc, mindspore_name.lower())


def tensor(value, dtype: str) -> Tensor:
    return Tensor(np.array(value), dtype=graphc_dtype(dtype.capitalize() if dtype != "bool" else "Bool"))


def in_mode(mode, fn, *tensors):
    """fn(*tensors) eagerly (PYNATIVE_MODE) or compiled to native code (GRAPH_MODE)."""
    graphc.set_context(mode=mode)
    return fn(*tensors) if mode == graphc.PYNATIVE_MODE else graphc.jit(fn)(*tensors)


def assert_matches(got, output, out_dtype, rtol=1e-5, atol=1e-6):
    """A graphc result (a Tensor or a tuple of them) against a recorded output and dtype."""
    results = got if isinstance(got, tuple) else (got,)
    assert len(results) == len(output)
    for result, want, dtype in zip(results, output, out_dtype):
        assert result.dtype == graphc_dtype(dtype), f"dtype {result.dtype} vs MindSpore's {dtype}"
        np.testing.assert_allclose(result.asnumpy().astype(np.float64), np.array(want, np.float64),
                                   rtol=rtol, atol=atol)


def assert_same(got, want, where="result", tolerance=1e-6):
    """A program's printed results equal MindSpore's recorded ones: float values within `tolerance`
    (relative and absolute: float32 round-off, accumulated over training steps where there are
    some), everything else (names, shapes, counts, dtype names, flags) exactly."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}", tolerance)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: graphc {got} != MindSpore {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]", tolerance)
    elif isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and not isinstance(got, bool) and \
            np.isclose(got, want, rtol=tolerance, atol=tolerance), f"{where}: graphc {got} != MindSpore {want}"
    else:
        assert got == want and type(got) is type(want), f"{where}: graphc {got!r} != MindSpore {want!r}"
