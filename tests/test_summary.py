"""Summaries: the summary ops inside a compiled or eager step, SummaryRecord and SummaryCollector
writing TensorBoard event files (read back with TensorBoard's own reader), the graph as a GraphDef,
and the bad input of each."""
import io
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import GraphcError, nn, ops
from graphc.jit import JitFunction
from runtime import CheckpointConfig, Model, ModelCheckpoint, SummaryRecord
from runtime.callbacks import Callback, SummaryCollector, loss_value
from runtime.dataset import NumpySlicesDataset

from full_disk import fill, small_disk, tmpfs  # noqa: F401  (fixtures)
from test_model import blobs

pytest.importorskip("tensorboardX", reason="the summaries are written through tensorboardX: "
                                           "pip install 'graphc[tensorboard]'")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                        reason="the event files are read back with the tensorboard package")
SOURCE = Path(__file__).read_text().splitlines()
BATCH = 8


class WatchedNet(nn.Cell):
    """TinyNet with a summary of each kind in construct (the names are used by no other test)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(6, 8, weight_init="he_uniform")
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(8, 3, weight_init="he_uniform")
        self.scalar, self.histogram = ops.ScalarSummary(), ops.HistogramSummary()
        self.tensor, self.image = ops.TensorSummary(), ops.ImageSummary()

    def construct(self, x):
        self.scalar("watched/input_mean", x.mean())
        self.tensor("watched/first_row", x[0])
        self.image("watched/input_image", x.reshape((BATCH, 1, 2, 3)))
        hidden = self.relu(self.fc1(x))
        self.histogram("watched/hidden", hidden)
        return self.fc2(hidden)


class Losses(Callback):
    def __init__(self):
        self.losses = []

    def step_end(self, run_context):
        self.losses.append(loss_value(run_context.original_args().net_outputs))


class Evaluations(Callback):
    def __init__(self):
        self.metrics = []

    def on_eval_end(self, run_context):
        self.metrics.append(run_context.original_args().metrics)


def train(mode, summary_dir, epochs=2, callbacks=(), **collector):
    """Train WatchedNet on the blobs in order under a SummaryCollector; the step losses."""
    graphc.set_context(mode=mode)
    graphc.set_seed(0)
    net = WatchedNet()
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9))
    x, y = blobs()
    losses = Losses()
    model.train(epochs, NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(BATCH),  # the training
                callbacks=[SummaryCollector(summary_dir, **{"collect_freq": 1, **collector}), losses, *callbacks])
    return losses.losses


def events(directory):
    reader = event_accumulator.EventAccumulator(str(directory), size_guidance={"tensors": 0, "images": 0,
                                                                              "histograms": 0, "scalars": 0})
    reader.Reload()
    return reader


def scalars(reader, tag):
    """(steps, values) of a scalar curve."""
    curve = reader.Scalars(tag)
    return [e.step for e in curve], [e.value for e in curve]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The event files of the same training in both modes, and its losses."""
    runs = {}
    for mode, name in ((graphc.GRAPH_MODE, "graph"), (graphc.PYNATIVE_MODE, "pynative")):
        directory = tmp_path_factory.mktemp(name)
        losses = train(mode, directory)
        runs[name] = (events(directory), losses, directory)
    graphc.set_context(mode=graphc.GRAPH_MODE)
    return runs


@pytest.mark.parametrize("mode", ["graph", "pynative"])
def test_the_collector_records_the_loss_learning_rate_and_summary_ops_of_every_step(recorded, mode):
    reader, losses, _ = recorded[mode]
    x, _ = blobs()
    steps = list(range(1, len(losses) + 1))
    batches = [x[i:i + BATCH] for i in range(0, len(x), BATCH)] * 2
    assert len(losses) == 12
    for tag, expected in (("loss/auto", losses), ("learning_rate/auto", [0.1] * 12),
                          ("watched/input_mean", [b.mean() for b in batches])):
        recorded_steps, values = scalars(reader, tag)
        assert recorded_steps == steps and values == pytest.approx(expected, rel=1e-5), tag
    [last_row] = [e for e in reader.Tensors("watched/first_row") if e.step == 12]
    np.testing.assert_allclose(list(last_row.tensor_proto.float_val), batches[-1][0], rtol=1e-6)
    hidden = reader.Histograms("watched/hidden")
    assert [e.step for e in hidden] == steps and all(e.histogram_value.num == BATCH * 8 for e in hidden)
    images = reader.Images("watched/input_image")
    assert [e.step for e in images] == steps and (images[0].width, images[0].height) == (3 * BATCH, 2)
    weights = reader.Histograms("fc1.weight/auto")
    assert [e.step for e in weights] == steps and weights[0].histogram_value.num == 6 * 8


def test_both_modes_record_the_same_values(recorded):
    (graph, graph_losses, _), (eager, eager_losses, _) = recorded["graph"], recorded["pynative"]
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-4)
    for tag in ("loss/auto", "watched/input_mean"):
        np.testing.assert_allclose(scalars(graph, tag), scalars(eager, tag), rtol=1e-4)
    hist = lambda reader: [(e.histogram_value.min, e.histogram_value.max, e.histogram_value.sum)
                           for e in reader.Histograms("watched/hidden")]
    np.testing.assert_allclose(hist(graph), hist(eager), rtol=1e-4, atol=1e-5)


def test_the_graph_tab_shows_the_optimized_step_with_layers_as_name_scopes(recorded):
    graph = recorded["graph"][0].Graph()
    names = {node.name: node for node in graph.node}
    assert {"fc1/weight", "fc2/bias"} <= set(names)            # parameters fold into their layer
    scoped = [name for name in names if name.startswith("fc2/") and name not in ("fc2/weight", "fc2/bias")]
    assert scoped and any(name.startswith("Gradients/fc1/") for name in names), sorted(names)
    node = names[scoped[0]]
    assert node.attr["dtype"].s == b"float32" and node.attr["shape"].s.startswith(b"[")
    assert all(inp in names for n in graph.node for inp in n.input)   # every edge ends at a node
    assert recorded["pynative"][0].Tags()["graph"] is False           # no graph without GRAPH_MODE


def test_model_fit_records_the_metrics_of_each_evaluation_at_its_training_step(tmp_path):
    graphc.set_seed(0)
    net = WatchedNet()
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9), metrics={"acc", "loss"})
    x, y = blobs()
    data = NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(BATCH)
    evaluations = Evaluations()
    model.fit(2, data, data, callbacks=[SummaryCollector(tmp_path, collect_freq=3), evaluations])
    reader = events(tmp_path)
    for name in ("acc", "loss"):
        steps, values = scalars(reader, f"eval/{name}/auto")
        assert steps == [6, 12] and values == pytest.approx([m[name] for m in evaluations.metrics], rel=1e-6)
    assert scalars(reader, "loss/auto")[0] == [3, 6, 9, 12]           # the training loss, every collect_freq steps


def test_tensorboard_serves_the_loss_curve_training_returned(recorded):
    """The real viewer: TensorBoard on 127.0.0.1 over the log directory, read through its HTTP API."""
    _, losses, directory = recorded["graph"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(directory), "--host",
                               "127.0.0.1", "--port", str(port), "--load_fast", "false"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    query = urllib.parse.urlencode({"run": ".", "tag": "loss/auto"})
    try:
        curve, deadline = [], time.monotonic() + 60
        while len(curve) < len(losses) and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?{query}",
                                            timeout=5) as response:
                    curve = json.load(response)
            except OSError:       # not listening yet, or the run not loaded yet (HTTP 400)
                pass
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert len(curve) == len(losses), output
    assert [step for _, step, _ in curve] == list(range(1, len(losses) + 1))
    assert [value for _, _, value in curve] == pytest.approx(losses, rel=1e-6)


def test_a_summary_of_an_unused_value_survives_the_passes_and_the_step_returns_only_its_results():
    def step(x):
        ops.ScalarSummary()("unused/doubled_sum", (x * 2).sum())
        return x + 1

    compiled = JitFunction(step, "step")
    executable = compiled.compile(np.ones((2, 3), np.float32))
    assert len(executable.graph.outputs) == 2                        # the result, then the summary's value
    ops.summary.listen(True)
    try:
        out = compiled(np.arange(6, dtype=np.float32).reshape(2, 3))
        taken = ops.summary.take()
    finally:
        ops.summary.listen(False)
    np.testing.assert_array_equal(out.asnumpy(), np.arange(1, 7).reshape(2, 3))
    kind, value = taken["unused/doubled_sum"]
    assert kind == "scalar" and float(value) == 30.0
    assert ops.summary.take() == {}                                  # taken once
    compiled(np.ones((2, 3), np.float32))
    assert ops.summary.take() == {}                                  # no listener: nothing kept


def test_summary_record_writes_each_kind_and_closes_as_a_context_manager(tmp_path):
    with SummaryRecord(tmp_path) as record:
        for step in (1, 2):
            record.add_value("scalar", "rec/loss", np.float32(step / 2))
            record.add_value("histogram", "rec/weights", np.arange(10.0) * step)
            record.add_value("tensor", "rec/tensor", np.full((2, 2), step, np.float32))
            record.add_value("image", "rec/image", np.zeros((1, 3, 4, 5), np.float32))
            assert record.record(step)
        record.flush()
    assert not record.writing
    reader = events(tmp_path)
    assert scalars(reader, "rec/loss") == ([1, 2], [0.5, 1.0])
    assert [e.histogram_value.max for e in reader.Histograms("rec/weights")] == [9.0, 18.0]
    assert list(reader.Tensors("rec/tensor")[1].tensor_proto.float_val) == [2.0] * 4
    assert [(e.width, e.height) for e in reader.Images("rec/image")] == [(5, 4)] * 2


def test_summary_record_writes_the_summary_ops_of_a_custom_loop_as_mindspores_does(tmp_path):
    net, x = WatchedNet(), graphc.Tensor(blobs()[0][:BATCH])
    net(x)                                                           # before any record: not kept
    with SummaryRecord(tmp_path) as record:
        for step in (1, 2):
            net(x * step)
            record.record(step)
    assert scalars(events(tmp_path), "watched/input_mean") == ([1, 2], pytest.approx([x.asnumpy().mean() * s
                                                                                      for s in (1, 2)], rel=1e-6))


def test_image_intensities_outside_0_1_are_clipped_not_wrapped(tmp_path):
    image = pytest.importorskip("PIL.Image")
    with SummaryRecord(tmp_path) as record:
        record.add_value("image", "rec/clipped", np.array([-0.5, 0.5, 1.0, 2.0], np.float32).reshape(1, 1, 1, 4))
        record.record(1)
    [event] = events(tmp_path).Images("rec/clipped")
    pixels = np.asarray(image.open(io.BytesIO(event.encoded_image_string)).convert("L"))
    assert pixels.tolist() == [[0, 127, 255, 255]]


# -- bad input -------------------------------------------------------------------------------------------
def assert_at_this_line(message: str, marker: str) -> None:
    [line] = [i + 1 for i, text in enumerate(SOURCE) if text.rstrip().endswith(f"# {marker}")]
    assert message.split(": ", 1)[0].endswith(f"{Path(__file__).name}:{line}"), message


@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def test_a_summary_name_used_with_two_kinds_is_an_error_at_the_second_use(mode):
    graphc.set_context(mode=mode)

    class TwoKinds(nn.Cell):
        def construct(self, x):
            ops.ScalarSummary()("twice/" + str(mode), x.sum())
            ops.HistogramSummary()("twice/" + str(mode), x)  # second kind
            return x

    with pytest.raises(GraphcError) as error:
        TwoKinds()(graphc.Tensor(np.ones((2, 2), np.float32)))
    assert_at_this_line(str(error.value), "second kind")
    assert "already used by a scalar summary" in str(error.value) and "another name" in str(error.value)


def test_summary_record_refuses_a_name_with_a_second_kind(tmp_path):
    with SummaryRecord(tmp_path) as record:
        record.add_value("scalar", "rec/twice", 1.0)
        with pytest.raises(GraphcError, match="'rec/twice' is already a scalar summary and cannot also be a "
                                              "histogram one"):
            record.add_value("histogram", "rec/twice", np.ones(3))  # record twice


@pytest.mark.parametrize("mode", [graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def test_a_non_scalar_given_to_scalar_summary_names_the_line_the_shape_and_the_fix(mode, tmp_path):
    graphc.set_context(mode=mode)

    class NotScalar(nn.Cell):
        def construct(self, x):
            ops.ScalarSummary()("nonscalar/x", x)  # not a scalar
            return x

    with pytest.raises(GraphcError) as error:
        NotScalar()(graphc.Tensor(np.ones((2, 3), np.float32)))
    message = str(error.value)
    assert_at_this_line(message, "not a scalar")
    assert "ScalarSummary 'nonscalar/x' records one number, got f32[2,3]" in message
    assert "ops.HistogramSummary" in message
    with SummaryRecord(tmp_path) as record, pytest.raises(GraphcError, match=r"shape \[2, 3\]"):
        record.add_value("scalar", "rec/not_scalar", np.ones((2, 3)))


def test_an_unwritable_summary_dir_warns_naming_it_and_training_goes_on_with_its_checkpoint(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    checkpoint = ModelCheckpoint("watched", tmp_path / "ckpt", CheckpointConfig(save_checkpoint_steps=6))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = train(graphc.GRAPH_MODE, blocker / "summaries", callbacks=[checkpoint])
    messages = [str(w.message) for w in caught if "summaries are not recorded" in str(w.message)]
    assert len(messages) == 1, [str(w.message) for w in caught]
    assert str(blocker / "summaries") in messages[0] and "training goes on" in messages[0]
    assert_at_this_line(messages[0], "the training")
    assert len(losses) == 12 and checkpoint.latest_ckpt_file_name.endswith("watched-2_6.ckpt")
    assert Path(checkpoint.latest_ckpt_file_name).is_file()
    assert losses == pytest.approx(train(graphc.GRAPH_MODE, tmp_path / "written"), rel=1e-6)


def test_a_summary_inside_a_tensor_loop_is_refused_at_its_line():
    class InLoop(nn.Cell):
        def construct(self, x):
            i = ops.zeros((), graphc.int32)
            while i < 3:
                ops.ScalarSummary()("loop/sum", x.sum())  # in the loop
                i = i + 1
            return x

    with pytest.raises(GraphcError) as error:
        InLoop()(graphc.Tensor(np.ones(3, np.float32)))
    assert_at_this_line(str(error.value), "in the loop")
    assert "summary 'loop/sum' is inside a loop or branch on a tensor (while)" in str(error.value)


@pytest.mark.parametrize("argument", [{"collect_freq": 0}, {"collect_freq": -1}, {"collect_freq": 1.5},
                                      {"collect_tensor_freq": 0}])
def test_collect_freq_must_be_a_positive_int(tmp_path, argument):
    with pytest.raises(GraphcError) as error:
        SummaryCollector(tmp_path, **argument)  # bad frequency
    name, value = next(iter(argument.items()))
    assert_at_this_line(str(error.value), "bad frequency")
    assert f"{name} must be a positive int (record every N steps), got {value!r}" in str(error.value)


def test_a_disk_that_fills_up_during_training_stops_the_summaries_not_the_training(small_disk, tmp_path):
    summary_dir = small_disk / "summaries"
    summary_dir.mkdir()
    fill(small_disk)
    checkpoint = ModelCheckpoint("watched", tmp_path, CheckpointConfig(save_checkpoint_steps=6))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = train(graphc.GRAPH_MODE, summary_dir, callbacks=[checkpoint])
    [message] = [str(w.message) for w in caught if "summaries are not recorded" in str(w.message)]
    assert f"{str(summary_dir)!r}: No space left on device (OSError)" in message
    assert len(losses) == 12 and Path(checkpoint.latest_ckpt_file_name).name == "watched-2_6.ckpt"


def test_max_file_size_ends_the_record_with_a_warning_before_the_file_passes_it(tmp_path):
    with SummaryRecord(tmp_path, max_file_size=600) as record, pytest.warns(RuntimeWarning) as caught:
        written = []
        for step in range(1, 30):
            record.add_value("scalar", "capped/loss", 1.0 / step)
            written.append(record.record(step))
    assert "would pass max_file_size=600 bytes" in str(caught[0].message) and len(caught) == 1
    kept = written.index(False)
    assert 1 < kept and not any(written[kept:])
    [events_file] = tmp_path.iterdir()
    assert events_file.stat().st_size <= 600
    assert scalars(events(tmp_path), "capped/loss")[0] == list(range(1, kept + 1))


def test_mindinsight_lineage_is_refused_when_asked_for_and_unknown_keys_are_named(tmp_path):
    SummaryCollector(tmp_path, collect_specified_data={"collect_train_lineage": False})
    with pytest.raises(GraphcError, match=r"graphc does not collect collect_train_lineage \(MindInsight's lineage"):
        SummaryCollector(tmp_path, collect_specified_data={"collect_train_lineage": True})
    with pytest.raises(GraphcError, match=r"unknown key\(s\) \['collect_metrics'\]"):
        SummaryCollector(tmp_path, collect_specified_data={"collect_metrics": True})
    with pytest.raises(GraphcError, match="graphc does not write custom_lineage_data"):
        SummaryCollector(tmp_path, custom_lineage_data={"team": "a"})
    with pytest.raises(GraphcError, match="summary_dir must be a directory path, got None"):
        SummaryCollector(None)


def test_mindspores_paths_reach_the_summary_classes():
    import runtime
    from graphc.train import callback, summary
    assert graphc.SummaryCollector is callback.SummaryCollector is SummaryCollector
    assert graphc.SummaryRecord is summary.SummaryRecord is runtime.SummaryRecord
