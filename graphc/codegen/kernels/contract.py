"""The kernel contract every emitter follows.

A kernel is one or more LLVM functions ("phases") with the same signature

    void name.phaseK(ptr noalias align 64 operand0, ..., i64 batch, i64 tid, i64 nthreads)

* Operands are float32 (or int32 where stated) row-major contiguous buffers, each 64-byte aligned
  (the caller guarantees it; `align 64` is declared, so a misaligned buffer may fault).
* Thread `tid` of `nthreads` computes only its static share of the work; no two threads write
  the same bytes within a phase. The caller runs the phases in order, every thread calling each
  phase, with a barrier between consecutive phases (phase K+1 may read what phase K wrote).
* The split never changes the order of floating-point operations of any output element, so the
  results are bitwise identical for every thread count.
* `batch` is the leading extent of the kernel's batch-major operands (`Kernel.batch`; 0 for a
  kernel without any). A kernel that reads it at run time instead of building it in emits the
  same IR for every batch size, so a partial batch or an eval at another batch size finds it
  compiled (kernel_cache.py names and caches kernels by their IR).
* A kernel that indexes with a runtime integer operand declares its bounds (`Kernel.index_bounds`):
  the step checks them before the kernel runs (lower.py), so no input makes native code read or
  write out of bounds, or differ silently from the reference, which raises.
* A kernel needing temporary memory has a trailing `scratch` operand of `Scratch.nbytes(nthreads)`
  bytes: a shared region (e.g. partial sums reduced by a later phase), then one private region per
  thread.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from llvmlite import ir

from .simd import F16, F32, F64, I8, I16, I32, I64, PTR, VOID, elem_ptr, i64

ALIGN = 64
# Element storage by dtype name (graphc's short names); bool is one byte per element, as in NumPy,
# bfloat16 its 16 bits (LLVM's bfloat type has no arithmetic on x86 before AVX512-BF16).
IR_TYPES = {"f32": F32, "f64": F64, "i32": I32, "i64": I64, "bool": I8, "f16": F16, "bf16": I16}
_DTYPE_BYTES = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1, "f16": 2, "bf16": 2}


def round_up(n: int, multiple: int = ALIGN) -> int:
    return -(-n // multiple) * multiple


@dataclass(frozen=True)
class Operand:
    """A pointer parameter: a tensor read ("in"), written ("out"), both ("inout"), or scratch."""
    name: str
    shape: tuple[int, ...]
    role: str = "in"
    dtype: str = "f32"

    @property
    def nbytes(self) -> int:
        return prod(self.shape) * _DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Scratch:
    """Temporary memory: `shared` bytes for all threads, then `per_thread` bytes for each."""
    shared: int = 0
    per_thread: int = 0

    def nbytes(self, nthreads: int) -> int:
        return round_up(self.shared) + round_up(self.per_thread) * nthreads

    def __bool__(self) -> bool:
        return bool(self.shared or self.per_thread)


class ScratchPlan:
    """Named scratch regions, each 64-byte aligned: shared ones first, then per-thread ones."""

    def __init__(self):
        self._shared: dict[str, int] = {}
        self._private: dict[str, int] = {}

    def shared(self, name: str, nbytes: int) -> "ScratchPlan":
        self._shared[name] = round_up(nbytes)
        return self

    def private(self, name: str, nbytes: int) -> "ScratchPlan":
        self._private[name] = round_up(nbytes)
        return self

    @property
    def scratch(self) -> Scratch:
        return Scratch(sum(self._shared.values()), sum(self._private.values()))

    def shared_region(self, kf: "KernelFunction", name: str) -> ir.Value:
        return _byte_offset(kf.builder, kf.shared_scratch(), _offset_of(self._shared, name))

    def private_region(self, kf: "KernelFunction", name: str) -> ir.Value:
        return _byte_offset(kf.builder, kf.thread_scratch(), _offset_of(self._private, name))


def _offset_of(regions: dict[str, int], name: str) -> int:
    offset = 0
    for region, size in regions.items():
        if region == name:
            return offset
        offset += size
    raise KeyError(f"no scratch region {name!r}")


def _byte_offset(builder: ir.IRBuilder, base: ir.Value, offset) -> ir.Value:
    return elem_ptr(builder, base, offset, ir.IntType(8))


@dataclass
class Kernel:
    """What an emitter returns: run `phases` in order (barrier between), on buffers `operands`."""
    name: str
    phases: tuple[ir.Function, ...]
    operands: tuple[Operand, ...]
    scratch: Scratch = field(default_factory=Scratch)
    flops: int = 0
    batch: int = 0           # the `batch` argument its calls pass
    # (operand name, size): integer operands whose every value must lie in [0, size). The step
    # checks them before the kernel runs and stops with a status the executable raises from; the
    # kernel itself may then assume them in range.
    index_bounds: tuple[tuple[str, int], ...] = ()
    # The number of leading phases that read only the weights (operand `w`) and write only shared
    # scratch, such as a relayout or a Winograd transform of the filters. Where the weights never
    # change (an exported library), they run once instead of every step (lower.emit_step).
    prepare: int = 0


class KernelFunction:
    """One phase under construction: the function, a builder in its body, named arguments."""

    def __init__(self, module: ir.Module, name: str, operands: tuple[Operand, ...], scratch: Scratch = Scratch()):
        params = list(operands) + ([Operand("scratch", (scratch.nbytes(1),), "scratch")] if scratch else [])
        fnty = ir.FunctionType(VOID, [PTR] * len(params) + [I64, I64, I64])
        self.function = ir.Function(module, fnty, name)
        self.function.attributes.add("nounwind")
        for arg, operand in zip(self.function.args, params):
            arg.name = operand.name
            arg.attributes.add("noalias")
            arg.attributes.add("captures(none)")
            arg.attributes.align = ALIGN
        self.args = {operand.name: arg for arg, operand in zip(self.function.args, params)}
        self._operands = {operand.name: operand for operand in params}
        self.batch, self.tid, self.nthreads = self.function.args[-3:]
        self.batch.name, self.tid.name, self.nthreads.name = "batch", "tid", "nthreads"
        self.scratch = scratch
        self.builder = ir.IRBuilder(self.function.append_basic_block("entry"))

    def __getitem__(self, name: str) -> ir.Argument:
        return self.args[name]

    def operand(self, name: str) -> Operand:
        return self._operands[name]

    def shared_scratch(self) -> ir.Value:
        return self.args["scratch"]

    def thread_scratch(self) -> ir.Value:
        """This thread's private scratch region."""
        offset = self.builder.add(i64(round_up(self.scratch.shared)),
                                  self.builder.mul(self.tid, i64(round_up(self.scratch.per_thread))))
        return _byte_offset(self.builder, self.args["scratch"], offset)

    def finish(self) -> ir.Function:
        self.builder.ret_void()
        return self.function


def kernel_operands(own: list[Operand], extra: tuple[Operand, ...]) -> tuple[Operand, ...]:
    """The kernel's own operands followed by the epilogue's extra ones, names checked unique."""
    operands = tuple(own) + tuple(extra)
    names = [op.name for op in operands]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate operand names {sorted(duplicates)}; rename the epilogue operands")
    return operands
