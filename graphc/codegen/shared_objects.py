"""Object code of a lowered step for a shared library: position-independent, for a named target.

The JIT (machine.py) compiles for the host with static relocation; a shared library needs
position-independent objects, and may be built for another CPU. `relocatable_objects(lowered,
kernels, target)` compiles the step's own module, each of its kernels (emitted by a KernelSet that
kept their IR: `KernelSet(None, share=False)`) and the thread runner (parallel.runtime_module) with
a target machine of `reloc='pic'` for `target`, at the optimization level the JIT uses for each.
Objects are cached like every other (machine.cached_object / keep_object) under a key that adds the
relocation model and the target to the JIT object's key.
"""
from __future__ import annotations

import functools
import hashlib
import platform
import re
from dataclasses import dataclass

import llvmlite.binding as llvm

from ..errors import ArgumentError
from . import machine
from .arch import PORTABLE, arch_for
from .kernel_cache import DRIVER, KernelSet
from .lower import LoweredGraph
from .parallel import runtime_module

RUNNER_LEVEL = 3


@dataclass(frozen=True)
class Target:
    """An LLVM triple, a CPU name and its feature string ('' for the CPU's defaults)."""
    triple: str
    cpu: str
    features: str

    def describe(self) -> str:
        return f"{self.triple} ({self.cpu or 'generic'})"


def parse_target(target: str | None) -> Target:
    """None: the host (its triple, CPU and features, as the JIT compiles). Else 'TRIPLE' or
    'TRIPLE:CPU' (e.g. 'x86_64-unknown-linux-gnu:haswell'), for the host's architecture: the library
    is linked by this machine's C compiler."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    if target is None:
        return Target(llvm.get_process_triple(), llvm.get_host_cpu_name(), machine.host_features())
    if not isinstance(target, str) or not target.strip():
        raise ArgumentError(f"target={target!r} is not valid: expected an LLVM triple, optionally with ':CPU' "
                            "(e.g. 'x86_64-unknown-linux-gnu:haswell'), or None for this machine")
    triple, _, cpu = target.strip().partition(":")
    if _arch(triple.split("-")[0]) != _arch(platform.machine()):
        raise ArgumentError(f"target={target!r}: its architecture {triple.split('-')[0]!r} is not this machine's "
                            f"({platform.machine()}); the library is linked by this machine's C compiler, so export "
                            "on a machine of the target's architecture, or name a CPU of this one")
    try:
        llvm.Target.from_triple(triple)
    except RuntimeError as error:
        raise ArgumentError(f"target={target!r}: LLVM does not know the triple {triple!r} ({error})") from None
    return Target(triple, cpu, "")


def _arch(machine_name: str) -> str:
    arch = arch_for(machine_name)
    return machine_name.lower() if arch is PORTABLE else arch.name


@functools.lru_cache(maxsize=None)
def _target_machine(target: Target) -> llvm.TargetMachine:
    return llvm.Target.from_triple(target.triple).create_target_machine(
        cpu=target.cpu, features=target.features, opt=3, reloc="pic", codemodel="default")


def relocatable_objects(lowered: LoweredGraph, kernels: KernelSet, target: Target) -> list[bytes]:
    """The step's, its kernels' and the runner's objects, position-independent, for `target`."""
    modules = [(machine.with_host_target(lowered.module), DRIVER),
               (machine.with_host_target(runtime_module(target.triple)), RUNNER_LEVEL)]
    refs = list(kernels.refs.values())
    if len(refs) != len(kernels.texts):
        raise RuntimeError("the kernel set did not keep every kernel's IR: lower with KernelSet(None, share=False)")
    seen = set()
    for text, ref in zip(kernels.texts, refs):     # texts are appended as their kernels are first emitted
        assert machine.cache_key(text, ref.level) == ref.object_key, "kernel IR and reference out of step"
        if text not in seen:       # two fingerprints may emit the same IR, hence the same symbols: link it once
            seen.add(text)
            modules.append((text, ref.level))
    return [_object(text, level, target) for text, level in modules]


def _object(text: str, level: int, target: Target) -> bytes:
    key = hashlib.sha256("\0".join([machine.cache_key(text, level), "pic", target.triple, target.cpu,
                                    target.features]).encode()).hexdigest()
    found = machine.cached_object(key)
    if found is not None:
        return found[0]
    tm = _target_machine(target)
    text = re.sub(r'^target triple = ".*"$', f'target triple = "{target.triple}"', text, count=1, flags=re.M)
    text = re.sub(r'^target datalayout = ".*"$', f'target datalayout = "{tm.target_data}"', text, count=1,
                  flags=re.M)
    obj = machine.build_object(text, machine.CompileStats("miss"), level, tm=tm)
    machine.keep_object(key, obj)
    return obj
