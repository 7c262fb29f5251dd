"""Reference values for tests/test_control_flow.py, measured on MindSpore 2.10 (CPU).

Run with MindSpore's Python (not a test; MindSpore is no dependency of graphc):

    /path/to/mindspore/venv/bin/python tests/oracles/control_flow_mindspore.py

It prints each case's outputs (and gradients) in both modes, rounded to 6 significant digits; the
test file holds them as recorded. The inputs are drawn from NumPy generators with the seeds named
here, which the test uses too.
"""
import os
import tempfile

import numpy as np
import mindspore as ms
from mindspore import Tensor, jit, ops


def inputs():
    rng = np.random.default_rng(22)
    h0 = rng.standard_normal((2, 3)).astype(np.float32)
    w = (rng.standard_normal((3, 3)) * 0.5).astype(np.float32)
    xs = rng.standard_normal((4, 2, 3)).astype(np.float32)
    return h0, w, xs


def while_cond(v):
    return v[0] < 5


def while_body(v):
    return v[0] + 1, v[1] * 0.5 + ops.tanh(v[1])


def while_loop(h):
    return ops.WhileLoop()(while_cond, while_body, (Tensor(np.int32(0)), h))


# MindSpore's graph mode cannot compile a loop_func reading a variable of the enclosing function
# ("Illegal AnfNode for evaluating"), so w travels in the carry, unchanged.
def fori_body(i, v):
    h, acc, w = v
    h = ops.tanh(ops.matmul(h, w) + ops.Cast()(i, ms.float32) * 0.1)
    return h, acc + h.sum(0), w


def fori_loop(h, w, unroll):
    h, acc, _ = ops.ForiLoop()(1, 6, fori_body, (h, ops.zeros((3,), ms.float32), w), unroll)
    return h, acc


def fori_loss(h, w, unroll):
    h, acc = fori_loop(h, w, unroll)
    return (h * h).sum() + acc.sum()


def scan_body(carry, x):
    h, w = carry
    h = ops.tanh(ops.matmul(h, w) * 0.5 + x)
    return (h, w), h * x


def scan(h, w, x0, x1, x2, x3, unroll):
    (h, _), ys = ops.Scan()(scan_body, (h, w), [x0, x1, x2, x3], 4, unroll)
    return h, ys


def scan_loss(h, w, x0, x1, x2, x3, unroll):
    h, ys = scan(h, w, x0, x1, x2, x3, unroll)
    return h.sum() + ys[0].sum() + 2.0 * ys[1].sum() + 3.0 * ys[2].sum() + 4.0 * ys[3].sum()


def counting_body(c, x):
    return c + 1, c * 2


def counting_scan(c):
    return ops.Scan()(counting_body, c, None, 3, False)


def add_one(i, v):
    return v + 1


def fori_empty(h):
    return ops.ForiLoop()(5, 2, add_one, h)


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


# Graph mode parses named functions only (no lambdas) and reads `unroll` as a constant.
def fori_unrolled(h, w):
    return fori_loop(h, w, True)


def fori_rolled(h, w):
    return fori_loop(h, w, False)


def fori_loss_unrolled(h, w):
    return fori_loss(h, w, True)


def fori_loss_rolled(h, w):
    return fori_loss(h, w, False)


def scan_unrolled(h, w, x0, x1, x2, x3):
    return scan(h, w, x0, x1, x2, x3, True)


def scan_rolled(h, w, x0, x1, x2, x3):
    return scan(h, w, x0, x1, x2, x3, False)


def scan_loss_unrolled(h, w, x0, x1, x2, x3):
    return scan_loss(h, w, x0, x1, x2, x3, True)


def scan_loss_rolled(h, w, x0, x1, x2, x3):
    return scan_loss(h, w, x0, x1, x2, x3, False)


def while_loss(h):
    return while_loop(h)[1].sum()


def main():
    os.chdir(tempfile.mkdtemp())      # MindSpore writes rank_0/om/analyze_fail.ir where a graph fails
    h0, w, xs = inputs()
    h, wt = Tensor(h0), Tensor(w)
    x = [Tensor(a) for a in xs]
    for mode, name in ((ms.PYNATIVE_MODE, "pynative"), (ms.GRAPH_MODE, "graph")):
        ms.set_context(mode=mode)
        wrap = jit if mode == ms.GRAPH_MODE else (lambda f: f)
        show(f"{name} while", lambda: wrap(while_loop)(h))
        show(f"{name} while grad", lambda: wrap(ms.grad(while_loss))(h))
        for unroll, fori, fori_l, scan_f, scan_l in ((True, fori_unrolled, fori_loss_unrolled, scan_unrolled,
                                                     scan_loss_unrolled),
                                                    (False, fori_rolled, fori_loss_rolled, scan_rolled,
                                                     scan_loss_rolled)):
            show(f"{name} fori unroll={unroll}", lambda: wrap(fori)(h, wt))
            show(f"{name} fori grad unroll={unroll}", lambda: wrap(ms.grad(fori_l, grad_position=(0, 1)))(h, wt))
            show(f"{name} scan unroll={unroll}", lambda: wrap(scan_f)(h, wt, *x))
            show(f"{name} scan grad unroll={unroll}",
                 lambda: wrap(ms.grad(scan_l, grad_position=(0, 1, 2, 3)))(h, wt, *x))
        show(f"{name} counting scan", lambda: wrap(counting_scan)(Tensor(np.float32(1))))
        show(f"{name} fori lower>upper", lambda: wrap(fori_empty)(h))


if __name__ == "__main__":
    main()
