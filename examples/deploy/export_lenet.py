"""Train LeNet-5 on MNIST and export it as a shared library for the C program beside this file.

    python examples/deploy/export_lenet.py --data ./mnist --out build/lenet     # writes lenet.so, lenet.h, lenet.ckpt
    make -C examples/deploy LIB_DIR=$PWD/build                                   # builds build/lenet_mnist
    build/lenet_mnist ./mnist/test                                               # prints the test accuracy

The exported network takes raw pixels, (batch, 1, 28, 28) floats from 0 to 255, and does the
preprocessing itself (pad to 32x32, scale, normalize with MNIST's mean and deviation), so the C
program only turns bytes into floats. MNIST is downloaded into --data (from the public mirrors, or
from GRAPHC_MNIST_MIRRORS) unless it is already there. The checkpoint lets Python check the
library's predictions (tests/test_shared_library.py does).
"""
import argparse
import logging
from pathlib import Path

import numpy as np

import graphc
from graphc import nn, ops
from graphc.export.shared_library import export_shared_library
from graphc.models import lenet
from runtime import Model
from runtime.checkpoint import save_checkpoint
from runtime.dataset import MNIST, NumpySlicesDataset, download_split, read_idx

MEAN, STD = 0.1307, 0.3081


class PixelLeNet(nn.Cell):
    """LeNet-5 on raw MNIST pixels (batch, 1, 28, 28), 0..255."""

    def __init__(self):
        super().__init__()
        self.lenet = lenet(num_classes=10)

    def construct(self, x):
        x = ops.pad(x, (2, 2, 2, 2))
        return self.lenet((x * (1 / 255) - MEAN) / STD)


def pixels(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's images as (n, 1, 28, 28) float32 pixels and its labels as int32."""
    images, labels = (read_idx(directory / f.name, ndim) for f, ndim in zip(MNIST.splits[split], (3, 1)))
    return images[:, None].astype(np.float32), labels.astype(np.int32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="./mnist", help="MNIST directory (downloaded if missing)")
    parser.add_argument("--out", default="build/lenet", help="the library's path without .so (a C identifier)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64, help="images per call of the exported library")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    graphc.set_seed(args.seed)

    download_split(MNIST, args.data, "test")           # for the C program
    images, labels = pixels(download_split(MNIST, args.data, "train"), "train")
    train = NumpySlicesDataset({"image": images, "label": labels}, shuffle=True).batch(32)
    net = PixelLeNet()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    model = Model(net, loss, nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9))
    model.train(args.epochs, train)

    out = Path(args.out)
    save_checkpoint(net, str(out.with_suffix(".ckpt")))
    exported = export_shared_library(net, [np.zeros((args.batch_size, 1, 28, 28), np.float32)], out)
    print(f"wrote {exported.library} and {exported.header}")


if __name__ == "__main__":
    main()
