"""MindSpore's Profiler: where the native steps' time goes, as a timeline and as a table.

`Profiler(output_path)` starts at once (start_profile=True, as MindSpore's): it turns on profile
builds (set_context(profile=True), so each compiled function is rebuilt at its next call) and
collects, for every step run until `stop()`, each native thread's spans: one per kernel call and
one per barrier wait after it (codegen/lower.py, TRACE), and the time from the native call until
the thread entered the step (`launch`: waking the threads) and from its leaving the step until the
native call returned (`join`: waiting for the other threads). The caller's thread (thread 0) also
has the executable's work before and after the native call (`inputs`: copying them in and checking
labels; `outputs`: copying them out). `analyse()` stops it and writes into output_path:

* `trace.json`, in the Trace Event Format that Perfetto and chrome://tracing open: one track per
  native thread (pid 1), a span per kernel call per step named after the kernel, with its scope,
  the ops it computes, its FLOPs and the bytes its operands move; barrier waits are spans named
  `barrier`; a second process (pid 2) has one span per step, the executable's whole call.
* `kernels.csv`: the per-kernel table GRAPHC_PROFILE prints (codegen/profile.py), per graph.

One Profiler records at a time.
"""
from __future__ import annotations

import csv
import io
import json
import os

from . import context
from .errors import ArgumentError, GraphcError, user_location

TRACE_FILE, KERNELS_FILE = "trace.json", "kernels.csv"
_KERNELS, _STEPS = 1, 2          # the trace's pids


class Profiler:
    _running: "Profiler | None" = None

    def __init__(self, output_path="./data", start_profile=True):
        if not isinstance(output_path, (str, os.PathLike)) or not str(output_path):
            raise ArgumentError(f"Profiler: output_path must be a directory path, got {output_path!r}")
        if not isinstance(start_profile, bool):
            raise ArgumentError(f"Profiler: start_profile must be a bool, got {start_profile!r}")
        self.output_path = str(output_path)
        self._steps: list[tuple] = []          # (executable, start tick, end tick, spans per thread)
        self._started_at = self._previous = None
        if start_profile:
            self.start()

    def start(self) -> None:
        running = Profiler._running
        if running is not None:
            raise GraphcError(f"Profiler.start: a Profiler is already running (started at {running._started_at}, "
                              f"writing to {running.output_path!r}); call its stop() or analyse() first")
        from .codegen import parallel, trace
        self._started_at, self._origin = user_location(), parallel.cycles()
        self._previous = context.get_context("profile")
        context.set_context(profile=True)
        trace.set_recorder(self._record)
        Profiler._running = self

    def stop(self) -> None:
        if Profiler._running is not self:
            return
        from .codegen import trace
        trace.set_recorder(None)
        context.set_context(profile=self._previous)
        Profiler._running = None

    def _record(self, executable, call: tuple, threads: list) -> None:
        self._steps.append((executable, call, threads))

    def analyse(self) -> tuple[str, str]:
        """Stop, then write trace.json and kernels.csv into output_path; their paths."""
        self.stop()
        if not self._steps:
            raise GraphcError(f"Profiler.analyse: no native step ran since the Profiler started at "
                              f"{self._started_at}; run the network in GRAPH_MODE (backend 'llvm') before analyse()")
        os.makedirs(self.output_path, exist_ok=True)
        trace_path, kernels_path = (os.path.join(self.output_path, name) for name in (TRACE_FILE, KERNELS_FILE))
        self.write_trace(trace_path)
        self.write_kernels(kernels_path)
        return trace_path, kernels_path

    def trace_events(self) -> dict:
        """The recorded steps in the Trace Event Format (times in µs from the Profiler's start)."""
        from .codegen.parallel import cycles_per_microsecond
        from .codegen.profile import kernel_rows
        ticks = cycles_per_microsecond()
        at = lambda tick: (int(tick) - self._origin) / ticks
        events, threads, rows = [], 0, {}
        for number, (executable, call, spans) in enumerate(self._steps, 1):
            if id(executable) not in rows:
                rows[id(executable)] = kernel_rows(executable.lowered.calls)
            threads = max(threads, len(spans))
            events += _step_events(number, executable.graph.name, rows[id(executable)], [at(t) for t in call],
                                   spans, at)
        names = [_name(_KERNELS, None, "graphc native step"), _name(_STEPS, None, "graphc steps (caller)"),
                 _name(_STEPS, 0, "step")]
        names += [_name(_KERNELS, tid, f"thread {tid}" + (" (caller)" if tid == 0 else "")) for tid in range(threads)]
        # no "displayTimeUnit": older Perfetto builds read it as the unit of "ts" (drawing spans 1000x long)
        return {"traceEvents": names + events}

    def write_trace(self, path: str) -> None:
        _write_whole(path, json.dumps(self.trace_events()))

    def write_kernels(self, path: str) -> None:
        from .codegen.profile import PROFILE_COLUMNS, profile_records
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(PROFILE_COLUMNS)
        for executable in {id(step[0]): step[0] for step in self._steps}.values():
            writer.writerows(profile_records(executable))
        _write_whole(path, text.getvalue())

    def __enter__(self) -> "Profiler":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _step_events(number: int, graph: str, kernels: list, call: list, spans: list, at) -> list[dict]:
    """One call's events: `call` holds its times (entered, native step started, ended, returned)."""
    from .codegen.lower import IN_STEP
    entered, start, end, returned = call
    step = {"step": number}
    events = [_span(f"step {number}", "step", entered, returned, _STEPS, 0, {"graph": graph, **step}),
              _span("inputs", "call", entered, start, _KERNELS, 0, step),      # the caller's thread copies them
              _span("outputs", "call", end, returned, _KERNELS, 0, step)]
    for tid, (records, lost) in enumerate(spans):
        for what, begin, finish in records.tolist():
            if what == IN_STEP:         # the gaps around it: waking the threads, and joining them
                events += [_span("launch", "launch", start, at(begin), _KERNELS, tid, step),
                           _span("join", "launch", at(finish), end, _KERNELS, tid, step)]
            elif what >= 0:
                row = kernels[what]
                node, _, scope = row.node.partition(" ")
                events.append(_span(row.name, "kernel", at(begin), at(finish), _KERNELS, tid,
                                    {"node": node, "scope": scope, "ops": row.ops, "flops": row.flops,
                                     "bytes": row.bytes, **step}))
            else:
                events.append(_span("barrier", "barrier", at(begin), at(finish), _KERNELS, tid,
                                    {"after": kernels[-1 - what].name, **step}))
        if lost:
            events.append({"name": f"{lost} spans not recorded", "ph": "i", "s": "t", "pid": _KERNELS, "tid": tid,
                           "ts": round(end, 3)})
    return events


def _span(name: str, category: str, start: float, end: float, pid: int, tid: int, args: dict) -> dict:
    """A complete event; its ends rounded to ns, so spans that touch still touch after rounding."""
    start, end = round(start, 3), round(end, 3)
    return {"name": name, "cat": category, "ph": "X", "ts": start, "dur": round(end - start, 3),
            "pid": pid, "tid": tid, "args": args}


def _name(pid: int, tid: int | None, name: str) -> dict:
    kind = "process_name" if tid is None else "thread_name"
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid or 0, "args": {"name": name}}


def _write_whole(path: str, text: str) -> None:
    """Written to a temporary file and renamed, so a reader never sees half a file."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)
