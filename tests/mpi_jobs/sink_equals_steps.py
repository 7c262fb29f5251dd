"""Run under `mpiexec -n 2 ... sink_equals_steps.py`: data-parallel Model.train in dataset sink mode, whose
allreduce the native step calls from inside the sink's one native call (taking the GIL the producer thread
holds at times), gives the parameters and losses of the same training fed one batch per step, on shards
of 3 and 2 batches (2 agreed steps an epoch)."""
import numpy as np

import graphc
from graphc import communication, nn
from runtime import Model
from runtime.callbacks import Callback
from runtime.dataset import NumpySlicesDataset

communication.init()
rank = communication.get_rank()
graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)
data = np.random.default_rng(0)
labels = data.integers(0, 3, 101).astype(np.int32)
images = np.eye(3, 6, dtype=np.float32)[labels] * 3 + data.standard_normal((101, 6)).astype(np.float32)


class LastLoss(Callback):
    def step_end(self, run_context):
        self.loss = run_context.original_args().net_outputs.asnumpy()


def train(**sink):
    graphc.set_seed(0)
    net = nn.SequentialCell(nn.Dense(6, 8, weight_init="he_uniform"), nn.ReLU(), nn.Dense(8, 3, weight_init="he_uniform"))
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9))
    last = LastLoss()
    model.train(2, NumpySlicesDataset({"x": images, "y": labels}).batch(17, drop_remainder=True), callbacks=[last],
                **sink)
    return {p.name: p.asnumpy().copy() for p in net.get_parameters()}, last.loss


(plain, plain_loss), (sunk, sunk_loss) = train(), train(dataset_sink_mode=True)
assert plain_loss == sunk_loss, (plain_loss, sunk_loss)
for name, value in plain.items():
    assert np.array_equal(value, sunk[name]), name
print(f"rank {rank}: sink mode equal to one batch per step", flush=True)
