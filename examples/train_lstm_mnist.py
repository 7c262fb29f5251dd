"""Row-by-row MNIST: an LSTM reads each 28x28 image as 28 steps of 28 pixels, then a Dense layer.

    python examples/train_lstm_mnist.py                     # 10 epochs, batch 128, Adam
    python examples/train_lstm_mnist.py --epochs 1 --steps 50 --test-batches 10   # a quick look

The LSTM (hidden size 128) is one scan over the 28 rows; the classifier reads its last hidden state.
Adam's learning rate follows a cosine from --lr down to 0 over the run. Each epoch prints its time
(TimeMonitor) and the test accuracy. MNIST is downloaded into --data from
the public mirrors (or from GRAPHC_MNIST_MIRRORS, which may name file:// folders) unless it is
already there.
"""
import argparse

import graphc
import graphc.nn as nn
from graphc import ops
from runtime import Model
from runtime.callbacks import LossMonitor, TimeMonitor
from runtime.dataset import Mnist

ROWS = PIXELS = 28


class RowLSTM(nn.Cell):
    """[N, 1, 28, 28] images -> [N, 10] logits, from the LSTM's state after the last row."""

    def __init__(self, hidden_size=128, num_classes=10):
        super().__init__()
        self.lstm = nn.LSTM(PIXELS, hidden_size, batch_first=True)
        self.fc = nn.Dense(hidden_size, num_classes)

    def construct(self, images):
        rows = ops.reshape(images, (-1, ROWS, PIXELS))
        _, (h_n, _) = self.lstm(rows)
        return self.fc(h_n[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate at the first step")
    parser.add_argument("--steps", type=int, default=-1, help="train on the first STEPS batches of each epoch "
                        "(-1: all)")
    parser.add_argument("--test-batches", type=int, default=-1, help="evaluate on the first TEST_BATCHES batches "
                        "(-1: the whole test split)")
    parser.add_argument("--data", default="./mnist", help="MNIST directory (downloaded if missing)")
    parser.add_argument("--mode", choices=("graph", "pynative"), default="graph")
    parser.add_argument("--backend", choices=("llvm", "interp"), default="llvm")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    graphc.set_context(mode=graphc.GRAPH_MODE if args.mode == "graph" else graphc.PYNATIVE_MODE,
                       backend=args.backend)
    graphc.set_seed(args.seed)
    train = Mnist(path=args.data, split="train", batch_size=args.batch_size, shuffle=True, resize=28,
                  download=True).run().take(args.steps)
    test = Mnist(path=args.data, split="test", batch_size=args.batch_size, resize=28,
                 download=True).run().take(args.test_batches)
    steps = train.get_dataset_size()
    learning_rates = nn.cosine_decay_lr(0.0, args.lr, steps * args.epochs, steps, args.epochs)
    network = RowLSTM()
    model = Model(network, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  optimizer=nn.Adam(network.trainable_params(), learning_rate=learning_rates), metrics={"acc"})
    for epoch in range(1, args.epochs + 1):
        model.train(1, train, callbacks=[TimeMonitor(steps), LossMonitor(learning_rates, steps)])
        accuracy = model.eval(test)["acc"]
        print(f"epoch {epoch}: test accuracy {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
