"""Reference values for tests/test_python_control_flow.py, measured on MindSpore 2.10 (CPU).

Run with MindSpore's Python (not a test; MindSpore is no dependency of graphc):

    /path/to/mindspore/venv/bin/python tests/oracles/python_control_flow_mindspore.py

For each program of tests/python_control_flow_programs.py and each of its inputs it prints the
outputs in GRAPH_MODE (ms.jit) and PYNATIVE_MODE, rounded to 7 significant digits; the test file
holds them as recorded.
"""
import os
import sys

import numpy as np
import mindspore as ms

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import python_control_flow_programs as programs  # noqa: E402

programs.use(ms)


def rounded(value):
    values = value if isinstance(value, tuple) else (value,)
    return [np.vectorize(lambda v: float(f"{v:.7g}"))(v.asnumpy()).tolist() for v in values]


for mode, name in ((ms.GRAPH_MODE, "GRAPH_MODE"), (ms.PYNATIVE_MODE, "PYNATIVE_MODE")):
    ms.set_context(mode=mode)
    for program, fn in programs.PROGRAMS.items():
        run = ms.jit(fn) if mode == ms.GRAPH_MODE else fn
        print(name, program, [rounded(run(x)) for x in programs.inputs()], flush=True)
