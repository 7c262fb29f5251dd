"""Python control flow over tensors in GRAPH_MODE: a source transformation of the user's function (a
Cell's construct, a @jit function), in the manner of TensorFlow's AutoGraph and MindSpore's parser.

`convert(fn)` parses fn's source and rewrites each `if`, `while` and `for` statement into a call of a
helper of graphc/autograph_runtime.py, which decides while tracing: a Python condition or iterable
keeps Python's meaning (a loop over Python values unrolls), a traced tensor makes the statement a
`cond`, `while` or `scan` node. Each statement becomes functions of the variables it assigns:

    if x.sum() > 0:                    def if_true(y): y = x * 2; return (y,)
        y = x * 2            ->        def if_false(y): y = -x; return (y,)
    else:                              (y,) = ag__.if_stmt(x.sum() > 0, if_true, if_false,
        y = -x                                             ag__.values(locals(), ('y',)), ...)

The statement's outputs are the variables it assigns that are read later (a conservative liveness:
read anywhere after it, or anywhere in an enclosing loop). A statement whose body returns, breaks or
continues stays Python's, and its condition must be a Python value (ag__.python_test says what to
change otherwise). The new code keeps the user's file and line numbers, so errors point there; it
runs with fn's globals and fn's own closure cells. Library code, lambdas, generators and functions
declaring `global`/`nonlocal`, or whose source is unavailable, run as they are (a tensor condition
there raises at Tensor.__bool__).
"""
from __future__ import annotations

import ast
import inspect
import os
import sysconfig
import textwrap
import types
import weakref

from . import autograph_runtime
from .errors import is_library_file

__all__ = ["convert"]

_CONVERTED: "weakref.WeakKeyDictionary[types.CodeType, types.CodeType | None]" = weakref.WeakKeyDictionary()
_PRODUCED: "weakref.WeakSet[types.CodeType]" = weakref.WeakSet()     # the code convert made, nested code included
_RUNTIME, _CALL = "ag__", "ag__call"
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)
_GROWING = ("append", "extend", "insert")      # list methods a loop body may grow an outer list with


def convert(fn):
    """fn with its `if`, `while` and `for` statements rewritten (fn itself where that does not apply)."""
    if isinstance(fn, types.MethodType):
        function = convert(fn.__func__)
        return fn if function is fn.__func__ else types.MethodType(function, fn.__self__)
    if not isinstance(fn, types.FunctionType) or fn.__code__ in _PRODUCED:
        return fn
    code = fn.__code__
    if code not in _CONVERTED:
        _CONVERTED[code] = _convert_code(fn)
    new_code = _CONVERTED[code]
    if new_code is None:
        return fn
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    cells[_RUNTIME], cells[_CALL] = types.CellType(autograph_runtime), types.CellType(_converted)
    if any(name not in cells for name in new_code.co_freevars):   # the source read is not this code's
        _CONVERTED[code] = None
        return fn
    function = types.FunctionType(new_code, fn.__globals__, fn.__name__, fn.__defaults__,
                                  tuple(cells[name] for name in new_code.co_freevars))
    function.__kwdefaults__, function.__qualname__ = fn.__kwdefaults__, fn.__qualname__
    return function


def _converted(fn):
    """What a call in converted code calls: a user's function converted too, anything else as it is."""
    return convert(fn) if isinstance(fn, (types.FunctionType, types.MethodType)) else fn


def _installed(filename: str) -> bool:
    """graphc's own code, the standard library and installed packages: never the user's to convert."""
    path = os.path.abspath(filename)
    return is_library_file(filename) or any(path.startswith(root) for root in _INSTALLED)


_INSTALLED = tuple({os.path.abspath(sysconfig.get_paths()[key]) + os.sep for key in ("stdlib", "purelib", "platlib")})


def _convert_code(fn) -> types.CodeType | None:
    if (fn.__name__ == "<lambda>" or _installed(fn.__code__.co_filename) or inspect.isgeneratorfunction(fn)
            or inspect.iscoroutinefunction(fn) or hasattr(fn, "__wrapped__")):   # getsource would read the wrapped
        return None
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef) or definition.name != fn.__code__.co_name \
            or any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in ast.walk(definition)):
        return None
    ast.increment_lineno(tree, fn.__code__.co_firstlineno - 1)
    definition.decorator_list = []
    definition.body = _Rewriter().block(definition.body, set())
    _Expressions().visit(definition)
    # a factory whose parameters are fn's free variables, so the new function closes over the same names
    factory = ast.parse(f"def ag__factory({', '.join((_RUNTIME, _CALL) + fn.__code__.co_freevars)}): pass").body[0]
    factory.body = [definition, ast.Return(ast.Name(definition.name, ast.Load()))]
    module = ast.fix_missing_locations(ast.Module([factory], []))
    code = compile(module, fn.__code__.co_filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    new_code = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == definition.name)
    _remember(new_code)
    return new_code


def _remember(code: types.CodeType) -> None:
    _PRODUCED.add(code)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _remember(constant)


class _Expressions(ast.NodeTransformer):
    """f(...) -> ag__call(f)(...), so the user's functions that converted code calls are converted too
    (the calls the rewriting added, to ag__ and locals(), stay as they are); `a if test else b` ->
    ag__.if_exp(test, lambda: a, lambda: b)."""

    def visit_IfExp(self, node: ast.IfExp) -> ast.Call:
        self.generic_visit(node)
        no_arguments = ast.arguments([], [], None, [], [], None, [])
        return ast.copy_location(_call("if_exp", node.test, ast.Lambda(no_arguments, node.body),
                                       ast.Lambda(no_arguments, node.orelse)), node)

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        func = node.func
        if not (isinstance(func, ast.Name) and func.id == "locals" or isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name) and func.value.id == _RUNTIME):
            node.func = ast.copy_location(ast.Call(ast.Name(_CALL, ast.Load()), [func], []), func)
        return node


# -- what statements read, assign and jump to ------------------------------------------------------------------
def _walk_scope(nodes):
    """The nodes under `nodes`, not entering nested functions, classes or comprehensions (their own scopes)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _reads(nodes) -> set[str]:
    """Every name read under `nodes`, nested scopes included (a closure reads its enclosing variables)."""
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _assigned(nodes) -> list[str]:
    """The local variables `nodes` bind or change (x = ..., x += ..., x[i] = ..., for x in, def x), in order."""
    names: dict[str, None] = {}
    for node in _walk_scope(nodes):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = None
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            names[node.value.id] = None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = None
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name.split(".")[0], None) for alias in node.names)
    return sorted(names)


def _side_effects(nodes) -> list[str]:
    """What `nodes` change outside their variables, as written: attributes they set (self.w = ...) and
    lists they grow (outputs.append(...))."""
    effects = []
    for node in _walk_scope(nodes):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            effects.append(f"{ast.unparse(node)} = ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _GROWING:
            effects.append(f"{ast.unparse(node.func)}(...)")
    return effects


def _jump(nodes, in_loop: bool = False) -> str | None:
    """The first return (or, outside an inner loop, break or continue) under `nodes`."""
    for node in nodes:
        if isinstance(node, ast.Return) or (not in_loop and isinstance(node, (ast.Break, ast.Continue))):
            return type(node).__name__.lower()
        if isinstance(node, _SCOPES):
            continue
        found = _jump(ast.iter_child_nodes(node), in_loop or isinstance(node, (ast.For, ast.While)))
        if found:
            return found
    return None


# -- the rewriting --------------------------------------------------------------------------------------------------
def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Attribute(ast.Name(_RUNTIME, ast.Load()), function, ast.Load()), list(args), [])


def _names(names) -> ast.Tuple:
    return ast.Tuple([ast.Name(n, ast.Load()) for n in names], ast.Load())


def _strings(strings) -> ast.Tuple:
    return ast.Tuple([ast.Constant(s) for s in strings], ast.Load())


def _function(name: str, params: list[str], body: list[ast.stmt], result: ast.expr) -> ast.FunctionDef:
    arguments = ast.arguments([], [ast.arg(p) for p in params], None, [], [], None, [])
    return ast.FunctionDef(name, arguments, body + [ast.Return(result)], [], None)


class _Rewriter:
    def __init__(self):
        self.count = 0

    def block(self, statements: list[ast.stmt], live_after: set[str]) -> list[ast.stmt]:
        """The statements rewritten; `live_after`: the names read after the block."""
        rewritten = []
        for i, statement in enumerate(statements):
            live = live_after | _reads(statements[i + 1:])
            rewritten += [_located(new, statement) for new in self.statement(statement, live)]
        return rewritten

    def statement(self, node: ast.stmt, live: set[str]) -> list[ast.stmt]:
        if isinstance(node, ast.If):
            return self.if_(node, live)
        if isinstance(node, (ast.While, ast.For)):
            return self.loop(node, live)
        inner_live = set() if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else live | _reads([node])
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(node, field, None), list) and not isinstance(node, ast.ClassDef):
                setattr(node, field, self.block(getattr(node, field), inner_live))
        for handler in getattr(node, "handlers", []):
            handler.body = self.block(handler.body, inner_live)
        return [node]

    def name(self, what: str) -> str:
        self.count += 1
        return f"{_RUNTIME}{what}_{self.count}"

    def if_(self, node: ast.If, live: set[str]) -> list[ast.stmt]:
        jump = _jump(node.body + node.orelse)
        params = _assigned(node.body + node.orelse)
        effects = _strings(_side_effects(node.body + node.orelse))
        node.body, node.orelse = self.block(node.body, live), self.block(node.orelse, live)
        if jump:
            node.test = _call("python_test", node.test, ast.Constant("if"), ast.Constant(jump))
            return [node]
        outputs = [name for name in params if name in live]
        true_fn, false_fn = self.name("if_true"), self.name("if_false")
        call = _call("if_stmt", node.test, ast.Name(true_fn, ast.Load()), ast.Name(false_fn, ast.Load()),
                     _call("values", ast.Call(ast.Name("locals", ast.Load()), [], []), _strings(params)),
                     _strings(params), _strings(outputs), effects)
        return [_function(true_fn, params, node.body, _names(outputs)),
                _function(false_fn, params, node.orelse, _names(outputs)), _assign(outputs, call)]

    def loop(self, node: ast.While | ast.For, live: set[str]) -> list[ast.stmt]:
        jump = _jump(node.body)
        is_for = isinstance(node, ast.For)
        params = _assigned(node.body + ([node.target] if is_for else []))
        effects = _strings(_side_effects(node.body))
        node.body = self.block(node.body, live | _reads([node]))
        node.orelse = self.block(node.orelse, live)
        if is_for and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name) \
                and node.iter.func.id == "range" and not node.iter.keywords:
            node.iter = _call("range_", *node.iter.args)
        if jump:
            if is_for:
                node.iter = _call("python_iter", node.iter, ast.Constant(jump))
            else:
                node.test = _call("python_test", node.test, ast.Constant("while"), ast.Constant(jump))
            return [node]
        current = _call("values", ast.Call(ast.Name("locals", ast.Load()), [], []), _strings(params))
        live_params = _strings([name for name in params if name in live])
        body_fn = self.name("loop_body")
        if is_for:
            item = f"{_RUNTIME}item"
            body = [ast.Assign([node.target], ast.Name(item, ast.Load()))] + node.body
            call = _call("for_stmt", node.iter, ast.Name(body_fn, ast.Load()), current, _strings(params), live_params,
                         effects)
            functions = [_function(body_fn, [item] + params, body, _names(params))]
        else:
            test_fn = self.name("loop_test")
            call = _call("while_stmt", ast.Name(test_fn, ast.Load()), ast.Name(body_fn, ast.Load()), current,
                         _strings(params), live_params, effects)
            functions = [_function(test_fn, params, [], node.test),
                         _function(body_fn, params, node.body, _names(params))]
        # without a break, a loop's else always runs after it
        return functions + [_assign(params, call)] + node.orelse


def _located(new: ast.AST, statement: ast.stmt) -> ast.AST:
    """`new` with the code added for `statement` placed on its first line (the user's line in errors)."""
    for node in ast.walk(new):
        if "lineno" in node._attributes and getattr(node, "lineno", None) is None:
            node.lineno = node.end_lineno = statement.lineno
            node.col_offset, node.end_col_offset = statement.col_offset, statement.col_offset
    return new


def _assign(names: list[str], call: ast.Call) -> ast.stmt:
    if not names:
        return ast.Expr(call)
    return ast.Assign([ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())], call)
