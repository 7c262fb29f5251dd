"""Records the MindSpore 2.10 values that tests/test_mindspore_semantics.py compares graphc with.

Run it with MindSpore installed (never a dependency of graphc or its tests):

    python tests/mindspore_semantics/record_reference.py    # writes reference.json beside this file
"""
import json
import math
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

X = np.array([1.0, 2.0], np.float32)
Y = np.array([3.0, 4.0], np.float32)


def sum_and_vector(x):
    return (x * x).sum(), 3 * x


def nested_tuple(x):
    return x * x, (x * 5, x.sum())


def as_list(x):
    return [x * x, 2 * x]


def two_inputs(x, y):
    return x * y, x + y


def with_int_cast(x):
    return (x * x).sum(), ops.cast(x, ms.int32)


def with_int_constant(x):
    return (x * x).sum(), Tensor(np.array([7, 8], np.int32))


GRAD_CASES = {      # name -> (function, keyword arguments of ms.grad), at x = X (and y = Y when it takes two)
    "sum_and_vector": (sum_and_vector, {}),
    "nested_tuple": (nested_tuple, {}),
    "list": (as_list, {}),
    "two_inputs": (two_inputs, {"grad_position": (0, 1)}),
    "has_aux": (sum_and_vector, {"has_aux": True}),
    "int_cast": (with_int_cast, {}),            # graphc refuses this one: its cast passes no gradient
    "int_constant": (with_int_constant, {}),
}


def nested(value):
    if isinstance(value, (tuple, list)):
        return [nested(v) for v in value]
    return value.asnumpy().tolist()


def gradients():
    by_mode = {}
    for mode, name in ((ms.PYNATIVE_MODE, "pynative"), (ms.GRAPH_MODE, "graph")):
        ms.set_context(mode=mode)
        by_mode[name] = {case: nested(ms.grad(fn, **kw)(*(Tensor(X), Tensor(Y))[:fn.__code__.co_argcount]))
                         for case, (fn, kw) in GRAD_CASES.items()}
        by_mode[name]["value_and_grad"] = nested(ms.value_and_grad(sum_and_vector)(Tensor(X)))
    assert by_mode["pynative"] == by_mode["graph"], by_mode
    return {"x": X.tolist(), "y": Y.tolist(), **by_mode["graph"]}


def numpy_after_set_seed():
    np.random.seed(12345)
    ms.set_seed(1)
    return {"seed": 1, "normal_3": np.random.normal(size=3).tolist(), "rand": float(np.random.rand())}


def statistics(array):
    array = array.asnumpy().astype(np.float64)
    return {"shape": list(array.shape), "min": array.min(), "max": array.max(), "mean": array.mean(), "std": array.std()}


def default_initializers():
    """Weight and bias statistics of layers built with their default initializers (large enough that the
    statistics pin the distribution down)."""
    ms.set_seed(0)
    layers = {"Dense(400, 120)": nn.Dense(400, 120), "Dense(16, 4096)": nn.Dense(16, 4096),
              "Conv2d(6, 16, 5)": nn.Conv2d(6, 16, 5), "Conv2d(2, 512, 3, has_bias=True)": nn.Conv2d(2, 512, 3, has_bias=True),
              "Conv2d(8, 256, 3, group=4, has_bias=True)": nn.Conv2d(8, 256, 3, group=4, has_bias=True)}
    return {name: {"has_bias": layer.bias is not None, "weight": statistics(layer.weight),
                   **({"bias": statistics(layer.bias)} if layer.bias is not None else {})}
            for name, layer in layers.items()}


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3)
        self.fc = nn.Dense(3, 2)

    def construct(self, x):
        return x


def loaded(values):
    return {name: Parameter(Tensor(np.full(shape, fill, np.float32)), name=name) for name, (shape, fill) in values.items()}


def load_param_into_net():
    """(param_not_load, ckpt_not_load) and the values in the network after each call."""
    cases = {
        "partial": ({"conv1.weight": ((2, 1, 3, 3), 1.0), "extra": ((2,), 1.0), "fc.bias": ((2,), 2.0)}, False),
        "partial_strict": ({"conv1.weight": ((2, 1, 3, 3), 1.0), "extra": ((2,), 1.0), "fc.bias": ((2,), 2.0)}, True),
        "prefixed": ({"backbone.fc.bias": ((2,), 3.0), "backbone.fc.weight": ((2, 3), 4.0)}, False),
        "prefixed_strict": ({"backbone.fc.bias": ((2,), 3.0), "backbone.fc.weight": ((2, 3), 4.0)}, True),
        "empty": ({}, False),
    }
    results = {}
    for case, (values, strict) in cases.items():
        net = Net()
        for p in net.get_parameters():
            p.set_data(Tensor(np.zeros(p.shape, np.float32)))
        param_not_load, ckpt_not_load = ms.load_param_into_net(net, loaded(values), strict_load=strict)
        results[case] = {"values": {k: [list(shape), fill] for k, (shape, fill) in values.items()}, "strict_load": strict,
                         "param_not_load": param_not_load, "ckpt_not_load": ckpt_not_load,
                         "network_after": {p.name: float(p.asnumpy().flat[0]) for p in net.get_parameters()}}
    return results


if __name__ == "__main__":
    reference = {"mindspore": ms.__version__, "grad": gradients(), "set_seed": numpy_after_set_seed(),
                 "default_initializers": default_initializers(), "load_param_into_net": load_param_into_net()}
    path = Path(__file__).with_name("reference.json")
    path.write_text(json.dumps(reference, indent=1, default=float) + "\n")
    print(f"wrote {path}")
