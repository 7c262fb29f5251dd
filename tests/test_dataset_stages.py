"""mindspore.dataset's stages beyond map/shuffle/batch/repeat (take, skip, zip, concat, split,
filter, project, rename), map's output_columns/column_order, batch's per_batch_map, TypeCast,
and MnistDataset / FashionMnistDataset over IDX files in one directory."""
import re
import struct

import numpy as np
import pytest

import graphc
from graphc import GraphcError
from runtime import dataset as ds
from runtime.dataset import NumpySlicesDataset, get_seed, set_seed

LINE = r"^\S*test_dataset_stages\.py:\d+: "


@pytest.fixture(autouse=True)
def restore_dataset_seed():
    seed = get_seed()
    yield
    set_seed(seed)


def numbered(n=10, shuffle=False, **kwargs):
    return NumpySlicesDataset({"x": np.arange(n, dtype=np.int32), "y": np.arange(n, dtype=np.float32) * 10},
                              shuffle=shuffle, **kwargs)


def xs(dataset, epochs=1):
    """The x values of each epoch's pass (batched or not), as lists."""
    iterator = dataset.create_dict_iterator(num_epochs=epochs, output_numpy=True)
    return [[int(v) for row in iterator for v in np.ravel(row["x"])] for _ in range(epochs)]


class CountingCalls:
    """A vectorized operation that counts its calls and the rows it saw."""
    vectorized = True

    def __init__(self, fn):
        self.fn, self.calls, self.rows = fn, 0, 0

    def __call__(self, *columns):
        self.calls += 1
        self.rows += len(columns[0])
        return self.fn(*columns)


def test_take_and_skip_count_rows_then_batches():
    assert xs(numbered().take(3)) == [[0, 1, 2]] and numbered().take(3).get_dataset_size() == 3
    assert xs(numbered().skip(7)) == [[7, 8, 9]] and numbered().skip(12).get_dataset_size() == 0
    assert xs(numbered().take(-1)) == [list(range(10))]
    assert xs(numbered().batch(4).take(2)) == [list(range(8))]
    assert xs(numbered().batch(4).skip(2)) == [[8, 9]] and numbered().batch(4).skip(2).get_dataset_size() == 1


def test_stages_keep_in_memory_data_vectorized():
    double = CountingCalls(lambda x: x * 2)
    keep = CountingCalls(lambda x: x % 3 > 0)
    dataset = numbered(100, shuffle=True).filter(keep, "x").skip(5).take(50)
    dataset = dataset.map(double, "x").batch(10)
    epochs = xs(dataset, epochs=2)
    assert keep.calls == 2 and keep.rows == 200         # the predicate: once per pass, over the whole column
    # the map: once over the stored column (filter, skip and take only narrow the order), reused next epoch
    assert double.calls == 1 and double.rows == 100
    for values in epochs:
        assert len(values) == 50 and all(v % 2 == 0 and (v // 2) % 3 for v in values)
    assert epochs[0] != epochs[1]


def test_shuffled_stages_are_seeded_and_reshuffled_per_epoch():
    def build():
        return numbered(50, shuffle=True).filter(lambda x, y: x % 2 == 0).take(20).batch(5)
    ds.config.set_seed(7)
    first = xs(build(), epochs=2)
    ds.config.set_seed(7)
    assert xs(build(), epochs=2) == first
    assert first[0] != first[1] and all(v % 2 == 0 for v in first[0])


def test_zip_and_concat():
    letters = NumpySlicesDataset({"z": np.arange(100, 104)}, shuffle=False)
    zipped = numbered().zip(letters)
    assert zipped.get_col_names() == ["x", "y", "z"] and zipped.get_dataset_size() == 4
    rows = list(zipped.create_tuple_iterator(output_numpy=True))
    assert [(int(x), float(y), int(z)) for x, y, z in rows] == [(i, 10.0 * i, 100 + i) for i in range(4)]
    assert ds.zip((numbered(), letters)).get_col_names() == ["x", "y", "z"]
    joined = numbered(3) + numbered(2)
    assert xs(joined) == [[0, 1, 2, 0, 1]] and joined.get_dataset_size() == 5
    assert xs(numbered(2).concat([numbered(1), numbered(2)])) == [[0, 1, 0, 0, 1]]


def test_zip_of_python_rows_realigns_blocks():
    streamed = ds.GeneratorDataset(lambda: ((np.int32(i),) for i in range(6)), ["g"])
    zipped = streamed.zip(numbered(4))
    assert [(int(g), int(x)) for g, x, _ in zipped.create_tuple_iterator(output_numpy=True)] == \
        [(i, i) for i in range(4)]


def test_split_keeps_its_rows_across_shuffled_epochs():
    set_seed(3)
    train, test = numbered(20, shuffle=True).split([0.75, 0.25])
    assert (train.get_dataset_size(), test.get_dataset_size()) == (15, 5)
    train_epochs, test_epochs = xs(train, epochs=2), xs(test, epochs=2)
    assert set(train_epochs[0]) == set(train_epochs[1]) and train_epochs[0] != train_epochs[1]
    assert set(test_epochs[0]) == set(test_epochs[1])
    assert sorted(train_epochs[0] + test_epochs[0]) == list(range(20))
    first, second = numbered(10).split([4, 6], randomize=False)
    assert xs(first) == [[0, 1, 2, 3]] and xs(second) == [[4, 5, 6, 7, 8, 9]]
    # MindSpore's rounding: round(0.33 * 10) * 3 = 9 rows; the missing one goes to the first part
    assert [d.get_dataset_size() for d in numbered(10).split([0.34, 0.33, 0.33])] == [4, 3, 3]


def test_filter_project_rename():
    even = numbered().filter(lambda x: x % 2 == 0, input_columns=["x"])
    assert xs(even) == [[0, 2, 4, 6, 8]] and even.get_dataset_size() == 5
    assert xs(numbered().batch(3).filter(lambda x, y: x[0] > 2)) == [[3, 4, 5, 6, 7, 8, 9]]
    projected = numbered().project(["y", "x"])
    assert projected.get_col_names() == ["y", "x"]
    y, x = next(iter(projected.create_tuple_iterator(output_numpy=True)))
    assert (float(y), int(x)) == (0.0, 0)
    assert numbered().rename(["x", "y"], ["a", "b"]).get_col_names() == ["a", "b"]


def test_map_output_columns_and_column_order():
    split_in_two = numbered().map(lambda x: (x, x + 1), input_columns="x", output_columns=["lo", "hi"])
    assert split_in_two.get_col_names() == ["lo", "hi", "y"]          # MindSpore: outputs first, then the rest
    assert [tuple(int(v) for v in row) for row in split_in_two.take(2).create_tuple_iterator(output_numpy=True)] \
        == [(0, 1, 0), (1, 2, 10)]
    renamed = numbered().map(lambda x: x * 3, input_columns="x", output_columns="triple")
    assert renamed.get_col_names() == ["triple", "y"]                  # as many outputs: in place
    ordered = numbered().map(lambda x, y: x + y, input_columns=["x", "y"], output_columns=["sum"],
                             column_order=["sum"])
    assert ordered.get_col_names() == ["sum"] and xs(ordered.rename("sum", "x"))[0][:3] == [0, 11, 22]
    vectorized = CountingCalls(lambda x: (x, -x))
    both = numbered(8, shuffle=True).map(vectorized, "x", ["x", "neg"]).batch(8)
    x, neg, _ = next(iter(both.create_tuple_iterator(output_numpy=True)))
    np.testing.assert_array_equal(neg, -x)
    assert vectorized.calls == 1


def test_batch_per_batch_map():
    seen = []

    def pad_and_count(x, y, info):
        seen.append((info.get_batch_num(), info.get_epoch_num(), type(x).__name__, len(x)))
        return [v * 2 for v in x], [v + 0.5 for v in y]
    batched = numbered(10).batch(4, per_batch_map=pad_and_count, input_columns=["x", "y"])
    iterator = batched.create_tuple_iterator(num_epochs=2, output_numpy=True)
    epochs = [[(b[0].tolist(), b[1].tolist()) for b in iterator] for _ in range(2)]
    assert epochs[0][0] == ([0, 2, 4, 6], [0.5, 10.5, 20.5, 30.5]) and epochs[0] == epochs[1]
    assert seen[:4] == [(0, 0, "list", 4), (1, 0, "list", 4), (2, 0, "list", 2), (0, 1, "list", 4)]
    pairs = numbered(6).batch(3, per_batch_map=lambda x, info: (x, [v * v for v in x]), input_columns=["x"],
                              output_columns=["x", "square"])
    assert pairs.get_col_names() == ["x", "square", "y"]
    assert [b[1].tolist() for b in pairs.create_tuple_iterator(output_numpy=True)] == [[0, 1, 4], [9, 16, 25]]


def test_typecast_takes_graphc_and_numpy_dtypes():
    values = np.array([1.7, -2.2], np.float32)
    assert ds.TypeCast(graphc.int32)(values).dtype == np.int32
    assert ds.transforms.TypeCast(np.float64)(values).dtype == np.float64
    assert ds.TypeCast("int64")(values).tolist() == [1, -2]
    with pytest.raises(TypeError, match="TypeCast: 'nonsense' is not a dtype"):
        ds.TypeCast("nonsense")


@pytest.mark.parametrize("build, message", [
    (lambda: numbered().batch(2).batch(2, per_batch_map=lambda x, y, info: (x, y)),
     "batch: the dataset is already batched (batch after batch with per_batch_map)"),
    (lambda: numbered() + NumpySlicesDataset({"z": np.arange(3)}),
     "concat: dataset 1 has the columns ['z'] but dataset 0 has ['x', 'y']; project or rename them to match"),
    (lambda: numbered() + numbered().batch(2), "concat: some datasets are batched and some are not"),
    (lambda: numbered().zip(numbered()), "zip: the column name(s) ['x', 'y'] appear in more than one dataset"),
    (lambda: numbered().take(0), "take: count must be a positive int or -1 (all), got 0"),
    (lambda: numbered().skip(-2), "skip: count must be an int >= 0, got -2"),
    (lambda: numbered().split([3, 4]), "split: sizes [3, 4] add up to 7, but the dataset has 10 rows"),
    (lambda: numbered().split([0.5, 0.2]), "split: sizes must be positive ints adding up"),
    (lambda: numbered().batch(2).split([3, 2]), "split: the dataset is batched"),
    (lambda: numbered().filter(lambda x: x, input_columns="q"), "filter: unknown column 'q'"),
    (lambda: numbered().project(["x", "x"]), "project: columns ['x', 'x'] must name each kept column once"),
    (lambda: numbered().rename("x", "y"), "rename: the columns would be ['y', 'y'], with a name twice"),
    (lambda: numbered().map(abs, "x", output_columns="y"), "map: output_columns ['y'] would give the columns"),
    (lambda: numbered().batch(2, input_columns=["x"]), "batch: input_columns and output_columns name per_batch_map"),
    (lambda: numbered().map(abs, input_column="x"), "map: unsupported argument(s) input_column"),
    (lambda: numbered().batch(2, pad_info={}), "batch: unsupported argument(s) pad_info"),
])
def test_bad_stages_name_the_stage_and_the_line(build, message):
    with pytest.raises(GraphcError) as caught:
        build()
    assert re.match(LINE, str(caught.value)) and message in str(caught.value)


def test_worker_process_options_are_accepted():
    assert xs(numbered(4).map(abs, "x", python_multiprocessing=True, max_rowsize=16).batch(2, max_rowsize=16)) == \
        [[0, 1, 2, 3]]


def test_per_batch_map_rows_must_agree():
    bad = numbered(4).batch(2, per_batch_map=lambda x, info: ([x[0]],), input_columns=["x"])
    with pytest.raises(GraphcError, match="after per_batch_map <lambda> the columns have different numbers of rows"):
        list(bad)


# -- MnistDataset over IDX files in one directory -------------------------------------------------------------
def write_idx(path, array):
    path.write_bytes(struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) +
                     array.astype(np.uint8).tobytes())


def fake_split(directory, prefix, count, first_label):
    images = (np.arange(count * 28 * 28) % 251).reshape(count, 28, 28).astype(np.uint8)
    write_idx(directory / f"{prefix}-images-idx3-ubyte", images)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte", (np.arange(count) + first_label) % 10)
    return images


@pytest.mark.parametrize("cls", [ds.MnistDataset, ds.FashionMnistDataset])
def test_mnist_dataset_reads_one_directory(tmp_path, cls):
    images = fake_split(tmp_path, "train", 6, 0)
    fake_split(tmp_path, "t10k", 4, 5)
    train = cls(str(tmp_path), usage="train", shuffle=False)
    assert train.get_col_names() == ["image", "label"] and train.get_dataset_size() == 6
    image, label = next(iter(train.create_tuple_iterator(output_numpy=True)))
    assert image.shape == (28, 28, 1) and image.dtype == np.uint8 and label.dtype == np.uint32
    np.testing.assert_array_equal(image[..., 0], images[0])
    everything = cls(tmp_path, shuffle=False)                              # usage None: all, train first
    assert [int(row[1]) for row in everything.create_tuple_iterator(output_numpy=True)] == \
        [0, 1, 2, 3, 4, 5, 5, 6, 7, 8]
    assert cls(tmp_path, usage="test", num_samples=3).get_dataset_size() == 3
    shards = [cls(tmp_path, "all", num_shards=2, shard_id=k, shuffle=True) for k in range(2)]
    assert [s.get_dataset_size() for s in shards] == [5, 5]


def test_mnist_dataset_errors(tmp_path):
    fake_split(tmp_path, "train", 2, 0)
    with pytest.raises(GraphcError, match=LINE + r"MnistDataset: usage must be one of \('train', 'test', 'all'\)"):
        ds.MnistDataset(tmp_path, usage="validation")
    with pytest.raises(GraphcError, match=r"lacks the MNIST files for usage='test': t10k-images-idx3-ubyte"):
        ds.MnistDataset(tmp_path, usage="test")
    with pytest.raises(GraphcError, match="is not a directory"):
        ds.MnistDataset(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(GraphcError, match="MnistDataset: cache is not supported"):
        ds.MnistDataset(tmp_path, cache=object())
    with pytest.raises(GraphcError, match="MnistDataset: sampler must be a mindspore.dataset sampler"):
        ds.MnistDataset(tmp_path, sampler=object())


def test_mnist_dataset_takes_a_sampler(tmp_path):
    fake_split(tmp_path, "train", 6, 0)
    picked = ds.MnistDataset(tmp_path, "train", sampler=ds.SubsetSampler([4, 1]))
    assert [int(row[1]) for row in picked.create_tuple_iterator(output_numpy=True)] == [4, 1]


def test_mnist_dataset_on_real_data(mnist_dir):
    train = ds.MnistDataset(mnist_dir / "train", usage="train", shuffle=False)
    assert train.get_dataset_size() == 60000
    labels = [int(row[1]) for row in train.take(5).create_tuple_iterator(output_numpy=True)]
    assert labels == [5, 0, 4, 1, 9]


def test_model_asks_for_a_cast_of_uint_columns(tmp_path):
    from graphc import nn
    from runtime import Model
    fake_split(tmp_path, "train", 8, 0)
    data = ds.MnistDataset(tmp_path, "train", shuffle=False).map(ds.vision.Rescale(1 / 255, 0), "image")
    with pytest.raises(GraphcError, match=LINE + r"Model: column 'label' of the evaluation dataset is uint32.*"
                                                 r"TypeCast\(graphc.int32\), input_columns='label'"):
        Model(nn.Flatten(), nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
              metrics={"acc"}).eval(data.batch(4))
