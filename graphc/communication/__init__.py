"""Process groups for data-parallel training (MindSpore's mindspore.communication), over MPI.

A job is N processes started by an MPI launcher (`mpiexec -n N python train.py`); each calls
`init()`, after which `get_rank()` and `get_group_size()` say who it is. The transport is MPI
through mpi4py (`pip install 'graphc[mpi]'`, or mpi4py built against a cluster's own MPI); graphc
has no sockets or rendezvous of its own. `init()` also

- registers the world group as the transport of the `allreduce` op (graphc/ops/collective.py),
  which the native step calls back into from its thread 0;
- makes any way a rank leaves end the whole job rather than leave the others waiting forever in a
  collective (below);
- shares the machine's cores among the ranks on it: each native step runs on cores // (ranks on
  this machine) threads, unless set_context(num_threads=...) or GRAPHC_NUM_THREADS says otherwise
  (more threads than cores make the step's barriers spin against each other).

The runtime and graphc's wrapper cells use `data_parallel_group()`: the world group when
`set_auto_parallel_context(parallel_mode=ParallelMode.DATA_PARALLEL)` is in force, else None.

How a job ends when a rank leaves. An uncaught exception (KeyboardInterrupt, a SIGINT, included)
prints its traceback and aborts the job (MPI_Abort), as `python -m mpi4py script.py` does; so does
SIGTERM, unless the script installed its own handler. A rank whose process exits otherwise
(`sys.exit` with any code, or the end of its script) sends every other rank a notice, then waits
for theirs: when every rank leaves, that is the job's normal end, however far apart the ranks
finish. Every collective starts with a meeting of all ranks (a nonblocking allgather of what each
is about to do), polled together with the notices: a rank that waits there for a rank that has left
aborts the job, naming that rank, why it left and where each stood; ranks about to run different
collectives (one left its training loop early and went on to evaluate) abort it too, naming what
each was doing.
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
import traceback

import numpy as np

from .. import context, env
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


_COLLECTIVES = ("allreduce", "broadcast", "allgather")    # what a rank brings to a meeting: an index here
_SPIN_SECONDS, _NAP_SECONDS = 0.005, 0.001               # polling a wait: spin first, then nap between polls


class Group:
    """The processes of the job, over an mpi4py communicator. Collectives must be called by every
    rank, in the same order."""

    def __init__(self, comm):
        from mpi4py import MPI
        self._mpi, self._comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.local_size = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()   # ranks on this machine
        self._meetings, self._notices = comm.Dup(), comm.Dup()
        self._collectives = 0          # how many this rank has started

    def allreduce(self, array: np.ndarray) -> None:
        """Sum a contiguous array over every rank, in place (the transport of the allreduce op)."""
        self._meet("allreduce", array.nbytes)
        self._comm.Allreduce(self._mpi.IN_PLACE, array, op=self._mpi.SUM)

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        """Overwrite a contiguous array with rank `root`'s, in place."""
        self._meet("broadcast", array.nbytes)
        self._comm.Bcast(array, root=root)

    def allgather(self, value) -> list:
        """Every rank's `value` (small Python values: numbers, strings, arrays), in rank order."""
        self._meet("allgather", 0)
        return self._comm.allgather(value)

    def abort(self, reason: str) -> None:
        """End every process of the job now, saying why (an error no rank can recover from)."""
        sys.stderr.write(f"graphc: rank {self.rank} of {self.size} {reason}; aborting the whole job\n")
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.2)        # the launcher forwards output asynchronously: let it pass the error on first
        self._comm.Abort(1)
        os._exit(1)            # MPICH 5's Abort returned here when a SIGTERM handler was installed

    def _meet(self, collective: str, nbytes: int) -> None:
        """Wait until every rank has come to a collective, which then cannot hang: abort the job if a
        rank left meanwhile, or if the ranks came to different collectives."""
        self._collectives += 1
        mine = np.array([_COLLECTIVES.index(collective), nbytes], np.int64)
        everyone = np.empty((self.size, 2), np.int64)
        self._wait(self._meetings.Iallgather(mine, everyone), lambda: self._abort_if_a_rank_left(mine))
        if (everyone != mine).any():
            ranks = ", ".join(f"rank {rank} {_describe(entry)}" for rank, entry in enumerate(everyone))
            self.abort(f"found the ranks at different collectives ({ranks}): they no longer run the same steps, "
                       "e.g. one left its training loop early")

    def _abort_if_a_rank_left(self, mine: np.ndarray) -> None:
        status = self._mpi.Status()
        if self._notices.Iprobe(source=self._mpi.ANY_SOURCE, status=status):
            reason, collectives = self._notices.recv(source=status.Get_source())
            self.abort(f"waits in its collective {self._collectives} ({_describe(mine)}), but rank "
                       f"{status.Get_source()} {reason} after {collectives} collectives")

    def leave(self, reason: str) -> None:
        """Tell every other rank that this one leaves the job (`reason`), then wait until each has
        left too (a barrier only leaving ranks enter): the job's normal end, or an abort by a rank
        that needed this one."""
        others = [rank for rank in range(self.size) if rank != self.rank]
        sent = [self._notices.isend((reason, self._collectives), dest=rank) for rank in others]
        self._wait(self._notices.Ibarrier(), lambda: None)
        for rank in others:
            self._notices.recv(source=rank)
        self._mpi.Request.Waitall(sent)

    @staticmethod
    def _wait(request, poll) -> None:
        """Until `request` completes, calling poll() between tests (spinning first, then napping,
        so that a long wait leaves the core to others)."""
        start = time.perf_counter()
        while not request.Test():
            poll()
            if time.perf_counter() - start > _SPIN_SECONDS:
                time.sleep(_NAP_SECONDS)


def _describe(entry: np.ndarray) -> str:
    collective, nbytes = _COLLECTIVES[entry[0]], int(entry[1])
    return f"{collective} of {nbytes:,} bytes" if nbytes else collective


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
        _end_the_job_when_a_rank_leaves(_world)
    if context.get_context("num_threads") is None and env.get("GRAPHC_NUM_THREADS") is None:
        context.set_context(num_threads=max(1, context.cores() // _world.local_size))


def release() -> None:
    """Leave the group (MindSpore's release); MPI itself finalizes when the process exits."""
    global _world
    _world = None
    collective.set_transport(None)


def _end_the_job_when_a_rank_leaves(group: Group) -> None:
    """An uncaught exception or SIGTERM aborts the job; any other exit leaves it (Group.leave)."""
    def hook(kind, value, tb) -> None:
        sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        group.abort(f"failed with {kind.__name__}")
    sys.excepthook = hook

    def on_signal(number, frame) -> None:
        group.abort(f"received {signal.Signals(number).name}")
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, on_signal)
    # registered after mpi4py's import, so it runs before mpi4py finalizes MPI; not in a forked child,
    # which is no rank
    rank_process = os.getpid()
    atexit.register(lambda: None if group._mpi.Is_finalized() or os.getpid() != rank_process else
                    group.leave("exited (sys.exit or the end of its script)"))


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
