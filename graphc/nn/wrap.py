"""Wrapper cells (MindSpore's nn.wrap): loss, one training step, evaluation, gradients.

TrainOneStepCell is the whole training step. In GRAPH_MODE its call traces ONE graph holding the
forward pass, the `grad` placeholders (expanded into the backward pass by the autodiff pass) and
the optimizer's update as impure assign nodes; that graph is compiled once per input signature
and runs as one executable per step. In PYNATIVE_MODE the same construct runs eagerly.
The wrappers use auto_prefix=False, so parameter names stay the backbone's own.
"""
from __future__ import annotations

import hashlib

from .. import communication, context, ops
from ..autodiff import value_and_grad
from ..errors import GraphcError
from ..tracing import current_trace
from ..types import float32
from .cell import Cell
from .grad_operation import GradOperation
from .distributed import DistributedGradReducer
from .optim.optimizer import Optimizer

__all__ = ["ForwardValueAndGrad", "TrainOneStepCell", "WithEvalCell", "WithGradCell", "WithLossCell"]


class WithLossCell(Cell):
    """construct(data, label) = loss_fn(backbone(data), label)."""

    def __init__(self, backbone, loss_fn):
        super().__init__(auto_prefix=False)
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, data, label):
        return self._loss_fn(self._backbone(data), label)

    @property
    def backbone_network(self):
        return self._backbone


def _identity(gradients):
    return gradients


def _check_sens(owner: str, sens):
    if sens is not None and sens == 0:
        raise ValueError(f"{owner}: sens must not be 0 (it multiplies every gradient); use None for 1.0")
    return sens


def _check_batch_not_empty(owner: str, inputs) -> None:
    """A training step learns from at least one sample: an empty batch has no loss to learn from
    (a mean loss over it is 0 / 0)."""
    for index, x in enumerate(inputs):
        shape = getattr(x, "shape", ())
        if shape and shape[0] == 0:
            raise GraphcError(f"{owner}: input {index} is an empty batch (shape {list(shape)}); a training step "
                              "needs at least one sample: check what yields this batch (a dataset or a slice past "
                              "the end of the data)")


def _scaled(gradients, sens):
    """Gradients for the seed `sens` instead of 1: the backward pass is linear in its seed."""
    return gradients if sens is None else tuple(grad * sens for grad in gradients)


class TrainOneStepCell(Cell):
    """construct(*inputs): loss and gradients of `network` (with respect to optimizer.parameters),
    grad_reducer, optimizer(grads); returns the loss. sens, a number, seeds the backward pass in
    place of 1 (for the scalar loss: it multiplies the gradients); 0 is refused, as in MindSpore.

    Under ParallelMode.DATA_PARALLEL, grad_reducer is a DistributedGradReducer: one allreduce sums
    the gradients (averages them with gradients_mean=True) and the losses of every rank, so the
    step returns the mean loss over the global batch. Before its first step the cell checks that
    every rank has the same parameters (names and shapes) and copies rank 0's values to all ranks,
    so every rank starts equal whatever its seed."""

    def __init__(self, network, optimizer, sens=None):
        super().__init__(auto_prefix=False)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a graphc.nn Optimizer (e.g. nn.Momentum), "
                            f"got {type(optimizer).__name__}")
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.sens = _check_sens(type(self).__name__, sens)
        self._group = communication.data_parallel_group()
        self._started = False
        self.grad_reducer = _identity if self._group is None else DistributedGradReducer(
            self.weights, context.get_auto_parallel_context("gradients_mean"), self._group.size)
        self._loss_and_grads = value_and_grad(network, None, self.weights)

    def __call__(self, *inputs):
        if current_trace() is None:      # a step is about to run: stop before a learning-rate list runs out
            _check_batch_not_empty(type(self).__name__, inputs)
            self.optimizer.check_lr_steps()
            if self._group is not None and not self._started:
                self._start_equal()
        return super().__call__(*inputs)

    def _start_equal(self) -> None:
        """Once: every rank must hold the same parameters; then rank 0's values go to all."""
        group, self._started = self._group, True
        params = list(self.parameters_and_names())
        layout = "\n".join(f"{name}: {p.type}" for name, p in params)
        communication.check_same(group, "parameters", hashlib.sha256(layout.encode()).hexdigest(),
                                 f"{type(self.network).__name__} with {len(params)} parameters "
                                 f"({sum(p.size for _, p in params):,} values)")
        for _, param in params:
            group.broadcast(param.asnumpy())        # in place: a Parameter's storage never moves

    def construct(self, *inputs):
        loss, grads = self._loss_and_grads(*inputs)
        loss, grads = self.reduce(loss, grads=_scaled(grads, self.sens))
        self.optimizer(grads)
        return loss

    def reduce(self, loss, grads):
        """(loss, grads) through grad_reducer: under data parallelism, averaged over the ranks."""
        if isinstance(self.grad_reducer, DistributedGradReducer):
            return self.grad_reducer.with_loss(loss, grads)
        return loss, self.grad_reducer(grads)


class WithEvalCell(Cell):
    """construct(data, label) = (loss, outputs, label); add_cast_fp32 casts outputs and label to float32."""

    def __init__(self, network, loss_fn, add_cast_fp32=False):
        super().__init__(auto_prefix=False)
        self._network = network
        self._loss_fn = loss_fn
        self.add_cast_fp32 = add_cast_fp32

    def construct(self, data, label):
        outputs = self._network(data)
        if self.add_cast_fp32:
            label = ops.cast(label, dtype=float32)
            outputs = ops.cast(outputs, dtype=float32)
        return self._loss_fn(outputs, label), outputs, label


class WithGradCell(Cell):
    """construct(*inputs) = the gradients of the loss with respect to network.trainable_params();
    the loss is loss_fn(network(data), label) when loss_fn is given, else network(*inputs)."""

    def __init__(self, network, loss_fn=None, sens=None):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn
        self.network_with_loss = WithLossCell(network, loss_fn) if loss_fn is not None else network
        self.weights = tuple(network.trainable_params())
        self.sens = _check_sens(type(self).__name__, sens)
        self._loss_and_grads = value_and_grad(self.network_with_loss, None, self.weights)

    def construct(self, *inputs):
        return _scaled(self._loss_and_grads(*inputs)[1], self.sens)


class ForwardValueAndGrad(Cell):
    """construct(*inputs) = (network(*inputs), gradients), as MindSpore's GradOperation flags choose:
    neither flag: the first input's gradient; get_all: every input's; get_by_list: the weights';
    both: (inputs' gradients, weights' gradients). With sens_param the last input is the seed of the
    backward pass (the same shape as the output), not an input of the network."""

    def __init__(self, network, weights=None, get_all=False, get_by_list=False, sens_param=False):
        super().__init__(auto_prefix=False)
        if get_by_list and not weights:
            raise TypeError(f"{type(self).__name__}: get_by_list=True needs weights (e.g. net.trainable_params())")
        self.network = network
        self.weights = tuple(weights) if get_by_list else ()
        self._grad_op = GradOperation(get_all, get_by_list, sens_param)

    def construct(self, *inputs):
        return self._grad_op.value_and_grads(self.network, self.weights, inputs)
