"""The loss functions of MindSpore's tutorial and API docs, printing the outputs the docs show.

    python examples/loss_functions.py
"""
import numpy as np

import graphc.nn as nn
from graphc import Tensor


def f32(values):
    return Tensor(np.array(values, dtype=np.float32))


def main():
    # The tutorial's example: mean(|output - target|) = (1 + 0 + 2 + 1 + 2 + 3) / 6 = 1.5.
    loss = nn.L1Loss()
    output_data = f32([[1, 2, 3], [2, 3, 4]])
    target_data = f32([[0, 2, 5], [3, 1, 1]])
    print("L1Loss (tutorial):", loss(output_data, target_data))

    print("L1Loss:", nn.L1Loss()(f32([1, 2, 3]), f32([1, 2, 2])))
    # The docs print 1.6666667: the same float32, which NumPy prints in its shortest form.
    print("MSELoss:", nn.MSELoss()(f32([1, 2, 3]), f32([1, 1, 1])))
    print("SmoothL1Loss:", nn.SmoothL1Loss()(f32([1, 2, 3]), f32([1, 2, 2])))

    logits = f32([[3, 5, 6, 9, 12, 33, 42, 12, 32, 72]])
    sparse = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    print("SoftmaxCrossEntropyWithLogits (sparse):", sparse(logits, Tensor(np.array([1], np.int32))))
    one_hot = f32([[0, 0, 0, 0, 0, 0, 1, 0, 0, 0]])
    print("SoftmaxCrossEntropyWithLogits (one-hot):", nn.SoftmaxCrossEntropyWithLogits()(logits, one_hot))


if __name__ == "__main__":
    main()
