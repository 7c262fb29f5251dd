"""Loops and branches over tensors: `cond`, `while_loop`, `scan` and `fori_loop` (JAX's forms, which
MindSpore's ops.WhileLoop, ops.ForiLoop and ops.Scan in loop_ops.py are written with).

Eagerly (no trace active) each is a Python loop or `if`. While tracing, each becomes one control-flow
node whose regions are the traced bodies (docs/ir.md, "Control flow"), so a loop is in the graph
once, whatever its trip count. A value a body reads from outside its arguments (a Parameter, a
tensor of the enclosing function) is captured: it becomes an operand of the node (RegionTrace).

The loop value (carry) is a pytree (tuples, lists, dicts) of Tensors; Python numbers in it become
Tensors when it is traced into a node (float32, int64 or bool, as graphc.Tensor makes them). In
every mode a body must return the structure, dtypes and shapes it was given; the error shows both.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops
from .errors import ArgumentError, GraphcError
from .ir import Graph, control
from .pytree import flatten, unflatten
from .tracing import RegionTrace, Tensor, Trace, current_trace, symbolic, tracing
from .types import TensorType, bool_, int32, int64

__all__ = ["as_tensor", "bind_control", "builds_node", "check_carry", "cond", "describe", "fori_loop", "is_leaf",
           "same_type", "scan", "step_result", "while_loop"]


def is_leaf(x) -> bool:
    return isinstance(x, (Tensor, numbers.Number, np.ndarray))


def as_tensor(leaf) -> Tensor:
    return leaf if isinstance(leaf, Tensor) else Tensor(leaf)


def describe(tree) -> str:
    """A pytree's structure and leaf types, as errors show them: (f32[2,3], [i64[], int])."""
    if isinstance(tree, Tensor):
        return str(tree.type)
    if isinstance(tree, (tuple, list)):
        inner = ", ".join(describe(item) for item in tree)
        return f"({inner}{',' if len(tree) == 1 else ''})" if isinstance(tree, tuple) else f"[{inner}]"
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{key!r}: {describe(value)}" for key, value in tree.items()) + "}"
    return type(tree).__name__ if isinstance(tree, (numbers.Number, np.ndarray)) else repr(tree)


def _signature(tree):
    """What a carry must keep: its structure and each leaf's type (a Python number's, the type of the
    Tensor it becomes in a loop node)."""
    leaves, treedef = flatten(tree, is_leaf)
    return treedef, [as_tensor(leaf).type for leaf in leaves]


def same_type(a, b) -> bool:
    """Whether two pytrees have one structure and the same leaf types (as a loop's carry must)."""
    return _signature(a) == _signature(b)


def check_carry(name: str, got, expected) -> None:
    """Raise unless `got` has the structure and leaf types of `expected` (a loop keeps its carry's type)."""
    if not same_type(got, expected):
        raise GraphcError(f"{name}: the loop function returned {describe(got)} but the loop value is "
                          f"{describe(expected)}; "
                          "it must return the same structure, dtypes and shapes at every step (cast or reshape "
                          "inside the loop, or change the initial value)")


def builds_node(*trees) -> bool:
    """Whether a loop over these values becomes a node: a trace is active and they hold a Tensor
    (Python numbers alone are computed by Python, as a loop over Python values unrolls)."""
    return current_trace() is not None and any(isinstance(leaf, Tensor) for tree in trees
                                               for leaf in flatten(tree, is_leaf)[0])


# -- building nodes ---------------------------------------------------------------------------------------
def bind_control(op: str, operands: list[Tensor], attrs: dict) -> list[Tensor]:
    """Add a control-flow node to the active trace; its results, one `get` each."""
    trace = current_trace()
    nodes = [trace.node_of(t) for t in operands]
    attrs = control.check_attrs(op, attrs)
    try:
        result = control.infer_type(op, [n.type for n in nodes], attrs)
    except control.ControlFlowError as error:
        raise GraphcError(f"{op}: {error}") from None
    node = trace.add(op, nodes, attrs, result)
    return [symbolic(trace.add("get", [node], {"index": i}, t)) for i, t in enumerate(result.elements)]


class _Region:
    """One region traced from fn: its inputs are `arguments` [(name, type)] then the captured values
    (shared with its sibling regions); `outputs` is what fn returned, as a pytree of Tensors."""

    def __init__(self, name: str, fn, arguments: list[tuple[str, TensorType]], captured: list):
        self.trace = RegionTrace(name, current_trace(), len(arguments), captured)
        with tracing(self.trace):
            self.inputs = [symbolic(self.trace.input(n, i, t)) for i, (n, t) in enumerate(arguments)]
            self.outputs = fn(*self.inputs)

    def graph(self, leaves: list) -> Graph:
        """The region returning `leaves` (Tensors or numbers of its outputs)."""
        with tracing(self.trace):
            self.trace.graph.outputs = [self.trace.node_of(as_tensor(leaf)) for leaf in leaves]
        return self.trace.close()


def _captured_operands(captured: list) -> list[Tensor]:
    return [symbolic(node) for node, _ in captured]


def _as_predicate(value, name: str) -> Tensor:
    """A condition as a bool[] tensor: a one-element tensor (nonzero is true) or a Python truth value."""
    if not isinstance(value, Tensor):
        return Tensor(np.asarray(bool(value)))
    if value.size != 1:
        raise GraphcError(f"{name}: the condition is a {value.type}; it must have exactly one element (reduce it, "
                          "e.g. with .all() or .any())")
    value = value.reshape(()) if value.shape else value
    return value if value.dtype == bool_ else value != 0


# -- cond ---------------------------------------------------------------------------------------------------
def cond(pred, true_fn, false_fn, *operands, name: str = "cond"):
    """true_fn(*operands) if pred else false_fn(*operands). pred is a one-element tensor or a Python
    value; when traced and pred is a tensor, both branches are traced and the node runs one of them.
    Both must return the same structure, dtypes and shapes."""
    if not (current_trace() is not None and isinstance(pred, Tensor)):
        taken = true_fn if bool(_as_predicate(pred, name) if isinstance(pred, Tensor) else pred) else false_fn
        return taken(*operands)
    predicate = _as_predicate(pred, name)
    leaves, treedef = flatten(operands, is_leaf)
    arguments = [(f"arg{i}", as_tensor(leaf).type) for i, leaf in enumerate(leaves)]
    captured: list = []
    branches = [_Region(label, lambda *xs, fn=fn: fn(*unflatten(treedef, xs)), arguments, captured)
                for label, fn in (("then_branch", true_fn), ("else_branch", false_fn))]
    then_out, else_out = branches[0].outputs, branches[1].outputs
    if not same_type(then_out, else_out):
        raise GraphcError(f"{name}: the true branch returns {describe(then_out)} but the false branch returns "
                          f"{describe(else_out)}; both must return the same structure, dtypes and shapes")
    out_treedef = flatten(then_out, is_leaf)[1]
    graphs = [branch.graph(flatten(branch.outputs, is_leaf)[0]) for branch in branches]
    results = bind_control("cond", [predicate] + [as_tensor(x) for x in leaves] + _captured_operands(captured),
                           {"then_branch": graphs[0], "else_branch": graphs[1]})
    return unflatten(out_treedef, results)


# -- while ---------------------------------------------------------------------------------------------------
def while_loop(cond_fn, body_fn, init, name: str = "while_loop"):
    """val = init; while cond_fn(val): val = body_fn(val); return val. Traced, it is one `while` node
    (not differentiable: its trip count depends on the values; use fori_loop or scan) as soon as the
    value or the condition is a traced tensor; until then Python runs it."""
    value = init
    while not builds_node(value):
        keep_going = _as_predicate(cond_fn(value), name)
        if keep_going.is_symbolic:       # the condition reads traced values: the loop is a node from here
            break
        if not bool(keep_going):
            return value
        new = body_fn(value)
        check_carry(name, new, value)
        value = new
    leaves, treedef = flatten(value, is_leaf)
    carry = [as_tensor(leaf) for leaf in leaves]
    start = unflatten(treedef, carry)
    arguments = [(f"carry{i}", t.type) for i, t in enumerate(carry)]
    captured: list = []
    condition = _Region("cond", lambda *xs: _as_predicate(cond_fn(unflatten(treedef, xs)), name), arguments, captured)
    body = _Region("body", lambda *xs: body_fn(unflatten(treedef, xs)), arguments, captured)
    check_carry(name, body.outputs, start)
    results = bind_control("while", carry + _captured_operands(captured),
                           {"cond": condition.graph([condition.outputs]),
                            "body": body.graph(flatten(body.outputs, is_leaf)[0])})
    return unflatten(treedef, results)


# -- fori_loop ------------------------------------------------------------------------------------------------
def fori_loop(lower, upper, body_fn, init, unroll: bool = False, name: str = "fori_loop"):
    """for i in range(lower, upper): val = body_fn(i, val); return val (init when lower >= upper).

    With int bounds (or tensors whose values are known when tracing) the trip count is static: unrolled
    into the graph when `unroll`, else one `scan` node whose carry holds i (an int64 tensor), so it is
    differentiable. A traced tensor bound makes it a `while` node (no gradient). Eagerly, and
    unrolled, i is a Python int."""
    lower, upper = _bound(name, "lower", lower), _bound(name, "upper", upper)

    def step(i, value):
        new = body_fn(i, value)
        check_carry(name, new, value)
        return new

    if isinstance(lower, int) and isinstance(upper, int):
        if unroll or not builds_node(init):
            value = init
            for i in range(lower, upper):
                value = step(i, value)
            return value
        if upper <= lower:
            return init
        (_, value), _ = scan(lambda carry, _: ((carry[0] + 1, step(*carry)), None),
                             (Tensor(np.int64(lower)), init), length=upper - lower, name=name)
        return value
    index_type = (upper if isinstance(upper, Tensor) else lower).dtype
    start, stop = (Tensor(np.asarray(b, index_type.np)) if isinstance(b, int) else ops.cast(b, dtype=index_type)
                   for b in (lower, upper))
    return while_loop(lambda carry: carry[0] < stop, lambda carry: (carry[0] + 1, step(*carry)), (start, init),
                      name=name)[1]


def _bound(name: str, which: str, value):
    """A loop bound: an int, or a traced integer tensor of one element (a concrete one is read)."""
    if isinstance(value, Tensor) and value.size == 1 and value.dtype in (int32, int64):
        return value.reshape(()) if value.is_symbolic else int(value.asnumpy().reshape(()))
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    shown = value.type if isinstance(value, Tensor) else repr(value)
    raise ArgumentError(f"{name}: {which}={shown} is not a valid bound; expected an int or an integer Tensor of one "
                        "element (convert with int(...) or ops.cast)")


# -- scan -------------------------------------------------------------------------------------------------------
def scan(fn, init, xs=None, length: int | None = None, reverse: bool = False, checkpoint: bool = False,
         name: str = "scan"):
    """JAX's scan: fn(carry, x) -> (carry, y) for each x along the leading axis of xs (a pytree of
    tensors, or None with `length` steps); returns (the last carry, the ys stacked along a new leading
    axis). reverse runs from the last step to the first (ys keep their step's index). checkpoint: the
    gradient recomputes each step's values from its saved carry instead of storing them all."""
    x_leaves, x_treedef = flatten(xs, is_leaf)
    x_leaves = [as_tensor(x) for x in x_leaves]
    length = _scan_length(name, x_leaves, length)
    steps = reversed(range(length)) if reverse else range(length)
    if not builds_node(init, xs):
        carry, ys = init, {}
        for step in steps:
            new, ys[step] = step_result(name, fn(carry, unflatten(x_treedef, [x[step] for x in x_leaves])))
            check_carry(name, new, carry)
            carry = new
        return carry, _stack_eager(name, fn, init, x_leaves, x_treedef, [ys[s] for s in range(length)])
    leaves, treedef = flatten(init, is_leaf)
    carry = [as_tensor(leaf) for leaf in leaves]
    start = unflatten(treedef, carry)
    arguments = [(f"carry{i}", t.type) for i, t in enumerate(carry)]
    arguments += [(f"x{i}", TensorType(x.shape[1:], x.dtype)) for i, x in enumerate(x_leaves)]
    captured: list = []
    body = _Region("body", lambda *args: fn(unflatten(treedef, args[:len(carry)]),
                                            unflatten(x_treedef, args[len(carry):])), arguments, captured)
    new_carry, y = step_result(name, body.outputs)
    check_carry(name, new_carry, start)
    y_leaves, y_treedef = flatten(y, is_leaf)
    results = bind_control("scan", carry + x_leaves + _captured_operands(captured),
                           {"body": body.graph(flatten(new_carry, is_leaf)[0] + y_leaves), "length": length,
                            "carried": len(carry), "scanned": len(x_leaves), "reverse": reverse,
                            "checkpoint": checkpoint})
    return unflatten(treedef, results[:len(carry)]), unflatten(y_treedef, results[len(carry):])


def _scan_length(name: str, xs: list[Tensor], length) -> int:
    sizes = {x.shape[0] if x.ndim else None for x in xs}
    if None in sizes or len(sizes) > 1:
        raise GraphcError(f"{name}: the scanned tensors must share their leading axis (one slice per step), got "
                          f"{', '.join(str(x.type) for x in xs)}")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 0):
        raise ArgumentError(f"{name}: length={length!r} is not valid; expected an int >= 0 or None")
    if sizes and length is not None and length != next(iter(sizes)):
        raise GraphcError(f"{name}: length={length} but xs has {next(iter(sizes))} steps along its leading axis; "
                          "give one or make them agree")
    if not sizes and length is None:
        raise ArgumentError(f"{name}: with no xs, give length (the number of steps)")
    return length if length is not None else next(iter(sizes))


def step_result(name: str, result) -> tuple:
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise GraphcError(f"{name}: the loop function must return a pair (carry, y), got {describe(result)}")
    return tuple(result)


def _stack_eager(name: str, fn, init, xs: list[Tensor], x_treedef, ys: list):
    """The ys of an eager scan, stacked per leaf. With no steps: empty tensors of the types fn's y
    would have, from tracing fn once on placeholders (it is not run)."""
    if ys:
        leaves = [flatten(y, is_leaf)[0] for y in ys]
        return unflatten(flatten(ys[0], is_leaf)[1], [ops.stack([as_tensor(step[i]) for step in leaves])
                                                        for i in range(len(leaves[0]))])
    trace = Trace(f"{name}_types")

    def placeholders(types: list[TensorType]) -> list[Tensor]:
        return [symbolic(trace.graph.add("input", (), {"name": f"in{i}", "index": i, "type": t}, t))
                for i, t in enumerate(types)]
    leaves, treedef = flatten(init, is_leaf)
    with tracing(trace):
        carry = unflatten(treedef, placeholders([as_tensor(leaf).type for leaf in leaves]))
        _, y = step_result(name, fn(carry, unflatten(x_treedef, placeholders([TensorType(x.shape[1:], x.dtype)
                                                                               for x in xs]))))
    y_leaves, y_treedef = flatten(y, is_leaf)
    return unflatten(y_treedef, [Tensor(np.zeros((0,) + as_tensor(leaf).shape, as_tensor(leaf).dtype.np))
                                 for leaf in y_leaves])
