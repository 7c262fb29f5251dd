"""Benchmark: what summary ops in construct cost the LeNet-5 train step when no collector listens.

    flock /tmp/graphc-cpu.lock python benchmarks/summary_overhead.py

Two train steps from the same weights and batch (lenet_step.py's), compiled in GRAPH_MODE on all
threads: the plain one, and one whose loss cell records `ops.ScalarSummary` of the loss and
`ops.HistogramSummary` of the logits (two extra outputs of the native step, copied out and handed
to no one). Rounds of each alternate, so both see the same machine; prints the median ms/step of
each and the ratio (the issue's bound: at most 2% slower).
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lenet_step  # noqa: E402

import graphc  # noqa: E402
from graphc import nn, ops  # noqa: E402
from graphc.models import lenet  # noqa: E402

ROUNDS, STEPS_PER_ROUND = 15, 40


class WatchedLoss(nn.WithLossCell):
    """WithLossCell that records the loss and a histogram of the logits."""

    def __init__(self, backbone, loss_fn):
        super().__init__(backbone, loss_fn)
        self.scalar, self.histogram = ops.ScalarSummary(), ops.HistogramSummary()

    def construct(self, data, label):
        logits = self._backbone(data)
        loss = self._loss_fn(logits, label)
        self.scalar("loss", loss)
        self.histogram("logits", logits)
        return loss


def train_step(loss_cell):
    graphc.set_seed(0)
    net = lenet(num_classes=10)
    loss = loss_cell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
    return nn.TrainOneStepCell(loss, nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9))


def main():
    graphc.set_context(mode=graphc.GRAPH_MODE)
    images, labels = lenet_step.batch()
    steps = {"plain": train_step(nn.WithLossCell), "with summaries": train_step(WatchedLoss)}
    for step in steps.values():
        step.compile(images, labels)
        for _ in range(20):
            step(images, labels)
    rounds = {name: [] for name in steps}
    for _ in range(ROUNDS):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(STEPS_PER_ROUND):
                step(images, labels)
            rounds[name].append((time.perf_counter() - start) * 1000 / STEPS_PER_ROUND)
    medians = {name: statistics.median(times) for name, times in rounds.items()}
    for name, ms in medians.items():
        print(f"{name:<16} {ms:7.3f} ms/step (median of {ROUNDS} rounds of {STEPS_PER_ROUND})")
    print(f"ratio            {medians['with summaries'] / medians['plain']:7.3f}")


if __name__ == "__main__":
    main()
