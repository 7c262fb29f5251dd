"""Run by test_cache_faults.py in a child process, under a fault of the compiled-code cache: two
training steps of a small network, compiled natively. Prints one JSON line: the results (losses and
the trained weights, as hex bytes), the cache warnings issued, and what the cache directory holds
afterwards."""
import json
import os
import warnings

import numpy as np

import graphc
from graphc import Tensor, nn

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")              # every warning issued; the cache's own rule is what is tested
    graphc.set_seed(0)
    net = nn.Dense(8, 4)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Momentum(net.trainable_params(), 0.1, 0.9))
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.standard_normal((16, 8)).astype(np.float32)), Tensor(rng.integers(0, 4, 16).astype(np.int32))
    losses = [step(x, y).asnumpy().tobytes().hex() for _ in range(2)]
    evaluated = graphc.jit(lambda data: net(data) * 2.0)(x).asnumpy().tobytes().hex()   # a second compile
cache = os.environ.get("GRAPHC_CACHE_DIR", "")
print(json.dumps({
    "results": [losses, evaluated, [p.asnumpy().tobytes().hex() for p in net.trainable_params()]],
    "warnings": [str(w.message) for w in caught if "compiled-code cache" in str(w.message)],
    "left": sorted(os.listdir(cache)) if os.path.isdir(cache) else None,
}))
