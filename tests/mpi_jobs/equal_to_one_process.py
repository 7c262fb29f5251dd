"""Run by tests/test_distributed.py under `mpiexec -n 2`: ten data-parallel steps of two ranks with 16
images each leave the parameters one process leaves after ten steps with those 32 images (Momentum
and Adam), although each rank starts from its own seed (rank 0's parameters are broadcast); the
interpreter's and PYNATIVE mode's data-parallel steps (the allreduce's NumPy reference) agree with the
native one."""
import numpy as np

import graphc
from graphc import Tensor, communication, nn
from graphc.models import lenet

STEPS, PER_RANK = 10, 16
communication.init()
rank, ranks = communication.get_rank(), communication.get_group_size()
data = np.random.default_rng(7)
images = data.standard_normal((STEPS, PER_RANK * ranks, 1, 32, 32)).astype(np.float32)
labels = data.integers(0, 10, (STEPS, PER_RANK * ranks)).astype(np.int32)
OPTIMIZERS = {"Momentum": lambda params: nn.Momentum(params, learning_rate=0.05, momentum=0.9),
              "Adam": lambda params: nn.Adam(params, learning_rate=1e-3)}


def train(optimizer: str, parallel: bool, seed: int, steps: int = STEPS) -> dict:
    graphc.set_seed(seed)
    graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL if parallel else
                                     graphc.ParallelMode.STAND_ALONE, gradients_mean=True)
    net = lenet(num_classes=10)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               OPTIMIZERS[optimizer](net.trainable_params()))
    mine = slice(rank * PER_RANK, (rank + 1) * PER_RANK) if parallel else slice(None)
    losses = [float(step(Tensor(images[i, mine]), Tensor(labels[i, mine])).asnumpy()) for i in range(steps)]
    return {"losses": np.array(losses), **{name: p.asnumpy().copy() for name, p in step.parameters_and_names()}}


for optimizer in OPTIMIZERS:
    parallel = train(optimizer, parallel=True, seed=100 + rank)
    alone = train(optimizer, parallel=False, seed=100)              # rank 0's seed: the broadcast values
    assert parallel.keys() == alone.keys()
    for name in alone:
        # the losses too: a data-parallel step returns the mean loss of the global batch
        np.testing.assert_allclose(parallel[name], alone[name], rtol=1e-5, atol=1e-7,
                                   err_msg=f"{optimizer}: {name} on rank {rank}")
    print(f"rank {rank}: {optimizer} equal to one process after {STEPS} steps", flush=True)

native = train("Momentum", parallel=True, seed=100 + rank, steps=2)
for setting in ({"backend": "interp"}, {"mode": graphc.PYNATIVE_MODE}):
    graphc.set_context(**setting)
    other = train("Momentum", parallel=True, seed=100 + rank, steps=2)
    graphc.set_context(backend="llvm", mode=graphc.GRAPH_MODE)
    for name in native:
        np.testing.assert_allclose(other[name], native[name], rtol=1e-5, atol=1e-7, err_msg=f"{setting}: {name}")
print(f"rank {rank}: the interpreter's and PYNATIVE's data-parallel steps agree", flush=True)
