"""What the native runtime needs from the processor and the OS, per architecture.

The thread runner and the barrier spin with the architecture's spin-wait hint, read a time
counter, and sleep on a Linux futex, whose system call number differs by architecture (on aarch64
number 202, x86-64's futex, is accept()). Each choice is made from the target triple of the module
being emitted, so the same code emits the runtime for another architecture (tests emit aarch64).
Architectures without an entry get a portable wait: no hint, and idle workers poll with usleep
instead of sleeping on a futex. Operating systems other than Linux are refused at import of the
native backend.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass

from llvmlite import ir

from ..errors import GraphcError
from .kernels.simd import I32, I64, PTR, VOID, declare, i64

SUPPORTED_SYSTEMS = ("Linux",)
FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 128, 129
POLL_MICROSECONDS = 100      # the portable wait's sleep between looks at the generation word


@dataclass(frozen=True)
class Arch:
    name: str
    spin_hint: tuple[str, tuple[int, ...]] | None    # LLVM intrinsic and its i32 arguments
    sys_futex: int | None                             # None: poll with usleep instead


ARCHES = {
    "x86_64": Arch("x86-64", ("llvm.x86.sse2.pause", ()), 202),
    "aarch64": Arch("aarch64", ("llvm.aarch64.hint", (1,)), 98),        # hint #1 is YIELD
}
_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}
PORTABLE = Arch("portable", None, None)


def arch_for(machine: str) -> Arch:
    """The choices for a machine name as platform.machine() or a triple's first field spells it."""
    machine = machine.lower()
    return ARCHES.get(_ALIASES.get(machine, machine), PORTABLE)


def arch_of(module: ir.Module) -> Arch:
    """The module's target architecture: its triple's, or the host's when the triple is unset."""
    return arch_for(module.triple.split("-")[0] if module.triple else platform.machine())


def check_supported(system: str, machine: str) -> None:
    if system not in SUPPORTED_SYSTEMS:
        tuned = ", ".join(a.name for a in ARCHES.values())
        raise GraphcError(f"the native backend supports Linux ({tuned} tuned, other processors with a portable "
                          f"wait); this is {system} on {machine}. Use graphc.set_context(backend='interp')")


def emit_spin_hint(b: ir.IRBuilder) -> None:
    hint = arch_of(b.module).spin_hint
    if hint is not None:
        name, args = hint
        b.call(declare(b.module, name, VOID, [I32] * len(args)), [ir.Constant(I32, a) for a in args])


def emit_clock(b: ir.IRBuilder) -> ir.Value:
    """A counter that ticks with time: the TSC on x86-64; on aarch64 LLVM 22 reads the virtual timer
    CNTVCT_EL0, which user code may read (its llvm.readsteadycounter gives 0 there)."""
    return b.call(declare(b.module, "llvm.readcyclecounter", I64, []), [])


def emit_futex_wait(b: ir.IRBuilder, word: ir.Value, expected: ir.Value) -> None:
    """Sleep while *word == expected (or for a while, on the portable wait); may return early."""
    futex = arch_of(b.module).sys_futex
    if futex is None:
        b.call(declare(b.module, "usleep", I32, [I32]), [ir.Constant(I32, POLL_MICROSECONDS)])
    else:
        _syscall(b, futex, word, FUTEX_WAIT_PRIVATE, expected)


def emit_futex_wake_all(b: ir.IRBuilder, word: ir.Value) -> None:
    futex = arch_of(b.module).sys_futex
    if futex is not None:           # pollers need no wake-up
        _syscall(b, futex, word, FUTEX_WAKE_PRIVATE, ir.Constant(I32, 0x7FFFFFFF))


def _syscall(b: ir.IRBuilder, number: int, word: ir.Value, op: int, value: ir.Value) -> None:
    syscall = declare(b.module, "syscall", I64, [I64], var_arg=True)
    b.call(syscall, [i64(number), word, ir.Constant(I32, op), value, ir.Constant(PTR, None)])
