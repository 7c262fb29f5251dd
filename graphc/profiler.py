"""MindSpore's Profiler: where the native steps' time goes, as a timeline and as a table.

`Profiler(output_path)` starts at once (start_profile=True, as MindSpore's): it turns on profile
builds (set_context(profile=True), so each compiled function is rebuilt at its next call) and
collects, for every step run until `stop()`, each native thread's spans: one per kernel call and
one per barrier wait after it (codegen/lower.py, TRACE), and the time from the caller's call until
the thread entered the step (`launch`: waking the threads) and from its leaving the step until the
call returned (`join`: waiting for the other threads). `analyse()` stops it and writes into
output_path:

* `trace.json`, in the Trace Event Format that Perfetto and chrome://tracing open: one track per
  native thread (pid 1), a span per kernel call per step named after the kernel, with its scope,
  the ops it computes, its FLOPs and the bytes its operands move; barrier waits are spans named
  `barrier`; a second process (pid 2) has one span per step as the caller measured it (from
  before the native call to after it: the inputs' and outputs' copies are outside).
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

    def _record(self, executable, start: int, end: int, threads: list) -> None:
        self._steps.append((executable, start, end, threads))

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
        from .codegen.lower import IN_STEP
        from .codegen.profile import kernel_rows
        ticks = cycles_per_microsecond()
        at = lambda tick: (int(tick) - self._origin) / ticks
        events, threads, rows = [], 0, {}
        for number, (executable, start, end, spans) in enumerate(self._steps, 1):
            if id(executable) not in rows:
                rows[id(executable)] = kernel_rows(executable.lowered.calls)
            kernels = rows[id(executable)]
            events.append(_span(f"step {number}", "step", at(start), at(end), _STEPS, 0,
                                {"graph": executable.graph.name, "step": number}))
            threads = max(threads, len(spans))
            for tid, (records, lost) in enumerate(spans):
                for what, begin, finish in records.tolist():
                    if what == IN_STEP:         # the gaps around it: waking the threads, and joining them
                        events.append(_span("launch", "launch", at(start), at(begin), _KERNELS, tid, {"step": number}))
                        events.append(_span("join", "launch", at(finish), at(end), _KERNELS, tid, {"step": number}))
                        continue
                    row = kernels[what if what >= 0 else -1 - what]
                    if what >= 0:
                        node, _, scope = row.node.partition(" ")
                        args = {"node": node, "scope": scope, "ops": row.ops, "flops": row.flops, "bytes": row.bytes}
                        events.append(_span(row.name, "kernel", at(begin), at(finish), _KERNELS, tid,
                                            {**args, "step": number}))
                    else:
                        events.append(_span("barrier", "barrier", at(begin), at(finish), _KERNELS, tid,
                                            {"after": row.name, "step": number}))
                if lost:
                    events.append({"name": f"{lost} spans not recorded", "ph": "i", "s": "t", "pid": _KERNELS,
                                   "tid": tid, "ts": round(at(end), 3)})
        names = [_name(_KERNELS, None, "graphc native step"), _name(_STEPS, None, "graphc steps (caller)"),
                 _name(_STEPS, 0, "step")]
        names += [_name(_KERNELS, tid, f"thread {tid}" + (" (caller)" if tid == 0 else "")) for tid in range(threads)]
        return {"traceEvents": names + events, "displayTimeUnit": "ms"}

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
