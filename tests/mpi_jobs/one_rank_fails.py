"""Run under `mpiexec -n 2`: rank 1 raises before its first step while rank 0 is inside the step's
allreduce. The job must end (every rank) with rank 1's error, not hang."""
import numpy as np

import graphc
from graphc import Tensor, communication, nn
from graphc.models import lenet

communication.init()
graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL)
net = lenet(num_classes=10)
step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                           nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9))
images, labels = Tensor(np.zeros((8, 1, 32, 32), np.float32)), Tensor(np.zeros(8, np.int32))
step(images, labels)                                    # both ranks: compiled, parameters broadcast
if communication.get_rank() == 1:
    raise RuntimeError("rank 1 cannot read its next batch")
for _ in range(3):
    step(images, labels)                                # rank 0 waits in the allreduce for rank 1
print("unreachable: rank 0 finished its steps", flush=True)
