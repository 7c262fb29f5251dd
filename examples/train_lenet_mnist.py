"""MindSpore's "Model Training" tutorial with graphc: LeNet-5 on MNIST, 10 epochs, Momentum.

    python examples/train_lenet_mnist.py                # the tutorial's settings
    python examples/train_lenet_mnist.py --epochs 1 --data ./mnist --mode pynative
    python examples/train_lenet_mnist.py --epochs 1 --summary-dir ./summary_dir   # tensorboard --logdir ./summary_dir
    mpiexec -n 2 python examples/train_lenet_mnist.py --distributed --batch-size 64   # data-parallel

MNIST is downloaded into --data from the public mirrors (or from GRAPHC_MNIST_MIRRORS, which may
name file:// folders) unless it is already there. With --distributed (under an MPI launcher; see
docs/distributed.md) each rank trains on its shard of every epoch with --batch-size / ranks images
per step, the gradients averaged over the ranks; rank 0 prints.
"""
import argparse
import logging

import graphc
import graphc.nn as nn
from graphc import communication
from graphc.models import lenet
from runtime import Model
from runtime.callbacks import LossMonitor, SummaryCollector
from runtime.dataset import Mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="images per step (with --distributed: over all "
                        "ranks together, the global batch)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--data", default="./mnist", help="MNIST directory (downloaded if missing)")
    parser.add_argument("--mode", choices=("graph", "pynative"), default="graph")
    parser.add_argument("--backend", choices=("llvm", "interp"), default="llvm")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--distributed", action="store_true", help="data-parallel over the ranks of an MPI job")
    parser.add_argument("--summary-dir", help="record the loss, learning rate, weight histograms and graph there "
                        "every 10 steps, for TensorBoard (needs graphc[tensorboard]; docs/observability.md)")
    args = parser.parse_args()

    graphc.set_context(mode=graphc.GRAPH_MODE if args.mode == "graph" else graphc.PYNATIVE_MODE,
                       backend=args.backend)
    batch_size = args.batch_size
    if args.distributed:
        communication.init()
        graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)
        ranks = communication.get_group_size()
        if batch_size % ranks:
            parser.error(f"--batch-size {batch_size} does not split evenly over {ranks} ranks")
        batch_size //= ranks
    main_rank = not args.distributed or communication.get_rank() == 0
    logging.basicConfig(level=logging.INFO if main_rank else logging.WARNING, format="%(message)s")
    graphc.set_seed(args.seed)

    dataset_train = Mnist(path=args.data, split="train", batch_size=batch_size, repeat_num=1,
                          shuffle=True, resize=32, download=True).run()
    network = lenet(num_classes=10, pretrained=False)
    net_loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    net_opt = nn.Momentum(network.trainable_params(), learning_rate=args.lr, momentum=args.momentum)
    model = Model(network, loss_fn=net_loss, optimizer=net_opt, metrics={"acc"})
    steps = dataset_train.get_dataset_size()
    callbacks = [LossMonitor(args.lr, steps)]
    if args.summary_dir and main_rank:
        callbacks.append(SummaryCollector(args.summary_dir, collect_freq=10, collect_tensor_freq=100))
    model.train(args.epochs, dataset_train, callbacks=callbacks)

    dataset_test = Mnist(path=args.data, split="test", batch_size=batch_size, resize=32, download=True).run()
    metrics = model.eval(dataset_test)
    if main_rank:
        print(metrics)


if __name__ == "__main__":
    main()
