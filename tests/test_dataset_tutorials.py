"""mindspore.dataset as MindSpore 2.x's tutorials use it: the programs of tests/dataset_reference/programs.py
(sources, NumpySlicesDataset stages, an image pipeline, eager vision on arrays and PIL images, the
general and text transforms, the sentiment tutorial's preprocessing, samplers) run on runtime.dataset
and give what MindSpore 2.10 gave for them (reference.json, recorded by record.py beside them)."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
import runtime.dataset as ds
from runtime.dataset import text, transforms, vision

sys.path.insert(0, str(Path(__file__).parent / "dataset_reference"))
from record import run_all  # noqa: E402
from ms_reference import assert_same  # noqa: E402

REFERENCE = json.loads((Path(__file__).parent / "dataset_reference" / "reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results():
    return run_all(ds, vision, transforms, text, graphc)


@pytest.mark.parametrize("program", sorted(REFERENCE["results"]))
def test_program_matches_mindspore(results, program):
    assert_same(results[program], REFERENCE["results"][program], program)


# -- what graphc refuses, at the user's line ------------------------------------------------------------------

LINE = r"^\S*test_dataset_tutorials\.py:\d+: "


class Rows:
    """A random-access source of `n` rows (x, x * 10)."""

    def __init__(self, n=4, value=lambda i: (np.int32(i), np.float32(i * 10))):
        self.n, self.value = n, value

    def __getitem__(self, i):
        return self.value(i)

    def __len__(self):
        return self.n


def counting():
    yield from range(3)


vocab = text.Vocab.from_list(["a", "b"], ["<unk>"])


@pytest.mark.parametrize("build, message", [
    (lambda: ds.MindDataset("train.mindrecord"), "MindDataset: MindRecord, MindSpore's own file format, is not "
                                                 "supported by graphc; keep the samples in NumPy arrays"),
    (lambda: ds.mindrecord.FileWriter(file_name="train.mindrecord", shard_num=1), "FileWriter: MindRecord"),
    (lambda: ds.NumpySlicesDataset([1, 2]).save("x.mindrecord"), "Dataset.save is MindSpore's and graphc does not"),
    (lambda: ds.NumpySlicesDataset([1, 2]).padded_batch(2), "padded_batch is MindSpore's and graphc does not have it"),
    (lambda: ds.GeneratorDataset(Rows(), ["x", "y"], schema="schema.json"),
     "GeneratorDataset: schema is not supported"),
    (lambda: ds.GeneratorDataset(Rows()), "GeneratorDataset: column_names is required"),
    (lambda: ds.GeneratorDataset(counting, ["x"], sampler=ds.SequentialSampler()),
     "sampler, shuffle and sharding need a random-access source"),
    (lambda: ds.GeneratorDataset(Rows(), ["x", "y"], sampler=ds.SequentialSampler(), shuffle=True),
     "GeneratorDataset: sampler decides which rows are read and in what order; shuffle=True conflicts with it"),
    (lambda: ds.NumpySlicesDataset([1, 2], num_samples=1, sampler=[0]), "num_samples=1 conflicts with it"),
    (lambda: ds.NumpySlicesDataset([1, 2], sampler="all"), "sampler must be a mindspore.dataset sampler"),
    (lambda: list(ds.NumpySlicesDataset([1, 2], sampler=[0, 5])),
     "the sampler SubsetSampler picked row 5, but the source has rows 0 to 1"),
    (lambda: ds.DistributedSampler(2, 0, offset=1), "DistributedSampler: offset=1 is not supported"),
    (lambda: list(ds.GeneratorDataset(Rows(2, lambda i: ({"a": {"b": i}},)), ["x"]).batch(2)),
     "batch: x['a'] holds a dict, which batch cannot stack"),
    (lambda: list(ds.GeneratorDataset(Rows(2, lambda i: ({"a" if i else "b": i},)), ["x"]).batch(2)),
     "batch: the dicts in column 'x' have different keys [('a',), ('b',)]"),
    (lambda: list(ds.NumpySlicesDataset([1, 2], ["v"]).batch(2, per_batch_map=lambda v, info: ({"s": 1}, v),
                                                             output_columns=["s", "v"])),
     "returned dicts for some columns and not for others"),
    (lambda: ds.NumpySlicesDataset({"x": [[1, 2], [3]]}), "column 'x' holds Python objects (list)"),
    (lambda: list(ds.GeneratorDataset(Rows(2), ["x", "y"], [graphc.float32, graphc.float32])),
     "column 'x' gave a int32 value but column_types declares float32"),
    (lambda: list(ds.GeneratorDataset(Rows(2), ["x"])), "a row has 2 values for the 1 columns ['x']"),
    (lambda: vision.Resize(4, vision.Inter.AREA), "Resize: interpolation 'area' is not supported"),
    (lambda: vision.Resize(4, vision.Inter.CUBIC)(np.zeros((5, 5), np.uint8)),
     "Resize: interpolation 'cubic' works on PIL images only"),
    (lambda: vision.Resize(4)(np.zeros((5, 5), np.int16)), "Resize: images of dtype int16 are not supported"),
    (lambda: vision.Normalize((1, 2), (1, 1))(np.zeros((5, 5, 3))), "Normalize: 2 means and stds for an image"),
    (lambda: vision.RandomCrop(8)(np.zeros((5, 5), np.uint8)), "RandomCrop: crop size (8, 8) is larger"),
    (lambda: text.Lookup(vocab)(np.array(["a", "z"])), "Lookup: 'z' is not in the vocabulary; give Lookup an "
                                                       "unknown_token"),
    (lambda: text.Lookup(vocab, "<pad>"), "Lookup: unknown_token '<pad>' is not in the vocabulary"),
    (lambda: text.Vocab.from_list(["a", "a"]), "Vocab.from_list: word_list holds 'a' more than once"),
    (lambda: text.ToNumber(graphc.int32)(np.array(["12", "x"])), "ToNumber: 'x' is not a int32 number"),
    (lambda: text.ToNumber(np.int8)(np.array(["300"])), "ToNumber: [300] do not all fit in int8"),
    (lambda: text.BasicTokenizer(with_offsets=True), "BasicTokenizer: with_offsets=True is not supported"),
    (lambda: text.WhitespaceTokenizer()(np.array(["a b", "c"])), "WhitespaceTokenizer: expected one string"),
    (lambda: transforms.OneHot(3)(np.array(3)), "OneHot: label 3 is outside [0, 3)"),
    (lambda: transforms.PadEnd([3])(np.zeros((2, 2))), "PadEnd: pad_shape [3] has 1 axes but the value has 2"),
    (lambda: transforms.Compose([]), "Compose: transforms must be a non-empty list of callables"),
    (lambda: transforms.TypeCast("nonsense"), "TypeCast: 'nonsense' is not a dtype"),
])
def test_refusals_name_the_api_and_the_line(build, message):
    with pytest.raises(graphc.errors.GraphcError) as caught:
        build()
    assert re.match(LINE, str(caught.value)) and message in str(caught.value), str(caught.value)


def test_missing_dataset_methods_are_attribute_errors_and_others_plain():
    dataset = ds.NumpySlicesDataset([1, 2])
    assert not hasattr(dataset, "sync_wait") and not hasattr(dataset, "no_such_method")


def test_decode_without_pillow_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)      # as if Pillow were not installed
    with pytest.raises(graphc.errors.GraphcError, match="vision.Decode needs Pillow to decode image files: pip "
                                                        "install Pillow"):
        vision.Decode()(np.zeros(8, np.uint8))


def test_worker_options_are_accepted():
    source = ds.GeneratorDataset(Rows(), ["x", "y"], num_parallel_workers=4, python_multiprocessing=False,
                                 max_rowsize=8, shuffle=False)
    sliced = ds.NumpySlicesDataset([1, 2], num_parallel_workers=2, shuffle=False)
    assert [int(r[0]) for r in source.create_tuple_iterator(output_numpy=True)] == [0, 1, 2, 3]
    assert [int(r[0]) for r in sliced.create_tuple_iterator(output_numpy=True)] == [1, 2]


# -- behaviour MindSpore's order cannot show: seeded draws, vectorized maps ------------------------------------

def epochs(dataset, n):
    iterator = dataset.create_tuple_iterator(num_epochs=n, output_numpy=True)
    return [[r[0].tolist() for r in iterator] for _ in range(n)]


@pytest.mark.parametrize("sampler", [lambda: ds.RandomSampler(), lambda: ds.RandomSampler(True, 6),
                                     lambda: ds.SubsetRandomSampler(range(8)),
                                     lambda: ds.WeightedRandomSampler(np.arange(1, 9), 8),
                                     lambda: ds.DistributedSampler(2, 1)])
def test_random_samplers_follow_the_seed_and_draw_afresh_each_epoch(sampler):
    def run(seed):
        ds.set_seed(seed)
        return epochs(ds.NumpySlicesDataset(np.arange(8), ["x"], sampler=sampler()), 3)
    seed = ds.get_seed()
    try:
        first = run(3)
        assert run(3) == first and run(4) != first
        assert first[0] != first[1] or first[1] != first[2]
    finally:
        ds.set_seed(seed)


def test_a_sampler_reads_a_generator_source_too():
    assert epochs(ds.GeneratorDataset(Rows(), ["x", "y"], sampler=ds.SequentialSampler(1, 2)), 1) == [[1, 2]]
    assert epochs(ds.GeneratorDataset(Rows(), ["x", "y"], sampler=[3, 0]), 1) == [[3, 0]]


def test_compose_in_map_stays_vectorized():
    calls = []

    class Counted(transforms.TypeCast):
        def on_rows(self, values, rng=None):
            calls.append(len(values))
            return super().on_rows(values)
    dataset = ds.NumpySlicesDataset({"x": np.arange(10)}, shuffle=False)
    dataset = dataset.map(transforms.Compose([Counted(np.int32), transforms.OneHot(10)]), "x")
    out = [r[0] for r in dataset.create_tuple_iterator(output_numpy=True)]
    assert calls == [10]                                   # one call on the whole column
    assert out[3].tolist() == np.eye(10)[3].tolist()


def test_output_shapes_do_not_use_up_a_shuffled_epoch():
    def build():
        return ds.NumpySlicesDataset({"x": np.arange(8)}).batch(4)
    seed = ds.get_seed()
    try:
        ds.set_seed(5)
        untouched = epochs(build(), 2)
        ds.set_seed(5)
        probed = build()
        assert probed.output_shapes() == [[4]] and probed.output_types() == [np.dtype(np.int64)]
        assert epochs(probed, 2) == untouched
    finally:
        ds.set_seed(seed)
