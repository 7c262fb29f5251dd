"""Where a compile's time went: one line for the log, `graphc inspect` and GRAPHC_PROFILE=1."""
from __future__ import annotations

from dataclasses import dataclass, field

from .kernel_cache import KernelCounts

# Phases in the order they run; `compile` is the wait for LLVM after lowering (worker threads compile
# while lowering goes on; on one thread it is all of LLVM's work), `link` loads the objects into one engine.
PHASES = ("trace", "passes", "lower", "compile", "link")


@dataclass
class CompileReport:
    graph: str
    threads: int                     # compile threads
    seconds: dict[str, float] = field(default_factory=dict)
    counts: KernelCounts = field(default_factory=KernelCounts)
    warm: bool = False               # the step index had it: nothing lowered

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    @property
    def cache(self) -> str:
        """'miss' when anything was compiled, else 'disk' when anything came from disk, else 'memory'."""
        c = self.counts
        return "miss" if c.compiled else "disk" if c.disk or self.warm and not c.memory else "memory"

    def line(self) -> str:
        c = self.counts
        phases = ", ".join(f"{name} {self.seconds[name]:.3f}" for name in PHASES if name in self.seconds)
        if self.warm:
            kernels = f"{c.calls} kernel calls from the step index ({c.memory} kernels in memory, {c.disk} on disk)"
        else:
            kernels = (f"{c.calls} kernel calls, {c.calls - c.deduplicated} kernels ({c.deduplicated} deduplicated; "
                       f"{c.memory} in memory, {c.disk} on disk, {c.compiled} compiled on {self.threads} "
                       f"thread{'s' if self.threads > 1 else ''}: LLVM optimize {c.optimize:.3f} s, "
                       f"codegen {c.codegen:.3f} s of CPU)")
        return f"compiled {self.graph}: {kernels} in {self.total:.3f} s ({phases})"
