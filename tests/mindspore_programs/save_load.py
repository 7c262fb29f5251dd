"""The 2.x save/load tutorial's shape: save a network's checkpoint, load it into a fresh network
with load_param_into_net (its two lists of names), and predict the same outputs."""
import json
import os
import tempfile

import numpy as np
import mindspore
from mindspore import nn, Tensor

rng = np.random.default_rng(2)


def network():
    net = nn.SequentialCell(nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2))
    for p in net.trainable_params():
        p.set_data(Tensor(rng.normal(size=p.shape).astype(np.float32)))
    return net


model = network()
x = Tensor(rng.normal(size=(2, 4)).astype(np.float32))
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "model.ckpt")
    mindspore.save_checkpoint(model, path)
    param_dict = mindspore.load_checkpoint(path)
    fresh = network()
    param_not_load, ckpt_not_load = mindspore.load_param_into_net(fresh, param_dict)
    names = sorted(param_dict)
print("RESULT", json.dumps({"names": names, "param_not_load": param_not_load, "ckpt_not_load": ckpt_not_load,
                            "same_output": bool(np.array_equal(model(x).asnumpy(), fresh(x).asnumpy())),
                            "output": model(x).asnumpy().round(5).tolist()}))
