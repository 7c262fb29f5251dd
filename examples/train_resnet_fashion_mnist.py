"""ResNet-20 with batch norm on Fashion-MNIST: Model.train with LossMonitor, evaluation, a checkpoint.

    python examples/train_resnet_fashion_mnist.py                      # 10 epochs, batch 128
    python examples/train_resnet_fashion_mnist.py --epochs 1 --data ./fashion-mnist
    python examples/train_resnet_fashion_mnist.py --network lenet      # LeNet-5, for comparison
    python examples/train_resnet_fashion_mnist.py --amp-level O2       # bfloat16, batch norm in float32

Training images are augmented (random 28x28 crops of the image padded by 2, random horizontal flips)
and normalised with Fashion-MNIST's mean and std; the learning rate follows a cosine from --lr down
to 0 over the run (Momentum 0.9, weight decay 5e-4). LeNet-5 takes the images resized to 32x32.
--amp-level is MindSpore's Model(amp_level=...): O1, O2 and O3 compute in bfloat16 (docs/mindspore.md,
"Mixed precision"), O2 with batch norm and the loss in float32 and a dynamic loss scale.
Fashion-MNIST is downloaded into --data from the public mirrors (or GRAPHC_FASHION_MNIST_MIRRORS,
which may name file:// folders) unless it is already there.
"""
import argparse
import logging
import time

import graphc
import graphc.nn as nn
from graphc.models import lenet, resnet20
from runtime import Model, save_checkpoint
from runtime.callbacks import LossMonitor
from runtime.dataset import HWC2CHW, FashionMnist, Normalize, RandomCrop, RandomHorizontalFlip, Resize


def transforms(image_size: int, augment: bool) -> list:
    normalize = [Normalize([FashionMnist.MEAN * 255], [FashionMnist.STD * 255]), HWC2CHW()]
    random = [RandomCrop(28, padding=2), RandomHorizontalFlip()] if augment else []
    resize = [Resize(image_size)] if image_size != 28 else []
    return random + resize + normalize


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="the learning rate of the first step")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--data", default="./fashion-mnist", help="Fashion-MNIST directory (downloaded if missing)")
    parser.add_argument("--network", choices=("resnet20", "lenet"), default="resnet20")
    parser.add_argument("--no-augment", action="store_true", help="train on the images as they are")
    parser.add_argument("--ckpt", default=None, help="checkpoint file (default: <network>_fashion_mnist.ckpt)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--amp-level", choices=("O0", "O1", "O2", "O3"), default="O0",
                        help="mixed precision, as MindSpore's Model(amp_level=...)")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    graphc.set_seed(args.seed)
    image_size = 28 if args.network == "resnet20" else 32
    train = FashionMnist(args.data, split="train", batch_size=args.batch_size, shuffle=True, download=True,
                         transform=transforms(image_size, augment=not args.no_augment)).run()
    test = FashionMnist(args.data, split="test", batch_size=args.batch_size, shuffle=False, download=True,
                        transform=transforms(image_size, augment=False)).run()

    network = resnet20(num_classes=10, in_channels=1) if args.network == "resnet20" else lenet(num_classes=10)
    steps = train.get_dataset_size()
    learning_rates = nn.cosine_decay_lr(0.0, args.lr, steps * args.epochs, steps, args.epochs)
    optimizer = nn.Momentum(network.trainable_params(), learning_rate=learning_rates, momentum=0.9,
                            weight_decay=args.weight_decay)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    model = Model(network, loss_fn=loss, optimizer=optimizer, metrics={"acc"}, amp_level=args.amp_level)

    start = time.perf_counter()
    model.train(args.epochs, train, callbacks=[LossMonitor(learning_rates, steps)])
    minutes = (time.perf_counter() - start) / 60
    accuracy = model.eval(test)["acc"]
    print(f"{args.network} at {args.amp_level}: test accuracy {accuracy:.4f} after {args.epochs} epochs "
          f"({minutes:.1f} min of training)")
    checkpoint = args.ckpt or f"{args.network}_fashion_mnist.ckpt"
    save_checkpoint(network, checkpoint)
    print(f"saved {checkpoint}")


if __name__ == "__main__":
    main()
