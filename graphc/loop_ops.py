"""MindSpore's loop primitives (2.4 and later): ops.WhileLoop, ops.ForiLoop and ops.Scan, over
control_flow.py. graphc/__init__.py puts them into `ops`, where MindSpore users find them.

`unroll` means what it means in MindSpore 2.10, measured there: with the default True, a loop of
static trip count is unrolled while the graph is built (a 7-step ForiLoop's graph holds 7 copies of
its body); with False it stays one loop node (`scan`), and so does every WhileLoop and every ForiLoop
with a traced tensor bound (`while`). Eagerly (PYNATIVE_MODE) each runs as a Python loop.

MindSpore's Scan takes xs as a list or tuple with one element per step, and returns the ys as a list;
as one node the steps are stacked into tensors (so they must share one structure, dtype and shape)
and the ys are sliced back out.
"""
from __future__ import annotations

from .control_flow import as_tensor, builds_node, check_carry, describe, fori_loop, is_leaf, scan, step_result, \
    while_loop
from .errors import ArgumentError, GraphcError
from .ops import stack
from .ops.primitives import Primitive
from .pytree import flatten, unflatten
from .tracing import Tensor

__all__ = ["ForiLoop", "Scan", "WhileLoop"]


class _Loop(Primitive):
    def _function(self, argument: str, value) -> None:
        if not callable(value):
            raise self._bad(argument, value, "a function")


class WhileLoop(_Loop):
    """ops.WhileLoop()(cond_func, loop_func, init_val): while cond_func(val): val = loop_func(val)."""

    def __call__(self, cond_func, loop_func, init_val):
        self._function("cond_func", cond_func)
        self._function("loop_func", loop_func)
        return while_loop(cond_func, loop_func, init_val, name="ops.WhileLoop")


class ForiLoop(_Loop):
    """ops.ForiLoop()(lower, upper, loop_func, init_val, unroll=True): for i in range(lower, upper):
    val = loop_func(i, val). lower >= upper returns init_val."""

    def __call__(self, lower, upper, loop_func, init_val, unroll=True):
        self._function("loop_func", loop_func)
        return fori_loop(lower, upper, loop_func, init_val, self._bool("unroll", unroll), name="ops.ForiLoop")


class Scan(_Loop):
    """ops.Scan()(loop_func, init, xs, length=None, unroll=True) -> (carry, ys): for each x in xs,
    carry, y = loop_func(carry, x); ys is the list of the ys. xs=None runs `length` steps with x=None."""

    def __call__(self, loop_func, init, xs, length=None, unroll=True):
        self._function("loop_func", loop_func)
        unroll = self._bool("unroll", unroll)
        steps = self._steps(xs, length)
        if not steps:
            return init, []
        if unroll or not builds_node(init, steps):
            carry, ys = init, []
            for x in steps:
                new, y = step_result("ops.Scan", loop_func(carry, x))
                check_carry("ops.Scan", new, carry)
                carry = new
                ys.append(y)
            return carry, ys
        carry, stacked = scan(loop_func, init, _stacked(steps), length=len(steps),
                              name="ops.Scan")
        leaves, treedef = flatten(stacked, is_leaf)
        return carry, [unflatten(treedef, [leaf[step] for leaf in leaves]) for step in range(len(steps))]

    def _steps(self, xs, length) -> list:
        if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 0):
            raise self._bad("length", length, "an int >= 0 or None")
        if xs is None:
            if length is None:
                raise self._bad("length", length, "the number of steps when xs is None")
            return [None] * length
        if not isinstance(xs, (list, tuple)):
            shown = xs.type if isinstance(xs, Tensor) else type(xs).__name__
            raise ArgumentError(f"ops.Scan: xs is a {shown}; MindSpore's Scan takes xs as a list or tuple with one "
                                "element per step (list(x) splits a tensor along its first axis), or None")
        if length is not None and length != len(xs):
            raise ArgumentError(f"ops.Scan: length={length} but xs has {len(xs)} elements; give one or make them agree")
        return list(xs)


def _stacked(steps: list):
    """The steps of xs as one pytree of tensors stacked along a new leading axis."""
    flat = [flatten(x, is_leaf) for x in steps]
    (first, treedef), first_types = flat[0], [as_tensor(leaf).type for leaf in flat[0][0]]
    for index, (leaves, structure) in enumerate(flat):
        if structure != treedef or [as_tensor(leaf).type for leaf in leaves] != first_types:
            raise GraphcError(f"ops.Scan: xs[{index}] is {describe(steps[index])} but xs[0] is {describe(steps[0])}; "
                              "as one loop (unroll=False) every step of xs must have one structure, dtype and shape")
    return unflatten(treedef, [stack([as_tensor(leaves[i]) for leaves, _ in flat]) for i in range(len(first))])
