"""The tutorial on real MNIST: LeNet-5, batch 32, Momentum(0.01, 0.9), loaded through Mnist as a user
loads it (the data downloaded once per machine; see conftest.real_dataset)."""
import numpy as np

import graphc
import graphc.nn as nn
from graphc.models import lenet
from runtime import Model
from runtime.callbacks import LossMonitor
from runtime.dataset import Mnist


def test_two_epochs_reach_97_percent_test_accuracy(mnist_dir):
    graphc.set_seed(1)
    train = Mnist(path=mnist_dir, split="train", batch_size=32, shuffle=True, resize=32, download=True).run()
    test = Mnist(path=mnist_dir, split="test", batch_size=32, resize=32, download=True).run()
    assert train.get_dataset_size() == 1875
    network = lenet(num_classes=10)
    model = Model(network, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9), metrics={"acc"})
    monitor = LossMonitor(0.01, 0)
    model.train(2, train, callbacks=[monitor])
    assert np.isfinite(monitor.losses).all() and monitor.epoch_losses[1] < monitor.epoch_losses[0]
    accuracy = model.eval(test)["acc"]
    assert accuracy >= 0.97, f"test accuracy after 2 epochs: {accuracy:.4f}"
