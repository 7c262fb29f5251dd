"""Process groups for data-parallel training (MindSpore's mindspore.communication), over MPI.

A job is N processes started by an MPI launcher (`mpiexec -n N python train.py`); each calls
`init()`, after which `get_rank()` and `get_group_size()` say who it is. The transport is MPI
through mpi4py (`pip install 'graphc[mpi]'`, or mpi4py built against a cluster's own MPI); graphc
has no sockets or rendezvous of its own. `init()` also

- registers the world group as the transport of the `allreduce` op (graphc/ops/collective.py),
  which the native step calls back into from its thread 0;
- makes an uncaught exception on any rank abort the whole job (MPI_Abort), so that no rank waits
  forever in a collective for a rank that died (as `python -m mpi4py script.py` does);
- shares the machine's cores among the ranks on it: each native step runs on cores // (ranks on
  this machine) threads, unless set_context(num_threads=...) or GRAPHC_NUM_THREADS says otherwise
  (more threads than cores make the step's barriers spin against each other).

The runtime and graphc's wrapper cells use `data_parallel_group()`: the world group when
`set_auto_parallel_context(parallel_mode=ParallelMode.DATA_PARALLEL)` is in force, else None.
"""
from __future__ import annotations

import os
import sys
import time
import traceback

import numpy as np

from .. import context
from ..errors import GraphcError
from ..faces import lookup as _lookup
from ..ops import collective

__all__ = ["GlobalComm", "Group", "check_same", "data_parallel_group", "get_group_size", "get_rank", "init",
           "release", "world"]
__getattr__ = _lookup(__name__)     # `management` (MindSpore's submodule) on first use

INSTALL_HINT = ("pip install 'graphc[mpi]' (mpi4py and MPICH from PyPI), or pip install mpi4py built against "
                "your cluster's MPI")


class GlobalComm:
    WORLD_COMM_GROUP = "world_group"      # the only group: every process of the job


class Group:
    """The processes of the job, over an mpi4py communicator. Collectives must be called by every
    rank, in the same order."""

    def __init__(self, comm):
        from mpi4py import MPI
        self._mpi, self._comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.local_size = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()   # ranks on this machine

    def allreduce(self, array: np.ndarray) -> None:
        """Sum a contiguous array over every rank, in place (the transport of the allreduce op)."""
        self._comm.Allreduce(self._mpi.IN_PLACE, array, op=self._mpi.SUM)

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        """Overwrite a contiguous array with rank `root`'s, in place."""
        self._comm.Bcast(array, root=root)

    def allgather(self, value) -> list:
        """Every rank's `value` (small Python values: numbers, strings, arrays), in rank order."""
        return self._comm.allgather(value)

    def abort(self, code: int = 1) -> None:
        """End every process of the job now (an error no rank can recover from)."""
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.2)        # the launcher forwards output asynchronously: let it pass the error on first
        self._comm.Abort(code)


_world: Group | None = None


def init(backend_name: str | None = None) -> None:
    """Join the job's world group (idempotent). backend_name: None or 'mpi' (MindSpore's 'hccl' and
    'nccl' name accelerator libraries that graphc, which trains on CPUs, does not use)."""
    global _world
    if backend_name not in (None, "mpi"):
        raise GraphcError(f"init: backend_name={backend_name!r} is not supported; graphc communicates over MPI "
                          "(backend_name=None or 'mpi')")
    if _world is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise GraphcError(f"init: distributed training needs mpi4py and an MPI library ({error}); "
                          f"install them with {INSTALL_HINT}, and launch with mpiexec -n N python ...") from None
    _world = Group(MPI.COMM_WORLD)
    collective.set_transport(_world)
    if _world.size > 1:
        _abort_on_uncaught_exceptions(_world)
    if context.get_context("num_threads") is None and not os.environ.get("GRAPHC_NUM_THREADS"):
        context.set_context(num_threads=max(1, (os.cpu_count() or 1) // _world.local_size))


def release() -> None:
    """Leave the group (MindSpore's release); MPI itself finalizes when the process exits."""
    global _world
    _world = None
    collective.set_transport(None)


def _abort_on_uncaught_exceptions(group: Group) -> None:
    def hook(kind, value, tb) -> None:
        report = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"{report}graphc: rank {group.rank} of {group.size} failed; aborting the whole job\n")
        group.abort(1)
    sys.excepthook = hook


def _initialized(what: str) -> Group:
    if _world is None:
        raise GraphcError(f"{what}: call graphc.communication.init() first (in every process of the job)")
    return _world


def world() -> Group:
    """The job's world group (after init())."""
    return _initialized("world")


def get_rank(group: str = GlobalComm.WORLD_COMM_GROUP) -> int:
    _check_group(group)
    return _initialized("get_rank").rank


def get_group_size(group: str = GlobalComm.WORLD_COMM_GROUP) -> int:
    _check_group(group)
    return _initialized("get_group_size").size


def _check_group(group: str) -> None:
    if group != GlobalComm.WORLD_COMM_GROUP:
        raise GraphcError(f"group {group!r} is not supported; graphc has one group, "
                          f"GlobalComm.WORLD_COMM_GROUP ({GlobalComm.WORLD_COMM_GROUP!r})")


def data_parallel_group() -> Group | None:
    """The group gradients are averaged over: the world under ParallelMode.DATA_PARALLEL, else None."""
    if context.get_auto_parallel_context("parallel_mode") != context.ParallelMode.DATA_PARALLEL:
        return None
    world = _initialized("parallel_mode=DATA_PARALLEL")
    for key, actual in (("device_num", world.size), ("global_rank", world.rank)):
        given = context.get_auto_parallel_context(key)
        if given is not None and given != actual:
            raise GraphcError(f"set_auto_parallel_context({key}={given}) but the job has {key} {actual}; leave "
                              f"{key} unset (it defaults to the MPI job's) or launch a matching job")
    return world


def check_same(group: Group, what: str, digest: str, description: str) -> None:
    """Every rank of `group` must pass the same digest (of its `what`); otherwise every rank raises
    an error naming rank 0's description and the first differing rank's, rather than computing
    nonsense or waiting forever in a collective of another size."""
    reports = group.allgather((digest, description))
    for rank, (other, other_description) in enumerate(reports):
        if other != reports[0][0]:
            raise GraphcError(f"the ranks disagree on the {what}: rank 0 has {reports[0][1]}, rank {rank} has "
                              f"{other_description}; every rank must build the same model and use the same "
                              "per-rank batch size")
