"""Benchmark: how long graphc takes to compile a network's steps, and what the steps then cost.

    python benchmarks/compile.py                       # LeNet, and every zoo network graphc.models has
    python benchmarks/compile.py --models lenet --threads 1,2

For each network and each compile thread count (1 and all cores by default), each row in a new
process, as a user sees it:

* train cold       the train step, empty cache (trace, passes, lower, LLVM, link)
* eval after train the eval cell compiled next in the same process (its forward kernels are the
                   train step's)
* batch-1 after    the train step again at batch size - 1 (an epoch's last partial batch), next in
                   the same process (kernels that read the batch size at run time are reused)
* train cached     the train step in a new process with the cache the cold run filled (step index)
* eval from cache  the eval cell alone in a new process with that cache: a network never compiled
                   before, built from kernels already on disk

with the process's CPU time (above the wall time when the threads compile in parallel), the
number of kernel calls, the kernels left after deduplication, how many were compiled,
the phases (from the compile report) and, for the train and eval steps, ms per step on the same
number of threads (median of rounds), so faster compiling is seen not to cost run time.
Run it through the CPU lock on a shared machine (`flock /tmp/graphc-cpu.lock python ...`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import graphc
from graphc import nn
from lenet_step import ms_per_step

BATCH = 32
# input (channels, size) and how each zoo network is built for it: CIFAR-sized images for all but LeNet
INPUTS = {"lenet": (1, 32, {}), "resnet20": (3, 32, {"in_channels": 3}),
          "resnet18": (3, 32, {"in_channels": 3, "small_input": True}), "mobilenet_v2": (3, 32, {"in_channels": 3})}


def available_models() -> list[str]:
    from graphc import models
    return [name for name in INPUTS if hasattr(models, name)]


def cells(model: str, batch: int, seed: int = 0):
    """(train step, eval cell, inputs) of a zoo network with 10 classes."""
    from graphc import models
    graphc.set_seed(seed)
    channels, size, options = INPUTS[model]
    net = getattr(models, model)(num_classes=10, **options)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    rng = np.random.default_rng(1)
    inputs = (rng.standard_normal((batch, channels, size, size)).astype(np.float32),
              rng.integers(0, 10, batch).astype(np.int32))
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt), nn.WithEvalCell(net, loss), inputs


def measure(cell, inputs, run: bool) -> dict:
    """Compile `cell` for `inputs`; its compile report, and ms per step when `run`."""
    start, cpu = time.perf_counter(), time.process_time()
    executable = cell.compile(*inputs)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    report = executable.report
    counts = report.counts
    row = {"seconds": seconds, "cpu": cpu, "calls": counts.calls, "kernels": counts.calls - counts.deduplicated,
           "compiled": counts.compiled, "phases": report.seconds, "warm": report.warm}
    if run:
        row["ms_per_step"] = ms_per_step(lambda: cell(*inputs), rounds=7, steps_per_round=20, warmup=5)
    return row


def child(model: str, scenario: str) -> None:
    """One process's measurements, printed as JSON lines (scenario: cold, cached or eval)."""
    train, evaluate, inputs = cells(model, BATCH)
    if scenario == "eval":
        rows = {"eval from cache": measure(evaluate, inputs, run=True)}
    elif scenario == "cached":
        rows = {"train cached": measure(train, inputs, run=False)}
    else:
        rows = {"train cold": measure(train, inputs, run=True),
                "eval after train": measure(evaluate, inputs, run=True),
                "batch-1 after": measure(train, tuple(x[:-1] for x in inputs), run=False)}
    print(json.dumps(rows))


def in_new_process(model: str, scenario: str, threads: int, cache: str) -> dict:
    env = {**os.environ, "GRAPHC_CACHE_DIR": cache, "GRAPHC_NUM_THREADS": str(threads)}
    run = subprocess.run([sys.executable, __file__, "--child", model, scenario], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated (default: lenet and every zoo network available)")
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}", help="compile/run thread counts, e.g. 1,2")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "SCENARIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    models = args.models.split(",") if args.models else available_models()
    print(f"{'network':<13} {'thr':>3} {'row':<17} {'seconds':>8} {'CPU s':>6} {'calls':>6} {'kernels':>8} {'compiled':>9} "
          f"{'ms/step':>8}  phases")
    for model in models:
        for threads in sorted({int(t) for t in args.threads.split(",")}):
            with tempfile.TemporaryDirectory() as cache:
                rows = in_new_process(model, "cold", threads, cache)
                rows.update(in_new_process(model, "cached", threads, cache))
                rows.update(in_new_process(model, "eval", threads, cache))
            for name, row in rows.items():
                phases = " ".join(f"{k} {v:.3f}" for k, v in row["phases"].items())
                step = f"{row['ms_per_step']:8.3f}" if "ms_per_step" in row else f"{'':>8}"
                print(f"{model:<13} {threads:>3} {name:<17} {row['seconds']:8.3f} {row['cpu']:6.2f} "
                      f"{row['calls']:>6} "
                      f"{row['kernels']:>8} {row['compiled']:>9} {step}  {phases}", flush=True)


if __name__ == "__main__":
    main()
