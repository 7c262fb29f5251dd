"""The loop programs tests/test_control_flow.py checks against MindSpore 2.10, written once and run by
both frameworks: tests/oracles/control_flow_mindspore.py records MindSpore's values with them. Call
`use(mindspore)` or `use(graphc)` first: it picks the framework the programs' names refer to.

MindSpore's GRAPH_MODE compiles module-level functions only (no lambdas), and no loop_func reading a
variable of its enclosing function ("Illegal AnfNode for evaluating"), so w travels in the carry.
"""
import numpy as np

ms = ops = Tensor = None


def use(framework) -> None:
    global ms, ops, Tensor
    ms, ops, Tensor = framework, framework.ops, framework.Tensor


def inputs():
    """(h0, w, [x0, x1, x2, x3]) as Tensors, from a seeded generator."""
    rng = np.random.default_rng(22)
    h0 = rng.standard_normal((2, 3)).astype(np.float32)
    w = (rng.standard_normal((3, 3)) * 0.5).astype(np.float32)
    xs = rng.standard_normal((4, 2, 3)).astype(np.float32)
    return Tensor(h0), Tensor(w), [Tensor(x) for x in xs]


def while_cond(v):
    return v[0] < 5


def while_body(v):
    return v[0] + 1, v[1] * 0.5 + ops.tanh(v[1])


def while_loop(h):
    return ops.WhileLoop()(while_cond, while_body, (Tensor(np.int32(0)), h))


def while_loss(h):
    return while_loop(h)[1].sum()


def fori_body(i, v):
    h, acc, w = v
    h = ops.tanh(ops.matmul(h, w) + ops.Cast()(i, ms.float32) * 0.1)
    return h, acc + h.sum(0), w


def fori_loop(h, w, unroll):
    h, acc, _ = ops.ForiLoop()(1, 6, fori_body, (h, Tensor(np.zeros(3, np.float32)), w), unroll)
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


def fori_empty(h, unroll):
    return ops.ForiLoop()(5, 2, add_one, h, unroll)
