"""Kernels compiled once: equal kernels are emitted and compiled once inside a step and shared
between steps, bitwise the same as compiled alone; the per-kernel cache on disk is used by a new
process, never across toolchains, survives damage, and two processes can fill it at once; compile
workers produce the same object code as the calling thread."""
from __future__ import annotations

import gc
import json
import re
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
from llvmlite import ir

import graphc
from graphc import Parameter, Tensor, nn, ops
from graphc.codegen import disk_cache, kernel_cache, machine
from graphc.codegen.compile_pool import CompileBatch, compile_text
from graphc.codegen.kernel_cache import KernelSet
from graphc.codegen.lower import lower_graph
from graphc.jit import trace
from graphc.models import lenet
from graphc.passes import run_pipeline

from .native_support import assert_same, run_both

REPO = Path(__file__).resolve().parents[2]


def new_process() -> None:
    """Forget what this process compiled: only the disk cache remembers."""
    machine._memory_cache.clear()
    kernel_cache._known.clear()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty disk cache, and nothing compiled in memory: as a new process on a new machine sees it."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    new_process()
    return tmp_path


def cells(seed=0):
    graphc.set_seed(seed)
    net = lenet(num_classes=10)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    train = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.01, 0.9))
    return train, nn.WithEvalCell(net, loss)


def lenet_batch(batch=8):
    rng = np.random.default_rng(3)
    return (Tensor(rng.standard_normal((batch, 1, 32, 32)).astype(np.float32)),
            Tensor(rng.integers(0, 10, batch).astype(np.int32)))


def evaluate(cell, inputs):
    return [out.asnumpy().copy() for out in cell(*inputs)]


def test_the_eval_cell_reuses_the_train_steps_kernels_bitwise(cache):
    inputs = lenet_batch()
    alone = evaluate(cells()[1], inputs)                      # compiled from nothing
    new_process()
    for entry in cache.iterdir():
        entry.unlink()
    train, evaluation = cells()
    train.compile(*inputs)
    eval_executable = evaluation.compile(*inputs)
    counts = eval_executable.report.counts
    assert counts.compiled == 0 and counts.memory == counts.calls - counts.deduplicated > 0   # all the train step's
    for shared, own in zip(evaluate(evaluation, inputs), alone, strict=True):
        np.testing.assert_array_equal(shared, own)


def test_a_partial_batch_reuses_the_compiled_kernels_bitwise(cache):
    partial = [x[:5] for x in lenet_batch(8)]
    train, _ = cells()
    alone = [float(train(*partial).asnumpy()) for _ in range(3)]         # compiled from nothing at batch 5
    new_process()
    for entry in cache.iterdir():
        entry.unlink()
    train, evaluation = cells()
    full = train.compile(*lenet_batch(8)).report.counts
    counts = train.compile(*partial).report.counts
    assert full.compiled == full.calls - full.deduplicated and counts.compiled == 0 < counts.memory
    assert [float(train(*partial).asnumpy()) for _ in range(3)] == alone
    evaluation.compile(*lenet_batch(8))
    other_size = evaluation.compile(*[x[:3] for x in partial]).report.counts      # eval at another batch size
    assert other_size.compiled == 0 < other_size.memory


def conv_pair(params, x, y):
    return ops.get("conv2d")(x, params["w1"]), ops.get("conv2d")(y, params["w2"])


def test_equal_kernels_in_one_step_are_emitted_once_and_give_the_same_bits(cache):
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal((2, 3, 9, 9)).astype(np.float32) for _ in range(2))
    w1, w2 = (rng.standard_normal((4, 3, 3, 3)).astype(np.float32) for _ in range(2))
    params = {"w1": Parameter(w1, name="w1"), "w2": Parameter(w2, name="w2")}
    traced = trace(lambda a, b: conv_pair(params, a, b), (x, y))
    run_pipeline(traced.graph)
    lowered = lower_graph(traced.graph)
    assert lowered.kernels.counts.calls == 2 and lowered.kernels.counts.deduplicated == 1
    assert lowered.calls[0].kernel == lowered.calls[1].kernel and len(lowered.kernels.texts) == 1
    both = graphc.jit(lambda a, b: conv_pair(params, a, b))(Tensor(x), Tensor(y))
    single = graphc.jit(lambda a, w: ops.get("conv2d")(a, w))
    for got, (image, weight) in zip(both, [(x, w1), (y, w2)]):
        np.testing.assert_array_equal(got.asnumpy(), single(Tensor(image), Tensor(weight)).asnumpy())


def test_updates_of_equal_parameters_share_a_kernel_and_update_each_their_own(cache):
    """A fused body names its parameter inputs after the parameters, its code does not: the update
    of every weight of one shape (ResNet-20 has five 64x64x3x3 convs) is one kernel."""
    rng = np.random.default_rng(0)
    values = {name: rng.standard_normal((5, 7)).astype(np.float32) for name in ("a", "b")}

    def step(p, x, y):
        for name, grad in (("a", x), ("b", y)):
            ops.assign(p[name], p[name] - grad * 0.5)
        return x

    params = {name: Parameter(value, name=name) for name, value in values.items()}
    traced = trace(lambda x, y: step(params, x, y), (values["a"], values["b"]))
    run_pipeline(traced.graph)
    counts = lower_graph(traced.graph).kernels.counts
    assert counts.calls == 2 and counts.deduplicated == 1
    native, interp = run_both(step, [values["b"], values["a"]], values)
    assert_same(native, interp)
    np.testing.assert_array_equal(native[1], values["a"] - values["b"] * np.float32(0.5))


def test_a_compiled_step_keeps_none_of_its_kernels_ir(cache, monkeypatch):
    """Kernel modules are dropped once compiled (ResNet-20's IR objects take 62 MB)."""
    made = []
    create = ir.Module.__init__

    def remembered(module, *args, **kwargs):
        create(module, *args, **kwargs)
        made.append(weakref.ref(module))
    monkeypatch.setattr(ir.Module, "__init__", remembered)
    executable = cells()[0].compile(*lenet_batch())
    gc.collect()
    kernels = [ref() for ref in made if ref() is not None and ref().name.startswith("graphc.kernel.")]
    assert len(made) > 20 and kernels == [] and executable.report.counts.compiled > 20


def test_a_new_process_compiles_only_the_kernels_it_has_not_seen(cache):
    inputs = lenet_batch()
    train, _ = cells()
    train.compile(*inputs)
    new_process()
    evaluation = cells()[1].compile(*inputs)
    counts = evaluation.report.counts
    assert counts.compiled == 0 and counts.disk == counts.calls - counts.deduplicated > 0
    assert not evaluation.report.warm                          # not the step index: a step never built


def test_entries_of_another_toolchain_are_never_used(cache, monkeypatch):
    inputs = lenet_batch()
    cells()[1].compile(*inputs)
    new_process()
    other = machine.toolchain()[:2] + ("another-cpu", "+avx2")
    monkeypatch.setattr(machine, "toolchain", lambda: other)
    counts = cells()[1].compile(*inputs).report.counts
    assert counts.memory == counts.disk == 0 and counts.compiled == counts.calls - counts.deduplicated


def test_a_damaged_kernel_index_entry_is_rebuilt(cache):
    inputs = lenet_batch()
    expected = evaluate(cells()[1], inputs)
    new_process()
    for path in list(cache.glob(f"*{disk_cache.KERNEL_INDEX}")) + list(cache.glob(f"*{disk_cache.STEP_INDEX}")):
        path.write_bytes(path.read_bytes()[:-3])
    evaluation = cells()[1]
    for got, want in zip(evaluate(evaluation, inputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert all(disk_cache.read_entry(p.name[:-len(disk_cache.KERNEL_INDEX)], disk_cache.KERNEL_INDEX) is not None
               for p in cache.glob(f"*{disk_cache.KERNEL_INDEX}"))


def test_object_code_in_memory_stays_within_its_bound_and_what_it_dropped_is_found_again(cache):
    inputs = lenet_batch()
    expected = evaluate(cells()[1], inputs)
    everything, objects = machine._memory_cache.weight(), len(machine._memory_cache)
    bound = everything // 2
    graphc.set_context(kernel_cache_bytes=bound)
    new_process()
    for step_index_found in (True, False):       # objects read back from disk; then compiled again
        if not step_index_found:
            for entry in cache.iterdir():
                entry.unlink()
        evaluation = cells()[1]
        counts = evaluation.compile(*inputs).report.counts
        assert machine._memory_cache.weight() <= bound and len(machine._memory_cache) < objects
        assert (counts.disk if step_index_found else counts.compiled) > 0
        for got, want in zip(evaluate(evaluation, inputs), expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_the_kernels_known_in_memory_are_bounded(cache, monkeypatch):
    inputs = lenet_batch()
    expected = evaluate(cells()[1], inputs)
    new_process()
    monkeypatch.setattr(kernel_cache, "KNOWN_KERNELS", 5)
    train, evaluation = cells()
    train.compile(*inputs)
    assert len(kernel_cache._known) == 5
    for got, want in zip(evaluate(evaluation, inputs), expected, strict=True):   # the others: from the disk index
        np.testing.assert_array_equal(got, want)


FILL_CACHE = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from codegen.test_kernel_cache import cells, lenet_batch, evaluate
inputs = lenet_batch()
train, evaluation = cells()
losses = [float(train(*inputs).asnumpy()) for _ in range(3)]
print(json.dumps([losses, [out.tolist() for out in evaluate(evaluation, inputs)]]))
"""


def test_two_processes_filling_the_cache_at_once_both_succeed(cache):
    code = FILL_CACHE.format(tests=str(REPO / "tests"))
    env = {**os.environ, "GRAPHC_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0] == results[1]
    entries = [p for p in cache.iterdir() if p.is_file()]
    assert not [p for p in entries if p.name.startswith(".tmp-")]        # no temporary file left behind
    kinds = (disk_cache.OBJECT, disk_cache.STEP_INDEX, disk_cache.KERNEL_INDEX)
    assert {p.suffix for p in entries} == {kind for kind in kinds}
    for path in entries:                                                 # every entry whole and verified
        assert disk_cache.read_entry(path.name[:-len(path.suffix)], path.suffix) is not None, path.name
    new_process()
    train, evaluation = cells()                                          # and a third process uses them
    inputs = lenet_batch()
    assert [float(train(*inputs).asnumpy()) for _ in range(3)] == results[0][0]
    assert train.compile(*inputs).report.warm


def test_compile_workers_produce_the_bytes_the_calling_thread_does(cache):
    train, _ = cells()
    traced = trace(train, tuple(lenet_batch()))
    run_pipeline(traced.graph)
    kernels = KernelSet(None, share=False)
    lower_graph(traced.graph, kernels=kernels)
    texts = kernels.texts[:6]
    batch = CompileBatch(2)
    in_workers = [future.result()[0] for future in [batch.submit(text, kernel_cache.KERNEL) for text in texts]]
    assert in_workers == [compile_text(text, kernel_cache.KERNEL)[0] for text in texts]


def test_inspect_shows_where_compile_time_went(cache, capsys):
    from graphc.cli import main
    target = ["inspect", f"{REPO}/examples/lenet.py:net", "--input", "x:f32[4,1,32,32]"]
    assert main(target) == 0
    cold = capsys.readouterr().out.split("\ncompile\n", 1)[1]
    assert re.search(r"7 kernel calls, 7 kernels \(0 deduplicated; 0 in memory, 0 on disk, 7 compiled on \d+ threads?:"
                     r" LLVM optimize [\d.]+ s, codegen [\d.]+ s of CPU\) in [\d.]+ s \(trace [\d.]+, passes [\d.]+, "
                     r"lower [\d.]+, compile [\d.]+, link [\d.]+\)", cold), cold
    new_process()
    assert main(target) == 0
    warm = capsys.readouterr().out.split("\ncompile\n", 1)[1]
    assert "7 kernel calls from the step index (0 kernels in memory, 7 on disk)" in warm, warm
