"""The passes on whole training steps: forward, backward and the optimizer's assigns in one graph."""
import numpy as np
import pytest

import graphc
from graphc import interp, nn
from graphc.models import lenet
from graphc.passes import run_pipeline
from passes_support import assert_same_results, run_pass

BATCH = 32


def train_step(network):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(network, loss),
                               nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9))
    return step.set_train()


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1, self.relu, self.fc2 = nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3)

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def batches(image_shape, classes, count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((BATCH,) + image_shape).astype(np.float32),
             rng.integers(0, classes, BATCH).astype(np.int32)) for _ in range(count)]


def results(graph, traced, batch):
    values = {name: p.asnumpy() for name, p in traced.params.items()}
    return interp.run(graph, list(batch), values)


@pytest.mark.parametrize("name", ["fold", "cse", "dce"])
def test_a_pass_changes_a_traced_training_step_and_keeps_its_results(name):
    batch = batches((4,), 3, 1)[0]
    traced = train_step(MLP())._compiled().lower(*batch)
    run_pipeline(traced.graph, "autodiff")
    before = results(traced.graph, traced, batch)
    assert len(before[1]) == 9            # 4 weights and biases, their 4 moments, the global step
    assert run_pass(name, traced.graph) is True
    assert run_pass(name, traced.graph) is False
    assert_same_results(before, results(traced.graph, traced, batch))


def test_lenet_trains_to_the_same_parameters_with_and_without_the_optimizing_pipeline():
    data = batches((1, 32, 32), 10, 5)
    trained = {}
    for pipeline in ("", None):             # "" runs autodiff alone; None the default pipeline
        graphc.set_context(backend="interp", pipeline=pipeline)
        graphc.set_seed(0)
        step = train_step(lenet())
        losses = [float(step(x, y).asnumpy()) for x, y in data]
        executable = step.compile(*data[0])
        assert bool(executable.graph.of_op("fused")) == (pipeline is None)
        trained[pipeline] = (losses, {name: p.asnumpy().copy() for name, p in step.parameters_and_names()})
    (plain_losses, plain), (optimized_losses, optimized) = trained[""], trained[None]
    assert plain_losses == optimized_losses
    assert sorted(plain) == sorted(optimized) and len(plain) == 8 + 8 + 3   # weights, moments, lr/momentum/step
    for name in plain:
        assert np.array_equal(plain[name], optimized[name]), name
    assert not np.array_equal(plain["backbone.fc3.bias"], 0)             # training did move the parameters


def test_lenet_training_step_figures():
    """The numbers docs/passes.md quotes (run with -s to see them)."""
    traced = train_step(lenet())._compiled().lower(*batches((1, 32, 32), 10, 1)[0])
    traced_nodes = len(traced.graph)
    report = run_pipeline(traced.graph)
    fuse = next(row for row in report.rows if row.name == "fuse")
    plan = report.memory_plan
    print(f"\nLeNet-5 training step, batch {BATCH}: {traced_nodes} nodes traced, "
          f"{report.rows[0].nodes_after} after autodiff, {fuse.nodes_before} optimized before fusion, "
          f"{fuse.nodes_after} after fusion ({len(traced.graph.of_op('fused'))} fused regions)\n{report}")
    assert fuse.nodes_after < fuse.nodes_before < report.rows[0].nodes_after
    assert len(traced.graph.of_op("fused")) >= 10          # at least conv/dense epilogues and the updates
    assert plan.arena_bytes < plan.naive_bytes
