"""Benchmark: the training step (forward, backward, batch-norm statistics, Momentum update) of the
zoo's networks, against PyTorch eager on the same network in the same run.

    python benchmarks/models.py                      # the CNNs, then lstm, gru, text_bilstm
    python benchmarks/models.py --models resnet20 --rounds 5
    python benchmarks/models.py --models lstm gru text_bilstm

The recurrent networks (sequence_models.py) classify from the last hidden state: `lstm` and `gru`
read row-by-row MNIST-shaped input (28 steps of 28 features, hidden 128), `text_bilstm` embeds
synthetic tokens (vocabulary 5000, 64 features) into a bidirectional LSTM (hidden 128). PyTorch's
twins use nn.LSTM / nn.GRU (oneDNN's fused kernels) with the same weights.

For each network it prints, all measured in this run: FLOPs per step (of the optimized step graph,
by each op's flops rule), cold and cached compile time (each in a new process, the cold one with
an empty disk cache), ms/step of the native step on 1 thread and on all threads (median of timed
rounds after warm-up), its GFLOP/s and share of the FP32 FMA peak measured now (one core's peak
times the threads used), and PyTorch eager's ms/step on the same network with the same weights
when torch is installed (its eval logits are first checked against graphc's). Then, for the CNNs
(unless --no-amp), the amp table: the step at amp level O2 in bfloat16 (graphc.amp.build_train_network,
batch norm and the loss in float32, no loss scale) on all threads, against graphc's float32 step and
PyTorch eager under autocast(bfloat16) in the same run, with the instruction path graphc's half-type
kernels take on this CPU. The FLOPs count a
convolution as the direct algorithm does (2 per tap), also where graphc runs Winograd's, which
multiplies less: there GFLOP/s and % of peak are effective rates, the work the step stands for.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lenet_step import ms_per_step  # noqa: E402
from peak import fma_peak_gflops  # noqa: E402

import graphc  # noqa: E402
from graphc import Tensor, nn  # noqa: E402
from graphc.amp import build_train_network  # noqa: E402
from graphc.codegen.machine import half_path  # noqa: E402
from graphc.inspect import graph_stats  # noqa: E402
from graphc.jit import trace  # noqa: E402
from graphc.models import mobilenet_v2, resnet18, resnet20  # noqa: E402
from graphc.passes import run_pipeline  # noqa: E402
from sequence_models import SequenceClassifier  # noqa: E402

VOCAB = 5000

# name -> (builder, input shape of one batch)
MODELS = {
    "resnet20": (lambda: resnet20(num_classes=10, in_channels=1), (128, 1, 28, 28)),
    "resnet18": (lambda: resnet18(num_classes=10, small_input=True), (64, 3, 32, 32)),
    "mobilenet_v2": (lambda: mobilenet_v2(num_classes=10), (64, 3, 32, 32)),
    "lstm": (lambda: SequenceClassifier("LSTM", 28, 128), (128, 28, 28)),
    "gru": (lambda: SequenceClassifier("GRU", 28, 128), (128, 28, 28)),
    "text_bilstm": (lambda: SequenceClassifier("LSTM", 64, 128, vocab=VOCAB, bidirectional=True), (64, 100)),
}
TOKEN_MODELS = {"text_bilstm"}      # their input is int32 token ids in [0, VOCAB)


def make_network(name, seed=0):
    graphc.set_seed(seed)
    return MODELS[name][0]()


AMP_MODELS = ("resnet20", "resnet18", "mobilenet_v2")


def make_train_step(network, amp_level="O0"):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    optimizer = nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9)
    return build_train_network(network, optimizer, loss, level=amp_level, loss_scale_manager=None).set_train(True)


def batch(name, seed=1):
    shape = MODELS[name][1]
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, VOCAB, shape).astype(np.int32) if name in TOKEN_MODELS else \
        rng.standard_normal(shape).astype(np.float32)
    return inputs, rng.integers(0, 10, shape[0]).astype(np.int32)


def step_flops(name):
    """FLOPs of the step as it runs: after the pipeline (DCE drops the unused input gradient)."""
    traced = trace(make_train_step(make_network(name)), batch(name))
    run_pipeline(traced.graph)
    return graph_stats(traced.graph).total_flops


def compile_times(name):
    """Cold (empty disk cache) and cached compile of the train step, each in a new process."""
    with tempfile.TemporaryDirectory() as cache:
        return [_compile_in_new_process(name, cache) for _ in ("cold", "cached")]


def _compile_in_new_process(name, cache_dir):
    code = (f"import time, models as b; images, labels = b.batch({name!r}); "
            f"step = b.make_train_step(b.make_network({name!r})); "
            "start = time.perf_counter(); step.compile(images, labels); print(time.perf_counter() - start)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent, env={**os.environ, "GRAPHC_CACHE_DIR": cache_dir})
    return float(run.stdout.split()[-1])


def graphc_ms(name, threads, rounds, steps, amp_level="O0"):
    graphc.set_context(mode=graphc.GRAPH_MODE, backend="llvm", num_threads=threads)
    images, labels = (Tensor(a) for a in batch(name))
    step = make_train_step(make_network(name), amp_level)
    step.compile(images, labels)
    return ms_per_step(lambda: step(images, labels), rounds, steps, warmup=3)


def torch_ms(name, rounds, steps, thread_counts=None, autocast=False):
    """PyTorch eager on 1 thread and on all cores, when torch is installed ({} otherwise)."""
    try:
        import torch_models
    except ImportError:
        return {}
    images, labels = batch(name)
    network = make_network(name).set_train(False)
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    expected = network(Tensor(images[:4])).asnumpy()
    graphc.set_context(mode=graphc.GRAPH_MODE)
    got = torch_models.eval_logits(network, images[:4])
    assert np.allclose(got, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max()), "torch twin differs"
    rows = {}
    for threads in thread_counts or sorted({1, os.cpu_count()}):
        step = torch_models.train_step_fn(make_network(name), threads=threads, autocast=autocast)
        rows[threads] = ms_per_step(lambda: step(images, labels), rounds, steps, warmup=3)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--no-amp", action="store_true", help="skip the mixed-precision table")
    args = parser.parse_args()

    cores = os.cpu_count()
    peak = fma_peak_gflops()
    print(f"{cores} cores, FP32 FMA peak {peak:.1f} GFLOP/s per core (measured now)\n")
    header = (f"{'model':<14}{'batch':>12}{'GFLOP/step':>11}{'compile cold/cached s':>23}"
              f"{'threads':>8}{'ms/step':>10}{'GFLOP/s':>9}{'% peak':>8}{'torch ms':>10}{'torch/graphc':>13}")
    print(header, flush=True)
    for name in args.models:
        flops = step_flops(name)
        cold, cached = compile_times(name)
        torch_rows = torch_ms(name, args.rounds, args.steps)
        for threads in sorted({1, cores}):
            ms = graphc_ms(name, threads, args.rounds, args.steps)
            gflops = flops / ms / 1e6
            torch_cell = f"{torch_rows[threads]:>10.1f}{torch_rows[threads] / ms:>13.2f}" if torch_rows else \
                f"{'-':>10}{'-':>13}"
            print(f"{name:<14}{'x'.join(map(str, MODELS[name][1])):>12}{flops / 1e9:>11.2f}"
                  f"{f'{cold:.1f} / {cached:.2f}':>23}{threads:>8}{ms:>10.1f}{gflops:>9.1f}"
                  f"{gflops / (peak * threads):>8.1%}{torch_cell}", flush=True)
    amp_models = [name for name in args.models if name in AMP_MODELS]
    if amp_models and not args.no_amp:
        amp_table(amp_models, cores, args.rounds, args.steps)


def amp_table(names, threads, rounds, steps):
    """ms/step at O2 bfloat16 against float32 and PyTorch autocast(bfloat16), all on `threads` threads."""
    print(f"\nmixed precision, {threads} threads; graphc's half-type kernels here: {half_path()}")
    print(f"{'model':<14}{'fp32 ms':>9}{'O2 bf16 ms':>12}{'fp32/O2':>9}{'torch bf16 ms':>15}{'torch/O2':>10}")
    for name in names:
        fp32 = graphc_ms(name, threads, rounds, steps)
        amp = graphc_ms(name, threads, rounds, steps, amp_level="O2")
        torch_amp = torch_ms(name, rounds, steps, [threads], autocast=True).get(threads)
        torch_cells = f"{torch_amp:>15.1f}{torch_amp / amp:>10.2f}" if torch_amp else f"{'-':>15}{'-':>10}"
        print(f"{name:<14}{fp32:>9.1f}{amp:>12.1f}{fp32 / amp:>9.2f}{torch_cells}", flush=True)


if __name__ == "__main__":
    main()
