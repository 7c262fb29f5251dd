"""What the native step runs, and where its time goes.

* `kernel_list(graph)`: one row per kernel call of the step (name, the node and ops it computes,
  FLOPs by the ops' rules, bytes its operands move), in run order; `format_kernel_list` prints it.
* `profile_table(executable)`: with a profile build (GRAPHC_PROFILE=1 or
  set_context(profile=True)) the step reads the cycle counter around each kernel on thread 0 and
  accumulates calls and cycles per kernel; this formats them as a table with µs per call, GFLOP/s
  and each kernel's share of the step (`profile_records`: the same rows, for a CSV file). Every
  thread of a profile build also records a span per kernel call and per barrier wait, which the
  Profiler (graphc/profiler.py) collects through trace.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from .lower import KernelCall, lower_graph
from .parallel import cycles_per_microsecond


@dataclass(frozen=True)
class KernelRow:
    name: str
    node: str             # %id and scope of the graph node
    ops: str              # the ops it computes, e.g. "matmul+add+relu"
    flops: int
    bytes: int            # read + written by its operands


def kernel_rows(calls: list[KernelCall]) -> list[KernelRow]:
    return [KernelRow(call.name, f"%{call.node.id} {call.node.scope}".rstrip(), call.label, call.flops,
                      sum(b.nbytes for b in call.reads + call.writes)) for call in calls]


def kernel_list(graph: Graph) -> list[KernelRow]:
    """The kernels an optimized graph's native step runs, in order (lowers without compiling)."""
    return kernel_rows(lower_graph(graph).calls)


def format_kernel_list(rows: list[KernelRow]) -> str:
    lines = [f"{'kernel':<30} {'node':<34} {'ops':<44} {'MFLOP':>8} {'KB moved':>9}"]
    lines += [f"{r.name:<30} {r.node:<34} {_clip(r.ops, 44):<44} {r.flops / 1e6:>8.3f} {r.bytes / 1024:>9.1f}"
              for r in rows]
    lines.append(f"{len(rows)} kernels, {sum(r.flops for r in rows) / 1e6:.2f} MFLOP, "
                 f"{sum(r.bytes for r in rows) / 1024:.0f} KB moved per call")
    return "\n".join(lines)


def profile_rows(executable) -> list[tuple[KernelRow, int, float]]:
    """(kernel, calls, total µs) per kernel call of a profile build, as measured on thread 0."""
    counts = executable.profile()
    if not executable.lowered.profile:
        raise ValueError("this executable was not built for profiling; set GRAPHC_PROFILE=1 or "
                         "set_context(profile=True) before compiling")
    ticks = cycles_per_microsecond()
    return [(row, calls, cycles / ticks) for row, (calls, cycles) in zip(kernel_rows(executable.lowered.calls), counts)]


def profile_table(executable) -> str:
    """Per-kernel time of a profile build, slowest first (measured on thread 0)."""
    rows = profile_rows(executable)
    total = sum(us for _, _, us in rows) or 1.0
    steps = max((calls for _, calls, _ in rows), default=0)
    lines = [f"{'kernel':<30} {'node':<30} {'calls':>6} {'total us':>10} {'us/call':>9} {'GFLOP/s':>8} {'share':>6}"]
    for row, calls, us in sorted(rows, key=lambda r: -r[2]):
        per_call, rate = _rates(row, calls, us)
        lines.append(f"{row.name:<30} {_clip(row.node, 30):<30} {calls:>6} {us:>10.1f} {per_call:>9.2f} "
                     f"{rate:>8.1f} {us / total:>6.1%}")
    lines.append(f"{steps} steps, {total / max(steps, 1):.1f} us per step in kernels")
    return "\n".join(lines)


PROFILE_COLUMNS = ("graph", "kernel", "node", "ops", "calls", "total_us", "us_per_call", "gflops_per_s", "share",
                   "flops", "bytes")


def profile_records(executable) -> list[tuple]:
    """The table's rows with every column (PROFILE_COLUMNS), slowest first: what analyse() writes as CSV."""
    rows = profile_rows(executable)
    total = sum(us for _, _, us in rows) or 1.0
    records = []
    for row, calls, us in sorted(rows, key=lambda r: -r[2]):
        per_call, rate = _rates(row, calls, us)
        records.append((executable.graph.name, row.name, row.node, row.ops, calls, round(us, 3), round(per_call, 3),
                        round(rate, 3), round(us / total, 5), row.flops, row.bytes))
    return records


def _rates(row: KernelRow, calls: int, us: float) -> tuple[float, float]:
    """µs per call and GFLOP/s."""
    per_call = us / calls if calls else 0.0
    return per_call, row.flops / (per_call * 1e3) if per_call else 0.0


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
