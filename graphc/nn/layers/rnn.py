"""Recurrent layers with MindSpore 2.10's names, shapes, gate order and init: RNN, LSTM, GRU and
their cells.

A layer runs one `graphc.control_flow.scan` per layer and direction, so the graph holds each loop
once whatever the sequence length. Before the loop one matmul projects the input of every time
step for all gates (x·W_ihᵀ + b_ih); a step is then one matmul of h (h·W_hhᵀ + b_hh) and the
elementwise gates. Weights are [gates·hidden, in] with the gates stacked in MindSpore's (and
PyTorch's) order: LSTM i, f, g, o; GRU r, z, n. The default init is U(-1/√hidden, 1/√hidden).

`seq_length` ([batch] ints) masks the steps at and after each sequence's length, as PyTorch's
packed sequences: their outputs are 0 and the state stops changing, so h_n (and c_n) is the state at
the last valid step, and the reverse direction starts from hx there.
"""
from __future__ import annotations

import math

import numpy as np

from ... import ops
from ...control_flow import scan
from ...errors import ArgumentError, GraphcError
from ...tracing import Tensor
from ...types import float32, int32, int64
from ..cell import Cell
from ..init import Uniform, initializer
from ..parameter import Parameter
from .basic import Dropout
from .checks import check_tensor, input_error, layer_name

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_NONLINEARITY = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


def _step(mode: str, gates_x: Tensor, state, w_hh: Tensor, b_hh: Tensor | None):
    """One time step from gates_x = x·W_ihᵀ + b_ih: (the new state, the step's output h). The state
    is h, or (h, c) for an LSTM."""
    h = state[0] if mode == "LSTM" else state
    gates_h = ops.get("matmul")(h, w_hh, transpose_b=True)
    if b_hh is not None:
        gates_h = gates_h + b_hh
    hidden = h.shape[-1]
    if mode == "GRU":               # n = tanh(x_n + r·(h·W_hnᵀ + b_hn)): the reset gate scales h's part only
        x_r, x_z, x_n = ops.split(gates_x, hidden, axis=-1)
        h_r, h_z, h_n = ops.split(gates_h, hidden, axis=-1)
        reset, update = ops.sigmoid(x_r + h_r), ops.sigmoid(x_z + h_z)
        new = ops.tanh(x_n + reset * h_n)
        h = new + update * (h - new)
        return h, h
    gates = gates_x + gates_h
    if mode == "LSTM":
        i, f, g, o = ops.split(gates, hidden, axis=-1)
        c = ops.sigmoid(f) * state[1] + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return (h, c), h
    h = ops.tanh(gates) if mode == "RNN_TANH" else ops.relu(gates)
    return h, h


def _project(x: Tensor, w_ih: Tensor, b_ih: Tensor | None) -> Tensor:
    """x [..., in] · W_ihᵀ + b_ih as one matmul over all leading axes: [..., gates·hidden]."""
    flat = ops.reshape(x, shape=(-1, x.shape[-1]))
    gates = ops.get("matmul")(flat, w_ih, transpose_b=True)
    if b_ih is not None:
        gates = gates + b_ih
    return ops.reshape(gates, shape=x.shape[:-1] + (w_ih.shape[0],))


def _check_sizes(kind: str, input_size, hidden_size, has_bias) -> None:
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ArgumentError(f"{kind}: {name} must be an int >= 1, got {value!r}")
    if not isinstance(has_bias, bool):
        raise ArgumentError(f"{kind}: has_bias must be a bool, got {has_bias!r}")


def _state_tensors(cell, hx) -> tuple:
    """The Tensors of a state: (h,) or, for an LSTM, (h, c)."""
    if cell.mode != "LSTM":
        return (hx,)
    if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
        raise GraphcError(f"{layer_name(cell)}: hx must be a pair (h, c) of Tensors, got {type(hx).__name__}; "
                          "pass (h_0, c_0), or None for zeros")
    return tuple(hx)


def _check_dtype(kind: str, dtype) -> None:
    if dtype != float32:
        raise ArgumentError(f"{kind}: dtype must be float32 (the only parameter dtype graphc's recurrent layers "
                            f"have), got {dtype!r}")


class _Weights(Cell):
    """Creates a layer's W_ih, W_hh, b_ih and b_hh Parameters: `weight_ih{suffix}`, ... per suffix, all
    of one kind before the next (MindSpore's order), each U(-1/√hidden, 1/√hidden)."""

    def _make_weights(self, suffixes_and_inputs, gate_rows: int, hidden_size: int, has_bias: bool) -> None:
        scale = 1.0 / math.sqrt(hidden_size)
        shapes = {"weight_ih": lambda n: (gate_rows, n), "weight_hh": lambda n: (gate_rows, hidden_size)}
        if has_bias:
            shapes.update(bias_ih=lambda n: (gate_rows,), bias_hh=lambda n: (gate_rows,))
        for kind, shape in shapes.items():
            for suffix, inputs in suffixes_and_inputs:
                name = kind + suffix
                setattr(self, name, Parameter(initializer(Uniform(scale), shape(inputs)), name=name))

    def _weights(self, suffix: str) -> tuple:
        return tuple(getattr(self, kind + suffix, None) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


# -- cells: one time step --------------------------------------------------------------------------------------
class _CellBase(_Weights):
    def __init__(self, mode: str, input_size, hidden_size, has_bias, dtype):
        super().__init__()
        kind = type(self).__name__
        _check_sizes(kind, input_size, hidden_size, has_bias)
        _check_dtype(kind, dtype)
        self.mode, self.input_size, self.hidden_size, self.has_bias = mode, input_size, hidden_size, has_bias
        self._make_weights([("", input_size)], _GATES[mode] * hidden_size, hidden_size, has_bias)

    def construct(self, x, hx):
        check_tensor(self, x)
        if x.ndim != 2 or x.shape[-1] != self.input_size:
            raise input_error(self, x, f"input [batch, {self.input_size}]",
                              f"the cell was built with input_size={self.input_size}: feed it [batch, "
                              f"{self.input_size}] (one time step) or build it with the input's feature size")
        for h in _state_tensors(self, hx):
            check_tensor(self, h)
            if h.shape != (x.shape[0], self.hidden_size):
                raise input_error(self, h, f"hx [{x.shape[0]}, {self.hidden_size}] (batch of x {x.type}, hidden_size)",
                                  "give the state of the same batch as x, with hidden_size features")
        w_ih, w_hh, b_ih, b_hh = self._weights("")
        return _step(self.mode, _project(x, w_ih, b_ih), hx, w_hh, b_hh)[0]

    def extend_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, has_bias={self.has_bias}"


class RNNCell(_CellBase):
    """h' = nonlinearity(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), nonlinearity 'tanh' or 'relu'."""

    def __init__(self, input_size, hidden_size, has_bias=True, nonlinearity="tanh", dtype=float32):
        if nonlinearity not in _NONLINEARITY:
            raise ArgumentError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(_NONLINEARITY[nonlinearity], input_size, hidden_size, has_bias, dtype)


class LSTMCell(_CellBase):
    """(h', c') from x [batch, input_size] and hx = (h, c), each [batch, hidden_size]; gates i, f, g, o."""

    def __init__(self, input_size, hidden_size, has_bias=True, dtype=float32):
        super().__init__("LSTM", input_size, hidden_size, has_bias, dtype)


class GRUCell(_CellBase):
    """h' from x [batch, input_size] and h [batch, hidden_size]; gates r, z, n."""

    def __init__(self, input_size, hidden_size, has_bias=True, dtype=float32):
        super().__init__("GRU", input_size, hidden_size, has_bias, dtype)


# -- layers: the whole sequence -----------------------------------------------------------------------------------
class _RNNBase(_Weights):
    def __init__(self, mode: str, input_size, hidden_size, num_layers=1, has_bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=float32):
        super().__init__()
        kind = type(self).__name__
        _check_sizes(kind, input_size, hidden_size, has_bias)
        _check_dtype(kind, dtype)
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ArgumentError(f"{kind}: num_layers must be an int >= 1, got {num_layers!r}")
        for name, value in (("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise ArgumentError(f"{kind}: {name} must be a bool, got {value!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ArgumentError(f"{kind}: dropout (the drop probability between layers) must be a number in [0, 1), "
                                f"got {dropout!r}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.has_bias, self.batch_first, self.dropout, self.bidirectional = has_bias, batch_first, dropout, bidirectional
        self.directions = ("", "_reverse") if bidirectional else ("",)
        self._make_weights([(f"_l{layer}{direction}", input_size if layer == 0 else hidden_size * len(self.directions))
                            for layer in range(num_layers) for direction in self.directions],
                           _GATES[mode] * hidden_size, hidden_size, has_bias)
        self.dropout_op = Dropout(p=float(dropout)) if dropout else None

    def construct(self, x, hx=None, seq_length=None):
        self._check(x, hx, seq_length)
        if self.batch_first:
            x = ops.transpose(x, (1, 0, 2))
        steps, batch = x.shape[:2]
        state_shape = (self.num_layers * len(self.directions), batch, self.hidden_size)
        if hx is None:
            hx = ops.zeros(state_shape, x.dtype)
            hx = (hx, hx) if self.mode == "LSTM" else hx
        mask = None
        if seq_length is not None:      # [steps, batch, 1]: 1 where the step is within the sequence
            valid = Tensor(np.arange(steps, dtype=np.int64).reshape(steps, 1)) < ops.cast(seq_length, int64)
            mask = ops.expand_dims(ops.cast(valid, x.dtype), 2)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d, direction in enumerate(self.directions):
                k = layer * len(self.directions) + d
                start = (hx[0][k], hx[1][k]) if self.mode == "LSTM" else hx[k]
                final, y = self._direction(x, start, mask, f"_l{layer}{direction}", reverse=bool(direction))
                finals.append(final)
                outputs.append(y)
            x = ops.concat(outputs, axis=2) if len(outputs) > 1 else outputs[0]
            if self.dropout_op is not None and layer < self.num_layers - 1:
                x = self.dropout_op(x)
        output = ops.transpose(x, (1, 0, 2)) if self.batch_first else x
        if self.mode == "LSTM":
            return output, (ops.stack([h for h, _ in finals]), ops.stack([c for _, c in finals]))
        return output, ops.stack(finals)

    def _direction(self, x: Tensor, start, mask: Tensor | None, suffix: str, reverse: bool):
        """One layer in one direction: (its final state, its outputs [steps, batch, hidden])."""
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        gates_x = _project(x, w_ih, b_ih)

        def step(state, xs):
            new, h = _step(self.mode, xs[0], state, w_hh, b_hh)
            if mask is None:
                return new, h
            keep = xs[1]                # a padded step leaves the state as it was and outputs 0
            if self.mode == "LSTM":
                return tuple(old + keep * (value - old) for value, old in zip(new, state)), h * keep
            return state + keep * (new - state), h * keep
        return scan(step, start, (gates_x,) if mask is None else (gates_x, mask), reverse=reverse,
                    name=layer_name(self))

    def _check(self, x, hx, seq_length) -> None:
        check_tensor(self, x)
        layout = "[batch, seq_len, input_size]" if self.batch_first else "[seq_len, batch, input_size]"
        expected = f"input {layout} with input_size={self.input_size} (batch_first={self.batch_first})"
        if x.ndim != 3:
            raise input_error(self, x, expected, "give a 3-D input (add the batch axis for a single sequence)")
        if x.shape[-1] != self.input_size:
            raise input_error(self, x, expected, f"the layer was built with input_size={self.input_size} but gets "
                              f"{x.shape[-1]} features per step: feed it {self.input_size} features or build it with "
                              f"input_size={x.shape[-1]}")
        batch = x.shape[0] if self.batch_first else x.shape[1]
        layers = self.num_layers * len(self.directions)
        other = "False" if self.batch_first else "True"
        mismatch = (f"x's batch axis ({'0' if self.batch_first else '1'} with batch_first={self.batch_first}) has "
                    f"{batch}; if x is laid out the other way, build the layer with batch_first={other}")
        for h in () if hx is None else _state_tensors(self, hx):
            check_tensor(self, h)
            if h.shape != (layers, batch, self.hidden_size):
                raise input_error(self, h, f"hx [num_layers·directions={layers}, batch={batch}, "
                                  f"hidden_size={self.hidden_size}] for x {x.type}", mismatch)
        if seq_length is not None:
            check_tensor(self, seq_length)
            if seq_length.shape != (batch,) or seq_length.dtype not in (int32, int64):
                raise input_error(self, seq_length, f"seq_length int32/int64 [batch={batch}] for x {x.type}",
                                  mismatch)

    def extend_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"has_bias={self.has_bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
                f"bidirectional={self.bidirectional}")


class RNN(_RNNBase):
    """Elman RNN: output [seq_len, batch, directions·hidden] (batch first if batch_first), h_n
    [num_layers·directions, batch, hidden]. nonlinearity 'tanh' (default) or 'relu'."""

    def __init__(self, *args, nonlinearity="tanh", **kwargs):
        if nonlinearity not in _NONLINEARITY:
            raise ArgumentError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(_NONLINEARITY[nonlinearity], *args, **kwargs)


class LSTM(_RNNBase):
    """output, (h_n, c_n); hx, when given, is (h_0, c_0), each [num_layers·directions, batch, hidden]."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(_RNNBase):
    """output, h_n, as RNN, with gates r, z, n."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)
