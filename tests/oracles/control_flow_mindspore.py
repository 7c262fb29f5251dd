"""Reference values for tests/test_control_flow.py, measured on MindSpore 2.10 (CPU).

Run with MindSpore's Python (not a test; MindSpore is no dependency of graphc):

    /path/to/mindspore/venv/bin/python tests/oracles/control_flow_mindspore.py

It prints each case's outputs (and gradients) in both modes, rounded to 6 significant digits; the
test file holds them as recorded. The inputs are drawn from NumPy generators with the seeds named
here, which the test uses too.
"""
import os
import sys
import tempfile

import numpy as np
import mindspore as ms
from mindspore import Tensor, jit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import loop_programs as programs  # noqa: E402  (tests/loop_programs.py, shared with the test)

programs.use(ms)


def leaves(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def show(name, compute):
    """One line per case: its leaves in order, each as a nested list of 7-digit numbers; or the error
    MindSpore raises, its first line."""
    try:
        value = compute()
    except Exception as error:     # noqa: BLE001  (the oracle reports what MindSpore does)
        print(name, "raises", type(error).__name__, str(error).splitlines()[0])
        return
    print(name, [np.vectorize(lambda v: float(f"{v:.7g}"))(leaf.asnumpy()).tolist() if isinstance(leaf, Tensor)
                 else leaf for leaf in leaves(value)])


# GRAPH_MODE reads `unroll` as a constant: one named function per value.
def fori_unrolled(h, w):
    return programs.fori_loop(h, w, True)


def fori_rolled(h, w):
    return programs.fori_loop(h, w, False)


def fori_loss_unrolled(h, w):
    return programs.fori_loss(h, w, True)


def fori_loss_rolled(h, w):
    return programs.fori_loss(h, w, False)


def scan_unrolled(h, w, x0, x1, x2, x3):
    return programs.scan(h, w, x0, x1, x2, x3, True)


def scan_rolled(h, w, x0, x1, x2, x3):
    return programs.scan(h, w, x0, x1, x2, x3, False)


def scan_loss_unrolled(h, w, x0, x1, x2, x3):
    return programs.scan_loss(h, w, x0, x1, x2, x3, True)


def scan_loss_rolled(h, w, x0, x1, x2, x3):
    return programs.scan_loss(h, w, x0, x1, x2, x3, False)


def fori_empty_unrolled(h):
    return programs.fori_empty(h, True)


def fori_empty_rolled(h):
    return programs.fori_empty(h, False)


def main():
    os.chdir(tempfile.mkdtemp())      # MindSpore writes rank_0/om/analyze_fail.ir where a graph fails
    h, w, xs = programs.inputs()
    for mode, name in ((ms.PYNATIVE_MODE, "pynative"), (ms.GRAPH_MODE, "graph")):
        ms.set_context(mode=mode)
        wrap = jit if mode == ms.GRAPH_MODE else (lambda f: f)
        show(f"{name} while", lambda: wrap(programs.while_loop)(h))
        show(f"{name} while grad", lambda: wrap(ms.grad(programs.while_loss))(h))
        for unroll, fori, fori_l, scan_f, scan_l, empty in (
                (True, fori_unrolled, fori_loss_unrolled, scan_unrolled, scan_loss_unrolled, fori_empty_unrolled),
                (False, fori_rolled, fori_loss_rolled, scan_rolled, scan_loss_rolled, fori_empty_rolled)):
            show(f"{name} fori unroll={unroll}", lambda: wrap(fori)(h, w))
            show(f"{name} fori grad unroll={unroll}", lambda: wrap(ms.grad(fori_l, grad_position=(0, 1)))(h, w))
            show(f"{name} scan unroll={unroll}", lambda: wrap(scan_f)(h, w, *xs))
            show(f"{name} scan grad unroll={unroll}",
                 lambda: wrap(ms.grad(scan_l, grad_position=(0, 1, 2, 3)))(h, w, *xs))
            show(f"{name} fori lower>upper unroll={unroll}", lambda: wrap(empty)(h))
        show(f"{name} counting scan", lambda: wrap(programs.counting_scan)(Tensor(np.float32(1))))


if __name__ == "__main__":
    main()
