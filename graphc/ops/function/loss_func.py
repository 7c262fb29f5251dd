"""MindSpore 2.x's functional losses (`ops.cross_entropy`, `ops.nll_loss`, `ops.binary_cross_entropy`,
`ops.binary_cross_entropy_with_logits`, `ops.kl_div`), with MindSpore's reductions and defaults.
The nn.*Loss classes are built on these. Each is a composition of registered ops, so its gradient
is autodiff's."""
from __future__ import annotations

from .. import elementwise as ew
from ..nn import log_softmax
from ..reduction import reduce_mean, reduce_sum
from ..shaping import cast as cast_op
from ..shaping import one_hot as one_hot_op
from ..shaping import reshape as reshape_op
from . import arguments as check
from .array_func import move_axis

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "kl_div", "nll_loss",
           "reduce_loss"]

_EPSILON = 1e-12    # binary_cross_entropy's logs are taken of at least this, as MindSpore's kernel does


def reduce_loss(function: str, loss, reduction: str, choices=("none", "mean", "sum")):
    """The elementwise loss reduced as `reduction` says: 'none', 'mean' or 'sum'."""
    check.choice(function, "reduction", reduction, choices)
    return loss if reduction == "none" else reduce_mean(loss) if reduction == "mean" else reduce_sum(loss)


def _softplus(z):
    """log(1 + exp(z)), computed without overflow: max(z, 0) + log(1 + exp(-|z|))."""
    return ew.add(ew.relu(z), ew.log(ew.add(ew.exp(ew.neg(ew.abs(z))), 1.0)))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """-weight · (pos_weight · y · log σ(x) + (1 - y) · log(1 - σ(x))), from the logits x directly."""
    x, y = check.tensor("binary_cross_entropy_with_logits", "input", input), \
        check.tensor("binary_cross_entropy_with_logits", "target", target)
    positive = ew.mul(y, _softplus(ew.neg(x)))          # -y log σ(x)
    if pos_weight is not None:
        positive = ew.mul(positive, pos_weight)
    loss = ew.add(positive, ew.mul(ew.sub(1.0, y), _softplus(x)))     # -(1 - y) log(1 - σ(x)) = (1 - y) softplus(x)
    loss = loss if weight is None else ew.mul(loss, weight)
    return reduce_loss("binary_cross_entropy_with_logits", loss, reduction)


def binary_cross_entropy(logits, labels, weight=None, reduction="mean"):
    """-weight · (y · log p + (1 - y) · log(1 - p)) for probabilities p (logits), each log taken of at
    least 1e-12 (so p = 0 costs 27.631, as in MindSpore)."""
    p = check.tensor("binary_cross_entropy", "logits", logits)
    y = check.tensor("binary_cross_entropy", "labels", labels)
    log_p = ew.log(ew.maximum(p, _EPSILON))
    log_not_p = ew.log(ew.maximum(ew.sub(1.0, p), _EPSILON))
    loss = ew.neg(ew.add(ew.mul(y, log_p), ew.mul(ew.sub(1.0, y), log_not_p)))
    loss = loss if weight is None else ew.mul(loss, weight)
    return reduce_loss("binary_cross_entropy", loss, reduction)


def kl_div(logits, labels, reduction="mean"):
    """labels · (log labels - logits), 0 where labels is 0; 'batchmean' divides the sum by the batch
    size (axis 0)."""
    x, y = check.tensor("kl_div", "logits", logits), check.tensor("kl_div", "labels", labels)
    positive = ew.gt(y, 0.0)
    entropy = ew.select(positive, ew.mul(y, ew.log(ew.select(positive, y, 1.0))), 0.0)
    loss = ew.sub(entropy, ew.mul(y, x))
    if reduction == "batchmean":
        return ew.div(reduce_sum(loss), float(loss.shape[0] if loss.ndim else 1))
    return reduce_loss("kl_div", loss, reduction, ("none", "mean", "sum", "batchmean"))


def _class_last(function: str, parameter: str, x):
    """x [N, C, d1, ...] with its class axis moved last: [N, d1, ..., C]."""
    if x.ndim < 1:
        raise check.bad(function, parameter, x, "a tensor [C], [N, C] or [N, C, d1, ...]")
    return x if x.ndim == 1 else move_axis(x, 1, x.ndim - 1)


def _weighted_nll(function, log_probs, target, weight, ignore_index, reduction, label_smoothing):
    """The negative log-likelihood of int class targets under log_probs [N, C, d...], weighted per
    class, targets equal to ignore_index (or outside [0, C)) left out, with label smoothing:
    (1 - ε) · nll + ε / C · Σ_c -weight_c log_probs_c; 'mean' divides by the targets' total weight."""
    scores = _class_last(function, "input", log_probs)
    classes = scores.shape[-1]
    index = check.tensor(function, "target", target)
    if index.dtype.is_float or tuple(index.shape) != tuple(scores.shape[:-1]):
        raise check.bad(function, "target", target, f"int class indices of shape {list(scores.shape[:-1])} (or "
                                                    "class probabilities of the input's shape, for cross_entropy)")
    kept = ew.ne(index, check.integer(function, "ignore_index", ignore_index))
    hot = one_hot_op(index, depth=classes, dtype=scores.dtype)
    hot = ew.mul(hot, cast_op(reshape_op(kept, shape=kept.shape + (1,)), dtype=scores.dtype))
    class_weight = 1.0 if weight is None else weight
    picked = reduce_sum(ew.mul(ew.mul(hot, scores), class_weight), axis=-1)
    target_weight = reduce_sum(ew.mul(hot, class_weight), axis=-1)
    smoothing = float(check.number(function, "label_smoothing", label_smoothing))
    loss = ew.neg(picked)
    if smoothing:
        spread = reduce_sum(ew.mul(scores, class_weight), axis=-1)
        spread = ew.mul(spread, cast_op(kept, dtype=scores.dtype))
        loss = ew.sub(ew.mul(loss, 1.0 - smoothing), ew.mul(spread, smoothing / classes))
    check.choice(function, "reduction", reduction, ("none", "mean", "sum"))
    if reduction == "mean":
        return ew.div(reduce_sum(loss), reduce_sum(target_weight))
    return reduce_loss(function, loss, reduction)


def nll_loss(inputs, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The negative log-likelihood of the int targets under the log-probabilities inputs [N, C, ...]."""
    return _weighted_nll("nll_loss", check.tensor("nll_loss", "inputs", inputs), target, weight, ignore_index,
                         reduction, label_smoothing)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The cross-entropy of the logits input [N, C, ...] (log_softmax along axis 1) with int class
    targets (as nll_loss), or with class probabilities of the input's shape: -Σ_c weight_c ·
    target_c · log_softmax_c, the targets smoothed to (1 - ε) · target + ε / C, 'mean' over the
    batch."""
    x = check.tensor("cross_entropy", "input", input)
    log_probs = log_softmax(x, axis=1 if x.ndim > 1 else 0)
    labels = check.tensor("cross_entropy", "target", target)
    if not labels.dtype.is_float:
        return _weighted_nll("cross_entropy", log_probs, labels, weight, ignore_index, reduction, label_smoothing)
    if labels.type != x.type:
        raise check.bad("cross_entropy", "target", target, f"class probabilities of the input's type {x.type} (or "
                                                           "int class indices)")
    smoothing = float(check.number("cross_entropy", "label_smoothing", label_smoothing))
    scores, labels = _class_last("cross_entropy", "input", log_probs), _class_last("cross_entropy", "target", labels)
    if smoothing:
        labels = ew.add(ew.mul(labels, 1.0 - smoothing), smoothing / scores.shape[-1])
    products = ew.mul(labels, scores)
    loss = ew.neg(reduce_sum(products if weight is None else ew.mul(products, weight), axis=-1))
    return reduce_loss("cross_entropy", loss, reduction)
