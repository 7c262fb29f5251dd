"""Recurrent layers with MindSpore 2.10's names, shapes, gate order and init: RNN, LSTM, GRU and
their cells.

A layer runs one `graphc.control_flow.scan` per layer and direction, so the graph holds each loop
once whatever the sequence length. The loops run feature-major: a state is [hidden, batch] and a
step's gates [gates·hidden, batch], so each gate is a contiguous block of rows (splitting them, and
joining their gradients, copies nothing). Before the loop one 1x1 convolution projects the input of
every step for all gates (W_ih·x + b_ih + b_hh); a step is then one matmul W_hh·h with the gates'
activations as its epilogue, and the elementwise state update. Weights are [gates·hidden, in] with
the gates stacked in MindSpore's (and PyTorch's) order: LSTM i, f, g, o; GRU r, z, n. The default
init is U(-1/√hidden, 1/√hidden).

A batch of 64 sequences or more runs as two blocks, each its own chain of kernels in the one loop, with
its own input [steps, in, batch/2] and states, and its own copy of W_hh whose gradient it sums (the two
are added after the loop). The blocks share no value in the loop, so lowering runs each on its own half
of the threads, where its states stay in cache from one step to the next (docs/models.md). How many
blocks depends on the batch alone, never on the threads, so results do not change with them.

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
BLOCK_WIDTH = 32        # the fewest sequences a batch block holds (the module's docstring)


def _step(mode: str, gates_x: Tensor, state, w_hh: Tensor, b_hh: Tensor | None):
    """One time step, feature-major ([features, batch]: a gate is a contiguous block of rows, so
    splitting the gates copies nothing), from gates_x = W_ih·x + bias: (the new state, the step's
    output h). The state is h, or (h, c) for an LSTM. b_hh is given for a GRU only: the other modes
    add it to gates_x once, before the loop."""
    h = state[0] if mode == "LSTM" else state
    gates_h = ops.get("matmul")(w_hh, h)
    hidden = h.shape[0]
    if mode == "GRU":               # n = tanh(x_n + r·(W_hn·h + b_hn)): the reset gate scales h's part only
        if b_hh is not None:
            gates_h = gates_h + ops.reshape(b_hh, shape=(-1, 1))
        x_rz, x_n = ops.split(gates_x, [2 * hidden, hidden], axis=0)
        h_rz, h_n = ops.split(gates_h, [2 * hidden, hidden], axis=0)
        reset, update = ops.split(ops.sigmoid(x_rz + h_rz), hidden, axis=0)
        new = ops.tanh(x_n + reset * h_n)
        h = new + update * (h - new)
        return h, h
    gates = gates_x + gates_h
    if mode == "LSTM":
        i, f, g, o = ops.split(_lstm_activations(gates, hidden), hidden, axis=0)
        c = f * state[1] + i * g
        h = o * ops.tanh(c)
        return (h, c), h
    h = ops.tanh(gates) if mode == "RNN_TANH" else ops.relu(gates)
    return h, h


def _lstm_activations(gates: Tensor, hidden: int) -> Tensor:
    """sigmoid on the i, f and o rows and tanh on the g rows, as one elementwise op,
    s·sigmoid(s·x) - (s - 1) with s = 2 on the g rows (tanh(x) = 2·sigmoid(2x) - 1) and 1 elsewhere:
    it fuses into the step's matmul as its epilogue, and its gradient reads only the gates."""
    s = np.repeat(np.array([1, 1, 2, 1], gates.dtype.np), hidden).reshape(-1, 1)
    return ops.get("stretched_sigmoid")(gates, Tensor(s))


def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """W_ih·x[t] + bias for every step t of x [steps, in, batch]: [steps, gates·hidden, batch]. It is a
    1x1 convolution with the steps as images ([in, 1, batch] each), so one batched GEMM runs it
    forward and one filter-gradient kernel gives W_ih's gradient over all steps."""
    steps, inputs, batch = x.shape
    rows = w_ih.shape[0]
    images = ops.reshape(x, shape=(steps, inputs, 1, batch))
    gates = ops.get("conv2d")(images, ops.reshape(w_ih, shape=(rows, inputs, 1, 1)))
    if bias is not None:     # added in the convolution's own shape, so that its epilogue adds it
        gates = gates + ops.reshape(bias, shape=(rows, 1, 1))
    return ops.reshape(gates, shape=(steps, rows, batch))


def _batch_blocks(batch: int) -> int:
    """The blocks a batch runs in: two when each holds at least BLOCK_WIDTH sequences, else one."""
    return 2 if batch % 2 == 0 and batch // 2 >= BLOCK_WIDTH else 1


def _block_state(hx, k: int, rows: slice, mode: str):
    """Layer·direction k's initial state for the block of the batch's `rows`, feature-major."""
    return _transposed((hx[0][k][rows], hx[1][k][rows]) if mode == "LSTM" else hx[k][rows], mode)


def _joined_state(states: list, mode: str):
    """A final state [batch, hidden] (each tensor of it) from the blocks' feature-major ones."""
    parts = [_transposed(state, mode) for state in states]
    if mode == "LSTM":
        return tuple(_join([part[i] for part in parts], axis=0) for i in range(2))
    return _join(parts, axis=0)


def _alias(t: Tensor) -> Tensor:
    """t as a value of its own (a reshape to its own shape, which the optimizer removes): a loop that
    reads t and its alias has an input for each, and sums a gradient for each."""
    return ops.reshape(t, t.shape)


def _join(parts: list[Tensor], axis: int) -> Tensor:
    return ops.concat(parts, axis=axis) if len(parts) > 1 else parts[0]


def _kept(mode: str, new, old, keep: Tensor):
    """The state where keep is 1, the old one where it is 0 (a padded step)."""
    if mode == "LSTM":
        return tuple(o + keep * (n - o) for n, o in zip(new, old))
    return old + keep * (new - old)


def _transposed(state, mode: str):
    """A state ([batch, hidden] <-> [hidden, batch]) with each of its tensors transposed."""
    flip = lambda t: ops.transpose(t, (1, 0))
    return tuple(map(flip, state)) if mode == "LSTM" else flip(state)


def _input_bias(mode: str, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    """The bias added to W_ih·x before the loop: b_ih + b_hh, except for a GRU, whose b_hh stays in the
    step (the reset gate scales the n rows of W_hh·h + b_hh)."""
    return b_ih if b_ih is None or mode == "GRU" else b_ih + b_hh


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
        bias = _input_bias(self.mode, b_ih, b_hh)
        gates_x = ops.get("matmul")(w_ih, x, transpose_b=True)
        if bias is not None:
            gates_x = gates_x + ops.reshape(bias, shape=(-1, 1))
        state = _transposed(hx, self.mode)
        new = _step(self.mode, gates_x, state, w_hh, b_hh if self.mode == "GRU" else None)[0]
        return _transposed(new, self.mode)

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
        steps, batch = (x.shape[1], x.shape[0]) if self.batch_first else x.shape[:2]
        blocks = _batch_blocks(batch)
        width = batch // blocks
        # each block of the batch runs feature-major: x [steps, features, width], states [hidden, width]
        split, order = ((blocks, width, steps, -1), (0, 2, 3, 1)) if self.batch_first else \
            ((steps, blocks, width, -1), (1, 0, 3, 2))
        x = ops.transpose(ops.reshape(x, split), order)
        xs = [x[c] for c in range(blocks)]
        if hx is None:
            hx = ops.zeros((self.num_layers * len(self.directions), batch, self.hidden_size), x.dtype)
            hx = (hx, hx) if self.mode == "LSTM" else hx
        masks = None
        if seq_length is not None:      # [steps, 1, width]: 1 where the step is within the sequence
            valid = Tensor(np.arange(steps, dtype=np.int64).reshape(steps, 1)) < ops.cast(seq_length, int64)
            valid = ops.cast(valid, x.dtype)
            masks = [ops.expand_dims(valid[:, c * width:(c + 1) * width], 1) for c in range(blocks)]
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d, direction in enumerate(self.directions):
                k = layer * len(self.directions) + d
                starts = [_block_state(hx, k, slice(c * width, (c + 1) * width), self.mode) for c in range(blocks)]
                final, ys = self._direction(xs, starts, masks, f"_l{layer}{direction}", reverse=bool(direction))
                finals.append(_joined_state(final, self.mode))
                outputs.append(ys)
            xs = [_join([ys[c] for ys in outputs], axis=1) for c in range(blocks)]
            if self.dropout_op is not None and layer < self.num_layers - 1:
                xs = [self.dropout_op(x) for x in xs]
        if self.batch_first:      # sequence b of block c is sequence c·width + b of the batch
            output = _join([ops.transpose(x, (2, 0, 1)) for x in xs], axis=0)
        else:
            output = _join([ops.transpose(x, (0, 2, 1)) for x in xs], axis=1)
        if self.mode == "LSTM":
            return output, (ops.stack([h for h, _ in finals]), ops.stack([c for _, c in finals]))
        return output, ops.stack(finals)

    def _direction(self, xs: list, starts: list, masks: list | None, suffix: str, reverse: bool):
        """One layer in one direction over each block's x [steps, in, width], in one loop: (each block's
        final state, each block's outputs [steps, hidden, width])."""
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        gates_x = [_project(x, w_ih, _input_bias(self.mode, b_ih, b_hh)) for x in xs]
        b_hh = b_hh if self.mode == "GRU" else None
        # each block reads its own copy of W_hh (and b_hh) in the loop, so sums its own gradient
        copies = [(w_hh, b_hh)] + [(_alias(w_hh), None if b_hh is None else _alias(b_hh)) for _ in xs[1:]]
        blocks = len(xs)

        def step(states, inputs):
            news, hs = [], []
            for c, (state, (w, b)) in enumerate(zip(states, copies)):
                new, h = _step(self.mode, inputs[c], state, w, b)
                if masks is not None:       # a padded step leaves the state as it was and outputs 0
                    keep = inputs[blocks + c]
                    new, h = _kept(self.mode, new, state, keep), h * keep
                news.append(new)
                hs.append(h)
            return tuple(news), tuple(hs)
        final, ys = scan(step, tuple(starts), tuple(gates_x) + tuple(masks or ()), reverse=reverse,
                         name=layer_name(self))
        return list(final), list(ys)

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
