"""Datasets: pipelines, transforms, and Mnist / FashionMnist on the real files (IDX and download: test_download.py)."""
import itertools
import math
import re

import numpy as np
import pytest

import graphc

from runtime.dataset import (HWC2CHW, FashionMnist, GeneratorDataset, Mnist, NumpySlicesDataset, Rescale, Resize,
                             TypeCast, get_seed, set_seed)
from runtime.dataset import pipeline

FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9]  # the well-known first digits of each MNIST split
FIRST_TEST_LABELS = [7, 2, 1, 0, 4]
FIRST_FASHION_LABELS = [9, 0, 0, 3, 0]  # ankle boot, T-shirt, T-shirt, dress, T-shirt


@pytest.fixture(autouse=True)
def restore_dataset_seed():
    seed = get_seed()
    yield
    set_seed(seed)



# --- pipelines ---------------------------------------------------------------------------------

def rows(n=10):
    return np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32), np.arange(n, dtype=np.int32)


def epoch_labels(dataset, epochs=1):
    iterator = dataset.create_tuple_iterator(num_epochs=epochs, output_numpy=True)
    return [np.concatenate([labels.reshape(-1) for _, labels in iterator]).tolist() for _ in range(epochs)]


def test_numpy_slices_columns_and_samples():
    features, labels = rows(4)
    dataset = NumpySlicesDataset((features, labels), column_names=["x", "y"], shuffle=False)
    assert dataset.get_col_names() == ["x", "y"] and dataset.get_dataset_size() == 4
    samples = list(dataset)
    assert len(samples) == 4 and samples[2][0].tolist() == [2.0, 2.0, 2.0] and samples[2][1] == 2
    assert NumpySlicesDataset({"a": labels, "b": labels}).get_col_names() == ["a", "b"]
    assert NumpySlicesDataset((labels, labels)).get_col_names() == ["column_0", "column_1"]
    assert NumpySlicesDataset([1, 2, 3]).get_col_names() == ["column_0"]  # a list is one column
    dicts = list(NumpySlicesDataset({"a": labels}, shuffle=False).create_dict_iterator(output_numpy=True))
    assert [d["a"].item() for d in dicts] == [0, 1, 2, 3]


def test_shuffle_is_a_permutation_reshuffled_each_epoch_and_reproducible():
    def build():
        return NumpySlicesDataset(rows(100), column_names=["x", "y"]).batch(10)  # shuffle=None: shuffled
    set_seed(7)
    first, second = epoch_labels(build(), epochs=2)
    assert sorted(first) == list(range(100)) and sorted(second) == list(range(100))
    assert first != list(range(100)) and first != second
    set_seed(7)
    assert epoch_labels(build(), epochs=2) == [first, second]
    set_seed(8)
    assert epoch_labels(build())[0] != first


def test_repeat_runs_new_epochs():
    set_seed(3)
    dataset = NumpySlicesDataset(rows(20), column_names=["x", "y"]).batch(5).repeat(2)
    assert dataset.get_dataset_size() == 8
    [labels] = epoch_labels(dataset)
    assert len(labels) == 40 and sorted(labels[:20]) == sorted(labels[20:]) == list(range(20))
    assert labels[:20] != labels[20:]
    endless = NumpySlicesDataset(rows(3), shuffle=False).repeat()
    assert [int(y) for _, y in itertools.islice(endless.create_tuple_iterator(), 7)] == [0, 1, 2, 0, 1, 2, 0]


def test_shuffle_stage_on_streamed_rows():
    source = lambda: ((np.float32(i), np.int32(i)) for i in range(50))
    def build():
        return GeneratorDataset(source, ["x", "y"]).shuffle(16).batch(7)
    set_seed(1)
    first, second = epoch_labels(build(), epochs=2)
    assert sorted(first) == list(range(50)) and first != list(range(50)) and first != second
    # rows move only within windows of 16
    assert all(sorted(first[i:i + 16]) == list(range(i, min(i + 16, 50))) for i in range(0, 50, 16))
    set_seed(1)
    assert epoch_labels(build(), epochs=2) == [first, second]


def test_shards_are_disjoint_cover_every_row_and_are_reshuffled_together():
    set_seed(5)
    shards = [NumpySlicesDataset(rows(10), ["x", "y"], num_shards=3, shard_id=k) for k in range(3)]
    assert [shard.get_dataset_size() for shard in shards] == [4, 3, 3]
    epochs = [epoch_labels(shard, epochs=2) for shard in shards]
    for epoch in range(2):
        parts = [e[epoch] for e in epochs]
        assert [len(p) for p in parts] == [4, 3, 3]
        assert sorted(itertools.chain(*parts)) == list(range(10))   # each row in exactly one shard
    assert epochs[0][0] != epochs[0][1]
    unshuffled = NumpySlicesDataset(rows(10), ["x", "y"], shuffle=False, num_shards=3, shard_id=1)
    assert epoch_labels(unshuffled)[0] == [1, 4, 7]  # round-robin


def test_batches_are_contiguous_with_the_column_dtypes():
    dataset = NumpySlicesDataset(rows(10), ["x", "y"], shuffle=False)
    batches = list(dataset.batch(4).create_tuple_iterator(output_numpy=True))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert [len(y) for _, y in dataset.batch(4, drop_remainder=True).create_tuple_iterator()] == [4, 4]
    assert dataset.batch(4).get_dataset_size() == 3 and dataset.batch(4, drop_remainder=True).get_dataset_size() == 2
    x, y = batches[1]
    assert x.dtype == np.float32 and y.dtype == np.int32 and x.flags.c_contiguous and y.flags.c_contiguous
    np.testing.assert_array_equal(y, [4, 5, 6, 7])
    x[:] = -1  # batches are copies: the source is untouched
    assert list(dataset.batch(4).create_tuple_iterator())[1][0].min() == 4


def test_batches_across_streamed_rows():
    dataset = GeneratorDataset(lambda: ((np.full(2, i, np.float32), i) for i in range(5)), ["x", "y"]).batch(2)
    batches = list(dataset)
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[1][0].tolist() == [[2, 2], [3, 3]] and dataset.get_dataset_size() == 3


class CountingDouble:
    """A vectorized operation that counts its calls."""
    vectorized = True

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return x * 2


def test_map_per_sample_vectorized_and_after_batch_agree():
    features, labels = rows(12)
    per_sample_calls = []

    def double(x):
        per_sample_calls.append(x.shape)
        return x * 2
    vectorized = CountingDouble()
    base = lambda: NumpySlicesDataset((features, labels), ["x", "y"], shuffle=False)

    def two_epochs(dataset):
        iterator = dataset.create_tuple_iterator(num_epochs=2)
        return list(iterator) + list(iterator)
    results = [two_epochs(base().map(op).batch(4)) for op in (double, vectorized)]
    after_batch = two_epochs(base().batch(4).map(double))
    for a, b, c in zip(*results, after_batch):
        np.testing.assert_array_equal(a[0], features[a[1]] * 2)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[0], c[0])
    assert vectorized.calls == 1  # on the whole column, reused by the next epoch
    assert per_sample_calls.count((3,)) == 24 and per_sample_calls.count((4, 3)) == 6


def test_vectorized_map_runs_over_chunks_of_rows(monkeypatch):
    monkeypatch.setattr(pipeline, "_CHUNK_ROWS", 4)
    features, labels = rows(10)
    dataset = NumpySlicesDataset((features, labels), ["x", "y"], shuffle=False)
    vectorized = CountingDouble()
    [(x, y)] = list(dataset.map(vectorized).batch(10))
    np.testing.assert_array_equal(x, features * 2)
    assert vectorized.calls == 3  # rows 0-3, 4-7, 8-9
    halve_rows = lambda x: x[::2]
    halve_rows.vectorized = True
    with pytest.raises(ValueError, match=r"must turn each row into one row of a fixed shape; rows 0\.\. gave \(2, 3\)"):
        list(dataset.map(halve_rows))


def test_map_on_several_columns_and_errors():
    features, labels = rows(4)
    dataset = NumpySlicesDataset((features, labels), ["x", "y"], shuffle=False)
    swapped = dataset.map(lambda x, y: (y, x), input_columns=["x", "y"]).batch(4)
    x, y = next(iter(swapped))
    np.testing.assert_array_equal(x, labels)
    np.testing.assert_array_equal(y, features)
    with pytest.raises(ValueError, match=r"unknown column 'z'; the columns are \['x', 'y'\]"):
        dataset.map(abs, input_columns="z")
    with pytest.raises(ValueError, match=r"returned 2 value\(s\) for the output columns \[.x.\]"):
        list(dataset.map(lambda x: (x, x)))
    with pytest.raises(TypeError, match="not callable"):
        dataset.map([3])


def test_generator_sources():
    class RandomAccess:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return np.float32(i), np.int32(i)
    set_seed(2)
    shuffled = GeneratorDataset(RandomAccess(), ["x", "y"])
    first = epoch_labels(shuffled.batch(3))[0]
    assert sorted(first) == list(range(6)) and first != list(range(6))
    in_order = GeneratorDataset(RandomAccess(), ["x", "y"], shuffle=False, num_shards=2, shard_id=1)
    assert epoch_labels(in_order.batch(3))[0] == [1, 3, 5]
    iterable = GeneratorDataset([(1, 10), (2, 20)], ["a", "b"])
    assert iterable.get_dataset_size() == 2 and [int(b) for _, b in iterable] == [10, 20]
    single = GeneratorDataset(lambda: iter([np.ones(2), np.zeros(2)]), "image").batch(2)
    assert next(iter(single))[0].tolist() == [[1, 1], [0, 0]]


@pytest.mark.parametrize("build, error, message", [
    (lambda: NumpySlicesDataset((np.ones(3), np.ones(4))), ValueError, "different numbers of rows"),
    (lambda: NumpySlicesDataset(np.ones((0, 2))), ValueError, "no rows"),
    (lambda: NumpySlicesDataset((np.ones(3),), column_names=["a", "b"]), ValueError, "1 columns but 2 column_names"),
    (lambda: NumpySlicesDataset(np.ones(3)).batch(0), ValueError, "batch_size must be a positive int, got 0"),
    (lambda: NumpySlicesDataset(np.ones(3)).batch("2"), ValueError, "batch_size must be a positive int"),
    (lambda: list(NumpySlicesDataset(np.ones(3)).batch(4, drop_remainder=True)), ValueError,
     "batch_size=4 with drop_remainder=True drops all 3 rows"),
    (lambda: NumpySlicesDataset(np.ones(3)).batch(2).shuffle(4), ValueError, "shuffle after batch"),
    (lambda: NumpySlicesDataset(np.ones(3)).shuffle(1), ValueError, "buffer_size must be an int >= 2"),
    (lambda: NumpySlicesDataset(np.ones(3)).repeat(0), ValueError, "count must be a positive int"),
    (lambda: NumpySlicesDataset(np.ones(3), num_shards=2), ValueError, "both num_shards and shard_id"),
    (lambda: NumpySlicesDataset(np.ones(3), num_shards=2, shard_id=2), ValueError, r"shard_id must be an int in \[0, 2\)"),
    (lambda: NumpySlicesDataset(np.ones(3), num_shards=4, shard_id=0), ValueError, "3 rows cannot fill 4 shards"),
    (lambda: list(GeneratorDataset(lambda: iter([]), "a")), ValueError, "produced no rows"),
    (lambda: list(GeneratorDataset(lambda: iter([(1, 2)]), ["a"])), ValueError, "a row has 2 values for the 1 columns"),
    (lambda: GeneratorDataset(lambda: iter([]), "a", shuffle=True), ValueError, "need a random-access source"),
    (lambda: list(GeneratorDataset(lambda: iter([np.ones(2), np.ones(3)]), "a").batch(2)), ValueError,
     r"rows of 'a' have different shapes \[\(2,\), \(3,\)\]"),
])
def test_pipeline_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_iterator_epochs_and_tensor_wrapping(monkeypatch):
    dataset = NumpySlicesDataset(rows(4), ["x", "y"], shuffle=False).batch(2)
    iterator = dataset.create_tuple_iterator(num_epochs=2)
    assert len(list(iterator)) == 2 and len(list(iterator)) == 2
    with pytest.raises(RuntimeError, match="num_epochs=2"):
        list(iterator)

    class Wrapped:
        def __init__(self, array):
            self.array = array
    monkeypatch.setattr(pipeline, "TENSOR_TYPE", Wrapped)
    x, y = next(iter(dataset.create_tuple_iterator()))
    assert isinstance(x, Wrapped) and y.array.tolist() == [0, 1]
    x, y = next(iter(dataset.create_tuple_iterator(output_numpy=True)))
    assert isinstance(x, np.ndarray)
    assert isinstance(next(iter(dataset.create_dict_iterator()))["y"], Wrapped)


# --- vision transforms -------------------------------------------------------------------------

def resize_reference(image, out_height, out_width):
    """OpenCV INTER_LINEAR, one output pixel at a time, straight from the definition."""
    def source(d, n_in, n_out):
        s = (d + 0.5) * n_in / n_out - 0.5
        i = math.floor(s)
        if i < 0:
            return 0, 0, 0.0
        if i >= n_in - 1:
            return n_in - 1, n_in - 1, 0.0
        return i, i + 1, s - i
    out = np.zeros((out_height, out_width) + image.shape[2:])
    for y in range(out_height):
        y0, y1, fy = source(y, image.shape[0], out_height)
        for x in range(out_width):
            x0, x1, fx = source(x, image.shape[1], out_width)
            top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
            bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def test_resize_by_hand():
    # width 2 -> 4: sources -0.25 (edge), 0.25, 0.75, 1.25 (edge)
    image = np.array([[0.0, 100.0]], np.float32).reshape(1, 1, 2, 1)
    np.testing.assert_allclose(Resize((1, 4))(image).reshape(-1), [0, 25, 75, 100])


@pytest.mark.parametrize("size", [(5, 4), (11, 13), (7, 9)])
def test_resize_matches_the_per_pixel_definition(size):
    images = np.random.default_rng(0).uniform(0, 255, (3, 7, 9, 2)).astype(np.float32)
    out = Resize(size)(images)
    assert out.shape == (3, *size, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    for image, got in zip(images, out):
        np.testing.assert_allclose(got, resize_reference(image.astype(np.float64), *size), rtol=1e-5, atol=1e-3)


def test_resize_int_size_keeps_the_aspect_ratio_and_checks_rank():
    assert Resize(32)(np.zeros((2, 28, 56, 1), np.uint8)).shape == (2, 32, 64, 1)
    assert Resize(32)(np.zeros((2, 56, 28, 1), np.uint8)).shape == (2, 64, 32, 1)
    assert Resize(32)(np.zeros((28, 56), np.uint8)).shape == (32, 64)   # one HW image
    with pytest.raises(ValueError, match=r"Resize: expected an image shaped \(H, W\) or \(H, W, C\), got shape \(5,\)"):
        Resize(32)(np.zeros(5))


def test_rescale_hwc2chw_typecast():
    images = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    np.testing.assert_allclose(Rescale(0.5, -1)(images), images * 0.5 - 1)
    assert Rescale(0.5, -1)(images).dtype == np.float32
    chw = HWC2CHW()(images)
    assert chw.shape == (1, 4, 2, 3) and chw.flags.c_contiguous and chw[0, 3, 1, 2] == images[0, 1, 2, 3]
    assert TypeCast("float16")(images).dtype == np.float16


# --- Mnist -------------------------------------------------------------------------------------

def normalized_reference(raw_image):
    resized = resize_reference(raw_image.astype(np.float64)[:, :, None], 32, 32)
    return ((resized / 255 - 0.1307) / 0.3081).transpose(2, 0, 1)


def raw_array(root, split, name, header):
    """The bytes of an extracted IDX file after its header, read without the code under test."""
    return np.fromfile(root / split / name, np.uint8)[header:]


def test_mnist_train_pipeline(mnist_dir):
    dataset = Mnist(mnist_dir, split="train", shuffle=False).run()
    assert dataset.get_dataset_size() == 1875 and dataset.get_col_names() == ["image", "label"]
    images, labels = next(iter(dataset.create_tuple_iterator(output_numpy=True)))
    assert images.shape == (32, 1, 32, 32) and images.dtype == np.float32 and images.flags.c_contiguous
    assert labels.shape == (32,) and labels.dtype == np.int32
    assert labels[:5].tolist() == FIRST_TRAIN_LABELS
    raw = raw_array(mnist_dir, "train", "train-images-idx3-ubyte", 16).reshape(60000, 28, 28)
    # Resize keeps uint8 pixels, rounded as MindSpore (OpenCV) rounds them: within one grey level of
    # the exact value (test_dataset_tutorials.py checks the pixels against MindSpore's own)
    one_level = 1 / 255 / 0.3081
    for i in (0, 31):
        np.testing.assert_allclose(images[i], normalized_reference(raw[i]), atol=one_level + 1e-5)
    *_, (last_images, last_labels) = dataset.create_tuple_iterator(output_numpy=True)
    np.testing.assert_allclose(last_images[-1], normalized_reference(raw[-1]), atol=one_level + 1e-5)
    assert last_labels[-1] == raw_array(mnist_dir, "train", "train-labels-idx1-ubyte", 8)[-1]


def test_mnist_shuffled_epoch_sees_every_image_once(mnist_dir):
    set_seed(0)
    dataset = Mnist(mnist_dir, split="train", batch_size=64, shuffle=True).run()
    counts = np.zeros(10, np.int64)
    batches = 0
    for _, labels in dataset.create_tuple_iterator(output_numpy=True):
        counts += np.bincount(labels, minlength=10)
        batches += 1
    all_labels = raw_array(mnist_dir, "train", "train-labels-idx1-ubyte", 8)
    raw_labels = all_labels[:937 * 64]
    assert batches == 60000 // 64 and counts.sum() == 937 * 64
    assert abs(counts - np.bincount(all_labels, minlength=10)).max() < 64
    assert counts.tolist() != np.bincount(raw_labels, minlength=10).tolist()  # shuffled: not the first 937 batches


def test_mnist_test_split_with_options(mnist_dir):
    mnist = Mnist(mnist_dir, split="test", batch_size=100, repeat_num=2, shuffle=False, download=True,
                  resize=(16, 20), target_transform=TypeCast(np.float32))
    dataset = mnist.run()
    assert dataset.get_dataset_size() == 200
    images, labels = next(iter(dataset))             # Tensors, as MindSpore iterators give
    assert images.shape == (100, 1, 16, 20) and labels.dtype == graphc.float32
    assert labels[:5].tolist() == FIRST_TEST_LABELS
    sharded = Mnist(mnist_dir, split="test", batch_size=32, num_shards=2, shard_id=1).run()
    assert sharded.get_dataset_size() == 5000 // 32


def test_mnist_custom_transform_and_infer_split(mnist_dir):
    custom = Mnist(mnist_dir, split="test", batch_size=10, shuffle=False, transform=[Rescale(1 / 255, 0), HWC2CHW()])
    images, _ = next(iter(custom.run()))
    assert images.shape == (10, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    infer = Mnist(mnist_dir, split="infer", batch_size=10, shuffle=False).run()
    infer_images, indices = next(iter(infer))
    assert indices.tolist() == list(range(10)) and infer_images.shape == (10, 1, 32, 32)
    by_file = Mnist(mnist_dir / "test" / "t10k-images-idx3-ubyte", split="infer", shuffle=False).run()
    np.testing.assert_array_equal(next(iter(by_file))[0][:10], infer_images)


def test_fashion_mnist_train_and_test(fashion_mnist_dir):
    train = FashionMnist(fashion_mnist_dir, split="train", batch_size=50, shuffle=False, resize=28).run()
    images, labels = next(iter(train.create_tuple_iterator(output_numpy=True)))
    assert train.get_dataset_size() == 1200 and images.shape == (50, 1, 28, 28)
    assert labels[:5].tolist() == FIRST_FASHION_LABELS
    raw = raw_array(fashion_mnist_dir, "train", "train-images-idx3-ubyte", 16).reshape(60000, 28, 28)
    np.testing.assert_allclose(images[0, 0], (raw[0] / 255 - 0.2860) / 0.3530, atol=1e-5)
    test_labels = raw_array(fashion_mnist_dir, "test", "t10k-labels-idx1-ubyte", 8)
    assert np.bincount(test_labels).tolist() == [1000] * 10


def test_mnist_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="download is not supported for split='infer'"):
        Mnist(tmp_path, split="infer", download=True)
    with pytest.raises(ValueError, match="split must be one of"):
        Mnist(tmp_path, split="validation")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte does not exist; pass download=True"):
        Mnist(tmp_path, split="train")


def test_set_epoch_replays_the_order_an_uninterrupted_run_saw():
    def pipeline():
        return NumpySlicesDataset({"x": np.arange(12)}, shuffle=True).batch(4).repeat(2)

    uninterrupted = pipeline()
    epochs = [[b[0].tolist() for b in uninterrupted.create_tuple_iterator(output_numpy=True)] for _ in range(3)]
    assert epochs[0] != epochs[1]
    resumed = pipeline()
    resumed.set_epoch(2)
    assert [b[0].tolist() for b in resumed.create_tuple_iterator(output_numpy=True)] == epochs[2]
