"""Half-precision checkpoints against MindSpore 2.10 (tests/mindspore_reference/record_half_checkpoint.py):
graphc reads MindSpore's Float16 and BFloat16 entries, and writes the file MindSpore read back."""
import json
from pathlib import Path

import numpy as np

import graphc as ms
from graphc import ops

REFERENCE = Path(__file__).parent / "mindspore_reference"
VALUES = {"w16": ([[1.5, -2.25, 65504.0], [0.1, 3e-5, -0.0]], ms.float16), "wbf": ([1.5, -2.25, 3.0e38, 0.1], ms.bfloat16)}


def parameters():
    return [ms.Parameter(ops.cast(ms.Tensor(np.array(v, np.float32)), dtype), name=name) for name, (v, dtype) in VALUES.items()]


def test_reads_mindspores_half_entries():
    loaded = ms.load_checkpoint(str(REFERENCE / "ms_half.ckpt"))
    for param in parameters():
        value = loaded[param.name]
        assert value.dtype is param.dtype and value.shape == param.shape
        assert value.asnumpy().view(np.uint16).tolist() == param.asnumpy().view(np.uint16).tolist()


def test_writes_the_file_mindspore_read(tmp_path):
    ms.save_checkpoint(parameters(), str(tmp_path / "half.ckpt"))
    assert (tmp_path / "half.ckpt").read_bytes() == (REFERENCE / "graphc_half.ckpt").read_bytes()
    read = json.loads((REFERENCE / "half_checkpoint.json").read_text())
    for param in parameters():
        assert read[param.name]["dtype"] == str(param.dtype) and read[param.name]["shape"] == list(param.shape)
        np.testing.assert_array_equal(np.array(read[param.name]["values"], np.float32), param.asnumpy().astype(np.float32))


def test_loads_into_half_parameters_of_a_network():
    params = parameters()
    target = [ms.Parameter(ops.cast(ms.Tensor(np.zeros(p.shape, np.float32)), p.dtype), name=p.name) for p in params]
    not_loaded, _ = ms.load_param_into_net(_Holder(target), ms.load_checkpoint(str(REFERENCE / "ms_half.ckpt")))
    assert not_loaded == []
    for got, want in zip(target, params):
        assert got.asnumpy().view(np.uint16).tolist() == want.asnumpy().view(np.uint16).tolist()


class _Holder(ms.nn.Cell):
    def __init__(self, params):
        super().__init__()
        for p in params:
            setattr(self, p.name, p)


if __name__ == "__main__":      # writes graphc's file for the recording script
    ms.save_checkpoint(parameters(), str(REFERENCE / "graphc_half.ckpt"))
