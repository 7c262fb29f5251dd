"""Gradient checks through the real machinery, in the style of JAX's check_grads.

`check_vjp(fn, args)` traces fn, records `grad` placeholders for a random cotangent ct, runs the
autodiff pass (expand_gradients) and the reference interpreter, and compares the inner product
<vjp(ct), t> along one random direction t with a central difference of <ct, fn> along t:

    (<ct, fn(x + eps·t)> - <ct, fn(x - eps·t)>) / (2·eps)  ≈  sum_i <vjp_i(ct), t_i>

That is two forward evaluations per check whatever the input size. `check_second_order` does the
same for each gradient of fn (grad of grad).

Tolerance, for float64 inputs of magnitude ~1: the central difference is off by O(eps²·f''') ≈ 1e-10
from truncation and O(1e-16·|f| / eps) ≈ 1e-11·|f| from rounding, so requiring
|fd - vjp| ≤ RTOL·max(1, |fd|, |vjp|) with RTOL = 1e-6 leaves a wide margin while a wrong rule
(typically off by O(1)) still fails.
Functions must be smooth within eps of x: keep samples away from kinks (relu at 0, ties of max).
"""
from __future__ import annotations

import numpy as np

from graphc import ops
from graphc.passes.autodiff import expand_gradients
from graphc.interp import run
from graphc.ir.verify import verify
from graphc.jit import Traced, trace
from graphc.tracing import Tensor

EPS = 1e-5
RTOL = 1e-6


def evaluate(traced: Traced, inputs) -> list[np.ndarray]:
    """Run a traced graph as the system does: the autodiff pass, the verifier, the interpreter."""
    expand_gradients(traced.graph)
    verify(traced.graph)
    params = {name: p.asnumpy() for name, p in traced.params.items()}
    return run(traced.graph, list(inputs), params)[0]


def vjp(fn, args, ct) -> list[np.ndarray]:
    """The gradient of <ct, fn(*args)> with respect to each arg, from grad placeholders."""
    def gradients(*inputs):
        *xs, seed = inputs
        out = fn(*xs)
        return [ops.get("grad")(out, seed, x) for x in xs]
    return evaluate(trace(gradients, (*args, ct)), (*args, ct))


def check_vjp(fn, args, rng: np.random.Generator, *, eps=EPS, rtol=RTOL) -> None:
    """Assert that fn's VJP agrees with finite differences; fn maps float64 Tensors to one."""
    args = [np.asarray(a, np.float64) for a in args]
    forward = trace(fn, tuple(args))
    out_type = forward.graph.outputs[0].type
    assert out_type.dtype.name == "float64", f"check_vjp needs a float64 result, got {out_type}"
    ct = rng.standard_normal(out_type.shape)
    directions = [rng.standard_normal(a.shape) for a in args]

    def along(step):
        [value] = evaluate(forward, [a + step * t for a, t in zip(args, directions)])
        return np.vdot(ct, value)
    finite_difference = (along(eps) - along(-eps)) / (2 * eps)
    gradients = vjp(fn, args, ct)
    for k, (g, a) in enumerate(zip(gradients, args)):
        assert (g.shape, g.dtype) == (a.shape, a.dtype), \
            f"the gradient of argument {k} is {g.dtype}{list(g.shape)}, not {a.dtype}{list(a.shape)} like the argument"
    analytic = sum(np.vdot(g, t) for g, t in zip(gradients, directions))
    scale = max(abs(finite_difference), abs(analytic), 1.0)
    assert abs(finite_difference - analytic) <= rtol * scale, (
        f"VJP disagrees with finite differences: <vjp(ct), t> = {analytic!r}, central difference = "
        f"{finite_difference!r} (eps={eps})")


def check_second_order(fn, args, rng: np.random.Generator, **tolerances) -> None:
    """check_vjp on each gradient of fn: x -> d<ct, fn(x)>/dx_k for a fixed random ct."""
    args = [np.asarray(a, np.float64) for a in args]
    ct = Tensor(rng.standard_normal(trace(fn, tuple(args)).graph.outputs[0].type.shape))
    for k in range(len(args)):
        check_vjp(lambda *xs, k=k: ops.get("grad")(fn(*xs), ct, xs[k]), args, rng, **tolerances)
