"""Train LeNet-5 for one epoch, then evaluate it on the test split and predict a few digits.

    python examples/eval_predict.py --data ./mnist
"""
import argparse

import numpy as np

import graphc
import graphc.nn as nn
from graphc.models import lenet
from runtime import Model
from runtime.callbacks import LossMonitor
from runtime.dataset import Mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="./mnist")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    graphc.set_seed(1)
    train = Mnist(path=args.data, split="train", batch_size=32, shuffle=True, download=True).run()
    test = Mnist(path=args.data, split="test", batch_size=32, shuffle=False, download=True)
    network = lenet(num_classes=10)
    model = Model(network, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9),
                  metrics={"acc", "loss", "top_5_accuracy"})
    model.train(args.epochs, train, callbacks=[LossMonitor(0.01, train.get_dataset_size())])

    print("eval:", model.eval(test.run()))
    images, labels = next(test.run().create_tuple_iterator(output_numpy=True))
    predicted = model.predict(images[:8]).asnumpy().argmax(axis=1)
    print("predicted:", predicted.tolist())
    print("labels:   ", labels[:8].tolist())
    print(f"agree on {np.sum(predicted == labels[:8])} of 8")


if __name__ == "__main__":
    main()
