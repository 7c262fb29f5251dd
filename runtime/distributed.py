"""The runtime's side of data parallelism (graphc.communication holds the process group): datasets'
default shards, training steps every rank can take, metrics summed over every rank's data, the rank
that prints and writes, and the moving statistics averaged before a checkpoint.

Everything here is a no-op outside ParallelMode.DATA_PARALLEL.
"""
from __future__ import annotations

import logging

from graphc import communication

log = logging.getLogger("runtime.distributed")

MOVING_STATISTICS_PREFIX = "moving_"     # batch norm's moving_mean and moving_variance, as MindSpore names them


def group() -> communication.Group | None:
    return communication.data_parallel_group()


def is_main_rank() -> bool:
    """Rank 0 prints logs and writes checkpoints; outside data parallelism, the one process does."""
    world = group()
    return world is None or world.rank == 0


def default_shards() -> tuple[int | None, int | None]:
    """(num_shards, shard_id) a dataset uses when given neither: (ranks, rank) under data parallelism."""
    world = group()
    return (None, None) if world is None else (world.size, world.rank)


def agreed_steps(steps: int) -> int:
    """Steps per epoch every rank can take: the fewest of any rank (each step is a collective)."""
    world = group()
    if world is None:
        return steps
    counts = world.allgather(steps)
    if len(set(counts)) > 1 and world.rank == 0:
        log.warning("the ranks' datasets give %s batches per epoch; every rank takes %d (the fewest), so the "
                    "others' last batches are skipped", counts, min(counts))
    return min(counts)


def merge_metrics(metrics: dict) -> None:
    """Make each metric ({name: Metric}) the metric over every rank's updates (each rank evaluated its
    own shard). One exchange, by name: a set of metric names iterates in another order on each rank."""
    world = group()
    if world is None:
        return
    states = world.allgather({name: metric.state() for name, metric in metrics.items()})
    for name, metric in metrics.items():
        metric.merge_states([state[name] for state in states])


def is_moving_statistic(name: str, param) -> bool:
    """A float Parameter that training updates without gradients and that each rank computes from its
    own batches (batch norm's moving mean and variance), known by its name."""
    return not param.requires_grad and param.dtype.is_float and \
        name.rsplit(".", 1)[-1].startswith(MOVING_STATISTICS_PREFIX)


def average_moving_statistics(network) -> None:
    """Replace each rank's moving statistics by their mean over the ranks (before a checkpoint)."""
    world = group()
    if world is None:
        return
    for name, param in network.parameters_and_names():
        if is_moving_statistic(name, param):
            values = param.asnumpy()                   # the Parameter's own storage: updated in place
            summed = values.copy()
            world.allreduce(summed)
            values[...] = summed / world.size
