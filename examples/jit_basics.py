"""Graph mode basics: @graphc.jit on a function and on a Cell's construct, the compile cache and its
recompile log, and GRAPH_MODE vs PYNATIVE_MODE giving the same numbers.

    python examples/jit_basics.py
"""
import logging

import numpy as np

import graphc
import graphc.nn as nn
from graphc import Tensor, ops


@graphc.jit
def scaled_relu(x, scale):
    # `scale` is a Python number, so it is a static argument: baked into the graph and part of the cache key.
    return ops.relu(x) * scale


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(4, 8, activation="relu")
        self.fc2 = nn.Dense(8, 3)

    def construct(self, x):
        return self.fc2(self.fc1(x))


class JitMLP(MLP):
    # @graphc.jit on construct compiles the Cell even in PYNATIVE_MODE (MindSpore's ms_function).
    @graphc.jit
    def construct(self, x):
        return self.fc2(self.fc1(x))


def main():
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    x = Tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))

    print(scaled_relu.lower(x, 2.0).graph)                     # the traced graph, without compiling it
    print("scaled_relu:", scaled_relu(x, 2.0))
    scaled_relu(x, 2.0)                                        # same signature: the cached graph runs
    scaled_relu(Tensor(np.ones((3, 4), np.float32)), 2.0)      # new shape: recompiles and logs why
    scaled_relu(x, 3.0)                                        # new static value: recompiles too

    graphc.set_seed(0)
    net = MLP()
    graph_out = net(x).asnumpy()                               # GRAPH_MODE, the default: trace, compile, run
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    eager_out = net(x).asnumpy()                               # op by op through the NumPy references
    print("GRAPH_MODE vs PYNATIVE_MODE max difference:", float(np.abs(graph_out - eager_out).max()))

    graphc.set_seed(0)
    jitted_out = JitMLP()(x).asnumpy()                         # same seed, same weights, compiled construct
    print("jitted construct vs PYNATIVE_MODE max difference:", float(np.abs(jitted_out - eager_out).max()))


if __name__ == "__main__":
    main()
