"""graphc.export: the ONNX writer against ONNX Runtime (every zoo model, the tutorials' LeNet, every op
it converts), the dispatcher's formats and suffixes, refusals at the user's line, and the CLI's
`graphc export` / `graphc inspect FILE.onnx`."""
import sys
import types

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX export needs the onnx package (pip install '.[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="the ONNX tests run models in onnxruntime (pip install '.[onnx]')")

import graphc  # noqa: E402
from graphc import GraphcError, Tensor, nn, ops  # noqa: E402
from graphc.errors import ArgumentError  # noqa: E402
from graphc.export.onnx_model import OPSET, summarize_onnx, to_onnx  # noqa: E402
from graphc.export.onnx_ops import CONVERTERS  # noqa: E402
from graphc.jit import trace  # noqa: E402
from graphc.models import lenet, mobilenet_v2, resnet18, resnet20, resnet50  # noqa: E402
from graphc.ops.core import REGISTRY  # noqa: E402

from test_cli import fails, succeeds  # noqa: E402
from test_mindspore_parity import LeNet5  # noqa: E402

ZOO = {
    "lenet": (lambda: lenet(num_classes=10), (1, 1, 32, 32)),
    "resnet20": (lambda: resnet20(num_classes=10), (2, 1, 32, 32)),
    "resnet18": (lambda: resnet18(num_classes=10, small_input=True), (1, 3, 32, 32)),
    "resnet50": (lambda: resnet50(num_classes=10, small_input=True), (1, 3, 32, 32)),
    "mobilenet_v2": (lambda: mobilenet_v2(num_classes=10), (1, 3, 32, 32)),
    "tutorial LeNet5": (LeNet5, (1, 1, 32, 32)),
}


def run_onnx(path, *arrays):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays)})


def randomize(net, seed=0):
    """Weights with outputs of order one, and batch-norm statistics far from (0, 1), so that a wrong
    folding or a dropped term shows (the zoo's initial classifiers give logits near 1e-10)."""
    rng = np.random.default_rng(seed)
    for name, p in net.parameters_and_names():
        shape, fan_in = p.shape, max(1, int(np.prod(p.shape[1:])))
        if name.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name.endswith(("gamma", "beta", "moving_mean", "bias")):
            value = rng.uniform(-0.5, 0.5, shape) + (1.0 if name.endswith("gamma") else 0.0)
        else:
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        p.set_data(value.astype(np.float32))
    return net


@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_model_runs_in_onnx_runtime_as_in_graphc(name, tmp_path):
    make, shape = ZOO[name]
    graphc.set_seed(0)
    net = randomize(make())
    net.set_train(True)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    path = graphc.export(net, Tensor(x), file_name=tmp_path / "net", file_format="ONNX")
    assert path == tmp_path / "net.onnx"
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import] == [OPSET]
    assert net.training                                  # export's set_train(False) is undone
    net.set_train(False)
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    try:
        expected = net(Tensor(x)).asnumpy()
    finally:
        graphc.set_context(mode=graphc.GRAPH_MODE)
    (got,) = run_onnx(path, x)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale)


def test_lenet_matches_model_predict(tmp_path):
    from runtime import Model
    graphc.set_seed(0)
    net = randomize(lenet(num_classes=10))
    x = np.random.default_rng(2).standard_normal((4, 1, 32, 32)).astype(np.float32)
    path = graphc.export(net, x, file_name=str(tmp_path / "lenet.onnx"), file_format="ONNX")
    np.testing.assert_allclose(run_onnx(path, x)[0], Model(net).predict(Tensor(x)).asnumpy(), rtol=1e-5, atol=1e-5)


def _float32(value):
    value = np.asarray(value)
    return value.astype(np.float32) if value.dtype.kind == "f" else value


def _op_cases():
    rng = np.random.default_rng(0)
    for name in sorted(CONVERTERS):
        op = REGISTRY[name]
        for k, (arrays, attrs) in enumerate(op.samples(rng) if op.samples else []):
            yield pytest.param(name, [_float32(a) for a in arrays], attrs, id=f"{name}-{k}")


@pytest.mark.parametrize("name, arrays, attrs", list(_op_cases()))
def test_every_converted_op_matches_its_reference_in_onnx_runtime(name, arrays, attrs):
    op = REGISTRY[name]
    traced = trace(lambda *xs: ops.get(name)(*xs, **attrs), tuple(arrays), name=name)
    node = traced.graph.outputs[0]
    if node.op != name:
        pytest.skip(f"the binder made {node.op} of this sample")
    model = to_onnx(traced.graph)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {f"arg{k}": a for k, a in enumerate(arrays)})
    expected = np.asarray(op.ref(*[np.asarray(i) for i in arrays], **node.attrs)).astype(node.type.dtype.np)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    scale = max(1.0, float(np.nanmax(np.abs(expected), initial=0)) if expected.dtype.kind == "f" else 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale, equal_nan=True)


def test_batch_norm_is_folded_into_the_convolutions(tmp_path):
    net = randomize(resnet20(num_classes=10))
    path = graphc.export(net, np.zeros((1, 1, 32, 32), np.float32), file_name=tmp_path / "r", file_format="ONNX")
    model = onnx.load(str(path))
    kinds = [n.op_type for n in model.graph.node]
    assert kinds.count("Conv") == 21 and "Mul" not in kinds and "Reshape" not in kinds
    names = {t.name for t in model.graph.initializer}
    assert "classifier.weight" in names and not any("moving_" in name for name in names)


def test_every_op_of_the_zoo_has_a_converter_and_a_sample():
    for name in ("conv2d", "matmul", "channel_affine", "max_pool2d", "reduce_mean", "relu6", "rsqrt"):
        assert name in CONVERTERS and REGISTRY[name].samples is not None


# -- the dispatcher ---------------------------------------------------------------------------------
class Affine(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(4, 3)

    def construct(self, features):
        return self.dense(features)


X = np.ones((2, 4), np.float32)


def test_the_suffix_is_added_once_and_inputs_keep_their_construct_names(tmp_path):
    assert graphc.export(Affine(), X, file_name=str(tmp_path / "model"), file_format="ONNX") == tmp_path / "model.onnx"
    assert graphc.export(Affine(), X, file_name=tmp_path / "a.onnx", file_format="ONNX") == tmp_path / "a.onnx"
    assert graphc.export(Affine(), X, file_name=tmp_path / "v1.2", file_format="ONNX") == tmp_path / "v1.2.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "model.onnx", "v1.2.onnx"]
    assert summarize_onnx(tmp_path / "a.onnx")["inputs"] == [("features", "float32", (2, 4))]


def test_mindir_goes_to_the_mindir_writer_with_its_suffix(tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("graphc.export.mindir")
    fake.export_mindir = lambda net, inputs, file_name: calls.append((net, len(inputs), file_name)) or file_name
    monkeypatch.setitem(sys.modules, "graphc.export.mindir", fake)
    net = Affine()
    graphc.export(net, Tensor(X), file_name="m", file_format="MINDIR")
    graphc.export(net, Tensor(X), file_name="m.mindir")             # MINDIR is the default, as MindSpore's
    assert calls == [(net, 1, "m.mindir"), (net, 1, "m.mindir")]


def test_so_goes_to_the_shared_library_writer(tmp_path):
    from graphc.export.shared_library import SharedLibrary
    exported = graphc.export(Affine(), X, file_name=tmp_path / "affine", file_format="SO", target=None)
    assert exported.library == tmp_path / "affine.so" and exported.header.exists()
    library = SharedLibrary(exported)
    try:
        assert library(X)[0].shape == (2, 3)
    finally:
        library.close()


def test_the_dispatcher_refuses_bad_formats_keywords_and_missing_inputs(tmp_path):
    with pytest.raises(ArgumentError, match=r"file_format 'TFLITE' .*'MINDIR', 'ONNX', 'SO'"):
        graphc.export(Affine(), X, file_name=tmp_path / "m", file_format="TFLITE")
    with pytest.raises(ArgumentError, match=r"unknown keyword 'target' for file_format='ONNX'.*'SO'"):
        graphc.export(Affine(), X, file_name=tmp_path / "m", file_format="ONNX", target="x86_64")
    with pytest.raises(ArgumentError, match=r"export needs sample inputs"):
        graphc.export(Affine(), file_name=tmp_path / "m", file_format="ONNX")
    assert list(tmp_path.iterdir()) == []


def test_from_graphc_export_modules_still_import():
    from graphc.export.shared_library import export_shared_library
    from graphc.export.inference import inference_graph
    assert callable(graphc.export) and callable(export_shared_library) and callable(inference_graph)


# -- refusals ---------------------------------------------------------------------------------------
class Reduced(nn.Cell):
    def construct(self, x):
        return ops.get("allreduce")(x)           # a collective: no meaning outside the job


class CountedUp(nn.Cell):
    def construct(self, x):
        while x.sum() < 100.0:                   # a data-dependent loop
            x = x * 2.0
        return x


class Encoded(nn.Cell):
    def construct(self, x):
        return ops.get("one_hot")(x.astype(graphc.int32), depth=4) * 1.0     # an op without a converter


class Counting(nn.Cell):
    def __init__(self):
        super().__init__()
        self.calls = graphc.Parameter(Tensor(np.zeros((), np.float32)), name="calls", requires_grad=False)

    def construct(self, x):
        ops.assign(self.calls, self.calls + 1.0)  # state updated when it infers
        return x * 2.0


@pytest.mark.parametrize("net, op, why", [
    (Reduced(), "allreduce", "collective"), (CountedUp(), "while", "data-dependent loop"),
    (Encoded(), "one_hot", "no ONNX converter"), (Counting(), "assign", "pure function")])
def test_an_op_onnx_cannot_express_is_refused_at_the_users_line(net, op, why, tmp_path):
    with pytest.raises(GraphcError, match=rf"test_export_onnx.py:\d+: file_format='ONNX' cannot express op {op} "
                                          rf"\(node %\d+: .*{why}"):
        graphc.export(net, np.ones((2, 3), np.float32), file_name=tmp_path / "m", file_format="ONNX")
    assert list(tmp_path.iterdir()) == []


# -- CLI ----------------------------------------------------------------------------------------------
def test_cli_exports_lenet_and_inspects_the_file(tmp_path):
    out = tmp_path / "lenet"
    assert succeeds("export", "examples/lenet.py:net", "--input", "x:f32[1,1,32,32]", "--format", "onnx",
                    "-o", str(out)).strip() == f"wrote {out}.onnx"
    text = succeeds("inspect", f"{out}.onnx")
    assert text.startswith(f"{out}.onnx: ONNX\n")
    assert "inputs   x        float32  [1,1,32,32]" in text and "outputs  output0  float32  [1,10]" in text
    summary = summarize_onnx(f"{out}.onnx")
    # LeNet's 61684 float32 weights, and the two int64 of its flatten's Reshape
    assert summary["parameter_bytes"] == 4 * 61684 + 2 * 8 and f"nodes            {summary['nodes']}" in text
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    assert run_onnx(f"{out}.onnx", x)[0].shape == (1, 10)


def test_cli_refuses_a_truncated_file_a_foreign_opset_and_a_function(tmp_path):
    graphc.export(Affine(), X, file_name=tmp_path / "good", file_format="ONNX")
    data = (tmp_path / "good.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[:len(data) // 2])
    assert f"{tmp_path / 'cut.onnx'} is not " in fails("inspect", str(tmp_path / "cut.onnx"))
    model = onnx.load(str(tmp_path / "good.onnx"))
    model.opset_import[0].version = 99
    onnx.save(model, str(tmp_path / "future.onnx"))
    assert f"{tmp_path / 'future.onnx'} is an ONNX model at opset 99" in fails("inspect", str(tmp_path / "future.onnx"))
    assert "is a function; graphc export writes a Cell" in fails(
        "export", "tests/cli_targets/mlp.py:affine", "--input", "x:f32[2,3]", "--input", "w:f32[3,5]",
        "--format", "onnx", "-o", str(tmp_path / "f"))
    assert "--target chooses the CPU of a shared library" in fails(
        "export", "examples/lenet.py:net", "--input", "x:f32[1,1,32,32]", "--format", "onnx", "--target",
        "x86_64-unknown-linux-gnu", "-o", str(tmp_path / "t"))
    assert "no such file" in fails("inspect", str(tmp_path / "missing.onnx"))
