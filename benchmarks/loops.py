"""Benchmark: a scan's compile time does not grow with its length, and its native step against the
interpreter's.

    python benchmarks/loops.py [--lengths 28,784] [--batch 32] [--hidden 64] [--rounds 20]

A recurrent train step (h = tanh(x W + h U) over the sequence, a Dense head on the last h, softmax
cross-entropy, Momentum: one scan forward, its reverse scan backward) over each length, compiled cold
in a new process with an empty cache (trace, passes, lower, LLVM, link: the first call's time less
the median step's). Prints the compile seconds
and their ratio to the first length's (issue 22's target: within 20%), then ms per step (median of
rounds) natively on 1 and 2 threads and on the reference interpreter.
Run it through the CPU lock on a shared machine (`flock /tmp/graphc-cpu.lock python ...`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import graphc
from graphc import Tensor, nn, ops
from graphc.control_flow import scan

FEATURES, CLASSES = 28, 10


class Recurrent(nn.Cell):
    def __init__(self, hidden: int):
        super().__init__()
        rng = np.random.default_rng(0)
        self.w = graphc.Parameter((rng.standard_normal((FEATURES, hidden)) * 0.1).astype(np.float32), name="w")
        self.u = graphc.Parameter((rng.standard_normal((hidden, hidden)) * 0.1).astype(np.float32), name="u")
        self.head = nn.Dense(hidden, CLASSES)

    def construct(self, xs):
        h = Tensor(np.zeros((xs.shape[1], self.u.shape[0]), np.float32))
        h, _ = scan(lambda c, x: (ops.tanh(ops.matmul(x, self.w) + ops.matmul(c, self.u)), c), h, xs)
        return self.head(h)


def measure(length: int, batch: int, hidden: int, rounds: int) -> dict:
    """In this process: the cold compile's seconds, then ms per step by backend and thread count."""
    rng = np.random.default_rng(1)
    xs = Tensor(rng.standard_normal((length, batch, FEATURES)).astype(np.float32))
    labels = Tensor(rng.integers(0, CLASSES, batch).astype(np.int32))
    result = {}
    for backend, threads in (("llvm", 1), ("llvm", 2), ("interp", 1)):
        graphc.set_seed(0)
        graphc.set_context(mode=graphc.GRAPH_MODE, backend=backend, num_threads=threads)
        net = Recurrent(hidden)
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.01, 0.9))
        start = time.perf_counter()
        step(xs, labels)
        first = time.perf_counter() - start
        times = []
        for _ in range(rounds if backend == "llvm" else max(1, rounds // 4)):
            start = time.perf_counter()
            step(xs, labels)
            times.append(time.perf_counter() - start)
        result.setdefault("compile_s", first - float(np.median(times)))      # the first call, less a step
        result[f"{backend}_{threads}_ms"] = 1e3 * float(np.median(times))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="28,784")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.batch, args.hidden, args.rounds)))
        return
    rows = []
    for length in map(int, args.lengths.split(",")):
        with tempfile.TemporaryDirectory() as cache:
            out = subprocess.run([sys.executable, __file__, "--child", str(length), "--batch", str(args.batch),
                                  "--hidden", str(args.hidden), "--rounds", str(args.rounds)], check=True,
                                 capture_output=True, text=True, env={**os.environ, "GRAPHC_CACHE_DIR": cache})
        rows.append((length, json.loads(out.stdout.splitlines()[-1])))
    first = rows[0][1]["compile_s"]
    print(f"recurrent train step, batch {args.batch}, hidden {args.hidden}: cold compile, then ms per step")
    print(f"{'steps':>6} {'compile s':>10} {'ratio':>6} {'native 1t':>10} {'native 2t':>10} {'interp':>10}")
    for length, r in rows:
        print(f"{length:>6} {r['compile_s']:>10.3f} {r['compile_s'] / first:>6.2f} {r['llvm_1_ms']:>10.2f} "
              f"{r['llvm_2_ms']:>10.2f} {r['interp_1_ms']:>10.2f}")


if __name__ == "__main__":
    main()
