"""Benchmark: data-parallel training steps on this machine, and what they predict for N machines.

    python benchmarks/distributed.py            # LeNet-5 (and resnet20 once graphc.models has it), ~2 min

For each model and global batch B, all measured in this run:
- ms/step of one process on all cores (2 threads) with batch B, and of `mpiexec -n 2`, one thread
  per rank, each rank with B / 2 (the same global batch, the same parameters after each step);
- the allreduce of the step's packed gradients: its bytes, its time inside the step (the native
  profile's cycles on thread 0, waiting for the other rank included) and alone (both ranks ready);
- the one-thread step time at several batches per rank (the compute a rank does between allreduces);
- what calling back from the native step into Python costs, with a transport that does nothing.

Then the ring allreduce cost model, T(N) = 2 (N - 1) alpha + 2 (N - 1) / N * bytes / bandwidth, and
the scaling efficiency t_compute(b) / (t_compute(b) + T(N)) it gives for N machines on two networks,
with the smallest batch per rank that keeps it at 90% or more (docs/distributed.md explains it).
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lenet_step  # noqa: E402

import graphc  # noqa: E402
from graphc import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {"10 GbE": (25e-6, 10e9 / 8), "100 Gb/s InfiniBand": (2e-6, 100e9 / 8)}   # (alpha s, bytes/s)
MACHINES = (2, 4, 8, 16, 64)


def models() -> dict:
    """name -> (network factory, input shape of one image); resnet20 when graphc.models defines it."""
    found = {"lenet": (lambda: graphc.models.lenet(num_classes=10), (1, 32, 32))}
    if hasattr(graphc.models, "resnet20"):
        found["resnet20"] = (lambda: graphc.models.resnet20(num_classes=10, in_channels=3), (3, 32, 32))
    return found


def train_step(model: str):
    factory, _ = models()[model]
    graphc.set_seed(0)
    net = factory()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.01, 0.9))


def batch(model: str, size: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((size, *models()[model][1])).astype(np.float32),
            rng.integers(0, 10, size).astype(np.int32))


def ms_per_step(run, rounds=7, steps=40) -> float:
    """Median ms per call over `rounds` rounds of `steps` calls, after a warm-up (lenet_step.py's)."""
    return lenet_step.ms_per_step(run, rounds, steps)


def one_process(model: str, size: int, threads: int) -> float:
    graphc.set_context(num_threads=threads)
    step = train_step(model)
    images, labels = batch(model, size)
    step.compile(images, labels)
    return ms_per_step(lambda: step(images, labels))


# -- a rank of the mpiexec job ---------------------------------------------------------------------
def rank_main(model: str, global_batch: int) -> None:
    from graphc import communication
    from graphc.codegen.parallel import cycles_per_microsecond
    communication.init()
    world = communication.world()
    graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    graphc.set_context(num_threads=1)
    images, labels = batch(model, global_batch // world.size, seed=1 + world.rank)
    step = train_step(model)
    step.compile(images, labels)
    step_ms = ms_per_step(lambda: step(images, labels))

    graphc.set_context(profile=True)                   # a second build that counts each kernel's cycles
    profiled = train_step(model)
    executable = profiled.compile(images, labels)
    profiled_ms = ms_per_step(lambda: profiled(images, labels), rounds=3)
    (index, call), = [(i, c) for i, c in enumerate(executable.lowered.calls) if c.node.op == "allreduce"]
    calls, cycles = executable.profile()[index]
    in_step_us = cycles / calls / cycles_per_microsecond()

    packed = np.zeros(call.node.type.shape, np.float32)
    alone_us = 1000 * ms_per_step(lambda: world.allreduce(packed), steps=200)
    small = np.zeros(16, np.float32)
    latency_us = 1000 * ms_per_step(lambda: world.allreduce(small), steps=500)
    if world.rank == 0:
        print(json.dumps({"step_ms": step_ms, "profiled_step_ms": profiled_ms, "allreduce_in_step_us": in_step_us,
                          "allreduce_alone_us": alone_us,
                          "allreduce_16_floats_us": latency_us, "bytes": packed.nbytes}))


def two_ranks(model: str, global_batch: int) -> dict:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = [str(mpiexec if mpiexec.exists() else "mpiexec"), "-n", "2", sys.executable, __file__, "--rank-of",
               model, str(global_batch)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- the report -------------------------------------------------------------------------------------
def ring_seconds(nbytes: int, machines: int, alpha: float, bandwidth: float) -> float:
    return 2 * (machines - 1) * alpha + 2 * (machines - 1) / machines * nbytes / bandwidth


def report(model: str, global_batch: int) -> None:
    alone = one_process(model, global_batch, threads=2)
    job = two_ranks(model, global_batch)
    per_rank = global_batch // 2
    print(f"\n{model}, global batch {global_batch}")
    print(f"  1 process x 2 threads, batch {global_batch}:        {alone:7.3f} ms/step")
    print(f"  2 ranks x 1 thread, batch {per_rank} each:           {job['step_ms']:7.3f} ms/step "
          f"({alone / job['step_ms']:.2f}x the one process)")
    print(f"  allreduce of {job['bytes']:,} bytes per step: {job['allreduce_in_step_us']:.1f} us inside a "
          f"{job['profiled_step_ms']:.3f} ms profiled step (waiting for the other rank included), "
          f"{job['allreduce_alone_us']:.1f} us alone; 16 floats: {job['allreduce_16_floats_us']:.1f} us")
    compute = {b: one_process(model, b, threads=1) for b in (16, 32, 64)}
    print("  one rank's compute (1 thread): " + ", ".join(f"batch {b}: {ms:.3f} ms" for b, ms in compute.items()))
    slope = (compute[64] - compute[16]) / 48                       # ms per image
    fixed = compute[16] - 16 * slope
    for network, (alpha, bandwidth) in NETWORKS.items():
        print(f"  ring allreduce over {network} (alpha {alpha * 1e6:.0f} us, {bandwidth / 1e9:.2f} GB/s), "
              f"batch {per_rank} per rank:")
        for machines in MACHINES:
            ring_ms = 1000 * ring_seconds(job["bytes"], machines, alpha, bandwidth)
            efficiency = compute_at(per_rank, fixed, slope) / (compute_at(per_rank, fixed, slope) + ring_ms)
            needed = max(1, int(np.ceil((9 * ring_ms - fixed) / slope)))   # compute >= 9 x allreduce
            print(f"    {machines:3d} machines: allreduce {ring_ms:7.3f} ms, efficiency {efficiency:6.1%}, "
                  f">= 90% from batch {needed} per rank")


class _NoTransport:
    """A transport of two ranks that sums nothing: what is left is the cost of reaching it."""
    size = 2

    def allreduce(self, array):
        pass

    def allgather(self, value):
        return [value] * self.size

    def abort(self):
        raise SystemExit(1)


def callback_overhead_us(elements: int) -> float:
    """us per call of a native step that only runs an allreduce kernel (ranks=2, a do-nothing
    transport) minus the same step over one rank (no kernel), one thread."""
    from graphc import ops
    from graphc.ops import collective
    graphc.set_context(num_threads=1)
    x = np.zeros(elements, np.float32)
    collective.set_transport(_NoTransport())
    try:
        times = {ranks: ms_per_step(lambda f=graphc.jit(lambda v, r=ranks: ops.allreduce(v * 2.0, ranks=r)): f(x),
                                    steps=500) for ranks in (1, 2)}
    finally:
        collective.set_transport(None)
    return 1000 * (times[2] - times[1])


def compute_at(per_rank: int, fixed: float, slope: float) -> float:
    return fixed + slope * per_rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank-of", nargs=2, metavar=("MODEL", "GLOBAL_BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128], help="global batch sizes")
    args = parser.parse_args()
    if args.rank_of:
        rank_main(args.rank_of[0], int(args.rank_of[1]))
        return
    print("load average (1, 5, 15 min) at the start: %.2f %.2f %.2f on %d cores" % (*os.getloadavg(), os.cpu_count()))
    print(f"calling the transport from the native step: {callback_overhead_us(61738):.1f} us per call "
          f"(a do-nothing transport, one process, one thread)")
    for model in models():
        for global_batch in args.batches:
            report(model, global_batch)


if __name__ == "__main__":
    main()
