"""MindSpore's SummaryRecord, written in TensorBoard's event format (through tensorboardX, the
`graphc[tensorboard]` extra), so TensorBoard shows what MindSpore users open in MindInsight.

`add_value(kind, name, value)` keeps a value until `record(step)` writes every kept value at that
step, with the latest values of the summary ops (`ops.ScalarSummary()('loss', x)` in construct: its
name is the tag) that ran since the last record, as MindSpore's does. Kinds: scalar (one number),
tensor (the whole array, as a TensorProto), histogram, image
(a batch [N, C, H, W]) and graph (an optimized graphc Graph: summary_graph.py). A name keeps its
kind. Events are written in the caller's thread with tensorboardX's event-file writer and
flushed every FLUSH_SECONDS, at `flush()` and at `close()`. A summary that cannot be written never
stops training: the first failure (a directory that cannot be created, a disk that refuses a
write, `max_file_size` about to be passed) is one warning naming the user's line, the directory and
the reason, and the record writes nothing more. `network`, `train_network` and `plugin_filter`
(MindSpore's ways to choose the graph and what to write) are accepted and not used: the graph is a
value of its own (`add_value("graph", ...)`, which SummaryCollector does).
"""
from __future__ import annotations

import os
import time
import warnings

import numpy as np

from graphc.errors import ArgumentError, GraphcError, user_location
from graphc.ops import summary as summary_ops
from graphc.ops.summary import KINDS

from .summary_graph import graph_def

FLUSH_SECONDS = 5           # TensorBoard rereads a log directory every 5 s
HISTOGRAM_BINS = 256        # at most; numpy chooses ("auto"), and TensorBoard draws 30 from them
_RECORD_FRAME = 16          # bytes around each event in the file: its length and two CRCs
# the event a file starts with: wall_time (a tag and a double) and file_version "brain.Event:2" (a tag,
# its length and 13 bytes)
_FIRST_EVENT_BYTES = 9 + 15 + _RECORD_FRAME
_EXTRA = "pip install 'graphc[tensorboard]' (or: pip install tensorboardX)"


class SummaryRecord:
    """SummaryRecord(log_dir, file_prefix='events', file_suffix='_MS', max_file_size=None), also a
    context manager (closing on exit)."""

    def __init__(self, log_dir, file_prefix="events", file_suffix="_MS", network=None, max_file_size=None,
                 raise_exception=False):
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise ArgumentError(f"SummaryRecord: log_dir must be a directory path, got {log_dir!r}")
        if max_file_size is not None and (not isinstance(max_file_size, int) or max_file_size <= 0):
            raise ArgumentError(f"SummaryRecord: max_file_size must be a positive int (bytes) or None, "
                                f"got {max_file_size!r}")
        try:
            from tensorboardX.event_file_writer import EventsWriter
        except ImportError:
            raise GraphcError(f"SummaryRecord writes TensorBoard event files through tensorboardX, which is not "
                              f"installed; {_EXTRA}") from None
        self.log_dir, self.max_file_size, self.raise_exception = str(log_dir), max_file_size, raise_exception
        self._kinds: dict[str, str] = {}
        self._pending: dict[str, tuple[str, object]] = {}
        self._writer = None
        self._bytes, self._flushed = 0, time.monotonic()

        def open_writer():
            os.makedirs(self.log_dir, exist_ok=True)
            self._writer = EventsWriter(os.path.join(self.log_dir, file_prefix), f".{file_prefix}{file_suffix}")
            self._bytes = _FIRST_EVENT_BYTES
        self._attempt(open_writer)
        self._listening = True
        summary_ops.listen(True)

    @property
    def writing(self) -> bool:
        """False once a write failed (or before the writer could be opened)."""
        return self._writer is not None

    def add_value(self, kind: str, name: str, value) -> None:
        if kind not in KINDS + ("graph",):
            raise ArgumentError(f"SummaryRecord.add_value: kind {kind!r} is not one of "
                                f"{', '.join(KINDS + ('graph',))}")
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"SummaryRecord.add_value: the name must be a non-empty str, got {name!r}")
        if self._kinds.setdefault(name, kind) != kind:
            raise ArgumentError(f"SummaryRecord.add_value: {name!r} is already a {self._kinds[name]} summary and "
                                f"cannot also be a {kind} one; give it another name")
        if kind != "graph":
            value = np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value)
            if kind == "scalar" and value.size != 1:
                raise ArgumentError(f"SummaryRecord.add_value: scalar {name!r} must be one number, got an array of "
                                    f"shape {list(value.shape)}; record it as a 'tensor' or 'histogram'")
        self._pending[name] = (kind, value)

    def record(self, step: int, train_network=None, plugin_filter=None) -> bool:
        """Write the values added since the last record at `step`; False if nothing could be written."""
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ArgumentError(f"SummaryRecord.record: step must be a non-negative int, got {step!r}")
        for name, (kind, value) in summary_ops.take().items():
            self.add_value(kind, name, value)
        pending, self._pending = self._pending, {}
        if not self.writing:
            return False
        events = [_event(kind, name, value, step) for name, (kind, value) in pending.items()]
        size = sum(event.ByteSize() + _RECORD_FRAME for event in events)
        if self.max_file_size is not None and self._bytes + size > self.max_file_size:
            self._give_up(f"its event file would pass max_file_size={self.max_file_size} bytes")
            return False
        self._bytes += size
        return self._attempt(lambda: self._write(events))

    def _write(self, events: list) -> None:
        """In the caller's thread (tensorboardX's SummaryWriter writes in a thread of its own, which a
        full disk stops, and then its queue blocks the training), flushed to disk every FLUSH_SECONDS."""
        for event in events:
            self._writer.write_event(event)
        if time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.writing:
            self._flushed = time.monotonic()
            self._attempt(self._writer.flush)

    def close(self) -> None:
        if self._listening:
            self._listening = False
            summary_ops.listen(False)
        if self.writing:
            self._attempt(self._writer.close)
            self._writer = None

    def __enter__(self) -> "SummaryRecord":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _attempt(self, action) -> bool:
        try:
            action()
            return True
        except OSError as error:
            if self.raise_exception:
                raise
            self._give_up(f"{error.strerror or error} ({type(error).__name__})")
            return False

    def _give_up(self, reason: str) -> None:
        warnings.warn(f"{user_location()}: summaries are not recorded into {self.log_dir!r}: {reason}; training "
                      "goes on without them (choose a writable summary_dir)", RuntimeWarning, stacklevel=2)
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass


def _event(kind: str, name: str, value, step: int):
    from tensorboardX import summary
    from tensorboardX.proto.event_pb2 import Event
    if kind == "graph":
        return Event(wall_time=time.time(), step=step, graph_def=graph_def(value).SerializeToString())
    if kind == "scalar":
        proto = summary.scalar(name, float(value.reshape(())))
    elif kind == "histogram":
        proto = summary.histogram(name, value.astype(np.float64).reshape(-1), "auto", max_bins=HISTOGRAM_BINS)
    elif kind == "image":
        if value.dtype != np.uint8:     # [0, 1] intensities, which tensorboardX scales by 255 without clipping
            value = np.clip(value, 0.0, 1.0).astype(np.float32)
        proto = summary.image(name, value, dataformats="NCHW")
    else:
        proto = _tensor_summary(name, value)
    return Event(wall_time=time.time(), step=step, summary=proto)


def _tensor_summary(name: str, value: np.ndarray):
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
    shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in value.shape])
    tensor = TensorProto(dtype=1, tensor_shape=shape,
                         float_val=value.astype(np.float32).reshape(-1).tolist())   # dtype 1: DT_FLOAT
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="tensor"))
    return Summary(value=[Summary.Value(tag=name, tensor=tensor, metadata=metadata)])
