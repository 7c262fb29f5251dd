"""Benchmark: the LeNet-5 training step (batch 32, forward + backward + Momentum update).

    python benchmarks/lenet_step.py                 # everything, about a minute
    python benchmarks/lenet_step.py --no-epoch      # skip the full tutorial epoch

Prints, all measured in this run: ms/step (median of rounds after warm-up) of the native step on
1 thread and on all threads, its GFLOP/s and share of the machine's FP32 FMA peak (measured here),
the Python time per call around the native step, cold and cached compile time (the cached one in a
new process, as a user sees it), and the same step on the reference interpreter, on a plain NumPy
im2col implementation and (when torch is installed) in PyTorch eager, as ratios; then the time of
one full tutorial epoch (1875 steps, data pipeline and callbacks included; MNIST comes from
GRAPHC_MNIST_MIRRORS or the public mirrors, into the dataset cache folder) fed one batch per step
and in dataset sink mode, against 1875 x the native step time, and the Python per step outside
the native calls.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_lenet  # noqa: E402
from peak import fma_peak_gflops  # noqa: E402

import graphc  # noqa: E402
from graphc import nn  # noqa: E402
from graphc.inspect import graph_stats  # noqa: E402
from graphc.jit import trace  # noqa: E402
from graphc.models import lenet  # noqa: E402
from graphc.passes import run_pipeline  # noqa: E402

BATCH = 32


def make_train_step(seed=0):
    graphc.set_seed(seed)
    net = lenet(num_classes=10)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt)


def batch(seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((BATCH, 1, 32, 32)).astype(np.float32),
            rng.integers(0, 10, BATCH).astype(np.int32))


def ms_per_step(step, rounds, steps_per_round, warmup=20):
    for _ in range(warmup):
        step()
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps_per_round):
            step()
        per_round.append((time.perf_counter() - start) * 1000 / steps_per_round)
    return statistics.median(per_round)


def step_flops():
    """FLOPs of the step as it runs: after the pipeline (DCE drops the unused input gradient of conv1)."""
    images, labels = batch()
    traced = trace(make_train_step(), (images, labels))
    run_pipeline(traced.graph)
    return graph_stats(traced.graph).total_flops


def graphc_step(backend, threads, images, labels):
    graphc.set_context(mode=graphc.GRAPH_MODE, backend=backend, num_threads=threads)
    train_step = make_train_step()
    start = time.perf_counter()
    train_step.compile(images, labels)
    compile_s = time.perf_counter() - start
    return (lambda: train_step(images, labels)), compile_s


def numpy_step(images, labels):
    graphc.set_seed(0)
    params = {name: p.asnumpy().copy() for name, p in lenet(num_classes=10).parameters_and_names()}
    moments = {name: np.zeros_like(v) for name, v in params.items()}
    return lambda: numpy_lenet.train_step(params, moments, images, labels)


def torch_steps(images, labels):
    """PyTorch eager on 1 thread and on all cores, when torch is installed (checked against NumPy)."""
    try:
        import torch_lenet
    except ImportError:
        return {}
    graphc.set_seed(0)
    params = {name: p.asnumpy().copy() for name, p in lenet(num_classes=10).parameters_and_names()}
    reference = numpy_lenet.train_step({k: v.copy() for k, v in params.items()},
                                       {k: np.zeros_like(v) for k, v in params.items()}, images, labels)
    first = torch_lenet.train_step_fn(params)(images, labels)
    assert abs(first - reference) < 1e-4 * abs(reference), (first, reference)
    rows = {}
    for threads in sorted({1, os.cpu_count()}):
        step = torch_lenet.train_step_fn(params, threads=threads)
        rows[f"PyTorch eager, {threads} thread(s)"] = ms_per_step(lambda: step(images, labels), 5, 40)
    return rows


def compile_times():
    """Cold (empty disk cache) and cached compile of the train step, each in a new process: the cached
    one is what a user sees on the second run of a script (LLVM and the thread runtime start cold)."""
    with tempfile.TemporaryDirectory() as cache:
        return [_compile_in_new_process(cache) for _ in ("cold", "cached")]


def _compile_in_new_process(cache_dir):
    code = ("import time, lenet_step as b; images, labels = b.batch(); step = b.make_train_step(); "
            "start = time.perf_counter(); step.compile(images, labels); print(time.perf_counter() - start)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent, env={**os.environ, "GRAPHC_CACHE_DIR": cache_dir})
    return float(run.stdout.split()[-1])


def python_us_per_call(images, labels, calls=2000):
    """Microseconds per step spent in Python around the native step (argument checks, the batch copy,
    the ctypes call, the loss copy): the median over calls of a Cell call's time minus the time of
    the native run inside it (measured in the same call, so a change of load cannot bias it); and the
    median native run in milliseconds (the step without Python)."""
    graphc.set_context(mode=graphc.GRAPH_MODE, backend="llvm", num_threads=None)
    step = make_train_step()
    runner = step.compile(images, labels)._runner
    native = []

    def timed_run(*args):
        begin = time.perf_counter()
        original(*args)
        native.append(time.perf_counter() - begin)

    original, runner.run = runner.run, timed_run
    try:
        overheads = []
        for _ in range(calls):
            begin = time.perf_counter()
            step(images, labels)
            overheads.append(time.perf_counter() - begin - native[-1])
    finally:
        del runner.run
    return statistics.median(overheads[calls // 10:]) * 1e6, statistics.median(native[calls // 10:]) * 1000


def tutorial_epoch_seconds(sink):
    """(seconds, seconds inside native runs) of the second epoch of the tutorial's training (the first
    compiles), and its steps: fed one batch per step, or in dataset sink mode (one native call)."""
    from graphc.codegen.parallel import ThreadRunner
    from runtime import Model
    from runtime.callbacks import Callback
    from runtime.dataset import MNIST, Mnist

    native = []

    class EpochTimer(Callback):
        def epoch_begin(self, run_context):
            native.clear()
            self.start = time.perf_counter()

        def epoch_end(self, run_context):
            self.seconds = time.perf_counter() - self.start

    def timed_run(runner, *args):
        begin = time.perf_counter()
        original(runner, *args)
        native.append(time.perf_counter() - begin)

    graphc.set_context(mode=graphc.GRAPH_MODE, backend="llvm", num_threads=None)
    train = Mnist(path=MNIST.default_root(), split="train", batch_size=BATCH, shuffle=True, resize=32,
                  download=True).run()
    graphc.set_seed(0)
    network = lenet(num_classes=10)
    model = Model(network, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9), metrics={"acc"})
    timer = EpochTimer()
    original, ThreadRunner.run = ThreadRunner.run, timed_run
    try:
        model.train(2, train, callbacks=[timer], dataset_sink_mode=sink)
    finally:
        ThreadRunner.run = original
    return timer.seconds, sum(native), train.get_dataset_size()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--no-epoch", action="store_true", help="skip the full tutorial epoch")
    args = parser.parse_args()

    images, labels = batch()
    flops = step_flops()
    cores = os.cpu_count()
    peak = fma_peak_gflops()
    print(f"LeNet-5 train step, batch {BATCH}: {flops / 1e6:.1f} MFLOP per step; {cores} cores, "
          f"FP32 FMA peak {peak:.1f} GFLOP/s per core (measured now)")

    cold, cached = compile_times()
    print(f"compile of the train step in a new process (trace + passes + LLVM): cold {cold:.3f} s, "
          f"from the disk cache {cached:.3f} s")
    python_us, step_ms = python_us_per_call(images, labels)
    print(f"Python per call of the compiled step: {python_us:.1f} us")

    results = {}
    for threads in sorted({1, cores}):
        step, _ = graphc_step("llvm", threads, images, labels)
        results[f"graphc llvm, {threads} thread(s)"] = ms_per_step(step, args.rounds, args.steps)
    step, _ = graphc_step("interp", None, images, labels)
    results["graphc interpreter"] = ms_per_step(step, 3, 3, warmup=2)
    results["NumPy im2col"] = ms_per_step(numpy_step(images, labels), 5, 10, warmup=3)
    results.update(torch_steps(images, labels))

    best = min(v for k, v in results.items() if k.startswith("graphc llvm"))
    print(f"\n{'implementation':<28}{'ms/step':>10}{'GFLOP/s':>10}{'% peak':>8}{'x graphc':>10}")
    for name, ms in results.items():
        threads = 1 if "1 thread" in name or "interpreter" in name or "NumPy" in name else cores
        gflops = flops / ms / 1e6
        print(f"{name:<28}{ms:>10.3f}{gflops:>10.1f}{gflops / (peak * threads):>8.1%}{ms / best:>10.2f}")

    if not args.no_epoch:
        print(f"\ntutorial epoch (the second of two; data pipeline and callbacks included), against "
              f"steps x the native step ({step_ms:.3f} ms, {cores} threads):")
        for sink in (False, True):
            seconds, native, steps = tutorial_epoch_seconds(sink)
            print(f"  {'dataset sink mode' if sink else 'one batch per step':<20} {steps} steps: {seconds:.3f} s, "
                  f"{seconds * 1000 / (steps * step_ms):.3f} x {steps} steps; Python outside the native calls "
                  f"{(seconds - native) * 1e6 / steps:.1f} us/step")


if __name__ == "__main__":
    main()
