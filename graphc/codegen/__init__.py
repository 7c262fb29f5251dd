"""Native code generation with llvmlite (DESIGN.md §5); see docs/codegen.md.

* lower      — an optimized graph -> one LLVM module whose `graphc_step(ctx, tid)` runs every kernel.
* regions    — elementwise code from nodes: loops, epilogues, prologues (fused regions).
* loop_merge — adjacent elementwise loops over one domain lowered as one loop.
* emitter    — the primitive vocabulary elementwise ops' `lower` expressions use.
* library    — the kernel families as non-elementwise ops' `lower` rules see them.
* executable — the compiled step, its memory, one native call per step on every core.
* step_index — warm starts without lowering: graph fingerprint -> object key and step layout.
* profile    — the kernel list and the per-kernel profile table.
* machine    — host target machine, O3 pipeline, JIT loading, object-code cache (in memory).
* disk_cache — the private, bounded on-disk cache of objects and step layouts.
* parallel   — work split, the IR barrier, the native thread runner.
* vecmath    — vectorized float32 exp / log.
* kernels/   — parameterized kernel emitters (matmul, conv2d, pooling, elementwise, reductions,
  softmax cross-entropy, data movement, along-an-axis) following the contract in kernels/contract.py.
* arch       — per-architecture choices (spin hint, time counter, futex) and the supported systems.
"""
import platform as _platform

from .arch import check_supported

check_supported(_platform.system(), _platform.machine())   # before any native code is built

from .lower import lower_graph  # noqa: E402
from .machine import CodegenError, emit_assembly, optimized_ir  # noqa: E402
from .profile import format_kernel_list, kernel_list, profile_table  # noqa: E402

__all__ = ["CodegenError", "emit_assembly", "format_kernel_list", "kernel_list", "lower_graph", "optimized_ir",
           "profile_table"]
