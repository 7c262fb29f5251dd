"""Fork safety: a forked child (os.fork, a multiprocessing pool with the fork start method) runs
native steps on threads of its own; the parent's workers did not come along."""
import multiprocessing
import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest

import graphc
from graphc import Parameter, Tensor, nn, ops

WAIT = 60.0      # seconds; a hung child is killed and the test fails
FORKS = 12       # forks in the middle of another thread's step (4 of 6 children hung before the fix)


@pytest.fixture
def two_threads():
    graphc.set_context(num_threads=2)
    yield
    graphc.set_context(num_threads=None)


def _train_step():
    graphc.set_seed(1)
    net = nn.Dense(16, 4)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1))
    x = Tensor(np.random.default_rng(0).standard_normal((32, 16)).astype(np.float32))
    y = Tensor(np.random.default_rng(1).standard_normal((32, 4)).astype(np.float32))
    return net, step, x, y


def _in_child(work):
    """Run work() in a forked child; its pickled result, or a failure if the child hangs or dies."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: never returns into pytest
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                pickle.dump(work(), out)
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the forked child did not finish a native step within {WAIT:.0f} s")
    with os.fdopen(read, "rb") as result:
        data = result.read()
    assert os.WIFEXITED(status) and data, "the forked child died before reporting"
    return pickle.loads(data)


def test_a_forked_child_runs_the_parents_compiled_step(two_threads):
    _, step, x, y = _train_step()
    step(x, y)                                     # compiled and run: the parent's workers exist
    before = {p.name: p.asnumpy().copy() for p in step.get_parameters()}

    def child():
        losses = [float(step(x, y).asnumpy()) for _ in range(3)]
        return losses, {p.name: p.asnumpy() for p in step.get_parameters()}

    child_losses, child_params = _in_child(child)
    for p in step.get_parameters():                # the parent's state is untouched by the child
        np.testing.assert_array_equal(p.asnumpy(), before[p.name])
    parent_losses = [float(step(x, y).asnumpy()) for _ in range(3)]
    assert child_losses == parent_losses
    for p in step.get_parameters():
        np.testing.assert_array_equal(child_params[p.name], p.asnumpy())


def test_a_child_compiles_and_runs_new_steps(two_threads):
    graphc.jit(lambda a: ops.relu(a))(Tensor(np.ones(4, np.float32)))    # the parent's runner exists
    scale = Parameter(np.full(64, 3.0, np.float32), name="scale")

    def child():
        fn = graphc.jit(lambda a: ops.exp(a) * scale)
        return fn(Tensor(np.zeros(64, np.float32))).asnumpy()

    np.testing.assert_array_equal(_in_child(child), np.full(64, 3.0, np.float32))


_POOL_STEP = None


def _evaluate(seed: int) -> float:
    net, x = _POOL_STEP
    rng = np.random.default_rng(seed)
    return float(net(Tensor(x.asnumpy() + rng.standard_normal(x.shape).astype(np.float32))).asnumpy().sum())


def test_a_multiprocessing_pool_after_training_just_works(two_threads):
    global _POOL_STEP
    net, step, x, y = _train_step()
    for _ in range(3):
        step(x, y)
    _POOL_STEP = (net, x)
    expected = [_evaluate(seed) for seed in range(4)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map_async(_evaluate, range(4)).get(timeout=WAIT) == expected


def test_a_child_forked_in_the_middle_of_another_threads_step_runs_steps_of_its_own(two_threads):
    """The child inherits the step's control words half-way (the barrier's arrival count and sense):
    its first step must start from fresh ones, and compute what one thread computes."""
    graphc.set_seed(2)
    net = nn.SequentialCell(nn.Dense(64, 256), nn.ReLU(), nn.Dense(256, 64))   # milliseconds in native code
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.01))
    rng = np.random.default_rng(3)
    x, y = (Tensor(rng.standard_normal((128, 64)).astype(np.float32)) for _ in range(2))
    step(x, y)
    stop = threading.Event()

    def keep_stepping():
        while not stop.is_set():
            step(x, y)

    def child():         # the step on 2 threads, then on 1 from the same start: bitwise equal (codegen.md)
        start = {p.name: p.asnumpy().copy() for p in step.get_parameters()}
        results = []
        for threads in (2, 1):
            for p in step.get_parameters():
                p.set_data(start[p.name])
            graphc.set_context(num_threads=threads)
            results.append([step(x, y).asnumpy()] + [p.asnumpy().copy() for p in step.get_parameters()])
        return max(float(np.max(np.abs(a - b))) for a, b in zip(*results))     # small: a pipe holds 64 KB

    stepper = threading.Thread(target=keep_stepping)
    stepper.start()
    try:
        for _ in range(FORKS):
            time.sleep(0.01)                       # the stepper is mostly inside a native step
            assert _in_child(child) == 0
    finally:
        stop.set()
        stepper.join(WAIT)


def test_a_fork_while_another_thread_runs_a_step_leaves_the_child_free_to_run(two_threads):
    _, step, x, y = _train_step()
    step(x, y)
    held, release = threading.Event(), threading.Event()
    weight = next(iter(step.get_parameters()))

    def hold_the_lock():                      # as a step running in a background thread does
        with weight._set.locked():
            held.set()
            release.wait(WAIT)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(WAIT)
    try:
        losses = _in_child(lambda: float(step(x, y).asnumpy()))
    finally:
        release.set()
        holder.join(WAIT)
    assert np.isfinite(losses)
