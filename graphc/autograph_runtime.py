"""What Python `if`, `while` and `for` statements rewritten by graphc/autograph.py call while tracing.

Each helper decides when it runs: a condition or iterable that is a Python value (or a concrete
tensor) runs the statement as Python would, so a loop over Python values unrolls; a traced tensor makes
it a `cond`, `while` or `scan` node (graphc/control_flow.py) whose operands and results are the
variables the statement assigns. A statement's body is a function of those variables that returns
them; a variable with no value yet is an `Undefined`. Errors name the user's line (the statement's),
the variable and the fix.
"""
from __future__ import annotations

from .control_flow import cond, describe, fori_loop, same_type, scan, while_loop
from .errors import GraphcError
from .tracing import Tensor

__all__ = ["CarryError", "Undefined", "for_stmt", "if_exp", "if_stmt", "python_iter", "python_test", "range_", "values",
           "while_stmt"]


class Undefined:
    """The value of a variable the statement assigns but that has none yet."""

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Undefined) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"<{self.name}: not assigned yet>"


def values(local_values: dict, names: tuple) -> tuple:
    """The current values of `names` (locals() of the user's function), Undefined for unassigned ones."""
    return tuple(local_values.get(name, Undefined(name)) for name in names)


def _traced(value) -> bool:
    return isinstance(value, Tensor) and value.is_symbolic


def _refuse_side_effects(statement: str, effects: tuple) -> None:
    if effects:
        raise GraphcError(f"{statement} on a tensor has `{effects[0]}` in its body: a compiled branch or loop is one "
                          "graph node without side effects, so it can neither set an attribute or a Parameter nor "
                          "grow a Python list. Compute the value in a local variable and assign it after the "
                          "statement (ops.assign(parameter, value) for a Parameter)")


class CarryError(GraphcError):
    """A variable cannot be carried by a compiled loop: it changes type in a trip, or it is first
    assigned in the body and used after the loop."""


# -- if -------------------------------------------------------------------------------------------------------
def if_stmt(test, true_fn, false_fn, args: tuple, names: tuple, outputs: tuple, effects: tuple) -> tuple:
    """`if test:` over the variables `names` (their values `args`); the branches return `outputs`."""
    if not _traced(test):
        return (true_fn if test else false_fn)(*args)
    _refuse_side_effects("an `if`", effects)
    results = []

    def branch(fn):
        def traced(*xs):
            results.append(fn(*xs))
            if len(results) == 2:
                _check_branches(outputs, *results)
            return results[-1]
        return traced
    return cond(test, branch(true_fn), branch(false_fn), *args, name="if")


def if_exp(test, true_fn, false_fn):
    """`a if test else b`, each side a function of nothing."""
    return cond(test, true_fn, false_fn, name="if") if _traced(test) else (true_fn if test else false_fn)()


def _check_branches(names: tuple, then_values: tuple, else_values: tuple) -> None:
    for name, a, b in zip(names, then_values, else_values):
        if isinstance(a, Undefined) != isinstance(b, Undefined):
            which = "else" if isinstance(a, Undefined) else "if"
            raise GraphcError(f"`{name}` is assigned only in the {which} branch of an `if` on a tensor and used after "
                              "it: both branches of a compiled `if` must give it a value (assign it in the other "
                              "branch too, or before the `if`)")
        if not same_type(a, b):
            raise GraphcError(f"`{name}` is {describe(a)} after the if branch but {describe(b)} after the else branch "
                              "of an `if` on a tensor: both branches must give it the same type (structure, dtype "
                              "and shape); cast or reshape in one branch")


# -- loops ------------------------------------------------------------------------------------------------------
class _Carry:
    """The variables a loop node carries: those with a value when the loop starts. One first assigned
    in the body stays local to the body, unless it is used after the loop (then it needs a value before)."""

    def __init__(self, statement: str, args: tuple, names: tuple, live: tuple):
        for name, value in zip(names, args):
            if isinstance(value, Undefined) and name in live:
                raise CarryError(f"`{name}` is first assigned inside {statement} on a tensor and used after it: "
                                  "give it a value of the type the loop gives it before the loop")
        self.statement, self.args, self.names = statement, args, names
        self.kept = [i for i, value in enumerate(args) if not isinstance(value, Undefined)]

    def start(self) -> tuple:
        return tuple(self.args[i] for i in self.kept)

    def full(self, carry: tuple) -> tuple:
        """Every variable of the body, from the carried ones."""
        full = list(self.args)
        for i, value in zip(self.kept, carry):
            full[i] = value
        return tuple(full)

    def step(self, carry: tuple, new: tuple) -> tuple:
        """The carried variables after one trip, each checked to keep its type."""
        result = tuple(new[i] for i in self.kept)
        for i, before, after in zip(self.kept, carry, result):
            if not same_type(before, after):
                raise CarryError(f"`{self.names[i]}` enters {self.statement} on a tensor as {describe(before)} but "
                                  f"is {describe(after)} after a trip: a compiled loop keeps the type of each variable "
                                  "it carries (structure, dtype and shape); give it the loop's type before the loop "
                                  "(e.g. a float 0.0 or a Tensor), or cast inside")
        return result


def while_stmt(test_fn, body_fn, args: tuple, names: tuple, live: tuple, effects: tuple) -> tuple:
    """`while test:` over the variables `names`: Python's loop while the condition is a Python value,
    a `while` node from the first trip where it is a traced tensor."""
    while True:
        keep_going = test_fn(*args)
        if _traced(keep_going):
            break
        if not keep_going:
            return args
        args = body_fn(*args)
    _refuse_side_effects("a `while` loop", effects)
    carry = _Carry("a `while` loop", args, names, live)
    end = while_loop(lambda c: test_fn(*carry.full(c)), lambda c: carry.step(c, body_fn(*carry.full(c))),
                     carry.start(), name="while")
    return carry.full(end)


class SymbolicRange:
    """range(start, stop) where a bound is a traced tensor: a `for` over it is a fori_loop."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop


def range_(*bounds):
    """range(...) in a `for` statement: Python's range, unless a bound is a traced tensor (then the loop
    is a node); a concrete tensor bound is read as an int."""
    if not any(_traced(b) for b in bounds):
        return range(*(int(b) if isinstance(b, Tensor) else b for b in bounds))
    if len(bounds) == 3 and not (isinstance(bounds[2], int) and bounds[2] == 1):
        raise GraphcError(f"range(start, stop, step) with a traced bound must have step 1, got step={bounds[2]!r}: "
                          "loop over range(n) and compute start + i * step inside")
    start, stop = (0, bounds[0]) if len(bounds) == 1 else bounds[:2]
    return SymbolicRange(start, stop)


def for_stmt(iterable, body_fn, args: tuple, names: tuple, live: tuple, effects: tuple) -> tuple:
    """`for target in iterable:` over the variables `names`. range() with a traced bound is a
    fori_loop (a `while` node: its trip count is a value); a traced tensor is a scan along its leading
    axis, unless the body has side effects or a variable cannot be carried (CarryError: a Python 0.0
    that becomes a row): then, its trip count being static, it unrolls. Anything else is Python's loop."""
    if isinstance(iterable, SymbolicRange):
        _refuse_side_effects("a `for` loop", effects)
        carry = _Carry("a `for` loop", args, names, live)
        end = fori_loop(iterable.start, iterable.stop, lambda i, c: carry.step(c, body_fn(i, *carry.full(c))),
                        carry.start(), name="for")
        return carry.full(end)
    if _traced(iterable) and not effects:
        try:
            carry = _Carry("a `for` loop", args, names, live)
            end, _ = scan(lambda c, x: (carry.step(c, body_fn(x, *carry.full(c))), None), carry.start(),
                          xs=iterable, name="for")
            return carry.full(end)
        except CarryError:
            pass
    for item in iterable:
        args = body_fn(item, *args)
    return args


# -- statements left to Python (their bodies return, break or continue) ------------------------------------------
_FIXES = {
    "return": "assign the result to a variable in every branch and return it after the statement",
    "break": "fold the condition of the break into the loop's condition (while i < n and not done: ...)",
    "continue": "put the rest of the loop body under an `if`/`else` instead",
}


def python_test(test, statement: str, jump: str):
    """The condition of an `if` or `while` whose body has `jump`: it must be a Python value."""
    if _traced(test):
        raise GraphcError(f"this `{statement}` has a condition that is a tensor ({test.type}) and a `{jump}` in its "
                          f"body, which a compiled `{statement}` cannot express: {_FIXES[jump]}")
    return test


def python_iter(iterable, jump: str):
    """The iterable of a `for` whose body has `jump`: its trip count must be known when tracing."""
    if isinstance(iterable, SymbolicRange):
        raise GraphcError(f"this `for` loop runs over a range with a traced bound and has a `{jump}` in its body, "
                          f"which a compiled loop cannot express: {_FIXES[jump]}")
    return iterable
