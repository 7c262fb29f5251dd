"""Python control flow over tensors that tests/test_python_control_flow.py checks against MindSpore 2.10,
written once and run by both frameworks: tests/oracles/python_control_flow_mindspore.py records
MindSpore's values with them (GRAPH_MODE through its jit). Call `use(mindspore)` or `use(graphc)` first:
it picks the framework the programs' names refer to."""
import numpy as np

ops = Tensor = None


def use(framework) -> None:
    global ops, Tensor
    ops, Tensor = framework.ops, framework.Tensor


def inputs():
    """Inputs reaching each branch of `branches`: sums above 1, in (-1, 1] and below -1."""
    return [Tensor(np.array(values, np.float32)) for values in
            ([1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [0.1, 0.2, -0.1], [-2.0, -1.0, -1.0])]


def branches(x):
    total = x.sum()
    if total > 1:
        y = x * 2
        if x[0] > 0:
            y = y + 1
    elif total > -1:
        y = x * 0.5
    else:
        y = -x
    return y


def halving(x):
    while x.max() > 1.0:
        x = x / 2.0
    return x


def rows(x):
    total = x[0] * 0
    for row in x:
        total = total + row * row
    return total


def nested(x):
    count = x.sum() * 0
    while x.sum() > 1.0:
        if x.max() > 4.0:
            x = x / 2.0
        else:
            x = x - 0.5
        count = count + 1
    return x, count


PROGRAMS = {"branches": branches, "halving": halving, "rows": rows, "nested": nested}
