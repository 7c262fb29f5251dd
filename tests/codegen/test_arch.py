"""arch.py: the runner's per-architecture choices, as a function of the machine name and of the
target triple; the aarch64 runtime is emitted and compiled by LLVM's AArch64 backend."""
import re

import llvmlite.binding as llvm
import pytest

from graphc import GraphcError
from graphc.codegen import arch, parallel

AARCH64, X86_64, RISCV64 = "aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", "riscv64-unknown-linux-gnu"


@pytest.mark.parametrize("machine, name, futex", [("x86_64", "x86-64", 202), ("AMD64", "x86-64", 202),
                                                  ("aarch64", "aarch64", 98), ("arm64", "aarch64", 98),
                                                  ("riscv64", "portable", None), ("ppc64le", "portable", None)])
def test_the_choices_follow_the_machine_name(machine, name, futex):
    chosen = arch.arch_for(machine)
    assert (chosen.name, chosen.sys_futex) == (name, futex)


def test_the_hints():
    assert arch.arch_for("aarch64").spin_hint == ("llvm.aarch64.hint", (1,))     # YIELD
    assert arch.arch_for("x86_64").spin_hint == ("llvm.x86.sse2.pause", ())
    assert arch.arch_for("riscv64").spin_hint is None


def test_the_runtime_ir_follows_the_module_triple():
    x86, arm, portable = (str(parallel.runtime_module(t)) for t in (X86_64, AARCH64, RISCV64))
    assert 'call void @"llvm.x86.sse2.pause"()' in x86 and re.search(r'@"syscall"\(i64 202\b', x86)
    assert "x86" not in arm and 'call void @"llvm.aarch64.hint"(i32 1)' in arm
    assert re.search(r'@"syscall"\(i64 98\b', arm) and not re.search(r'@"syscall"\(i64 202\b', arm)
    assert "syscall" not in portable and '@"usleep"(i32 100)' in portable and "x86" not in portable


def test_an_unset_triple_means_the_host():
    import platform
    assert arch.arch_of(parallel.runtime_module("")) == arch.arch_for(platform.machine())


def test_llvm_compiles_the_aarch64_runtime_to_yield_the_virtual_timer_and_futex_98():
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    module = llvm.parse_assembly(str(parallel.runtime_module(AARCH64)))
    module.verify()
    machine = llvm.Target.from_triple(AARCH64).create_target_machine(opt=2)
    assembly = machine.emit_assembly(module)
    assert re.search(r"^\s+yield\b", assembly, re.M)
    assert "cntvct_el0" in assembly.lower() and "pmccntr_el0" not in assembly.lower()   # user-readable timer
    assert re.search(r"mov\s+w0, #98\b", assembly) and not re.search(r"#202\b", assembly)


def test_other_systems_are_refused_with_the_way_out():
    with pytest.raises(GraphcError, match=r"supports Linux .*this is Darwin on arm64.*backend='interp'"):
        arch.check_supported("Darwin", "arm64")
    arch.check_supported("Linux", "riscv64")       # a portable wait, no error
