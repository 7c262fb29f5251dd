"""The collective kernel: thread 0 hands a buffer to the process group's transport, in place.

    void name(ptr noalias align 64 x, ptr transport, i64 batch, i64 tid, i64 nthreads)

`transport` is a C function `void (ptr data, i64 count)` that sums the `count` float32 values at
data over every rank of the job and writes the sum back (codegen/executable.py makes it from the
registered transport). It runs on thread 0 only; the barriers the step places around any kernel
that reads or writes shared bytes keep the other threads off the buffer meanwhile.
"""
from __future__ import annotations

from llvmlite import ir

from .contract import ALIGN, Kernel, Operand
from .loops import entry_alloca
from .simd import I64, PTR, VOID, i64

TRANSPORT_TYPE = ir.FunctionType(VOID, [PTR, I64])


def emit_allreduce(module: ir.Module, name: str, shape: tuple[int, ...], dtype: str) -> Kernel:
    operands = (Operand("x", shape, "inout", dtype), Operand("transport", (), "in", "i64"))
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I64, I64]), name)
    x, transport, _, tid, _ = fn.args
    x.name, transport.name, tid.name = "x", "transport", "tid"
    x.attributes.add("noalias")
    x.attributes.align = ALIGN
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    count = 1
    for extent in shape:
        count *= extent
    # llvmlite calls through a pointer typed with its function type: reload the argument as one
    slot = entry_alloca(b, PTR, "transport.slot")
    b.store(transport, slot)
    with b.if_then(b.icmp_signed("==", tid, i64(0))):
        b.call(b.load(slot, typ=TRANSPORT_TYPE.as_pointer()), [x, i64(count)])
    b.ret_void()
    return Kernel(name, (fn,), operands)
