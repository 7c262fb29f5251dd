"""Save checkpoints while training, then resume from one: the resumed run continues exactly where
the first stopped (same parameters and optimizer state as an uninterrupted run with the same seed).

    python examples/resume_training.py --data ./mnist --ckpt ./checkpoints
"""
import argparse

import numpy as np

import graphc
import graphc.nn as nn
from graphc.models import lenet
from runtime import CheckpointConfig, Model, ModelCheckpoint, load_checkpoint, load_param_into_net
from runtime.callbacks import LossMonitor
from runtime.dataset import Mnist


def build_model(seed):
    graphc.set_seed(seed)
    network = lenet(num_classes=10)
    return Model(network, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                 nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9), metrics={"acc"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="./mnist")
    parser.add_argument("--ckpt", default="./checkpoints")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    def train_data():
        return Mnist(path=args.data, split="train", batch_size=32, shuffle=True, download=True).run()

    steps = train_data().get_dataset_size()
    first = build_model(seed=1)
    saver = ModelCheckpoint("lenet", args.ckpt, CheckpointConfig(save_checkpoint_steps=steps, keep_checkpoint_max=2))
    first.train(1, train_data(), callbacks=[LossMonitor(0.01, steps), saver])        # "interrupted" after epoch 1
    print("saved", saver.latest_ckpt_file_name)

    resumed = build_model(seed=123)                     # fresh weights, then the checkpoint's
    param_not_load, _ = load_param_into_net(resumed.train_network, load_checkpoint(saver.latest_ckpt_file_name))
    print("parameters not loaded:", param_not_load)
    resumed.train(args.epochs, train_data(), callbacks=[LossMonitor(0.01, steps)], initial_epoch=1)

    straight = build_model(seed=1)
    straight.train(args.epochs, train_data())
    same = all(np.array_equal(a.asnumpy(), b.asnumpy()) for (_, a), (_, b) in
               zip(resumed.train_network.parameters_and_names(), straight.train_network.parameters_and_names()))
    print("resumed run equals the uninterrupted run:", same)


if __name__ == "__main__":
    main()
