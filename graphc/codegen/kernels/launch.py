"""Run one kernel by itself on NumPy arrays: for tests, benchmarks and debugging.

`Launcher(kernel, module)` adds `void <name>.step(ptr ctx, i64 tid)` that runs the kernel's
phases `repeat` times with a barrier after each phase, compiles the module, and calls the step on
a `ThreadRunner`. The graph lowering builds the real step the same way, over one arena.
ctx layout (i64 slots): barrier state (16 slots), nthreads, repeat, then one pointer per operand.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ..machine import Library, compile_module
from ..parallel import BARRIER_BYTES, emit_barrier, shared_runner
from ...types import dtype_of
from .contract import ALIGN, Kernel
from .loops import counted_loop
from .simd import I64, PTR, VOID, elem_ptr, i64

_HEADER_SLOTS = BARRIER_BYTES // 8
_NTHREADS, _REPEAT, _POINTERS = _HEADER_SLOTS, _HEADER_SLOTS + 1, _HEADER_SLOTS + 2


def aligned_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialized C-contiguous array whose data is 64-byte aligned."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def aligned(array: np.ndarray, dtype=None) -> np.ndarray:
    """A 64-byte-aligned C-contiguous copy of `array`."""
    source = np.asarray(array, dtype=dtype)
    result = aligned_empty(source.shape, source.dtype)
    result[...] = source
    return result


class Launcher:
    def __init__(self, kernel: Kernel, module: ir.Module):
        self.kernel = kernel
        self.step_name = f"{kernel.name}.step"
        _emit_step(module, kernel, self.step_name)
        self.library: Library = compile_module(module)
        self._step = self.library.address(self.step_name)

    def __call__(self, arrays: dict[str, np.ndarray], nthreads: int = 1, repeat: int = 1) -> None:
        """Run on `arrays` (operand name -> aligned array; scratch is allocated if not given)."""
        pointers = [self._checked_address(op, arrays) for op in self.kernel.operands]
        scratch = None
        if self.kernel.scratch:
            scratch = aligned_empty((self.kernel.scratch.nbytes(nthreads),), np.uint8)
            pointers.append(scratch.ctypes.data)
        ctx = aligned_empty((_POINTERS + len(pointers),), np.int64)
        ctx[:_HEADER_SLOTS] = 0
        ctx[_NTHREADS], ctx[_REPEAT] = nthreads, repeat
        ctx[_POINTERS:] = pointers
        shared_runner(nthreads).run(self._step, ctx.ctypes.data)

    def _checked_address(self, operand, arrays) -> int:
        array = arrays[operand.name]
        expected = (tuple(operand.shape), np.dtype(dtype_of(operand.dtype).np))
        if (array.shape, array.dtype) != expected or not array.flags.c_contiguous:
            raise ValueError(f"{self.kernel.name}: operand {operand.name} must be a C-contiguous "
                             f"{expected[1]} array of shape {expected[0]}, got {array.dtype} {array.shape}")
        if array.ctypes.data % ALIGN:
            raise ValueError(f"{self.kernel.name}: operand {operand.name} is not {ALIGN}-byte aligned; "
                             "use launch.aligned()")
        return array.ctypes.data


def _emit_step(module: ir.Module, kernel: Kernel, name: str) -> None:
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), name)
    ctx, tid = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slot = lambda index, typ: b.load(elem_ptr(b, ctx, index, I64), typ=typ)
    nthreads, repeat = slot(_NTHREADS, I64), slot(_REPEAT, I64)
    pointers = [slot(_POINTERS + i, PTR) for i in range(len(kernel.phases[0].args) - 3)]
    with counted_loop(b, 0, repeat, name="rep"):
        for phase in kernel.phases:
            b.call(phase, pointers + [i64(kernel.batch), tid, nthreads])
            emit_barrier(b, ctx, nthreads)
    b.ret_void()
