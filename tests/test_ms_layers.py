"""MindSpore 2.x losses and layers against the values MindSpore 2.10 gave for the same inputs and
parameters (tests/mindspore_reference/layers.json), in PYNATIVE_MODE and compiled in GRAPH_MODE; a
case where MindSpore raised must raise a GraphcError here."""
import numpy as np
import pytest

import graphc
from graphc import GraphcError, nn
from ms_reference import assert_matches, in_mode, recorded, tensor

MODES = [pytest.param(graphc.PYNATIVE_MODE, id="pynative"), pytest.param(graphc.GRAPH_MODE, id="graph")]
CASES = recorded("layers")["cases"]


def build(case):
    kwargs = dict(case["kwargs"], **{k: tensor(v, "float32") for k, v in case["tensors"].items()})
    cell = getattr(nn, case["cls"])(**kwargs)
    named = dict(cell.parameters_and_names())
    for name, value in case["params"].items():
        named[name].set_data(np.array(value, np.float32))
    return cell


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_gives_mindsporess_values(mode, case):
    inputs = [tensor(x, d) for x, d in zip(case["inputs"], case["dtypes"])]
    if "error" in case:
        with pytest.raises(GraphcError):
            in_mode(mode, build(case), *inputs)
    else:
        assert_matches(in_mode(mode, build(case), *inputs), case["output"], case["out_dtype"])
