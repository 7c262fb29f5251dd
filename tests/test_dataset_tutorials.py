"""mindspore.dataset as MindSpore 2.x's tutorials use it: the programs of tests/dataset_reference/programs.py
(sources, NumpySlicesDataset stages, an image pipeline, eager vision on arrays and PIL images, the
general and text transforms, the sentiment tutorial's preprocessing, samplers) run on runtime.dataset
and give what MindSpore 2.10 gave for them (reference.json, recorded by record.py beside them)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
import runtime.dataset as ds
from runtime.dataset import text, transforms, vision

sys.path.insert(0, str(Path(__file__).parent / "dataset_reference"))
from record import run_all  # noqa: E402

REFERENCE = json.loads((Path(__file__).parent / "dataset_reference" / "reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results():
    return run_all(ds, vision, transforms, text, graphc)


def assert_same(got, want, where):
    """Shapes, dtypes, names and counts exactly; float values to float32 round-off."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: graphc {got} != MindSpore {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert isinstance(got, float) and np.isclose(got, want, rtol=1e-6, atol=1e-6), \
            f"{where}: graphc {got} != MindSpore {want}"
    else:
        assert got == want and type(got) is type(want), f"{where}: graphc {got!r} != MindSpore {want!r}"


@pytest.mark.parametrize("program", sorted(REFERENCE["results"]))
def test_program_matches_mindspore(results, program):
    assert_same(results[program], REFERENCE["results"][program], program)


def test_assert_same_catches_a_difference():
    with pytest.raises(AssertionError, match="pixels"):
        assert_same({"pixels": [1, 2]}, {"pixels": [1, 3]}, "x")
    with pytest.raises(AssertionError, match="dtype"):
        assert_same({"dtype": "uint8"}, {"dtype": "float32"}, "x")
