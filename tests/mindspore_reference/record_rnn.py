"""Records MindSpore 2.10's answers for nn.RNN, nn.LSTM, nn.GRU and their cells, which
tests/test_rnn.py compares graphc against.

Run it with MindSpore installed (never a dependency of graphc or of its tests):

    python tests/mindspore_reference/record_rnn.py      # writes rnn.json beside this file

Each case holds MindSpore's parameters (its own default init, seeded), the inputs, the outputs and
the gradient of sum(every output) with respect to the input and to every parameter, in PYNATIVE_MODE.
"""
import json
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

rng = np.random.default_rng(22)
STEPS, BATCH, FEATURES, HIDDEN = 5, 3, 4, 3


def values(shape):
    return np.round(rng.standard_normal(shape), 4).astype(np.float32)


def case(name, cls, kwargs, batch_first=False, hx=False, seq_length=None):
    """nn.<cls>(FEATURES, HIDDEN, **kwargs) on a [STEPS, BATCH, FEATURES] input (batch first if asked)."""
    return {"name": name, "cls": cls, "kwargs": dict(kwargs, batch_first=batch_first), "hx": hx,
            "seq_length": seq_length}


def cases():
    for cls, extra in (("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})):
        tag = cls + "_relu" * bool(extra)
        yield case(f"{tag}_one_layer", cls, extra)
        yield case(f"{tag}_two_layers_bidirectional_hx", cls, dict(extra, num_layers=2, bidirectional=True), hx=True)
        yield case(f"{tag}_batch_first_no_bias", cls, dict(extra, has_bias=False), batch_first=True)
        yield case(f"{tag}_seq_length_bidirectional", cls, dict(extra, bidirectional=True), hx=True,
                   seq_length=[5, 2, 4])
        yield case(f"{tag}_seq_length_two_layers_batch_first", cls, dict(extra, num_layers=2), batch_first=True,
                   seq_length=[3, 5, 1])


def cell_cases():
    for cls, extra in (("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {}),
                       ("LSTMCell", {"has_bias": False})):
        yield {"name": f"{cls}_{'_'.join(f'{k}_{v}' for k, v in extra.items()) or 'default'}", "cls": cls,
               "kwargs": extra}


def flat(out):
    """The output Tensors in order: (output, h_n), (output, (h_n, c_n)), h', (h', c')."""
    return [t for item in (out if isinstance(out, tuple) else (out,)) for t in (item if isinstance(item, tuple) else (item,))]


def record(c, layer: bool):
    ms.set_seed(7)
    cell = getattr(nn, c["cls"])(FEATURES, HIDDEN, **c["kwargs"])
    directions = 2 if c["kwargs"].get("bidirectional") else 1
    states = c["kwargs"].get("num_layers", 1) * directions
    lstm = "LSTM" in c["cls"]
    if layer:
        shape = (BATCH, STEPS, FEATURES) if c["kwargs"]["batch_first"] else (STEPS, BATCH, FEATURES)
        state_shape = (states, BATCH, HIDDEN)
    else:
        shape, state_shape = (BATCH, FEATURES), (BATCH, HIDDEN)
    x = values(shape)
    hx = [values(state_shape) for _ in range(2 if lstm else 1)] if (c.get("hx") or not layer) else None
    extra = ()
    if layer:
        extra = ((tuple(Tensor(h) for h in hx) if lstm else Tensor(hx[0])) if hx else None,
                 Tensor(np.array(c["seq_length"], np.int32)) if c["seq_length"] else None)
    else:
        extra = (tuple(Tensor(h) for h in hx) if lstm else Tensor(hx[0]),)
    params = cell.trainable_params()

    def loss(x):
        return sum(o.sum() for o in flat(cell(x, *extra)))
    out = flat(cell(Tensor(x), *extra))
    dx, dparams = ms.grad(loss, grad_position=0, weights=params)(Tensor(x))
    return {**c, "x": x.tolist(), "hx_values": [h.tolist() for h in hx] if hx else None,
            "params": {p.name: p.asnumpy().tolist() for p in params},
            "output": [o.asnumpy().tolist() for o in out],
            "grad_x": dx.asnumpy().tolist(), "grad_params": {p.name: g.asnumpy().tolist() for p, g in zip(params, dparams)}}


def main():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    facts = {"mindspore": ms.__version__, "layers": [record(c, True) for c in cases()],
             "cells": [record(c, False) for c in cell_cases()]}
    (Path(__file__).resolve().parent / "rnn.json").write_text(json.dumps(facts))


if __name__ == "__main__":
    main()
