"""Loss functions with MindSpore's semantics (mindspore/nn/loss/loss.py): names, defaults, reductions.

L1Loss, MSELoss, SmoothL1Loss and SoftmaxCrossEntropyWithLogits as r1.7; the 2.x losses
(CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss, BCELoss, KLDivLoss) as MindSpore 2.10 computes them
(values recorded in tests/mindspore_reference/). Each 2.x loss is its functional form below
(`cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)`, ...), written
with registered ops, so the gradient is autodiff's and both modes run the same ops.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import ArgumentError, GraphcError
from ..ops.function import arguments as check
from ..tracing import Tensor
from ..types import int32, int64
from .cell import Cell
from .layers.checks import check_tensor, input_error

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "KLDivLoss", "L1Loss", "LossBase", "MAELoss", "MSELoss",
           "NLLLoss", "SmoothL1Loss", "SoftmaxCrossEntropyWithLogits"]

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction: str):
    """The mean or sum over every element, or the elementwise loss ('none')."""
    if reduction == "mean":
        return ops.reduce_mean(loss)
    return ops.reduce_sum(loss) if reduction == "sum" else loss


class LossBase(Cell):
    """Base of the losses: `get_loss` weights the elementwise loss and reduces it over all axes."""
    REDUCTIONS = REDUCTIONS

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in self.REDUCTIONS:
            raise ArgumentError(f"{type(self).__name__}: reduction must be one of "
                                f"{', '.join(map(repr, self.REDUCTIONS))}, got {reduction!r}")
        self.reduction = reduction

    def get_loss(self, x, weights=1.0):
        # MindSpore casts to float32 here so that float16 losses accumulate in float32; graphc has no
        # float16, so the dtype is kept (a float64 loss stays float64).
        return _reduce(ops.mul(x, weights), self.reduction)

    def extend_repr(self) -> str:
        return f"reduction={self.reduction}"


class L1Loss(LossBase):
    """|logits - labels| (broadcasting), reduced."""

    def construct(self, logits, labels):
        return self.get_loss(ops.abs(ops.sub(logits, labels)))


class MAELoss(L1Loss):
    """MindSpore's other name for L1Loss: the same |logits - labels|, reduced (measured on 2.10)."""


class MSELoss(LossBase):
    """(logits - labels)², reduced."""

    def construct(self, logits, labels):
        diff = ops.sub(logits, labels)
        return self.get_loss(ops.mul(diff, diff))


class SmoothL1Loss(LossBase):
    """0.5·d²/beta where |d| < beta, else |d| - 0.5·beta, with d = logits - labels of the same shape.
    Unreduced by default, as r1.7 (which had no reduction argument)."""

    def __init__(self, beta=1.0, reduction="none"):
        super().__init__(reduction)
        if beta <= 0:
            raise ArgumentError(f"SmoothL1Loss: beta must be > 0, got {beta}")
        self.beta = float(beta)

    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        if logits.shape != labels.shape:
            raise input_error(self, labels, f"labels shaped like the logits ({logits.type})",
                              "give logits and labels the same shape")
        diff = ops.abs(ops.sub(logits, labels))
        quadratic = ops.div(ops.mul(ops.mul(diff, diff), 0.5), self.beta)
        linear = ops.sub(diff, 0.5 * self.beta)
        return self.get_loss(ops.select(ops.lt(diff, self.beta), quadratic, linear))


class SoftmaxCrossEntropyWithLogits(LossBase):
    """-Σ_c labels[n, c]·log softmax(logits)[n, c] per sample, for logits [N, C].

    sparse=True takes class indices [N] (int32/int64) and runs the fused sparse op under every
    reduction, so a label outside [0, C) is an error in both modes and in native code. MindSpore runs
    it for 'mean' only and one-hots the labels for 'sum' and 'none', where such a label gets loss 0
    and training goes on. Note MindSpore's default reduction here is 'none'."""

    def __init__(self, sparse=False, reduction="none"):
        super().__init__(reduction)
        self.sparse = sparse

    def construct(self, logits, labels):
        self._check(logits, labels)
        if self.sparse:
            return self.get_loss(ops.sparse_softmax_cross_entropy(logits, labels))
        log_probs = ops.log_softmax(logits, axis=-1)
        return self.get_loss(ops.neg(ops.reduce_sum(ops.mul(labels, log_probs), axis=-1)))

    def _check(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        if logits.ndim != 2:
            raise input_error(self, logits, "logits [N, C]", "give one row of class scores per sample")
        batch = logits.shape[0]
        if self.sparse and (labels.shape != (batch,) or labels.dtype.is_float):
            raise input_error(self, labels, f"labels of {batch} integer class indices (sparse=True)",
                              "give one int32 class index per sample, or use sparse=False for one-hot labels")
        if not self.sparse and labels.type != logits.type:
            raise input_error(self, labels, f"labels of the logits' type {logits.type} (sparse=False: "
                                            "one-hot rows or probabilities)",
                              "give labels of the logits' shape and dtype, or use sparse=True for class indices")

    def extend_repr(self) -> str:
        return f"sparse={self.sparse}, reduction={self.reduction}"


# -- MindSpore 2.x losses ----------------------------------------------------------------------------------------
# the functional forms, which graphc/__init__.py also puts in `ops` as MindSpore has them
FUNCTIONAL = ("binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "kl_div", "mse_loss",
              "nll_loss", "smooth_l1_loss")


def mse_loss(input, target, reduction="mean"):
    """(input - target)² (broadcasting), reduced: nn.MSELoss called as a function."""
    return MSELoss(reduction)(input, target)


def smooth_l1_loss(input, target, beta=1.0, reduction="none"):
    """nn.SmoothL1Loss called as a function (unreduced by default, as in MindSpore)."""
    return SmoothL1Loss(beta, reduction)(input, target)


def _class_weight(name: str, weight):
    """A loss's per-class rescaling weight: None or a 1-D float Tensor (kept as given: not a Parameter)."""
    if weight is not None and (not isinstance(weight, Tensor) or weight.ndim != 1 or not weight.dtype.is_float):
        got = weight.type if isinstance(weight, Tensor) else type(weight).__name__
        raise ArgumentError(f"{name}: weight must be None or a 1-D float Tensor of one weight per class, got {got}")
    return weight


def _rows(scores, labels):
    """Scores [N, C, d1, ..., dk] (or [C] for one sample) as rows [M, C], one per label, and the labels
    [N, d1, ..., dk] as [M]."""
    classes = scores.shape[0 if scores.ndim == 1 else 1]
    if scores.ndim > 2:      # the class axis last, so that row m holds the scores of label m
        scores = ops.transpose(scores, (0,) + tuple(range(2, scores.ndim)) + (1,))
    return ops.reshape(scores, shape=(-1, classes)), ops.reshape(labels, shape=(-1,))


def _check_class_indices(name: str, scores, labels, weight) -> None:
    """labels [N, d1, ...] of int class indices for scores [N, C, d1, ...] ([] for scores [C]), and a
    weight of one value per class."""
    expected = scores.shape[:1] + scores.shape[2:] if scores.ndim > 1 else ()
    if labels.dtype not in (int32, int64) or labels.shape != expected:
        raise GraphcError(f"{name}: labels must be int32 or int64 class indices of shape {list(expected)} for "
                          f"scores {scores.type}, got {labels.type}; for probabilities per class give float labels "
                          "of the scores' shape (CrossEntropyLoss)")
    _check_weight(name, weight, scores.shape[0 if scores.ndim == 1 else 1])


def _check_weight(name: str, weight, classes: int) -> None:
    if weight is not None and weight.shape != (classes,):
        raise GraphcError(f"{name}: weight {weight.type} must hold one value per class ({classes})")


def _check_label_values(name: str, labels, classes: int, ignore_index: int) -> None:
    """Labels with values (PYNATIVE_MODE) must be classes or ignore_index. In a traced graph the gather
    of the labels' weights refuses a label outside [0, C), in the native step before it runs."""
    if labels.is_symbolic:
        return
    values = labels.asnumpy()
    bad = values[((values < 0) | (values >= classes)) & (values != ignore_index)]
    if bad.size:
        raise GraphcError(f"{name}: label {int(bad[0])} is out of range for {classes} classes; labels must be class "
                          f"indices in [0, {classes}) or ignore_index ({ignore_index})")


def _class_index_loss(name, rows, labels, label_shape, picked, log_probs, weight, ignore_index, reduction,
                      label_smoothing):
    """MindSpore's nll_loss over rows [M, C] and labels [M]: -w[y]·log p[y] per label, 0 where the label is
    ignore_index; 'mean' divides by the sum of the labels' weights. picked(rows, labels) gives -log p[y]
    [M]; with label_smoothing ε the loss is (1 - ε)·that + ε/C·(-Σ_c w[c]·log p[c]) from log_probs(rows)."""
    classes = rows.shape[1]
    _check_label_values(name, labels, classes, ignore_index)
    kept = ops.ne(labels, ignore_index)
    labels = ops.select(kept, labels, 0)
    class_weight = weight if weight is not None else Tensor(np.ones(classes, rows.dtype.np))
    # gather refuses a label outside [0, C) in every mode, the native step included (before it runs)
    label_weight = ops.gather(class_weight, labels, axis=0) * ops.cast(kept, dtype=rows.dtype)
    loss = picked(rows, labels) * label_weight
    smooth = None
    if label_smoothing:
        smooth = ops.neg(ops.reduce_sum(log_probs(rows) * class_weight, axis=1)) * ops.cast(kept, dtype=rows.dtype)

    def reduce(t):
        if reduction == "none":
            return ops.reshape(t, shape=label_shape)
        total = ops.reduce_sum(t)
        return total / ops.reduce_sum(label_weight) if reduction == "mean" else total
    if smooth is None:
        return reduce(loss)
    return reduce(loss) * (1.0 - label_smoothing) + reduce(smooth) * (label_smoothing / classes)


def _arguments(function: str, reduction: str, reductions=REDUCTIONS, **tensors) -> None:
    """A functional loss's tensors are Tensors and its reduction one it knows (the classes check theirs
    when built)."""
    for parameter, value in tensors.items():
        check.tensor(function, parameter, value)
    check.choice(function, "reduction", reduction, reductions)


def nll_loss(inputs, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """-weight[t]·inputs[n, t] for log-probabilities inputs [N, C, d...] and class indices target (MindSpore's
    ops.nll_loss)."""
    _arguments("nll_loss", reduction, inputs=inputs, target=target)
    _check_class_indices("nll_loss", inputs, target, weight)
    rows, labels = _rows(inputs, target)
    return _class_index_loss(
        "nll_loss", rows, labels, target.shape,
        lambda rows, labels: ops.neg(ops.reduce_sum(ops.get("one_hot")(labels, depth=rows.shape[1], dtype=rows.dtype) * rows,
                                                    axis=1)),
        lambda rows: rows, weight, ignore_index, reduction, label_smoothing)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The cross-entropy of logits input [N, C, d...] (or [C]) against class indices (int target [N, d...])
    or class probabilities (float target of input's shape), MindSpore's ops.cross_entropy."""
    _arguments("cross_entropy", reduction, input=input, target=target)
    if not input.dtype.is_float:
        raise GraphcError(f"cross_entropy: input must be float logits, got {input.type}")
    if target.dtype.is_float:
        return _probabilities_cross_entropy(input, target, weight, reduction, label_smoothing)
    _check_class_indices("cross_entropy", input, target, weight)
    rows, labels = _rows(input, target)
    return _class_index_loss("cross_entropy", rows, labels, target.shape, ops.sparse_softmax_cross_entropy,
                             lambda rows: ops.log_softmax(rows, axis=1), weight, ignore_index, reduction,
                             label_smoothing)


def _probabilities_cross_entropy(logits, probs, weight, reduction, label_smoothing):
    """-Σ_c w[c]·probs[c]·log softmax(logits)[c] per sample; 'mean' divides by the number of samples."""
    if probs.shape != logits.shape:
        raise GraphcError(f"cross_entropy: float labels are class probabilities and must have the logits' shape "
                          f"{logits.type}, got {probs.type}; for class indices give int32 labels")
    axis = 0 if logits.ndim == 1 else 1
    classes = logits.shape[axis]
    _check_weight("cross_entropy", weight, classes)
    if label_smoothing:
        probs = probs * (1.0 - label_smoothing) + label_smoothing / classes
    terms = ops.log_softmax(logits, axis=axis) * probs
    if weight is not None:
        terms = terms * ops.reshape(weight, shape=(classes,) + (1,) * (logits.ndim - axis - 1))
    if reduction == "none":
        return ops.neg(ops.reduce_sum(terms, axis=axis))
    total = ops.neg(ops.reduce_sum(terms))
    return total / (logits.size // classes) if reduction == "mean" else total


def _softplus(z):
    """log(1 + e^z) without overflow and smooth at every z (its gradient at 0 is 1/2): each branch of the
    select sees an argument clamped to where it is used, so the branch not taken is finite and gives
    a zero gradient, never 0·inf."""
    low = ops.log(ops.exp(ops.minimum(z, 0.0)) + 1.0)
    high = z + ops.log(ops.exp(ops.neg(ops.maximum(z, 0.0))) + 1.0)
    return ops.select(z <= 0.0, low, high)


def _check_same_shape(name: str, logits, labels) -> None:
    if logits.shape != labels.shape:
        raise GraphcError(f"{name}: logits {logits.type} and labels {labels.type} must have the same shape")


def _broadcasts_to(shape, target) -> bool:
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """-weight·(pos_weight·t·log σ(x) + (1 - t)·log(1 - σ(x))), computed as
    (1 - t)·x + (1 + (pos_weight - 1)·t)·softplus(-x), which never overflows (MindSpore's
    ops.binary_cross_entropy_with_logits). weight and pos_weight broadcast to input's shape."""
    _arguments("binary_cross_entropy_with_logits", reduction, input=input, target=target)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    for argument, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is not None and not _broadcasts_to(value.shape, input.shape):
            raise GraphcError(f"binary_cross_entropy_with_logits: {argument} {value.type} must broadcast to the "
                              f"input's shape {list(input.shape)}")
    log_weight = 1.0 if pos_weight is None else (pos_weight - 1.0) * target + 1.0
    loss = (1.0 - target) * input + log_weight * _softplus(ops.neg(input))
    return _reduce(loss if weight is None else loss * weight, reduction)


BCE_EPSILON = 1e-12   # MindSpore's BinaryCrossEntropy adds it inside both logs: a 0 or 1 costs -log(1e-12) = 27.63


def binary_cross_entropy(logits, labels, weight=None, reduction="mean"):
    """-weight·(y·log(x + ε) + (1 - y)·log(1 - x + ε)) for probabilities x (MindSpore's
    ops.binary_cross_entropy, ε = 1e-12); weight, when given, has the logits' shape."""
    _arguments("binary_cross_entropy", reduction, logits=logits, labels=labels)
    _check_same_shape("binary_cross_entropy", logits, labels)
    if weight is not None and weight.shape != logits.shape:
        raise GraphcError(f"binary_cross_entropy: weight {weight.type} must have the logits' shape "
                          f"{list(logits.shape)} (MindSpore does not broadcast it)")
    loss = ops.neg(labels * ops.log(logits + BCE_EPSILON) + (1.0 - labels) * ops.log((1.0 - logits) + BCE_EPSILON))
    return _reduce(loss if weight is None else loss * weight, reduction)


def kl_div(logits, labels, reduction="mean"):
    """labels·(log labels - logits) where labels > 0, else 0, for log-probabilities logits (MindSpore's
    ops.kl_div); 'mean' divides the sum by the number of elements, 'batchmean' by the batch size."""
    _arguments("kl_div", reduction, REDUCTIONS + ("batchmean",), logits=logits, labels=labels)
    _check_same_shape("kl_div", logits, labels)
    positive = labels > 0.0
    terms = ops.select(positive, labels * (ops.log(ops.select(positive, labels, 1.0)) - logits), 0.0)
    if reduction == "batchmean":
        return ops.reduce_sum(terms) / logits.shape[0]
    return _reduce(terms, reduction)


class CrossEntropyLoss(LossBase):
    """MindSpore 2.x's cross-entropy of logits [N, C, d...] against class indices or class probabilities:
    `cross_entropy(logits, labels, weight, ignore_index, reduction, label_smoothing)`."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
            raise ArgumentError(f"CrossEntropyLoss: ignore_index must be an int, got {ignore_index!r}")
        if not isinstance(label_smoothing, float) or not 0.0 <= label_smoothing <= 1.0:
            raise ArgumentError(f"CrossEntropyLoss: label_smoothing must be a float in [0.0, 1.0], "
                                f"got {label_smoothing!r}")
        self.weight, self.ignore_index = _class_weight("CrossEntropyLoss", weight), ignore_index
        self.label_smoothing = label_smoothing

    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        return cross_entropy(logits, labels, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(LossBase):
    """-weight[t]·x[n, t] for log-probabilities x [N, C, d...] and class indices t: `nll_loss(...)`."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
            raise ArgumentError(f"NLLLoss: ignore_index must be an int, got {ignore_index!r}")
        self.weight, self.ignore_index = _class_weight("NLLLoss", weight), ignore_index

    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        return nll_loss(logits, labels, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(LossBase):
    """Binary cross-entropy of logits: `binary_cross_entropy_with_logits(logits, labels, weight, pos_weight,
    reduction)`."""

    def __init__(self, reduction="mean", weight=None, pos_weight=None):
        super().__init__(reduction)
        for argument, value in (("weight", weight), ("pos_weight", pos_weight)):
            if value is not None and (not isinstance(value, Tensor) or getattr(value, "is_parameter", False)):
                raise ArgumentError(f"BCEWithLogitsLoss: {argument} must be None or a Tensor (not a Parameter), "
                                    f"got {type(value).__name__}")
        self.weight, self.pos_weight = weight, pos_weight

    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        return binary_cross_entropy_with_logits(logits, labels, self.weight, self.pos_weight, self.reduction)


class BCELoss(LossBase):
    """Binary cross-entropy of probabilities: `binary_cross_entropy(logits, labels, weight, reduction)`."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        if weight is not None and not isinstance(weight, Tensor):
            raise ArgumentError(f"BCELoss: weight must be None or a Tensor, got {type(weight).__name__}")
        self.weight = weight

    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        return binary_cross_entropy(logits, labels, self.weight, self.reduction)


class KLDivLoss(LossBase):
    """Kullback-Leibler divergence of log-probabilities logits from labels: `kl_div(logits, labels,
    reduction)`; reduction may also be 'batchmean'."""
    REDUCTIONS = REDUCTIONS + ("batchmean",)


    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        return kl_div(logits, labels, self.reduction)
