"""Bounded memory in the data pipeline: a vectorized map keeps its result between passes only up
to GRAPHC_MAP_CACHE_BYTES; the shuffle buffer over streamed rows counts its rows as they come."""
import numpy as np

from graphc import env
from runtime.dataset import GeneratorDataset, NumpySlicesDataset
from runtime.dataset import pipeline
from test_dataset import CountingDouble


def passes(dataset, count=2):
    return [[row[0].tolist() for row in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)]
            for _ in range(count)]


def test_a_map_result_within_the_bound_is_computed_once(monkeypatch):
    monkeypatch.delenv("GRAPHC_MAP_CACHE_BYTES", raising=False)
    scale = CountingDouble()
    data = NumpySlicesDataset({"x": np.arange(100, dtype=np.float32)}, shuffle=False).map(scale, ["x"])
    first, second = passes(data)
    assert first == second == [2.0 * i for i in range(100)] and scale.calls == 1
    assert pipeline.map_cache_bytes() == env.VARIABLES["GRAPHC_MAP_CACHE_BYTES"].default == 512 << 20


def test_a_map_result_past_the_bound_is_recomputed_each_pass_not_held(monkeypatch):
    monkeypatch.setenv("GRAPHC_MAP_CACHE_BYTES", "399")          # the result is 100 float32 = 400 bytes
    scale = CountingDouble()
    mapped = NumpySlicesDataset({"x": np.arange(100, dtype=np.float32)}, shuffle=False).map(scale, ["x"])
    first, second = passes(mapped)
    assert first == second == [2.0 * i for i in range(100)] and scale.calls == 2
    assert mapped._cache is None


def test_the_shuffle_buffer_counts_rows_once_each(monkeypatch):
    counted = []
    length = pipeline._Rows.__len__
    monkeypatch.setattr(pipeline._Rows, "__len__", lambda rows: counted.append(1) or length(rows))
    rows = 3000
    data = GeneratorDataset(lambda: ((np.int32(i),) for i in range(rows)), ["x"]).shuffle(1000)
    (labels,) = passes(data, 1)
    assert sorted(labels) == list(range(rows))
    assert len(counted) < 5 * rows            # linear in the rows; summing the window at each row took ~500 000
