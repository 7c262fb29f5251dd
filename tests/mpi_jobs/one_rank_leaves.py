"""Run under `mpiexec -n 2 ... one_rank_leaves.py HOW`: Model.train on both ranks, and rank 1's
training loop stops after its first step (a callback asks it to) while rank 0 goes on. Then rank 1
leaves as HOW says: `exit0` and `exit1` (sys.exit), `end` (its script ends), `sigterm` and `sigint`
(it signals itself), or `evaluate` (it evaluates: a collective rank 0 is not at). With HOW `none`
nobody leaves early, and rank 0 works on alone for 3 s after training: the job's normal end."""
import os
import signal
import sys
import time

import numpy as np

import graphc
from graphc import communication, nn
from runtime import Model
from runtime.callbacks import Callback
from runtime.dataset import NumpySlicesDataset

communication.init()
rank = communication.get_rank()
how = sys.argv[1]
graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)


class LeaveEarly(Callback):
    def step_end(self, run_context):
        if rank == 1 and how != "none":
            print(f"rank 1 leaves its training loop at {time.time():.3f}", flush=True)
            run_context.request_stop()


data = np.random.default_rng(0)
images, labels = data.standard_normal((64, 6)).astype(np.float32), data.integers(0, 3, 64).astype(np.int32)
net = nn.Dense(6, 3)
model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
              nn.SGD(net.trainable_params(), 0.01), metrics={"acc"})
model.train(20, NumpySlicesDataset({"x": images, "y": labels}).batch(4), callbacks=[LeaveEarly()])
if rank == 1:
    if how in ("exit0", "exit1"):
        sys.exit(int(how[-1]))
    if how in ("sigterm", "sigint"):
        os.kill(os.getpid(), getattr(signal, how.upper()))
    if how == "evaluate":
        model.eval(NumpySlicesDataset({"x": images, "y": labels}).batch(4))
elif how == "none":
    time.sleep(3)                                            # rank 1 has long left: the job still ends well
print(f"rank {rank}: finished", flush=True)
