"""Programs written for MindSpore run on graphc after one rename, `mindspore` -> `graphc`, and print
what MindSpore 2.10 printed for them (tests/mindspore_programs/reference.json, recorded by
record_reference.py beside the programs with real MindSpore)."""
import json
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "mindspore_programs"))
from record_reference import program_result, programs  # noqa: E402
from ms_reference import assert_same  # noqa: E402

REPO = Path(__file__).parent.parent
REFERENCE = json.loads((Path(__file__).parent / "mindspore_programs" / "reference.json").read_text())["results"]


def renamed(source):
    return re.sub(r"\bmindspore\b", "graphc", source)


def test_every_program_has_a_reference():
    assert sorted(p.stem for p in programs()) == sorted(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_program_matches_mindspore(name, tmp_path):
    source = (Path(__file__).parent / "mindspore_programs" / f"{name}.py").read_text()
    assert "mindspore" in source and "graphc" not in source
    program = tmp_path / f"{name}.py"
    program.write_text(renamed(source))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    assert_same(program_result(program, env=env), REFERENCE[name], name, tolerance=1e-5)


def test_assert_same_catches_a_difference():
    with pytest.raises(AssertionError, match="losses"):
        assert_same({"losses": [0.5, 0.25]}, {"losses": [0.5, 0.2501]}, tolerance=1e-5)
    with pytest.raises(AssertionError):
        assert_same({"dtype": "Float32"}, {"dtype": "Float64"})
