"""Dataset sink mode (MindSpore's `dataset_sink_mode=True`): each epoch is one sink of `sink_size` steps
(-1: the whole dataset), run by one native call (`NativeExecutable.sink`) over batches a producer
thread stages meanwhile. The callbacks see what MindSpore's see on a device: `step_end` once per
sink, with its last loss, `cur_step_num` advancing by the sink's steps.

With `sink_size` below the dataset's size, the batches are one stream over the dataset's passes (pass p
shuffled as `set_epoch(p)` shuffles it): the next epoch goes on where the last one stopped, as
MindSpore's does. The steps are those of the same batches fed one by one, bit for bit.
"""
from __future__ import annotations

import itertools

import numpy as np

from graphc.errors import GraphcError
from graphc.tracing import wrap_array


def check_sink_args(owner: str, dataset_sink_mode, sink_size) -> None:
    """MindSpore's checks, made whether or not sink mode is on: a bool, and an int that is -1 or positive."""
    if not isinstance(dataset_sink_mode, bool):
        raise TypeError(f"{owner}: dataset_sink_mode must be a bool, got {dataset_sink_mode!r}")
    if isinstance(sink_size, bool) or not isinstance(sink_size, (int, np.integer)):
        raise TypeError(f"{owner}: sink_size must be an int (-1: the whole dataset per epoch, or a positive number "
                        f"of steps), got {sink_size!r} of type {type(sink_size).__name__}")
    if sink_size < -1 or sink_size == 0:
        raise ValueError(f"{owner}: sink_size must be -1 (the whole dataset per epoch) or positive, got {sink_size}")


def batch_stream(dataset, start: int, pass_steps: int, batches):
    """The first `pass_steps` batches of each of the dataset's passes one after the other, from batch
    `start` of the stream on: `batches(dataset)` iterates one pass, after `set_epoch` has chosen its order."""
    for epoch in itertools.count(start // pass_steps):
        dataset.set_epoch(epoch)
        skip = start - epoch * pass_steps if epoch == start // pass_steps else 0
        yield from itertools.islice(batches(dataset), skip, pass_steps)


def run_sink(network, batches, steps: int):
    """`steps` calls of `network` over the next `steps` of `batches` (tuples of arrays): one native
    call where the network compiles natively, else one call per step; the last step's outputs."""
    first = next(batches)
    executable = network.compile(*first)
    if not hasattr(executable, "sink"):             # the interpreter backend: no native step to loop
        outputs = None
        for batch in itertools.islice(itertools.chain([first], batches), steps):
            outputs = network(*batch)
        return outputs
    outputs = [wrap_array(out) for out in executable.sink(itertools.chain([first], batches), steps)]
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def sink_failed(error, epoch: int, first_step: int) -> GraphcError:
    """A SinkError as Model.train reports it: the epoch and the step of the batch that could not run."""
    return GraphcError(f"Model.train in dataset sink mode, epoch {epoch}, step {first_step + error.batch}: "
                       f"{error.detail}. A sink runs batches of one shape: if they differ, Dataset.batch(..., "
                       "drop_remainder=True) keeps the last batch of a pass full")
