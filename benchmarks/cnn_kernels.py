"""Where a batch-norm CNN's native train step spends its time: a CIFAR-style ResNet (3x3 convs
with pad_mode='same', stride-2 stages, 1x1 shortcuts, batch norm, global average pooling) and a
MobileNetV2-style stack (1x1 expand, depthwise 3x3, 1x1 project, ReLU6, residuals, dropout),
both built here from graphc.nn layers. For each: ms/step on 1 and all threads, GFLOP/s and the
share of the FP32 FMA peak measured now, then the per-kernel profile grouped by what the kernels
compute (conv, depthwise conv, their gradients, batch-norm statistics, elementwise loops...).
With --kernels, first the depthwise and pointwise kernels alone on MobileNet shapes against the
general (grouped direct) conv kernels on the same shapes, best of 5, in the same run.

    python benchmarks/cnn_kernels.py [--batch 64] [--size 32] [--steps 10] [--net resnet|mobilenet|both|none]
                                     [--kernels]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import graphc  # noqa: E402
from graphc import Tensor, nn  # noqa: E402
from graphc.codegen.kernels.conv import ConvGeometry, emit_conv2d, emit_conv2d_grad_input  # noqa: E402
from graphc.codegen.kernels.conv_depthwise import emit_depthwise_conv2d, emit_depthwise_grad_filter, \
    emit_depthwise_grad_input  # noqa: E402
from graphc.codegen.kernels.conv_filter import emit_conv2d_grad_filter  # noqa: E402
from graphc.codegen.kernels.launch import Launcher, aligned  # noqa: E402
from graphc.codegen.kernels.matmul import emit_matmul  # noqa: E402
from graphc.codegen.parallel import cycles_per_microsecond  # noqa: E402
from graphc.codegen.profile import kernel_rows  # noqa: E402
from llvmlite import ir  # noqa: E402
from peak import fma_peak_gflops  # noqa: E402


def conv_bn(cin, cout, kernel, stride=1, group=1):
    return [nn.Conv2d(cin, cout, kernel, stride=stride, group=group), nn.BatchNorm2d(cout)]


class Basic(nn.Cell):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.SequentialCell(conv_bn(cin, cout, 3, stride) + [nn.ReLU()] + conv_bn(cout, cout, 3))
        self.shortcut = nn.SequentialCell(conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else None
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.relu(self.body(x) + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet(nn.Cell):
    """resnet20's shape: a 3x3 stem, 3 stages of 3 blocks at 16/32/64 channels."""

    def __init__(self, cin=3, classes=10):
        super().__init__()
        layers, width = conv_bn(cin, 16, 3) + [nn.ReLU()], 16
        for out, stride in ((16, 1), (32, 2), (64, 2)):
            for block in range(3):
                layers.append(Basic(width, out, stride if block == 0 else 1))
                width = out
        self.features = nn.SequentialCell(layers)
        self.head = nn.SequentialCell([nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dense(64, classes)])

    def construct(self, x):
        return self.head(self.features(x))


class Inverted(nn.Cell):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.body = nn.SequentialCell(conv_bn(cin, hidden, 1) + [nn.ReLU6()]
                                      + conv_bn(hidden, hidden, 3, stride, hidden) + [nn.ReLU6()]
                                      + conv_bn(hidden, cout, 1))
        self.residual = stride == 1 and cin == cout

    def construct(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNet(nn.Cell):
    """A MobileNetV2-style stack at width 0.5 for 32x32 inputs."""

    def __init__(self, cin=3, classes=10):
        super().__init__()
        layers, width = conv_bn(cin, 16, 3) + [nn.ReLU6()], 16
        for out, repeats, stride in ((8, 1, 1), (12, 2, 1), (16, 3, 2), (32, 4, 2), (48, 3, 1), (80, 3, 2)):
            for k in range(repeats):
                layers.append(Inverted(width, out, stride if k == 0 else 1, 1 if out == 8 else 6))
                width = out
        layers += conv_bn(width, 640, 1) + [nn.ReLU6()]
        self.features = nn.SequentialCell(layers)
        self.head = nn.SequentialCell([nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dropout(p=0.2),
                                       nn.Dense(640, classes)])

    def construct(self, x):
        return self.head(self.features(x))


def train_step(net):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.05, 0.9)
                               ).set_train(True)


def category(ops: str) -> str:
    first = ops.split("+")[0]
    if first.startswith("conv2d"):
        return first + (" (depthwise)" if "depthwise" in ops else "")
    return {"reduce_mean": "global average pooling", "reduce_sum": "reductions", "batch_stats": "batch-norm statistics",
            "channel_affine": "batch-norm normalise (+ activation, add)", "channel_sums": "batch-norm gradient sums"
            }.get(first, "elementwise loops" if first in ("add", "sub", "mul", "relu", "relu6", "select", "assign",
                                                            "relu_grad", "rsqrt", "broadcast_to", "div") else first)


def profile(name, make, batch, size, steps, peak):
    x = Tensor(np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32))
    y = Tensor(np.random.default_rng(1).integers(0, 10, batch).astype(np.int32))
    times = {}
    for threads in (1, os.cpu_count() or 1):
        graphc.set_context(num_threads=threads, profile=False)
        step = train_step(make())
        start = time.perf_counter()
        step(x, y)
        compile_s = time.perf_counter() - start
        best = min(_timed(step, x, y) for _ in range(steps))
        times[threads] = best
        print(f"{name}: {threads} thread(s) {best * 1e3:.1f} ms/step (first call, with compiling: {compile_s:.1f} s)")
    graphc.set_context(num_threads=1, profile=True)
    step = train_step(make())
    executable = step.compile(x, y)
    for _ in range(steps):
        step(x, y)
    flops = sum(row.flops for row in kernel_rows(executable.lowered.calls))
    for threads, seconds in times.items():
        rate = flops / seconds / 1e9
        print(f"  {threads} thread(s): {rate:.1f} GFLOP/s = {rate / (peak * threads):.1%} of {threads} x {peak:.0f}")
    ticks = cycles_per_microsecond()
    groups = defaultdict(lambda: [0.0, 0, 0])
    for row, (calls, cycles) in zip(kernel_rows(executable.lowered.calls), executable.profile()):
        group = groups[category(row.ops + (" depthwise" if _depthwise(row, executable) else ""))]
        group[0] += cycles / ticks / max(calls, 1)
        group[1] += row.flops
        group[2] += 1
    total = sum(g[0] for g in groups.values())
    print(f"  1-thread profile, {flops / 1e9:.2f} GFLOP per step, {total / 1e3:.1f} ms in kernels:")
    print(f"  {'what':<40}{'kernels':>8}{'ms':>9}{'share':>8}{'GFLOP/s':>9}{'% peak':>8}")
    for what, (us, f, count) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        rate = f / us / 1e3 if us else 0.0
        print(f"  {what:<40}{count:>8}{us / 1e3:>9.2f}{us / total:>8.1%}{rate:>9.1f}{rate / peak:>8.1%}")
    graphc.set_context(profile=False)


def _depthwise(row, executable) -> bool:
    node = next((n for n in executable.graph.order() if f"%{n.id}" == row.node.split()[0]), None)
    if node is None:
        return False
    members = node.attrs["body"].order() if node.op == "fused" else [node]
    return any(m.op.startswith("conv2d") and m.attrs.get("group", 1) > 1 for m in members)


def kernel_seconds(emit, threads: int) -> float:
    """Best of 5 trials of 5 in-kernel repeats of one kernel on random operands."""
    module = ir.Module("bench")
    kernel = emit(module)
    run = Launcher(kernel, module)
    rng = np.random.default_rng(0)
    arrays = {op.name: aligned(rng.standard_normal(op.shape), np.float32) for op in kernel.operands}
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        run(arrays, nthreads=threads, repeat=5)
        best = min(best, (time.perf_counter() - start) / 5)
    return best


def compare_kernels(peak: float) -> None:
    depthwise = {"stride 1": ConvGeometry(64, 96, 16, 16, 96, 3, 3, (1, 1), (1, 1, 1, 1), group=96),
                 "stride 2": ConvGeometry(64, 96, 32, 32, 96, 3, 3, (2, 2), (0, 1, 0, 1), group=96)}
    pointwise = ConvGeometry(64, 96, 16, 16, 24, 1, 1)
    hw = pointwise.height * pointwise.width
    cases = []
    for label, geo in depthwise.items():
        cases += [(f"depthwise {label} forward", geo, lambda m, g=geo: emit_depthwise_conv2d(m, "k", g),
                   lambda m, g=geo: emit_conv2d(m, "k", g)),
                  (f"depthwise {label} input grad", geo, lambda m, g=geo: emit_depthwise_grad_input(m, "k", g),
                   lambda m, g=geo: emit_conv2d_grad_input(m, "k", g)),
                  (f"depthwise {label} filter grad", geo, lambda m, g=geo: emit_depthwise_grad_filter(m, "k", g),
                   lambda m, g=geo: emit_conv2d_grad_filter(m, "k", g))]
    p = pointwise
    cases += [("pointwise 96->24 forward", p, lambda m: emit_matmul(m, "k", 24, 96, hw, batch=64),
               lambda m: emit_conv2d(m, "k", p)),
              ("pointwise 96->24 input grad", p, lambda m: emit_matmul(m, "k", 96, 24, hw, True, batch=64),
               lambda m: emit_conv2d_grad_input(m, "k", p))]
    print(f"{'kernel (1 thread)':<34}{'new ms':>9}{'GFLOP/s':>9}{'% peak':>8}{'general ms':>12}{'speedup':>9}")
    for label, geo, new, general in cases:
        new_s, general_s = kernel_seconds(new, 1), kernel_seconds(general, 1)
        rate = geo.flops / new_s / 1e9
        print(f"{label:<34}{new_s * 1e3:>9.3f}{rate:>9.1f}{rate / peak:>8.1%}{general_s * 1e3:>12.3f}"
              f"{general_s / new_s:>9.2f}")


def _timed(step, x, y) -> float:
    start = time.perf_counter()
    step(x, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--net", choices=("resnet", "mobilenet", "both", "none"), default="both")
    parser.add_argument("--kernels", action="store_true")
    args = parser.parse_args()
    peak = fma_peak_gflops()
    print(f"FP32 FMA peak {peak:.1f} GFLOP/s per core (measured now); batch {args.batch}, {args.size}x{args.size}")
    if args.kernels:
        compare_kernels(peak)
    nets = {"resnet": ResNet, "mobilenet": MobileNet}
    for name in {"both": ("resnet", "mobilenet"), "none": ()}.get(args.net, (args.net,)):
        graphc.set_seed(0)
        profile(name, nets[name], args.batch, args.size, args.steps, peak)


if __name__ == "__main__":
    main()
