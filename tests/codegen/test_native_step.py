"""The LeNet-5 training step as one native function: equal to the interpreter after 10 steps,
bitwise the same on 1 and 2 threads, an eval step, the object cache and the step index, profiling,
the kernel list, `graphc dump --emit`, and the executable's bookkeeping (parameters, threads)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn
from graphc.cli import main
from graphc.codegen import disk_cache, fingerprint, format_kernel_list, kernel_list, machine, profile_table, step_index
from graphc.codegen.kernel_cache import KernelRef
from graphc.codegen.kernels.contract import Operand, Scratch
from graphc.codegen.lower import Buffer, Copy, KernelCall, concurrent, place_barriers, private_pairs
from graphc.inspect import graph_stats
from graphc.jit import trace
from graphc.models import lenet
from graphc.nn.parameter import aligned_copy
from graphc.ops import REGISTRY
from graphc.passes import run_pipeline

BATCH, STEPS = 32, 10
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def train_step():
    graphc.set_seed(0)
    net = lenet(num_classes=10)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.01, 0.9))


def batches(count=STEPS):
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((BATCH, 1, 32, 32)).astype(np.float32), rng.integers(0, 10, BATCH).astype(np.int32))
            for _ in range(count)]


def train(backend: str, threads: int = 2):
    graphc.set_context(backend=backend, num_threads=threads)
    step = train_step()
    losses = [float(step(Tensor(x), Tensor(y)).asnumpy()) for x, y in batches()]
    return step, losses, {name: p.asnumpy().copy() for name, p in step.parameters_and_names()}


@pytest.fixture(scope="module")
def trained():
    """(losses, parameters) after STEPS steps: interpreter, native on 1 thread, native on 2."""
    return {key: train(*key)[1:] for key in [("interp", 1), ("llvm", 1), ("llvm", 2)]}


def test_ten_native_steps_match_the_interpreter(trained):
    (ref_losses, ref), (losses, params) = trained[("interp", 1)], trained[("llvm", 2)]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    assert sorted(params) == sorted(ref) and any(name.startswith("moments.") for name in params)
    for name, value in params.items():        # weights, biases, the moments, the step counter
        scale = np.abs(ref[name]).max()
        np.testing.assert_allclose(value, ref[name], rtol=1e-4, atol=1e-4 * scale, err_msg=name)
    assert params["global_step"][0] == STEPS


def test_one_and_two_threads_agree_bit_for_bit(trained):
    (losses1, params1), (losses2, params2) = trained[("llvm", 1)], trained[("llvm", 2)]
    assert losses1 == losses2
    for name in params1:
        np.testing.assert_array_equal(params1[name], params2[name], err_msg=name)


def test_the_eval_step_runs_natively():
    graphc.set_seed(0)
    net = lenet(num_classes=10)
    evaluate = nn.WithEvalCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
    x, y = batches(1)[0]
    native = [t.asnumpy() for t in evaluate(Tensor(x), Tensor(y))]
    graphc.set_context(backend="interp")
    reference = [t.asnumpy() for t in nn.WithEvalCell(net, evaluate._loss_fn)(Tensor(x), Tensor(y))]
    np.testing.assert_allclose(native[0], reference[0], rtol=1e-5)
    np.testing.assert_allclose(native[1], reference[1], rtol=1e-4, atol=1e-5 * np.abs(reference[1]).max())
    np.testing.assert_array_equal(native[2], y)


def test_a_jit_function_compiles_once_per_signature():
    calls = []

    @graphc.jit
    def scaled_softmax(x, scale):
        calls.append(1)
        return graphc.ops.softmax(x * scale, axis=-1)
    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    for _ in range(3):
        out = scaled_softmax(Tensor(x), 2.0).asnumpy()
    z = np.exp(2.0 * x - (2.0 * x).max(axis=-1, keepdims=True))
    np.testing.assert_allclose(out, z / z.sum(axis=-1, keepdims=True), rtol=1e-5)
    assert len(calls) == 1


def test_warm_compiles_skip_lowering_and_a_damaged_index_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    x, y = (Tensor(a) for a in batches(1)[0])

    def compile_fresh():
        machine._memory_cache.clear()
        step = train_step()
        step.compile(x, y)
        (executable, _), = step._jit._cache.values()
        return executable
    cold = compile_fresh()
    assert cold.library.stats.cache == "miss" and cold.lowered.module is not None
    warm = compile_fresh()
    assert warm.library.stats.cache == "disk" and warm.lowered.module is None      # lowering skipped
    assert [(c.name, c.kernel) for c in warm.lowered.calls] == [(c.name, c.kernel) for c in cold.lowered.calls]
    assert warm.lowered.barriers == cold.lowered.barriers
    for index in tmp_path.glob(f"*{disk_cache.STEP_INDEX}"):
        index.write_bytes(index.read_bytes()[:-5])                                # truncated
    rebuilt = compile_fresh()
    assert rebuilt.lowered.module is not None and rebuilt.library.stats.cache == "disk"
    assert [out.tolist() for out in rebuilt([x.asnumpy(), y.asnumpy()])] == \
        [out.tolist() for out in warm([x.asnumpy(), y.asnumpy()])]


def test_profile_build_times_every_kernel():
    graphc.set_context(profile=True)      # GRAPHC_PROFILE=1 would also print the table at exit
    step = train_step()
    x, y = (Tensor(a) for a in batches(1)[0])
    for _ in range(3):
        step(x, y)
    (executable, _), = step._jit._cache.values()
    table = profile_table(executable)
    assert all(calls == 3 and cycles > 0 for calls, cycles in executable.profile())
    assert "conv2d_grad_input" in table or "n125" in table
    assert table.splitlines()[-1].startswith("3 steps")


def test_kernel_list_covers_the_step_and_its_flops():
    traced = train_step()._compiled().lower(*batches(1)[0])
    run_pipeline(traced.graph)
    rows = kernel_list(traced.graph)
    assert sum(row.flops for row in rows) == graph_stats(traced.graph).total_flops
    assert 70e6 < sum(row.flops for row in rows) < 75e6                 # LeNet's 72.5 MFLOP of conv and dense
    assert any("conv2d_grad_filter" in row.ops and "assign" in row.ops for row in rows)
    assert f"{len(rows)} kernels" in format_kernel_list(rows)


def test_replaced_parameter_storage_is_rebound_and_threads_can_change():
    step = train_step()
    x, y = (Tensor(a) for a in batches(1)[0])
    step(x, y)
    bias = dict(step.parameters_and_names())["backbone.fc3.bias"]
    bias._data = aligned_copy(np.full(10, 5.0, np.float32))     # new storage (set_data never does this)
    graphc.set_context(num_threads=1)
    step(x, y)
    assert not np.allclose(bias.asnumpy(), 5.0) and np.all(np.abs(bias.asnumpy() - 5.0) < 0.1)


def test_a_parameter_output_follows_replaced_storage():
    weight = graphc.Parameter(np.ones(3, np.float32), name="w")
    read = graphc.jit(lambda x: (x + weight, weight))
    read(np.zeros(3, np.float32))
    weight._data = aligned_copy(np.full(3, 2.0, np.float32))
    total, value = read(np.zeros(3, np.float32))
    np.testing.assert_array_equal(value.asnumpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(total.asnumpy(), [2.0, 2.0, 2.0])


def test_dump_emits_the_native_step(capsys):
    target = ["dump", f"{EXAMPLES}/lenet.py:net", "--input", "x:f32[2,1,32,32]"]
    assert main(target + ["--emit", "llvm"]) == 0
    llvm_text = capsys.readouterr().out
    assert "define void @graphc_step(ptr" in llvm_text and "@llvm.fma.v16f32" in llvm_text
    assert main(target + ["--emit", "asm"]) == 0
    assert "graphc_step:" in capsys.readouterr().out


def _call(name: str, reads: list[Buffer], writes: list[Buffer], flops: int = 0) -> KernelCall:
    operands = tuple(Operand(f"r{i}", (1,)) for i in range(len(reads))) + \
        tuple(Operand(f"w{i}", (1,), "out") for i in range(len(writes)))
    return KernelCall(KernelRef(name, (name,), operands, Scratch(), flops, ""), tuple(reads + writes), None, name,
                      name, flops)


def test_barriers_only_where_a_kernel_touches_bytes_another_used_since_the_last_one():
    a, b, c, d = (Buffer("arena", None, 64 * i, 64) for i in range(4))
    overlapping_a = Buffer("arena", None, 32, 64)
    weight = Buffer("param", "w", 0, 64)
    calls = [_call("x", [weight], [a]),         # reads w
             _call("y", [c], [b]),              # independent of x: no barrier between them
             _call("z", [a], [d]),              # reads a, which x wrote: a barrier before z
             _call("u", [], [weight]),          # writes w, whose reader x is behind that barrier
             _call("v", [overlapping_a], [c])]  # reads bytes of a again, writes c (read by y, behind the barrier)
    assert place_barriers(calls) == [False, True, False, False, False]
    assert place_barriers([_call("p", [weight], [a]), _call("q", [], [weight])]) == [True, False]


def test_fingerprints_cover_lowering_rules_outside_graphc(tmp_path, monkeypatch):
    """An op defined in the user's module: editing its module must not reuse a stale step or kernel."""
    module = tmp_path / "user_ops_for_fingerprint.py"
    module.write_text("from graphc.ops.core import ELEMENTWISE, Op, register\n"
                      "halve = register(Op('test_only_halve', ('x',), lambda x: x, lambda x: x / 2, ELEMENTWISE,\n"
                      "                    lower=lambda e, x: e.mul(x, e.const(0.5))))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_ops_for_fingerprint as user_ops
    try:
        traced = trace(lambda x: user_ops.halve(x), (np.ones(3, np.float32),))
        run_pipeline(traced.graph)
        (halving,) = [n for n in traced.graph.order() if n.op == "test_only_halve"]
        before = step_index.fingerprint(traced.graph, profile=False), fingerprint.kernel_fingerprint(halving, "loop")
        module.write_text(module.read_text().replace("0.5", "0.25"))
        fingerprint._source_hash.cache_clear()
        after = step_index.fingerprint(traced.graph, profile=False), fingerprint.kernel_fingerprint(halving, "loop")
        assert after[0] != before[0] and after[1] != before[1]      # neither the step nor its kernel reused
    finally:
        del REGISTRY["test_only_halve"]


def test_out_of_range_labels_are_refused_before_the_native_step_runs():
    step = train_step()
    (x, y), = batches(1)
    step(Tensor(x), Tensor(y))
    before = {name: p.asnumpy().copy() for name, p in step.parameters_and_names()}
    y = y.copy()
    y[5] = 10
    with pytest.raises(graphc.GraphcError, match=r"label 10 is out of range for 10 classes; labels must be class indices in \[0, 10\) "
                                                r"\(input 1, i32\[\d+\], holds 1 such label\(s\): \[10\]\)"):
        step(Tensor(x), Tensor(y))
    for name, p in step.parameters_and_names():           # nothing ran: no parameter moved
        np.testing.assert_array_equal(p.asnumpy(), before[name], err_msg=name)


def _sized(name: str, flops: int, phases: int = 1) -> KernelCall:
    return KernelCall(KernelRef(name, (name,) * phases, (), Scratch(), flops, ""), (), None, name, name, flops)


def test_a_kernel_runs_in_the_group_that_wrote_what_it_reads():
    """Two chains (a recurrent layer's batch blocks): each cell runs on the half of the threads whose
    matmul wrote its gates, though by size alone (cell0 the larger, into group 0) they would cross."""
    gates0, gates1, h0, h1 = (Buffer("arena", None, k * 4096, 4096) for k in range(4))
    calls = [_call("mm0", [], [gates0], 8_000_000), _call("mm1", [], [gates1], 8_000_000),
             _call("cell0", [gates0], [h0], 50_000), _call("cell1", [gates1], [h1], 40_000)]
    matmuls, cells = concurrent([(0, False), (1, True), (2, False), (3, True)], calls)
    assert matmuls == (([1], [0]), True)
    assert cells == (([3], [2]), True)
    assert concurrent([(2, False), (3, True)], calls) == [(([2], [3]), True)]     # size alone


def test_a_loop_of_private_pairs_needs_no_barrier_with_one_thread_a_group():
    """Two chains that share no written byte on any trip (a recurrent layer's batch blocks, each copying
    its old state into a stacked result): each half of the threads needs only its own results, so with
    a thread to each half the loop's barriers are left out (lower.emit_step). A chain that reads the
    other's bytes, or a kernel on every thread, keeps them."""
    gates0, gates1, h0, h1, saved0, saved1 = (Buffer("arena", None, k * 4096, 4096) for k in range(6))
    calls = [_call("mm0", [h0], [gates0], 8_000_000), _call("mm1", [h1], [gates1], 8_000_000),
             _call("cell0", [gates0], [h0], 50_000), _call("cell1", [gates1], [h1], 40_000)]
    copies = [Copy(h0, saved0), Copy(h1, saved1)]
    program = concurrent([(0, False), (1, True), (2, False), (3, False), (copies[0], False), (copies[1], True)], calls)
    assert program[1] == (([3, copies[1]], [2, copies[0]]), True)      # each copy with the cell that wrote h
    assert private_pairs(program, calls)
    crossing = calls[:3] + [_call("cell1", [gates0], [h1], 40_000)]
    assert not private_pairs(concurrent([(0, False), (1, True), (2, False), (3, True)], crossing), crossing)
    assert not private_pairs(concurrent([(0, True), (2, True)], calls), calls)


def test_small_independent_kernels_run_as_two_groups_at_once():
    dh, dw, db, filter_grad = (_sized("dh", 16_800_000), _sized("dw", 16_800_000), _sized("db", 65_536),
                               _sized("filter", 3_000_000, phases=2))
    run = [(0, False), (1, False), (2, False), (3, True)]
    # the kernel of two phases runs first on every thread; the three others as dw + db beside dh
    assert concurrent(run, [dh, dw, db, filter_grad]) == [(3, False), (([1, 2], [0]), True)]
    assert concurrent([(0, True), (1, False)], [dh, dw]) == [(0, True), (1, False)]      # a barrier between
    assert concurrent([(0, False), (1, False)], [dh, _sized("small", 1_000_000)]) == [(0, False), (1, False)]
    big = _sized("big", 100_000_000)
    assert concurrent([(0, False), (1, False)], [big, big]) == [(0, False), (1, False)]
