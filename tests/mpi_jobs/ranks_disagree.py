"""Run under `mpiexec -n 2` with an argument: `batch` (rank 1 uses a smaller batch) or `model` (rank 1
builds a wider network). Every rank must stop with an error naming both ranks' versions."""
import sys

import numpy as np

import graphc
from graphc import Tensor, communication, nn
from graphc.models import lenet

communication.init()
rank = communication.get_rank()
graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL)
batch = 8 if sys.argv[1] == "batch" and rank == 1 else 16
classes = 12 if sys.argv[1] == "model" and rank == 1 else 10
net = lenet(num_classes=classes)
step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                           nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9))
try:
    step(Tensor(np.zeros((batch, 1, 32, 32), np.float32)), Tensor(np.zeros(batch, np.int32)))
except graphc.GraphcError as error:
    print(f"rank {rank}: {error}", flush=True)
    sys.exit(3)
print(f"rank {rank}: the step ran", flush=True)
