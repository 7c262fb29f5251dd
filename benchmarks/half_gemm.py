"""Benchmark: the half-type convolution kernels against float32's, against the FP32 FMA peak measured
in the same run. First the 1x1 convolutions' kernels (matmul's batched GEMM for the forward and input
gradient, its sum over images for the filter gradient) in float32, in bfloat16 through vdpbf16ps (or
widened pairs, without AVX512-BF16) and in bfloat16 on AMX tiles, on 1 and 2 threads; then, where the
CPU has AMX, resnet18's 3x3 convolutions of stride 1 and 2 (forward, input and filter gradients) in
float32 (Winograd or direct, columns for a strided input gradient) and on AMX tiles (kernels/conv_amx.py),
on 2 threads.

    python benchmarks/half_gemm.py [--trials N]

Layers are mobilenet_v2's on 32x32 images (benchmarks/models.py) and one wider layer, batch 64. Each time
is the best of N trials of an in-kernel repeat loop, the paths interleaved within a trial (the machine
is shared).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from llvmlite import ir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernels import best_times  # noqa: E402
from peak import fma_peak_gflops  # noqa: E402

from graphc.codegen.kernels.conv import ConvGeometry, emit_conv2d, emit_conv2d_grad_input  # noqa: E402
from graphc.codegen.kernels.conv_amx import emit_amx_conv2d, emit_amx_conv2d_grad_filter  # noqa: E402
from graphc.codegen.kernels.conv_filter import emit_conv2d_grad_filter  # noqa: E402
from graphc.codegen.kernels.epilogue import IDENTITY  # noqa: E402
from graphc.codegen.kernels.launch import Launcher, aligned  # noqa: E402
from graphc.codegen.kernels.matmul import emit_matmul  # noqa: E402
from graphc.codegen.machine import has_amx, has_dpbf16  # noqa: E402
from graphc.types import dtype_of  # noqa: E402

BATCH = 64
# (what, emit_matmul's m, k, n and flags): forward y[i] = w [O, C] @ x[i] [C, H·W]; input gradient
# dx[i] = w.T @ dy[i]; filter gradient dw = sum over images of dy[i] [O, H·W] @ x[i].T
LAYERS = [("16->96 at 16x16", 16, 96, 16 * 16), ("96->576 at 2x2", 96, 576, 2 * 2), ("256->512 at 8x8", 256, 512, 64)]
SHAPES = [case for what, cin, cout, pixels in LAYERS for case in (
    (f"{what} forward", cout, cin, pixels, {"batch": BATCH}),
    ("  input gradient", cin, cout, pixels, {"transpose_a": True, "batch": BATCH}),
    ("  filter gradient", cout, pixels, cin, {"transpose_b": True, "terms": BATCH}))]
PATHS = [("float32", "f32", False), ("bf16 pairs", "bf16", False), ("bf16 AMX", "bf16", True)]


# resnet18's 3x3 layers, batch 64: stride 1 (channels, size), and stride 2 (channels in, size in)
CONVS = [ConvGeometry(BATCH, c, size, size, c, 3, 3, (1, 1), (1, 1, 1, 1)) for c, size in
         [(64, 32), (128, 16), (256, 8), (512, 4)]] + \
        [ConvGeometry(BATCH, c, size, size, 2 * c, 3, 3, (2, 2), (1, 1, 1, 1)) for c, size in [(64, 32), (128, 16),
                                                                                            (256, 8)]]
# (direction, float32 kernel, AMX kernel)
CONV_KERNELS = [("forward", emit_conv2d, lambda m, geo: emit_amx_conv2d(m, "k", geo, IDENTITY)),
                ("input gradient", emit_conv2d_grad_input, lambda m, geo: emit_amx_conv2d(m, "k", geo, IDENTITY, True)),
                ("filter gradient", emit_conv2d_grad_filter, lambda m, geo: emit_amx_conv2d_grad_filter(m, "k", geo,
                                                                                                    IDENTITY))]


def launcher(emit):
    """(the kernel's FLOPs, run(threads, repeat)) of the kernel emit(module) adds, on random operands."""
    module = ir.Module()
    kernel = emit(module)
    rng = np.random.default_rng(0)
    arrays = {op.name: aligned(rng.standard_normal(op.shape).astype(dtype_of(op.dtype).np), dtype_of(op.dtype).np)
              for op in kernel.operands}
    run = Launcher(kernel, module)
    return kernel.flops, lambda threads, repeat: run(arrays, nthreads=threads, repeat=repeat)


def convolutions(trials: int, peak: float) -> None:
    print(f"\n{'3x3 layer, batch 64':<28}{'direction':<17}{'float32 us':>11}{'GF/s':>8}{'AMX us':>9}{'GF/s':>8}"
          f"{'% peak':>8}{'speedup':>9}")
    for geo in CONVS:
        for direction, wide, tiles in CONV_KERNELS:
            cases = [launcher(lambda m: wide(m, "k", geo)), launcher(lambda m: tiles(m, geo))]
            times = best_times([lambda r, run=run: run(2, r) for _, run in cases], trials, 2)
            rates = [flops / t / 1e9 for (flops, _), t in zip(cases, times)]
            layer = f"{geo.in_channels}x{geo.height}x{geo.width}" + (" stride 2" if geo.stride == (2, 2) else "")
            print(f"{layer:<28}{direction:<17}{times[0] * 1e6:>11.0f}{rates[0]:>8.0f}"
                  f"{times[1] * 1e6:>9.0f}{rates[1]:>8.0f}{rates[1] / (2 * peak):>8.0%}{times[0] / times[1]:>9.2f}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    peak = fma_peak_gflops()
    paths = PATHS if has_amx() else PATHS[:2]
    print(f"FP32 FMA peak {peak:.1f} GFLOP/s per core; AVX512-BF16: {has_dpbf16()}, AMX: {has_amx()}")
    print(f"{'layer':<28}{'path':<12}{'1T us':>9}{'GF/s':>8}{'% peak':>8}{'2T us':>9}{'GF/s':>8}{'% peak':>8}")
    for what, m, k, n, flags in SHAPES:
        cases = [launcher(lambda module, dtype=dtype, amx=amx: emit_matmul(module, "k", m, k, n, **flags, dtype=dtype,
                                                                           dpbf16=has_dpbf16(), amx=amx))
                 for _, dtype, amx in paths]
        repeat = max(1, int(2e8 // cases[0][0]))
        fns = [lambda r, run=run, t=t: run(t, r) for _, run in cases for t in (1, 2)]
        times = best_times(fns, args.trials, repeat)
        for (name, _, _), (flops, _), (one, two) in zip(paths, cases, zip(times[::2], times[1::2])):
            rates = [flops / t / 1e9 for t in (one, two)]
            print(f"{what:<28}{name:<12}{one * 1e6:>9.1f}{rates[0]:>8.1f}{rates[0] / peak:>8.0%}"
                  f"{two * 1e6:>9.1f}{rates[1]:>8.1f}{rates[1] / (2 * peak):>8.0%}", flush=True)
    if has_amx():
        convolutions(args.trials, peak)


if __name__ == "__main__":
    main()
