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
