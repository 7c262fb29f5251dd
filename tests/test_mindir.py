"""MINDIR files against MindSpore 2.10 (tests/mindspore_reference/record_mindir.py), both ways, for
every model of graphc.models, and graphc's own export -> graphc.load -> nn.GraphCell round trip."""
import functools
import json
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.errors import ArgumentError, GraphcError
from graphc.export.mindir import export_mindir, summarize_mindir
from mindir_models import LARGE, MODELS, ZOO, build, flat

REFERENCE = Path(__file__).parent / "mindspore_reference"
MODES = [graphc.PYNATIVE_MODE, graphc.GRAPH_MODE]
# MindSpore's exports in the repository: the zoo's small networks and MindSpore's own conv+bn net
MINDSPORE_FILES = sorted(set(ZOO) - set(LARGE)) + ["convbn"]


@functools.cache
def built(name: str):
    """build(name) and graphc's output on its input, once per run: three tests compare with it."""
    net, x = build(name)
    return net, x, flat(net(Tensor(x)))


@pytest.mark.parametrize("mode", MODES, ids=["pynative", "graph"])
@pytest.mark.parametrize("name", MINDSPORE_FILES)
def test_runs_mindspores_exports_as_mindspore_did(name, mode):
    graphc.set_context(mode=mode)
    cell = nn.GraphCell(graphc.load(REFERENCE / f"ms_{name}.mindir"))
    got = cell(Tensor(np.load(REFERENCE / f"ms_{name}_input.npy"))).asnumpy()
    np.testing.assert_allclose(got, np.load(REFERENCE / f"ms_{name}_output.npy"), rtol=1e-5, atol=1e-5)


def test_graph_cell_names_parameters_as_the_file():
    cell = nn.GraphCell(graphc.load(REFERENCE / "ms_lenet.mindir"))
    names = [p.name for p in cell.get_parameters()]
    assert names == [f"backbone.{n}" for n in ("conv1.weight", "conv2.weight", "fc1.weight", "fc1.bias",
                                               "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")]


@pytest.mark.parametrize("name", ZOO)
def test_mindspore_built_the_same_network(name):
    """MindSpore's mirror of this network, holding the weights of graphc's checkpoint, computed what
    graphc's computes: the layers, names and weights MindSpore exported are graphc's."""
    _, _, want = built(name)
    np.testing.assert_allclose(want, np.load(REFERENCE / f"ms_{name}_output.npy").ravel(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", LARGE)
def test_graphc_ran_mindspores_large_exports(name):
    """ResNet-18 and -50 as MindSpore exported them are too large to keep: the record script ran
    graphc's loader on them and recorded how far its output was from MindSpore's."""
    record = json.loads((REFERENCE / "mindspore_large.json").read_text())[name]
    assert record["max_abs_diff"] <= 1e-5
    assert record["max_abs_output"] > 0.1             # a difference of outputs that are not all near 0
    assert record["nodes"] > 100 and record["mindspore"] == "2.10.0"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mindspore_ran_graphcs_exports_as_graphc_does(name):
    """MindSpore loaded graphc's export of this network (same weights) and recorded what it computed."""
    _, _, want = built(name)
    np.testing.assert_allclose(want, np.load(REFERENCE / f"graphc_{name}_mindspore.npy"),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_load_round_trip(name, tmp_path):
    net, x, want = built(name)
    path = export_mindir(net, [x], tmp_path / name)
    got = nn.GraphCell(graphc.load(path))(Tensor(x))
    np.testing.assert_allclose(flat(got), want, rtol=1e-5, atol=1e-5)


def test_round_trip_compiled_in_graph_mode(tmp_path):
    net, x = build("lenet")
    want = net(Tensor(x)).asnumpy()
    cell = nn.GraphCell(graphc.load(export_mindir(net, [x], tmp_path / "lenet")))
    graphc.set_context(mode=graphc.GRAPH_MODE)
    np.testing.assert_allclose(cell(Tensor(x)).asnumpy(), want, rtol=1e-5, atol=1e-5)


class TwoOutputs(nn.Cell):
    def construct(self, x):
        return ops.relu(x) * 2.0, ops.transpose(x, (1, 0))


def test_several_outputs_and_constants(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    path = export_mindir(TwoOutputs(), [x], tmp_path / "two.mindir")
    assert path == tmp_path / "two.mindir"               # the suffix is not doubled
    a, b = nn.GraphCell(graphc.load(path))(Tensor(x))
    np.testing.assert_array_equal(a.asnumpy(), np.maximum(x, 0) * 2)
    np.testing.assert_array_equal(b.asnumpy(), x.T)


def test_summary_of_mindspores_lenet():
    summary = summarize_mindir(REFERENCE / "ms_lenet.mindir")
    assert summary["format"] == "MINDIR"
    [(_, dtype, shape)] = summary["inputs"]
    assert (dtype, shape) == ("float32", (1, 1, 32, 32))
    assert [(d, s) for _, d, s in summary["outputs"]] == [("float32", (1, 10))]
    assert summary["parameter_bytes"] == 61684 * 4      # LeNet-5's 61,684 float32 weights
    assert summary["nodes"] > 10


# -- bad input -------------------------------------------------------------------------------
def test_truncated_file_names_the_file_and_offset(tmp_path):
    data = (REFERENCE / "ms_lenet.mindir").read_bytes()
    (tmp_path / "cut.mindir").write_bytes(data[:len(data) // 2])
    with pytest.raises(GraphcError, match=r"cut\.mindir: corrupt or truncated protobuf at byte \d+"):
        graphc.load(tmp_path / "cut.mindir")


def test_garbage_is_not_a_mindir_file(tmp_path):
    (tmp_path / "junk.mindir").write_bytes(b"\x08\x01")
    with pytest.raises(GraphcError, match=r"junk\.mindir: not a MindIR file"):
        graphc.load(tmp_path / "junk.mindir")
    (tmp_path / "bad.mindir").write_bytes(b"\xff" * 20)
    with pytest.raises(GraphcError, match=r"bad\.mindir"):
        graphc.load(tmp_path / "bad.mindir")


def test_unknown_primitive_names_node_and_primitive(tmp_path):
    """A primitive of a newer MindSpore (here ReLU renamed in the file): refused, nothing run."""
    data = (REFERENCE / "ms_lenet.mindir").read_bytes().replace(b"\x12\x04ReLU", b"\x12\x04ReLX")
    (tmp_path / "new.mindir").write_bytes(data)
    with pytest.raises(GraphcError, match=r"new\.mindir: node .+ uses MindSpore primitive ReLX, which graphc cannot run"):
        graphc.load(tmp_path / "new.mindir")


def test_graph_cell_checks_shape_and_dtype():
    cell = nn.GraphCell(graphc.load(REFERENCE / "ms_lenet.mindir"))
    with pytest.raises(ArgumentError, match=r"input 0 is f32\[1,1,28,28\] but the graph was exported for f32\[1,1,32,32\]"):
        cell(Tensor(np.zeros((1, 1, 28, 28), np.float32)))
    with pytest.raises(ArgumentError, match=r"f64\[1,1,32,32\] .* f32\[1,1,32,32\]"):
        cell(Tensor(np.zeros((1, 1, 32, 32), np.float64)))


class Collective(nn.Cell):
    def construct(self, x):
        return ops.get("allreduce")(x)


class Sine(nn.Cell):
    def construct(self, x):
        return ops.sin(x)


@pytest.mark.parametrize("net, op", [(Collective(), "allreduce"), (Sine(), "sin")])
def test_export_refuses_ops_mindir_cannot_express(net, op, tmp_path):
    with pytest.raises(GraphcError, match=rf"op {op} .*MINDIR"):
        export_mindir(net, [np.zeros((2, 2), np.float32)], tmp_path / "x")
    assert not list(tmp_path.iterdir())                  # no half-written file


def test_load_of_an_onnx_file_says_load_reads_mindir(tmp_path):
    model = tmp_path / "net.onnx"
    model.write_bytes(b"\x08\x08")
    with pytest.raises(GraphcError, match="reads MINDIR files, and this is an ONNX model"):
        graphc.load(str(model))
