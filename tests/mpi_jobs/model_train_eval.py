"""Run under `mpiexec -n 2 ... model_train_eval.py DIR`: Model.train and Model.eval data-parallel on
101 rows (shards of 51 and 50 by default). Checks: the ranks agree on the steps per epoch; the loss
LossMonitor sees is the same on every rank (the mean over ranks) and only rank 0 prints; ModelCheckpoint
writes on rank 0 only, after averaging the ranks' moving statistics; eval counts every row exactly once."""
import sys
from pathlib import Path

import numpy as np

import graphc
from graphc import Parameter, communication, nn
from runtime import CheckpointConfig, Model, ModelCheckpoint, load_checkpoint
from runtime.callbacks import Callback, LossMonitor
from runtime.dataset import NumpySlicesDataset

communication.init()
rank, ranks = communication.get_rank(), communication.get_group_size()
world = communication.world()
graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(6, 8, weight_init="he_uniform")
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(8, 3, weight_init="he_uniform")
        # a statistic each rank keeps from its own batches, as batch norm's moving mean (see KeepsOwnStatistic)
        self.moving_mean = Parameter(np.zeros(3, np.float32), name="moving_mean", requires_grad=False)

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


class KeepsOwnStatistic(Callback):
    """After each step, each rank's moving statistic is its own (here: its rank)."""

    def step_end(self, run_context):
        net.moving_mean.set_data(np.full(3, float(rank), np.float32))


data = np.random.default_rng(0)
labels = data.integers(0, 3, 101).astype(np.int32)
images = np.eye(3, 6, dtype=np.float32)[labels] * 3 + data.standard_normal((101, 6)).astype(np.float32)
graphc.set_seed(rank)
net = Net()
model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
              nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9), metrics={"acc", "loss"})
train = NumpySlicesDataset({"x": images, "y": labels}).batch(17, drop_remainder=True)  # 3 batches on rank 0, 2 on 1
assert train.get_dataset_size() == (3, 2)[rank]
monitor = LossMonitor(0.1, 1)
directory = Path(sys.argv[1])
model.train(2, train, callbacks=[monitor, KeepsOwnStatistic(), ModelCheckpoint("dp", directory, CheckpointConfig(save_checkpoint_steps=2))])

steps = world.allgather(len(monitor.losses))
assert steps == [4, 4], f"steps per rank over 2 epochs: {steps}"
losses = world.allgather(monitor.losses)
assert losses[0] == losses[1], f"the ranks logged different losses: {losses}"
world.allgather(None)                                           # rank 0 has written its checkpoints
written = sorted(path.name for path in directory.iterdir())
assert written == ["dp-1_2.ckpt", "dp-2_2.ckpt"], written
saved = load_checkpoint(str(directory / "dp-2_2.ckpt"))
assert np.all(saved["moving_mean"].asnumpy() == 0.5), saved["moving_mean"]
assert np.all(net.moving_mean.asnumpy() == 0.5)                # every rank holds the average

valid = NumpySlicesDataset({"x": images, "y": labels}, shuffle=False).batch(8)   # keeps the last partial batch
results = model.eval(valid)
logits = model.predict(images).asnumpy()
expected = np.mean(logits.argmax(axis=1) == labels)
assert results["acc"] == expected, (results, expected)
print(f"rank {rank}: accuracy {results['acc']:.4f} over all 101 rows, loss {results['loss']:.4f}", flush=True)
