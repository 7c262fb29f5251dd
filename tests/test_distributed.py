"""Data-parallel training (docs/distributed.md). The jobs in tests/mpi_jobs run under `mpiexec -n 2` in a
subprocess, one thread per rank, when mpi4py and an MPI launcher are installed (`pip install '.[mpi]'`;
CI installs it); the rest runs in this process."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import graphc
from graphc import communication, nn
from graphc.ir.text import parse_graph
from graphc.passes import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
JOBS = Path(__file__).parent / "mpi_jobs"
LEAVE_WITHIN = 10.0      # seconds from a rank leaving early to the end of its job


def _mpiexec() -> str | None:
    """The launcher of the MPI that mpi4py was installed with (beside this Python), else the PATH's."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
                               reason="mpi4py and mpiexec are not installed; pip install '.[mpi]'")


def run_job(*command: str, ranks: int = 2, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "GRAPHC_NUM_THREADS": "1"}       # 2 ranks x 1 thread on this 2-core machine
    return subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, *command], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def succeeded(job: subprocess.CompletedProcess) -> str:
    assert job.returncode == 0, f"exit status {job.returncode}\n{job.stdout}\n{job.stderr}"
    return job.stdout


# -- jobs of two ranks ---------------------------------------------------------------------------------
@needs_mpi
def test_two_ranks_of_16_images_equal_one_process_of_32_with_momentum_and_adam():
    out = succeeded(run_job(str(JOBS / "equal_to_one_process.py")))
    for rank in (0, 1):
        for line in ("Momentum equal to one process", "Adam equal to one process",
                     "the interpreter's and PYNATIVE's data-parallel steps agree"):
            assert f"rank {rank}: {line}" in out


@needs_mpi
def test_model_shards_logs_checkpoints_and_evaluates_every_row_once(tmp_path):
    out = succeeded(run_job(str(JOBS / "model_train_eval.py"), str(tmp_path)))
    assert len(re.findall(r"^Epoch:\[", out, re.M)) == 4            # 2 epochs x 2 agreed steps, rank 0 only
    assert len(re.findall(r"^Epoch time", out, re.M)) == 2
    assert "rank 0: accuracy" in out and "rank 1: accuracy" in out


@needs_mpi
def test_a_data_parallel_sink_equals_one_batch_per_step():
    out = succeeded(run_job(str(JOBS / "sink_equals_steps.py")))
    for rank in (0, 1):
        assert f"rank {rank}: sink mode equal to one batch per step" in out


@needs_mpi
def test_an_exception_on_one_rank_ends_the_job_with_its_error():
    job = run_job(str(JOBS / "one_rank_fails.py"), timeout=120)      # a hang would time out
    assert job.returncode != 0
    assert "RuntimeError: rank 1 cannot read its next batch" in job.stderr
    assert "unreachable" not in job.stdout


LEFT = r"graphc: rank 0 of 2 waits in its collective \d+ \(allreduce of [\d,]+ bytes\), but rank 1 exited " \
       r"\(sys.exit or the end of its script\) after \d+ collectives; aborting the whole job"


@needs_mpi
@pytest.mark.parametrize("how, message", [
    ("exit0", LEFT), ("exit1", LEFT), ("end", LEFT),
    ("sigterm", r"graphc: rank 1 of 2 received SIGTERM; aborting the whole job"),
    ("sigint", r"KeyboardInterrupt\ngraphc: rank 1 of 2 failed with KeyboardInterrupt; aborting the whole job"),
    ("evaluate", r"graphc: rank [01] of 2 found the ranks at different collectives \(rank 0 allreduce of [\d,]+ "
                 r"bytes, rank 1 allgather\): they no longer run the same steps"),
])
def test_a_rank_that_leaves_early_ends_the_job_within_seconds_saying_which_and_why(how, message):
    job = run_job(str(JOBS / "one_rank_leaves.py"), how, timeout=60)       # a hang would time out
    ended = time.time()
    left = float(re.search(r"rank 1 leaves its training loop at ([\d.]+)", job.stdout).group(1))
    assert job.returncode != 0 and "rank 0: finished" not in job.stdout, job.stdout
    assert re.search(message, job.stderr), job.stderr
    assert ended - left < LEAVE_WITHIN, f"the job ended {ended - left:.1f} s after rank 1 left"


@needs_mpi
def test_ranks_that_finish_seconds_apart_end_the_job_normally():
    job = run_job(str(JOBS / "one_rank_leaves.py"), "none", timeout=60)
    assert succeeded(job).count("finished") == 2 and "aborting" not in job.stderr, job.stderr


@needs_mpi
@pytest.mark.parametrize("difference, message", [
    ("batch", r"the ranks disagree on the compiled step: rank 0 has TrainOneStepCell\(f32\[16,1,32,32\], i32\[16\]\)"
              r".*rank 1 has TrainOneStepCell\(f32\[8,1,32,32\], i32\[8\]\)"),
    ("model", r"the ranks disagree on the parameters: rank 0 has .*\(123,371 values\), rank 1 has .*\(123,711 values\)"),
])
def test_ranks_that_disagree_stop_with_an_error_naming_both(difference, message):
    job = run_job(str(JOBS / "ranks_disagree.py"), difference, timeout=120)
    assert job.returncode != 0, job.stdout
    for rank in (0, 1):
        assert re.search(rf"rank {rank}: .*{message}", job.stdout), job.stdout + job.stderr


@needs_mpi
@pytest.mark.slow
def test_the_tutorial_on_two_ranks_reaches_97_percent_in_two_epochs(mnist_dir):
    # global batch 64 = 2 ranks x 32, the learning rate scaled with it (0.01 x 64 / 32; docs/distributed.md)
    out = succeeded(run_job("examples/train_lenet_mnist.py", "--distributed", "--batch-size", "64", "--lr", "0.02",
                            "--epochs", "2", "--data", str(mnist_dir), timeout=600))
    assert len(re.findall(r"^Epoch time", out, re.M)) == 2, out      # rank 0 prints, rank 1 does not
    accuracy = float(re.search(r"\{'acc': ([\d.]+)\}", out).group(1))
    assert accuracy >= 0.97, out


# -- one process ------------------------------------------------------------------------------------------
def test_without_mpi4py_asking_for_distributed_training_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)                  # import mpi4py now fails
    monkeypatch.setattr(communication, "_world", None)
    with pytest.raises(graphc.GraphcError, match=r"pip install 'graphc\[mpi\]'"):
        communication.init()


def test_data_parallel_mode_without_init_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(communication, "_world", None)
    graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL)
    net = nn.Dense(3, 2)
    with pytest.raises(graphc.GraphcError, match=r"call graphc.communication.init\(\) first"):
        nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Momentum(net.trainable_params(), 0.1, 0.9))


def test_auto_parallel_context_validates_and_resets():
    graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    assert graphc.get_auto_parallel_context("gradients_mean") is True
    with pytest.raises(ValueError, match="semi_auto_parallel.*is not supported"):
        graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.SEMI_AUTO_PARALLEL)
    with pytest.raises(ValueError, match="unknown setting 'gradient_mean'"):
        graphc.set_auto_parallel_context(gradient_mean=True)
    graphc.reset_auto_parallel_context()
    assert graphc.get_auto_parallel_context("parallel_mode") == graphc.ParallelMode.STAND_ALONE


STEP = """
graph @step {
  %0: f32[8,3] = input() {name='x', index=0}
  %1: f32[3,5] = input() {name='w', index=1}
  %2: f32[8,5] = matmul(%0, %1) {transpose_a=False, transpose_b=False}
  %3: f32[5] = reduce_sum(%1) {axis=0, keep_dims=False}
  %4: f32[3] = reduce_sum(%0) {axis=0, keep_dims=False}
  %5: f32[67] = pack(%2, %3, %4)
  %6: f32[67] = allreduce(%5) {op='sum', ranks=2}
  %7: f32[40] = strided_slice(%6) {begin=(0,), end=(40,), strides=(1,)}
  %8: f32[8,5] = reshape(%7) {shape=(8, 5)}
  %9: f32[5] = strided_slice(%6) {begin=(48,), end=(53,), strides=(1,)}
  %10: f32[3] = strided_slice(%6) {begin=(64,), end=(67,), strides=(1,)}
  return %8, %9, %10
}"""


def test_packed_values_are_computed_in_place_and_the_allreduce_copies_nothing():
    graph = parse_graph(STEP)
    run_pipeline(graph, "plan-memory")
    plan = graph.memory_plan
    pack, allreduce = 5, 6
    # the matmul and the reductions write straight into the pack, 64-byte aligned: [0, 160), [192, 212), [256, 268)
    assert {node: plan.aliases[node] for node in (2, 3, 4)} == {2: (pack, 0), 3: (pack, 192), 4: (pack, 256)}
    assert plan.aliases[allreduce] == (pack, 0) and allreduce not in plan.views          # in place, computed
    assert {node: plan.aliases[node] for node in (7, 8, 9, 10)} == \
        {7: (pack, 0), 8: (pack, 0), 9: (pack, 192), 10: (pack, 256)}                        # views
    from graphc.codegen.lower import lower_graph
    kernels = [call.name for call in lower_graph(graph).calls]
    assert kernels == ["n2.matmul", "n3.reduce_sum", "n4.reduce_sum", "n5.pack.gaps", "n6.allreduce"]


def test_a_packed_value_read_elsewhere_is_copied_into_the_pack():
    graph = parse_graph(STEP.replace("return %8, %9, %10", "return %8, %9, %10, %2"))
    run_pipeline(graph, "plan-memory")
    assert 2 not in graph.memory_plan.aliases
    from graphc.codegen.lower import lower_graph
    assert "n5.pack.part0" in [call.name for call in lower_graph(graph).calls]


def test_an_unaligned_slice_is_a_copy_not_a_view():
    graph = parse_graph("""
        graph @f {
          %0: f32[40] = input() {name='x', index=0}
          %1: f32[40] = exp(%0)
          %2: f32[8] = strided_slice(%1) {begin=(16,), end=(24,), strides=(1,)}
          %3: f32[8] = strided_slice(%1) {begin=(4,), end=(12,), strides=(1,)}
          return %2, %3
        }""")
    run_pipeline(graph, "plan-memory")
    assert graph.memory_plan.aliases == {2: (1, 64)} and graph.memory_plan.views == {2}


@needs_mpi
def test_dump_shows_the_allreduce_and_inspect_its_bytes():
    target = ["examples/lenet_data_parallel.py:train_step", "--input", "images:f32[16,1,32,32]", "--input",
              "labels:i32[16]"]
    dump = succeeded(run_job("-m", "graphc", "dump", *target, ranks=1))
    assert re.search(r"= allreduce\(%\d+\) \{op='sum', ranks=1\}", dump)
    inspect = succeeded(run_job("-m", "graphc", "inspect", *target))
    assert re.search(r"allreduce\s+f32\[61738\]\s+2\s+246,952\s+246,952", inspect), inspect
