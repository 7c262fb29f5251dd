"""The convolution kernels alone on resnet18's shapes (small_input, 32x32 images): forward, input
gradient and filter gradient of each distinct 3x3 and 1x1 convolution, with no epilogue. For each:
ms (best of --repeats runs of 3 calls), GFLOP/s, the share of the FP32 FMA peak of the threads
used (measured in the same run), the kernel's LLVM IR size and its Python emission and LLVM
compile seconds. GFLOP/s count the direct convolution's FLOPs (2 MACs per tap), also for the
Winograd kernels, which do fewer multiplications. `--direct` measures the direct forms instead of
Winograd (the shapes that take it), for comparison on the same code.

    python benchmarks/conv_kernels.py [--batch 64] [--threads 2] [--repeats 5] [--kinds fwd,dx,dw] [--direct]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from unittest import mock

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphc.codegen.kernels.conv import ConvGeometry, emit_conv2d, emit_conv2d_grad_input  # noqa: E402
from graphc.codegen.kernels.conv_filter import emit_conv2d_grad_filter  # noqa: E402
from graphc.codegen.kernels.conv_winograd import WinogradConv  # noqa: E402
from graphc.codegen.kernels.conv_winograd_filter import WinogradFilterGradient  # noqa: E402
from graphc.codegen.kernels.launch import Launcher, aligned  # noqa: E402
from llvmlite import ir  # noqa: E402
from peak import fma_peak_gflops  # noqa: E402

EMITTERS = {"fwd": emit_conv2d, "dx": emit_conv2d_grad_input, "dw": emit_conv2d_grad_filter}
# (in channels, map size, out channels, kernel, stride) of resnet18's convolutions at 32x32
SHAPES = [(64, 32, 64, 3, 1), (64, 32, 128, 3, 2), (128, 16, 128, 3, 1), (64, 32, 128, 1, 2),
          (128, 16, 256, 3, 2), (256, 8, 256, 3, 1), (128, 16, 256, 1, 2),
          (256, 8, 512, 3, 2), (512, 4, 512, 3, 1), (256, 8, 512, 1, 2)]


def geometry(batch: int, cin: int, size: int, cout: int, kernel: int, stride: int) -> ConvGeometry:
    pad = kernel // 2
    return ConvGeometry(batch, cin, size, size, cout, kernel, kernel, stride=(stride, stride), pad=(pad,) * 4)


def measure(kind: str, geo: ConvGeometry, threads: int, repeats: int) -> dict:
    module = ir.Module(name=kind)
    start = time.perf_counter()
    kernel = EMITTERS[kind](module, kind, geo)
    ir_bytes = len(str(module))
    emitted = time.perf_counter()
    launcher = Launcher(kernel, module)
    compiled = time.perf_counter()
    rng = np.random.default_rng(0)
    arrays = {op.name: aligned(rng.standard_normal(op.shape).astype(np.float32)) for op in kernel.operands}
    launcher(arrays, threads, 1)
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        launcher(arrays, threads, 3)
        best = min(best, (time.perf_counter() - begin) / 3)
    return {"ms": best * 1e3, "gflops": geo.flops / best / 1e9, "ir_kb": ir_bytes / 1024,
            "emit_s": emitted - start, "llvm_s": compiled - emitted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kinds", default="fwd,dx,dw")
    parser.add_argument("--direct", action="store_true", help="the direct forms where Winograd would be used")
    args = parser.parse_args()
    with without_winograd() if args.direct else contextlib.nullcontext():
        run(args)


@contextlib.contextmanager
def without_winograd():
    never = staticmethod(lambda *shape: False)
    with mock.patch.object(WinogradConv, "supports", never), \
            mock.patch.object(WinogradFilterGradient, "supports", never):
        yield


def run(args) -> None:
    peak = fma_peak_gflops() * args.threads
    print(f"FP32 FMA peak of {args.threads} thread(s): {peak:.1f} GFLOP/s; batch {args.batch}")
    print(f"{'kernel':<6} {'conv':<28} {'ms':>8} {'GFLOP/s':>8} {'% peak':>7} {'IR KB':>6} {'emit s':>7} {'LLVM s':>7}")
    for kind in args.kinds.split(","):
        for cin, size, cout, kernel, stride in SHAPES:
            geo = geometry(args.batch, cin, size, cout, kernel, stride)
            r = measure(kind, geo, args.threads, args.repeats)
            shape = f"{cin}x{size}x{size} -> {cout} k{kernel} s{stride}"
            print(f"{kind:<6} {shape:<28} {r['ms']:8.2f} {r['gflops']:8.1f} {100 * r['gflops'] / peak:6.1f}% "
                  f"{r['ir_kb']:6.0f} {r['emit_s']:7.2f} {r['llvm_s']:7.2f}")


if __name__ == "__main__":
    main()
