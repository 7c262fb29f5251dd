"""The FP32 FMA peak of one core, measured now, so that every benchmark quotes GFLOP/s against it.

The kernel keeps `CHAINS` independent <16 x float> fused multiply-add chains in registers (enough
to cover the FMA latency on every port) and touches no memory in its loop; it is compiled by
graphc's own backend for the host CPU. An FMA counts as 2 FLOP.

    python benchmarks/peak.py
"""
import ctypes
import time

from graphc.codegen.machine import compile_module

CHAINS, LANES, ROUNDS = 24, 16, 2_000_000


def _kernel() -> str:
    vector = f"<{LANES} x float>"
    splat = lambda value: "<" + ", ".join([f"float {value}"] * LANES) + ">"   # noqa: E731
    body = [f"  %acc{c} = phi {vector} [zeroinitializer, %entry], [%next{c}, %loop]" for c in range(CHAINS)]
    body += [f"  %next{c} = call {vector} @llvm.fma.v{LANES}f32({vector} %acc{c}, {vector} {splat('1.0')}, "
             f"{vector} {splat('0x3F50000000000000')})" for c in range(CHAINS)]
    total = "%next0"
    sums = []
    for c in range(1, CHAINS):       # every chain feeds the stored result, so none is dead code
        sums.append(f"  %sum{c} = fadd {vector} {total}, %next{c}")
        total = f"%sum{c}"
    return "\n".join([
        f"declare {vector} @llvm.fma.v{LANES}f32({vector}, {vector}, {vector})",
        f"define void @peak(i64 %rounds, ptr %out) {{", "entry:", "  br label %loop", "loop:",
        "  %i = phi i64 [0, %entry], [%i.next, %loop]", *body,
        "  %i.next = add i64 %i, 1", "  %again = icmp ult i64 %i.next, %rounds",
        "  br i1 %again, label %loop, label %done", "done:", *sums,
        f"  store {vector} {total}, ptr %out, align 4", "  ret void", "}"])


def fma_peak_gflops(repeats: int = 5) -> float:
    """The best of `repeats` timed runs, in GFLOP/s for one core."""
    library = compile_module(_kernel())
    run = library.cfunc("peak", None, ctypes.c_int64, ctypes.c_void_p)
    out = (ctypes.c_float * LANES)()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        run(ROUNDS, ctypes.addressof(out))
        best = max(best, ROUNDS * CHAINS * LANES * 2 / (time.perf_counter() - start) / 1e9)
    return best


if __name__ == "__main__":
    print(f"FP32 FMA peak: {fma_peak_gflops():.1f} GFLOP/s per core")
