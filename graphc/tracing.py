"""Tensor, the op binder, and tracing a Python function into a Graph.

A Tensor is either concrete (holds a NumPy array) or symbolic (names a node of the graph being
traced). The binder installed here runs each op call: while a trace is active every op records a
node (concrete tensors met on the way become `param` or `const` nodes); otherwise the op runs at
once through its NumPy reference. Shape rules run in both cases, so errors are the same.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from . import ops
from .errors import GraphcError, user_location
from .ir import Graph, Node
from .ops.core import OpError, set_binder
from .tensor_methods import TensorMethods
from .types import DType, TensorType, bool_, dtype_of, float32, promote_types, scalar_kind, type_of


class Tensor(TensorMethods):
    """A multi-dimensional array: concrete (NumPy-backed) or symbolic (a node while tracing).

    `Tensor(shape=..., dtype=..., init=One())` is lazy, as MindSpore's: the initializer fills it at
    `init_data()`, or at the first use of its values."""
    __array_priority__ = 100   # make ndarray + Tensor call Tensor.__radd__
    _init = None               # a lazy tensor's (initializer, type) until init_data() fills it

    def __init__(self, input_data=None, dtype=None, shape=None, init=None, *, _node: Node | None = None):
        self._node = _node
        if _node is not None:
            return
        if init is None and shape is None:
            self._data = _to_array(input_data, dtype)
            return
        if input_data is not None or init is None or shape is None or dtype is None:
            raise GraphcError("Tensor: give either input_data (and optionally dtype), or shape, dtype and init "
                              "together (a lazy tensor that init filled at init_data()), e.g. "
                              "Tensor(shape=(2, 3), dtype=graphc.float32, init=One())")
        if not callable(init):
            raise GraphcError(f"Tensor: init must be an Initializer such as One() or Normal(0.02), got {init!r}; "
                              "for a name use graphc.common.initializer.initializer(name, shape, dtype)")
        self._data, self._init = None, (init, TensorType(tuple(shape), dtype_of(dtype)))

    @staticmethod
    def from_numpy(array: np.ndarray) -> "Tensor":
        """A Tensor sharing `array`'s memory (writes to either show in both), as MindSpore's."""
        if not isinstance(array, np.ndarray):
            raise GraphcError(f"Tensor.from_numpy needs a numpy.ndarray, got {type(array).__name__}")
        dtype_of(array.dtype)                      # rejects unsupported dtypes with a clear message
        return wrap_array(array)

    def init_data(self) -> "Tensor":
        """Fill a lazy tensor from its initializer (a tensor that has values is returned as it is)."""
        if self._init is not None:
            init, tensor_type = self._init
            values = np.zeros(tensor_type.shape, np.float64)
            init(values)
            self._data, self._init = values.astype(tensor_type.dtype.np), None
        return self

    # -- introspection ----------------------------------------------------------------------
    @property
    def type(self) -> TensorType:
        if self._node is not None:
            return self._node.type
        return self._init[1] if self._init is not None else type_of(self._data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return self.type.size

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of all the elements."""
        return self.type.nbytes

    @property
    def strides(self) -> tuple[int, ...]:
        """Bytes to step along each axis, as MindSpore gives them: a tensor's elements are always
        stored row-major and contiguous (x.T is a new tensor), so they follow from shape and itemsize."""
        steps, step = [], self.itemsize
        for dim in reversed(self.shape):
            steps.append(step)
            step *= dim
        return tuple(reversed(steps))

    @property
    def is_symbolic(self) -> bool:
        return self._node is not None

    def asnumpy(self) -> np.ndarray:
        if self._node is not None:
            raise GraphcError(f"asnumpy() on a traced value ({self.type}): values exist only when the graph runs; "
                              "return the tensor from the function instead, or use PYNATIVE_MODE to inspect it")
        return self.init_data()._data

    numpy = asnumpy

    def __setitem__(self, index, value) -> None:
        """x[index] = value, in PYNATIVE mode: value (a number, array or Tensor, broadcast to the
        indexed part and converted to x's dtype) is written into x. Arrays or tensors that shared
        x's memory keep their old values (x gets new storage); a Parameter is written in place."""
        if self._node is not None or current_trace() is not None:
            raise GraphcError(f"item assignment x[{index!r}] = ... on a tensor {self.type} inside a traced "
                              "function: graphc's graphs do not write into tensors; compute the new tensor with "
                              "ops.select or ops.concat, and write a Parameter with ops.assign(param, new_value)")
        data, key = self.init_data()._data, _numpy_index(index)
        given = value.asnumpy() if isinstance(value, Tensor) else np.asarray(value)
        try:
            values = np.broadcast_to(given, data[key].shape).astype(data.dtype)
        except (IndexError, ValueError) as e:
            raise GraphcError(f"item assignment x[{index!r}] = value: a tensor {self.type} cannot take a value of "
                              f"shape {list(given.shape)} there ({e}); index within the shape and give a value "
                              "that broadcasts to the indexed part") from None
        self._write(key, values)

    def _write(self, key, values: np.ndarray) -> None:
        data = self._data.copy()
        data[key] = values
        self._data = data

    def __repr__(self) -> str:
        """MindSpore's repr, which printing a tuple or list of tensors shows."""
        head = f"Tensor(shape={list(self.shape)}, dtype={self.dtype}"
        if self._node is not None:
            return f"{head}, traced %{self._node.id})"
        if self._init is not None:
            return f"{head}, value=<uninitialized>)"
        return f"{head}, value={_ms_value_text(self._data)})"

    def __str__(self) -> str:
        if self._node is not None or self._init is not None:
            return repr(self)
        return str(self._data)

    def __bool__(self):
        if self._node is not None:
            raise GraphcError(f"a traced value ({self.type}, from op '{self._node.op}') is used as a Python bool: "
                              "graphc compiles Python's if, while and for on tensor values in a Cell's construct, in "
                              "@graphc.jit functions and in the functions they call, but not in lambdas, library code "
                              "or code whose source it cannot read. Write it as a def there, or use ops.select(cond, "
                              "a, b) or graphc.control_flow.cond(pred, true_fn, false_fn, *operands) to choose, "
                              "ops.WhileLoop, ops.ForiLoop or ops.Scan to loop, or make the condition a Python value "
                              "outside the graph")
        if self.size != 1:
            raise GraphcError(f"a tensor of {self.size} elements ({self.type}) is used as a Python bool, which is "
                              "ambiguous; reduce it first (x.all(), x.any()) or index one element")
        return bool(self.asnumpy())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """An integer tensor of one element as a Python int (range(n), an index), as MindSpore's."""
        if self._node is not None:
            raise GraphcError(f"a traced value ({self.type}, from op '{self._node.op}') is used as a Python int: its "
                              "value is not known when tracing. `for i in range(n)` over a tensor n compiles to a "
                              "loop in a Cell's construct or a @jit function; elsewhere use ops.ForiLoop")
        if self.size != 1 or not np.issubdtype(self.dtype.np, np.integer):
            raise TypeError(f"only an integer tensor of one element can be used as an index or a count, "
                            f"got {self.type}")
        return int(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError(f"len() of a 0-d tensor ({self.type}) is not defined; it has no first axis")
        return self.shape[0]

    def __iter__(self):
        # the length is static, so a loop over a traced tensor unrolls (getitem raises no IndexError to stop it)
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        return self.asnumpy() if dtype is None else self.asnumpy().astype(dtype)

    def __hash__(self):
        return id(self)

    # -- values (eager only) and copies; the other methods are in tensor_methods.py ---------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise GraphcError(f"item() needs a tensor of one element, got {self.type}; index it first (x[i].item())")
        return self.asnumpy().reshape(()).item()

    def copy(self):
        """A tensor with the same value. While tracing, values are immutable, so it is an identity
        node (the gradient flows through it); eagerly, a copy of the data."""
        if current_trace() is not None:
            return ops.reshape(self, shape=self.shape)
        return wrap_array(self.asnumpy().copy())


def _ms_value_text(array: np.ndarray) -> str:
    """The value as MindSpore's repr spells it: a 0-d value as C++ streams it (%g), an array with ', '
    between elements, floats as %.8e right-aligned to a common width, more than 1000 elements elided
    with ' ...', a line break before an array of two or more axes and none between its blocks."""
    if array.ndim == 0:
        return f" {array.item():g}" if array.dtype.kind == "f" else f" {array.item()}"
    width = max((len(f"{x: .8e}") for x in array.flat if np.isfinite(x)), default=3) if array.dtype.kind == "f" else 0
    text = "" if array.size == 0 else np.array2string(
        array, separator=", ", max_line_width=1 << 30, threshold=1000,
        formatter={"float_kind": lambda x: (f"{x: .8e}" if np.isfinite(x) else str(x)).rjust(width)})
    text = re.sub(r"\n\n+", "\n", text.replace(", ...,", " ..."))       # no blank line between blocks
    return ("\n" if array.ndim > 1 else " ") + text


def tensor(input_data=None, dtype=None, shape=None, init=None) -> Tensor:
    """MindSpore 2.x's lowercase constructor: the same as Tensor(...)."""
    return Tensor(input_data, dtype, shape, init)


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.asnumpy()
    if data is None:
        raise TypeError("Tensor() needs input data (an array, a number or a nested list), or shape, dtype and init")
    array = np.asarray(data)
    if dtype is not None:
        array = array.astype(dtype_of(dtype).np)
    elif array.dtype == np.float64 and not isinstance(data, np.ndarray):
        array = array.astype(np.float32)          # Python floats default to float32, as in MindSpore
    elif array.dtype.kind in "iu" and not isinstance(data, np.ndarray):
        array = array.astype(np.int64)
    dtype_of(array.dtype)                          # rejects unsupported dtypes with a clear message
    return array


# -- tracing --------------------------------------------------------------------------------------
# Per thread (and per asyncio task): while one thread traces, eager ops in another run eagerly.
_scopes: ContextVar[tuple[str, ...]] = ContextVar("graphc_scopes", default=())   # Cells being called, innermost last
_traces: ContextVar[tuple["Trace", ...]] = ContextVar("graphc_traces", default=())


def current_scope() -> str:
    scopes = _scopes.get()
    return scopes[-1] if scopes else ""


class Trace:
    """The graph being built, plus how concrete values map onto its nodes."""

    def __init__(self, name: str = "main", graph: Graph | None = None):
        self.graph = graph if graph is not None else Graph(name)
        self.grad_of: Node | None = None          # while differentiating: the forward node
        self.params: dict[str, object] = {}       # param name -> Parameter bound to it
        self._lifted: dict[int, Node] = {}        # id(concrete Tensor) -> its param/const node
        self._keepalive: list[Tensor] = []        # lifted tensors, so their ids stay unique

    def add(self, op: str, inputs, attrs, type) -> Node:
        if self.grad_of is None:
            return self.graph.add(op, inputs, attrs, type, scope=current_scope(), loc=user_location())
        forward = self.grad_of
        return self.graph.add(op, inputs, attrs, type, scope=f"Gradients/{forward.scope}".rstrip("/"),
                              loc=forward.loc, meta={"grad_of": forward.id})

    def node_of(self, tensor: Tensor) -> Node:
        """The node a tensor stands for in this trace (a concrete one is lifted first, and a traced value
        of an enclosing trace captured, see RegionTrace)."""
        node = tensor._node
        if node is None:
            return self.lift(tensor)
        return node if self.graph.nodes.get(node.id) is node else self.capture(tensor)

    def capture(self, tensor: Tensor) -> Node:
        raise GraphcError(f"an operand ({tensor.type}) is a traced value from another trace, e.g. one kept in a "
                          "global or an attribute by an earlier call; return values from the traced function "
                          "instead of storing them")

    def lift(self, tensor: Tensor) -> Node:
        """The node standing for a concrete tensor: a `param` node for a Parameter, else a `const`."""
        node = self._lifted.get(id(tensor))
        if node is not None:
            return node
        name = getattr(tensor, "name", None)
        if getattr(tensor, "is_parameter", False):
            other = self.params.get(name)
            if other is not None and other is not tensor:
                raise GraphcError(f"two different Parameters are both named {name!r}; give each a unique name")
            self.params[name] = tensor
            node = self.add("param", (), {"name": name, "type": tensor.type}, tensor.type)
        else:
            node = self.add("const", (), ops.const.check_attrs({"value": tensor.asnumpy()}), tensor.type)
        self._lifted[id(tensor)] = node
        self._keepalive.append(tensor)
        return node


class RegionTrace(Trace):
    """The body of a control-flow region, traced inside the trace that will hold the node. The body
    is closed (docs/ir.md): a Parameter, or a traced value of an enclosing trace, that the body reads
    becomes one more input of the body (after its arguments), standing for the outer value listed in
    `captured` as (outer node, input name). Sibling regions of one node (a cond's branches) share
    that list, so that one outer value is one operand of the node, at one input index in every region."""

    def __init__(self, name: str, parent: Trace, arguments: int, captured: list[tuple[Node, str]]):
        super().__init__(name)
        self.parent, self.arguments, self.captured = parent, arguments, captured
        self._inputs: dict[int, Node] = {}        # outer node id -> this body's input standing for it

    def input(self, name: str, index: int, type: TensorType) -> Node:
        return self.graph.add("input", (), {"name": name, "index": index, "type": type}, type)

    def lift(self, tensor: Tensor) -> Node:
        if getattr(tensor, "is_parameter", False):
            return self._capture(self.parent.node_of(tensor), tensor.name)
        return super().lift(tensor)

    def capture(self, tensor: Tensor) -> Node:
        return self._capture(self.parent.node_of(tensor), f"captured{len(self.captured)}")

    def _capture(self, outer: Node, name: str) -> Node:
        if outer.id not in self._inputs:
            position = next((i for i, (node, _) in enumerate(self.captured) if node is outer), None)
            if position is None:
                position = len(self.captured)
                self.captured.append((outer, name))
            self._inputs[outer.id] = self.input(self.captured[position][1], self.arguments + position, outer.type)
        return self._inputs[outer.id]

    def close(self) -> Graph:
        """The body, with an input for every value its siblings captured too (unused here)."""
        for outer, name in list(self.captured):
            self._capture(outer, name)
        return self.graph


def current_trace() -> Trace | None:
    traces = _traces.get()
    return traces[-1] if traces else None


class tracing:
    """Context manager: while active, op calls in this thread record nodes into `trace.graph`."""

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self) -> Trace:
        self._token = _traces.set(_traces.get() + (self.trace,))
        return self.trace

    def __exit__(self, *exc):
        _traces.reset(self._token)


class scope:
    """Context manager naming the nodes recorded inside it (e.g. 'backbone.conv1')."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self._token = _scopes.set(_scopes.get() + (self.name,))

    def __exit__(self, *exc):
        _scopes.reset(self._token)


def symbolic(node: Node) -> Tensor:
    return Tensor(_node=node)


# -- graph mode --------------------------------------------------------------------------------------
def _no_graph_functions(fn, name, owner=None, backend=None):
    raise RuntimeError("graphc.jit is not imported; import graphc first")


_graph_function = _no_graph_functions


def graph_function(fn, name: str, owner=None, backend: str | None = None):
    """fn traced and compiled once per input signature (graphc.jit.JitFunction), for a Cell in
    GRAPH_MODE and for grad outside a trace. The driver installs the factory (set_graph_function),
    as this module installs the ops' binder: the frontend never imports the layer above it."""
    return _graph_function(fn, name, owner=owner, backend=backend)


def set_graph_function(factory) -> None:
    global _graph_function
    _graph_function = factory


# -- the binder ------------------------------------------------------------------------------------
_SCALARS = (bool, int, float, np.number, np.bool_)


def _operand_tensors(op, operands) -> list[Tensor]:
    """Tensors for the operands; Python numbers and arrays take the dtype of a tensor operand."""
    # a bool operand (select's condition) never lends its dtype: select(c, ct, 0.0) takes ct's
    like = next((o.dtype for o in operands if isinstance(o, Tensor) and o.dtype != bool_), None)
    result = []
    for position, operand in enumerate(operands):
        if isinstance(operand, Tensor):
            result.append(operand)
        elif isinstance(operand, _SCALARS + (np.ndarray, list, tuple)):
            weak = like if like is not None and not isinstance(operand, (np.ndarray, bool, np.bool_)) else None
            result.append(Tensor(operand, dtype=weak))
        else:
            name = op.operands[position] if position < len(op.operands) else position
            raise GraphcError(f"{op.name}: operand {name!r} is a {type(operand).__name__}, not a Tensor; "
                              "wrap it with graphc.Tensor(...)")
    return result


_assign_condition: ContextVar["Tensor | None"] = ContextVar("graphc_assign_condition", default=None)


@contextmanager
def assigns_only_if(condition: "Tensor"):
    """Inside, each assign writes its value where `condition` (a bool scalar) holds and keeps the
    target's value otherwise: a step that skips an update (MindSpore's `if not overflow:
    optimizer(grads)`) as one graph without a branch. Each target is written at most once per
    step, so the target read here is its value before the step, in both modes."""
    token = _assign_condition.set(condition)
    try:
        yield
    finally:
        _assign_condition.reset(token)


@dataclass(frozen=True)
class Precision:
    """What a Cell computes in under mixed precision (graphc.nn.amp): each op called inside it takes
    its float operands cast to `dtype` (Parameters stay float32: their casts are in the graph, so
    their gradients come back float32); with `ops` (amp's O1 white list of op names), only those
    ops do, and their results are cast back to float32. Only float32 and half values are cast: a
    float64 or an int one stays."""
    dtype: DType
    ops: frozenset | None = None
    float32_output: bool = False       # the Cell's output is cast to float32 (amp's O1 white-list cells)

    def applies_to(self, op) -> bool:
        return not op.impure and op.name not in ("cast", "grad") and (self.ops is None or op.name in self.ops)

    def cast(self, operand):
        castable = isinstance(operand, Tensor) and (operand.dtype.is_half or operand.dtype == float32)
        return ops.cast(operand, dtype=self.dtype) if castable and operand.dtype != self.dtype else operand


def float32_outputs(out):
    """A Cell's output (a Tensor or a tuple of them) with its half values cast to float32."""
    if isinstance(out, tuple):
        return tuple(float32_outputs(o) for o in out)
    return ops.cast(out, dtype=float32) if isinstance(out, Tensor) and out.dtype.is_half else out


_precision: ContextVar["Precision | None"] = ContextVar("graphc_precision", default=None)


@contextmanager
def computed_in(precision: "Precision | None"):
    """Ops called inside compute as `precision` says (None: as the enclosing one says)."""
    token = _precision.set(precision or _precision.get())
    try:
        yield
    finally:
        _precision.reset(token)


def _promoted(op, operands) -> list:
    """The operands with those of `op.promote` brought to one dtype, as MindSpore's implicit type
    promotion does: tensors of another dtype are cast (a node while tracing), Python scalars are
    made tensors of it. float64 Parameter * float32 input computes in float64."""
    positions = [p for p in op.promote if p < len(operands)]
    strong = [dtype_of(operands[p].dtype) for p in positions if isinstance(operands[p], (Tensor, np.ndarray))]
    weak = [scalar_kind(operands[p]) for p in positions if isinstance(operands[p], _SCALARS)]
    common = promote_types(strong, weak)
    if op.promote_float and not common.is_float:
        common = float32
    result = list(operands)
    for p in positions:
        operand = operands[p]
        if isinstance(operand, Tensor):
            result[p] = operand if operand.dtype == common else ops.cast(operand, dtype=common)
        elif isinstance(operand, _SCALARS + (np.ndarray, list, tuple)):
            result[p] = Tensor(operand, dtype=common)
    return result


def bind(op, operands, attrs):
    precision = _precision.get()
    if precision is None or not precision.applies_to(op):
        return _bind(op, operands, attrs)
    result = _bind(op, [precision.cast(o) for o in operands], attrs)
    return float32_outputs(result) if precision.ops is not None else result


def _bind(op, operands, attrs):
    if op.impure and _assign_condition.get() is not None:
        target, value = operands
        operands = (target, ops.select(_assign_condition.get(), value, target))
    tensors = _operand_tensors(op, _promoted(op, operands) if op.promote else operands)
    trace = current_trace()
    types = [t.type for t in tensors]
    try:
        attrs = op.check_attrs(attrs)
        out_type = op.infer_type(types, attrs)
    except OpError as error:
        where = f" in {current_scope()}" if current_scope() else ""
        shapes = ", ".join(map(str, types)) or "no operands"
        raise GraphcError(f"{op.name}{where}: {error} (operands: {shapes})") from None
    if trace is None:
        result = op.run([t.asnumpy() for t in tensors], attrs, out_type)
        if op.impure:
            _target_parameter(op, tensors[0]).set_data(result)
        return wrap_array(result)
    if op.impure and isinstance(trace, RegionTrace):
        raise GraphcError(f"{op.name} inside a loop or branch on a tensor: a compiled loop or branch is one graph node "
                          "without side effects, so it cannot assign a Parameter; carry the new value out of the "
                          "loop and assign it after")
    nodes = [trace.node_of(t) for t in tensors]
    if op.impure and nodes[0].op != "param":
        _target_parameter(op, tensors[0])
    return symbolic(trace.add(op.name, nodes, attrs, out_type))


def _target_parameter(op, target):
    if not getattr(target, "is_parameter", False):
        raise GraphcError(f"{op.name}: the target must be a Parameter, got {target.type} "
                          f"({'a traced value' if target.is_symbolic else 'a Tensor'}); assign to a Cell's Parameter")
    return target


def _numpy_index(index):
    """index with its Tensors (int or bool indexes) as NumPy arrays."""
    if isinstance(index, tuple):
        return tuple(_numpy_index(item) for item in index)
    return index.asnumpy() if isinstance(index, Tensor) else index


def wrap_array(array: np.ndarray) -> Tensor:
    """A concrete Tensor on `array` as it is (no copy, no dtype check: the caller made it)."""
    tensor = Tensor.__new__(Tensor)
    tensor._node, tensor._data = None, array
    return tensor


set_binder(bind, lambda: current_trace() is not None)
