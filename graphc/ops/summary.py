"""Summary ops: MindSpore's `ops.ScalarSummary()('loss', loss)` and its kin, and where their values go.

`summary(value, kind=, name=)` is one op whose result is its operand. Traced, the driver makes
every summary node an extra output of the graph (graphc/jit.py), so no pass removes it (DCE keeps
what reaches an output) and the native step leaves its value where outputs are, with no Python
call inside the step; the driver then hands the values to `deliver`. It is not `impure`: graphc's
one impure op writes a Parameter, and the binder and the verifier read `impure` as that. Eagerly,
the primitive hands its value over at once. `deliver` keeps the latest value per name only while
some recorder listens (`listen`: an open SummaryRecord, which takes them at its next record()); with
none, the values are dropped. A name keeps its kind for the whole process: TensorBoard shows one tag
with one kind.
"""
from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from ..types import TensorType
from .core import ELEMENTWISE, Op, OpError, no_flops, register, tracing
from .primitives import Primitive

__all__ = ["HistogramSummary", "ImageSummary", "ScalarSummary", "TensorSummary", "summary"]

KINDS = ("scalar", "tensor", "histogram", "image")


def _infer_summary(x: TensorType, kind: str, name: str) -> TensorType:
    if kind not in KINDS:
        raise OpError(f"kind={kind!r} is not a summary kind; expected one of {', '.join(KINDS)}")
    if kind == "scalar" and x.size != 1:
        raise OpError(f"ScalarSummary {name!r} records one number, got {x}; reduce it first "
                      "(e.g. ops.mean) or record it with ops.TensorSummary / ops.HistogramSummary")
    if kind == "image" and (len(x.shape) != 4 or x.shape[1] not in (1, 3, 4)):
        raise OpError(f"ImageSummary {name!r} records a batch of images [N, C, H, W] with 1, 3 or 4 channels, "
                      f"got {x}")
    if not x.dtype.is_float and kind in ("histogram", "image"):
        raise OpError(f"{kind} summary {name!r} needs floats, got {x}; cast it to float32")
    return x


summary = register(Op("summary", ("x",), _infer_summary, lambda x, kind, name: x, ELEMENTWISE,
                      attrs={"kind": "scalar", "name": ""}, lower=lambda e, x, kind, name: x,
                      vjp=lambda ct, x, out, kind, name: (ct,),
                      flops=no_flops, samples=lambda rng: [([rng.standard_normal(())], {"name": "s"}),
                                                           ([rng.standard_normal((2, 3))], {"kind": "histogram",
                                                                                            "name": "h"})],
                      doc="records x under `name` as a summary of `kind`; returns x"))

_kinds: dict[str, str] = {}          # name -> the kind it was first used with
_listeners = 0
_latest: dict[str, tuple[str, np.ndarray]] = {}


def check_name(kind: str, name) -> None:
    if not isinstance(name, str) or not name:
        raise ArgumentError(f"a {kind} summary needs a non-empty str name, got {name!r}")
    if _kinds.setdefault(name, kind) != kind:
        raise ArgumentError(f"summary name {name!r} is already used by a {_kinds[name]} summary and cannot also "
                            f"name a {kind} summary; give this one another name")


class _Summary(Primitive):
    inputs = ("name", "value")
    kind = ""

    def compute(self, name, value):
        check_name(self.kind, name)
        out = summary(value, kind=self.kind, name=name)
        if not tracing():
            deliver([(self.kind, name)], [out.asnumpy()])


class ScalarSummary(_Summary):
    """Records a one-element tensor (a loss, a learning rate) as a scalar curve."""
    kind = "scalar"


class TensorSummary(_Summary):
    """Records a whole tensor."""
    kind = "tensor"


class HistogramSummary(_Summary):
    """Records the distribution of a tensor's values."""
    kind = "histogram"


class ImageSummary(_Summary):
    """Records a batch of images [N, C, H, W]."""
    kind = "image"


def deliver(tags: list[tuple[str, str]], values: list[np.ndarray]) -> None:
    """Keep the values of one step's summaries (kind, name) while a recorder listens."""
    if _listeners:
        for (kind, name), value in zip(tags, values):
            _latest[name] = (kind, value)


def take() -> dict[str, tuple[str, np.ndarray]]:
    """The summaries delivered since the last take: name -> (kind, value)."""
    values = dict(_latest)
    _latest.clear()
    return values


def listen(on: bool) -> None:
    """A recorder starts (True) or stops (False) keeping delivered values; recorders nest."""
    global _listeners
    _listeners += 1 if on else -1
    if not _listeners:
        _latest.clear()
