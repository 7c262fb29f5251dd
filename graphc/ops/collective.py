"""Collective ops (DESIGN.md §5a): values combined across the ranks of a data-parallel job.

`allreduce(x, ranks=N)` is the elementwise sum of x over N processes, each holding its own x; on
one rank it is x. The op knows nothing about MPI: the layer above (graphc.communication) registers
a *transport*, an object with `size`, `allreduce(array)` (sum into the array, in place),
`allgather(value)` (every rank's value, in rank order) and `abort(reason)`. The NumPy reference uses it
here, the native step calls back into it (codegen/executable.py), and the driver checks through it
that every rank compiled the same step (compiler.py).
"""
from __future__ import annotations

import numpy as np

from ..types import TensorType
from .core import OPAQUE, Op, OpError, register

__all__ = ["allreduce", "set_transport", "transport"]

_transport = None


def set_transport(transport) -> None:
    """Install (or, with None, remove) the process group's transport."""
    global _transport
    _transport = transport


def transport(ranks: int):
    """The registered transport, checked to span `ranks` processes."""
    if _transport is None:
        raise RuntimeError(f"this graph sums across {ranks} ranks but no process group is set up; call "
                           "graphc.communication.init() in every process of the job (launched by mpiexec)")
    if _transport.size != ranks:
        raise RuntimeError(f"this graph was traced for {ranks} ranks but the job has {_transport.size}; "
                           "trace it again in this job")
    return _transport


def _infer_allreduce(x, op, ranks):
    if op != "sum":
        raise OpError(f"op={op!r} is not supported; allreduce sums ('sum')")
    if ranks < 1:
        raise OpError(f"ranks must be a positive int, got {ranks}")
    if not x.dtype.is_float:
        raise OpError(f"allreduce sums floats, got {x}; cast to float32 first")
    return x


def _allreduce_ref(x, op, ranks):
    if ranks == 1:
        return x
    summed = np.array(x, copy=True)
    transport(ranks).allreduce(summed)
    return summed


def _ring_additions(out: TensorType, x: TensorType, op, ranks) -> int:
    """Additions one rank makes in a ring allreduce: (N - 1) / N of the elements."""
    return x.size * (ranks - 1) // ranks


allreduce = register(Op(
    "allreduce", ("x",), _infer_allreduce, _allreduce_ref, OPAQUE,
    attrs={"op": "sum", "ranks": 1}, canon=lambda a: {"op": str(a["op"]), "ranks": int(a["ranks"])},
    # every rank's output is the same sum, so the adjoint of summing is summing the cotangents
    vjp=lambda ct, x, out, op, ranks: (allreduce(ct, op=op, ranks=ranks),),
    lower=lambda k, x, out, op, ranks: k.allreduce(x, out, ranks=ranks),
    flops=_ring_additions,
    half=False,     # the transport sums float32 (MPI has no bfloat16 sum); amp keeps gradients float32
    samples=lambda rng: [([rng.standard_normal((7,))], {}), ([rng.standard_normal((2, 3))], {"ranks": 1})],
    doc="the sum of x over the `ranks` processes of the job (identity on one rank); data parallelism puts one "
        "between the backward pass and the optimizer update, over all gradients packed by a concat"))
